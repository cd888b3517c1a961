"""The chain and the seals catch every change to a log; verify names the line."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from sop.audit import chain
from sop.audit.log import AuditLog, SealState
from sop.audit.verify import parse_anchor, repair_torn_tail, verify_bytes

KEY0 = bytes(range(32))


def make_log(tmp_path: Path, n: int = 12, seal: bool = True) -> Path:
    path = tmp_path / "audit.jsonl"
    common = {"event": {"kind": "event"}, "sop": {"run_id": "r1", "id": "demo", "sha256": "0" * 64}}
    state = SealState(chain.key_id(KEY0), 0, KEY0) if seal else None
    log = AuditLog(path, common, seal=state)
    for i in range(n):
        log.append(
            1_700_000_000 + i,
            {
                "event": {"action": "step-confirmed"},
                "sop": {"step": f"s{i}"},
                "process": {"command_line": f"echo {i} ünï"},
            },
        )
    log.close(1_700_000_100)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def relink(record: dict[str, Any], prev: str) -> str:
    """Chain a record onto `prev` again, as a forger would; returns its new hash."""
    record["sop"]["prev"] = prev
    record["event"].pop("hash", None)
    record["event"]["hash"] = chain.link_hash(prev, record)
    return str(record["event"]["hash"])


def test_a_fresh_log_verifies_with_its_seals(tmp_path: Path) -> None:
    path = make_log(tmp_path)
    result = verify_bytes(path.read_bytes(), key0=KEY0)
    assert result.ok, result.findings
    assert result.records == len(lines_of(path))
    assert result.seals_checked == 2  # one after the first record, one at close
    last = json.loads(lines_of(path)[-1])
    head = (last["event"]["sequence"], last["event"]["hash"])
    assert result.head == head
    assert verify_bytes(path.read_bytes(), anchor=head).ok


def test_every_record_parses_as_json_with_ecs_fields(tmp_path: Path) -> None:
    for raw in lines_of(make_log(tmp_path)):
        record = json.loads(raw)
        assert {"@timestamp", "event", "sop", "message", "log"} <= set(record)
        assert {"sequence", "hash"} <= set(record["event"]) and "prev" in record["sop"]
        assert record["@timestamp"].endswith("Z") and len(record["@timestamp"]) == 24


def test_every_bit_flip_is_detected_and_the_line_named(tmp_path: Path) -> None:
    path = make_log(tmp_path, n=6)
    data = path.read_bytes()
    ends = [i for i, b in enumerate(data) if b == 0x0A]
    rng = random.Random(7)
    positions = sorted(rng.sample(range(len(data) * 8), 600))
    for bit in positions:
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        result = verify_bytes(bytes(flipped), key0=KEY0)
        line = 1 + sum(1 for e in ends if e < bit // 8)
        assert not result.ok, f"bit {bit} (line {line}) not detected"
        assert (
            result.findings[0].line in (line, line + 1)
            if bit // 8 in ends
            else result.findings[0].line == line
        ), (bit, line, result.findings)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("delete", "line 4: deleted: record(s) 3 are missing before this line"),
        ("swap", "line 3: reordered"),
        ("duplicate", "line 4: duplicated: seq 2 appears twice"),
        ("edit", "line 3: edited: the record does not match its hash"),
    ],
)
def test_middle_line_changes(tmp_path: Path, change: str, expected: str) -> None:
    path = make_log(tmp_path)
    lines = lines_of(path)
    if change == "delete":
        del lines[3]
    elif change == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif change == "duplicate":
        lines.insert(3, lines[2])
    else:
        lines[2] = lines[2].replace(b"echo 1", b"echo 9")
    result = verify_bytes(b"".join(lines), key0=KEY0)
    assert str(result.findings[0]).startswith(expected), result.findings


def test_an_edit_with_the_chain_recomputed_is_caught_by_the_seal(tmp_path: Path) -> None:
    path = make_log(tmp_path)
    records = [json.loads(raw) for raw in lines_of(path)]
    records[1 + 2]["process"]["command_line"] = "rm -rf / # innocent"
    prev = chain.GENESIS
    for record in records:  # the forger recomputes every hash after the edit
        prev = relink(record, prev)
    forged = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    assert verify_bytes(forged).ok  # without the key, only an anchor could tell
    result = verify_bytes(forged, key0=KEY0)
    assert [f.kind for f in result.findings] == ["seal"]
    original_head = json.loads(lines_of(path)[-1])
    anchored = verify_bytes(
        forged, anchor=(original_head["event"]["sequence"], original_head["event"]["hash"])
    )
    assert anchored.findings[0].kind == "edited"


def test_truncation_before_the_anchor(tmp_path: Path) -> None:
    path = make_log(tmp_path)
    lines = lines_of(path)
    head = json.loads(lines[-1])
    result = verify_bytes(
        b"".join(lines[:-3]), anchor=(head["event"]["sequence"], head["event"]["hash"])
    )
    assert [f.kind for f in result.findings] == ["truncated"]
    assert str(result.findings[0]).startswith(
        f"line {len(lines) - 3}: truncated: the log ends at seq"
    )


@pytest.mark.parametrize("tail", [b'{"seq": 99, "pr', b"\0" * 40, b'{"seq": 99, "prev": "x"}\n'])
def test_torn_tail_is_reported_alone_and_repaired(tmp_path: Path, tail: bytes) -> None:
    path = make_log(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good + tail)
    result = verify_bytes(path.read_bytes())
    assert result.only_torn, result.findings
    cut = repair_torn_tail(path)
    assert cut is not None and cut["bytes"] == len(tail)
    assert path.read_bytes() == good
    assert verify_bytes(good).ok


def test_parse_anchor() -> None:
    assert parse_anchor("3:" + "a" * 64) == (3, "a" * 64)
    with pytest.raises(Exception, match="an anchor is SEQ:HASH"):
        parse_anchor("3-abc")


def test_the_log_file_is_private_and_refuses_a_symlink(tmp_path: Path) -> None:
    path = make_log(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    from sop.audit.log import AuditWriteError

    with pytest.raises(AuditWriteError, match=r"cannot open the audit log .*link\.jsonl"):
        AuditLog(link, {})
    assert os.path.islink(link)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a record whose members are not the objects sop writes: no reader may walk into it
        (lambda r: r | {"event": "a"}, "line 3: corrupt: not a JSON record"),
        (lambda r: r | {"sop": ["x"]}, "line 3: corrupt: not a JSON record"),
        (lambda r: r | {"process": None}, "line 3: corrupt: not a JSON record"),
    ],
)
def test_a_record_of_the_wrong_shape_is_a_finding_not_a_crash(
    tmp_path: Path, change: object, expected: str
) -> None:
    lines = lines_of(make_log(tmp_path))
    record = json.loads(lines[2])
    lines[2] = json.dumps(change(record)).encode() + b"\n"  # type: ignore[operator]
    for key in (KEY0, None):
        result = verify_bytes(b"".join(lines), key0=key)
        assert str(result.findings[0]) == expected, result.findings


@pytest.mark.parametrize("number", ["1", None, True, 1.5])
def test_a_seal_without_a_whole_number_is_a_finding_not_a_crash(
    tmp_path: Path, number: object
) -> None:
    lines = lines_of(make_log(tmp_path))
    records = [json.loads(raw) for raw in lines]
    at = next(i for i, r in enumerate(records) if r["event"]["action"] == "seal")
    records[at]["sop"]["seal"]["n"] = number
    prev = records[at - 1]["event"]["hash"]
    for record in records[at:]:  # the chain recomputed: only the seal itself can tell
        prev = relink(record, prev)
    data = b"".join(lines[:at]) + b"".join(json.dumps(r).encode() + b"\n" for r in records[at:])
    for key in (KEY0, None):
        findings = [str(f) for f in verify_bytes(data, key0=key).findings]
        assert f"line {at + 1}: seal: a seal without its number: the seal was edited" in findings
