"""With the key, verify takes most lines by their hash without parsing them; the findings are
always those of parsing every line (`full_path`), whatever a forger wrote."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sop.audit import chain
from sop.audit import verify as verify_module
from sop.audit.log import AuditLog, SealState
from sop.audit.verify import Verification, parse_log, verify_bytes

KEY0 = bytes(range(32))
COMMON = {"event": {"kind": "event"}, "sop": {"run_id": "r1", "id": "demo", "sha256": "0" * 64}}


def write_log(tmp_path: Path, records: list[dict[str, Any]], *, close: bool = True) -> bytes:
    """The log sop's writer stores for `records` (sealed after the first one, every 32 and at
    close)."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, COMMON, seal=SealState(chain.key_id(KEY0), 0, KEY0))
    for i, fields in enumerate(records):
        log.append(1_700_000_000 + i, fields)
    if close:
        log.close(1_700_000_100)
    return path.read_bytes()


def step(i: int, **extra: Any) -> dict[str, Any]:
    return {"event": {"action": "step-confirmed"}, "sop": {"step": f"s{i}", **extra}}


def steps(n: int) -> list[dict[str, Any]]:
    return [step(i) for i in range(n)]


def records_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def forge(items: Sequence[dict[str, Any] | bytes]) -> bytes:
    """What a forger who recomputes the chain stores, in the writer's form: each record with
    `sop.prev` and `event.hash` computed; a bytes item is a body stored as it is, JSON or not
    (with its hash last in `event` when it ends as the writer's do, else last in the line)."""
    out, prev = [], chain.GENESIS
    for item in items:
        if isinstance(item, dict):
            event = {k: v for k, v in item["event"].items() if k != "hash"}
            record = {**item, "event": event, "sop": {**item["sop"], "prev": prev}}
            item = chain.canonical(record).encode()
        prev = hashlib.sha256(prev.encode() + b"\n" + item).hexdigest()
        if item.endswith(b"}}"):
            out.append(item[:-2] + chain.HASH_MEMBER + prev.encode() + b'"}}\n')
        else:
            out.append(item[:-1] + chain.HASH_MEMBER + prev.encode() + b'"}\n')
    return b"".join(out)


def renumber(record: dict[str, Any], seq: int) -> dict[str, Any]:
    return {**record, "event": {**record["event"], "sequence": seq}}


def full_path(data: bytes, **options: Any) -> Verification:
    """Verification by parsing every line (what verify did before it skipped any)."""
    return verify_bytes(data, parsed=parse_log(data), **options)


def findings(result: Verification) -> list[str]:
    return [str(f) for f in result.findings]


@pytest.fixture
def parsed_lines(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every line verify parses, in order."""
    seen: list[bytes] = []
    load = verify_module.load_record

    def counting(raw: bytes) -> dict[str, Any] | None:
        seen.append(raw)
        return load(raw)

    monkeypatch.setattr(verify_module, "load_record", counting)
    return seen


def is_seal(line: bytes) -> bool:
    return bool(json.loads(line)["event"]["action"] == "seal")


def test_with_the_key_only_the_seals_are_parsed(tmp_path: Path, parsed_lines: list[bytes]) -> None:
    records = [
        step(i, note='a "quoted" \\ back\nslash, tab\t, ünï, \x1b[0m', numbers=[1, 2.5, None])
        for i in range(70)
    ]
    data = write_log(tmp_path, records)
    result = verify_bytes(data, key0=KEY0)
    assert (result.ok, result.records, result.seals_checked) == (True, 74, 4)
    assert len(parsed_lines) == 4 and all(is_seal(line) for line in parsed_lines)
    assert result == full_path(data, key0=KEY0)


def test_without_the_key_every_line_is_parsed(tmp_path: Path, parsed_lines: list[bytes]) -> None:
    data = write_log(tmp_path, steps(10))
    result = verify_bytes(data)
    assert (result.ok, result.records, result.seals_unchecked) == (True, 12, 2)
    assert len(parsed_lines) == 12


def test_a_nested_seq_or_prev_is_not_the_records_own(tmp_path: Path) -> None:
    records = [step(i, inputs={"seq": i + 1, "prev": "f" * 64}) for i in range(8)]
    data = write_log(tmp_path, records)
    assert b'"inputs":{"prev":"' + b"f" * 64 + b'","seq":3}' in data.splitlines()[3]
    assert verify_bytes(data, key0=KEY0) == full_path(data, key0=KEY0)
    assert verify_bytes(data, key0=KEY0).ok

    forged = records_of(data)
    forged[3]["event"]["sequence"] = 8  # its nested "seq" still says 3, the seq expected there
    result = verify_bytes(forge(forged), key0=KEY0)
    assert findings(result) == [
        "line 4: deleted: record(s) 3-7 are missing before this line",
        "line 5: reordered: seq 4 comes after seq 8",
        "line 10: seal: the seal does not match: the log before it was changed and its chain "
        "recomputed",
    ]
    assert result == full_path(forge(forged), key0=KEY0)


def test_a_fake_prev_hashed_over_the_true_one_is_an_edit(tmp_path: Path) -> None:
    records = records_of(write_log(tmp_path, steps(6)))
    event = {k: v for k, v in records[3]["event"].items() if k != "hash"}
    fake = records[3] | {"event": event, "sop": records[3]["sop"] | {"prev": "e" * 64}}
    data = forge([*records[:3], chain.canonical(fake).encode(), *records[4:]])
    assert records_of(data)[3]["sop"]["prev"] == "e" * 64  # but its hash is over the true one
    result = verify_bytes(data, key0=KEY0)
    assert findings(result) == [
        "line 4: edited: the record does not match its hash",
        "line 8: seal: the seal does not match: the log before it was changed and its chain "
        "recomputed",
    ]
    assert result == full_path(data, key0=KEY0)


def test_a_nested_action_seal_is_no_seal(tmp_path: Path) -> None:
    data = write_log(tmp_path, [step(i, note={"action": "seal"}) for i in range(40)])
    assert b'"note":{"action":"seal"}' in data.splitlines()[2]
    result = verify_bytes(data, key0=KEY0)
    assert (result.ok, result.seals_checked, result.next_seal) == (True, 3, 3)
    assert result == full_path(data, key0=KEY0)
    other_key = verify_bytes(data, key0=bytes(32))  # another run's key: its seals are findings
    assert (other_key.ok, other_key.seals_checked, other_key.sealed_records) == (False, 0, 0)
    assert findings(other_key)[0] == (
        f"line 2: seal: sealed under another key (key id {chain.key_id(KEY0)}, this run's is "
        f"{chain.key_id(bytes(32))}): the log is another run's, or forged"
    )
    assert other_key == full_path(data, key0=bytes(32))


def test_a_hand_written_line_is_parsed_and_checked(
    tmp_path: Path, parsed_lines: list[bytes]
) -> None:
    lines = write_log(tmp_path, steps(6)).splitlines(keepends=True)
    lines[3] = json.dumps(json.loads(lines[3])).encode() + b"\n"  # ", " and ": "
    data = b"".join(lines)
    result = verify_bytes(data, key0=KEY0)
    assert (result.ok, result.records) == (True, 8)
    assert lines[3][:-1] in parsed_lines
    assert result == full_path(data, key0=KEY0)

    lines[3] = lines[3].replace(b'"s2"', b'"s9"')
    result = verify_bytes(b"".join(lines), key0=KEY0)
    assert findings(result) == ["line 4: edited: the record does not match its hash"]


def test_a_removed_seal_is_found(tmp_path: Path) -> None:
    lines = write_log(tmp_path, steps(40)).splitlines(keepends=True)
    assert [i for i, line in enumerate(lines) if is_seal(line)] == [1, 32, 42]
    data = b"".join(lines[:32] + lines[33:])
    result = verify_bytes(data, key0=KEY0)
    assert findings(result) == [
        "line 33: deleted: record(s) 32 are missing before this line",
        "line 36: seal: no seal for more than 32 records: seals were removed",
        "line 42: seal: seal 2 where seal 1 was due: a seal was removed or moved",
    ]
    assert result == full_path(data, key0=KEY0)

    renumbered = [renumber(r, i) for i, r in enumerate(records_of(data))]
    result = verify_bytes(forge(renumbered), key0=KEY0)  # and the chain recomputed
    assert findings(result) == [
        "line 36: seal: no seal for more than 32 records: seals were removed",
        "line 42: seal: seal 2 where seal 1 was due: a seal was removed or moved",
    ]
    assert result == full_path(forge(renumbered), key0=KEY0)


def test_seals_removed_altogether_are_found(tmp_path: Path) -> None:
    records = [
        r for r in records_of(write_log(tmp_path, steps(40))) if r["event"]["action"] != "seal"
    ]
    data = forge([renumber(r, i) for i, r in enumerate(records)])
    result = verify_bytes(data, key0=KEY0)
    assert findings(result) == [
        "line 2: seal: no seal after the first record: seals were removed",
        "line 34: seal: no seal for more than 32 records: seals were removed",
    ]
    assert result == full_path(data, key0=KEY0)
    assert findings(verify_bytes(data)) == findings(result)  # the key is not needed to see it


@pytest.mark.parametrize("close", [True, False])
def test_a_torn_tail_is_reported_alone(tmp_path: Path, close: bool) -> None:
    good = write_log(tmp_path, steps(40), close=close)
    data = good + b'{"@timestamp":"2023-11-14T22:13:'
    result = verify_bytes(data, key0=KEY0)
    complete = good.count(b"\n")
    assert findings(result) == [
        f"line {complete + 1}: torn: the last line is incomplete (a crash while writing?)"
    ]
    assert result.records == complete
    assert result == full_path(data, key0=KEY0)


def test_a_log_of_only_seals(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, COMMON, seal=SealState(chain.key_id(KEY0), 0, KEY0))
    for _ in range(3):
        log.seal(1_700_000_000)  # a seal right after a seal is not written
    log.close(1_700_000_001)
    result = verify_bytes(path.read_bytes(), key0=KEY0)
    assert (result.ok, result.records, result.seals_checked, result.next_seal) == (True, 1, 1, 1)

    (tmp_path / "run").mkdir()
    lines = write_log(tmp_path / "run", steps(40)).splitlines(keepends=True)
    seals = b"".join(line for line in lines if is_seal(line))
    result = verify_bytes(seals, key0=KEY0)
    assert findings(result) == [
        "line 1: deleted: record(s) 0 are missing before this line",
        "line 2: deleted: record(s) 2-31 are missing before this line",
        "line 3: deleted: record(s) 33-41 are missing before this line",
    ]
    assert result == full_path(seals, key0=KEY0)


def test_a_forged_line_that_is_not_json_is_still_corrupt(tmp_path: Path) -> None:
    records = records_of(write_log(tmp_path, steps(40)))
    not_json = b'{"prev":"whatever","seq":5,"sop":{"step":"s4"} not JSON}'
    data = forge([*records[:5], not_json, *records[6:]])  # every hash recomputed, its too
    result = verify_bytes(data, key0=KEY0)
    assert findings(result) == [
        "line 6: corrupt: not a JSON record",
        "line 7: deleted: record(s) 5 are missing before this line",
        *(
            f"line {n}: seal: the seal does not match: the log before it was changed and its "
            "chain recomputed"
            for n in (33, 43)
        ),
    ]
    assert result == full_path(data, key0=KEY0)
    assert findings(verify_bytes(data)) == findings(result)[:2]  # without the key
    assert (
        findings(verify_bytes(data, key0=bytes(32)))[:3]
        == [  # with another run's key
            f"line 2: seal: sealed under another key (key id {chain.key_id(KEY0)}, this run's is "
            f"{chain.key_id(bytes(32))}): the log is another run's, or forged",
            *findings(result)[:2],
        ]
    )


def test_an_anchor_between_seals(tmp_path: Path, parsed_lines: list[bytes]) -> None:
    data = write_log(tmp_path, steps(40))
    anchor = records_of(data)[20]
    assert verify_bytes(data, key0=KEY0, anchor=(20, anchor["event"]["hash"])).ok
    assert len(parsed_lines) == 4  # the three seals and the anchor's record
    result = verify_bytes(data, key0=KEY0, anchor=(20, "0" * 64))
    assert findings(result) == [
        "line 21: edited: seq 20 does not match the anchor: the log was rewritten"
    ]


def mutations(data: bytes, rng: random.Random) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    out = []
    for _ in range(40):
        flipped = bytearray(data)
        bit = rng.randrange(len(data) * 8)
        flipped[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(flipped))
    for i in range(len(lines)):
        out.append(b"".join(lines[:i] + lines[i + 1 :]))  # deleted
        out.append(b"".join(lines[: i + 1] + lines[i:]))  # duplicated
        swapped = lines[:i] + lines[i + 1 : i + 2] + lines[i : i + 1] + lines[i + 2 :]
        out.append(b"".join(swapped))
    out += [data[: rng.randrange(len(data))] for _ in range(10)]
    out += [data + b"\0" * 9, data + b'{"seq":']
    records = records_of(data)
    for k in (0, 5, 20, len(records) - 1):  # forged, with every hash from there recomputed
        out.append(forge([*records[:k], {**records[k], "message": "forged"}, *records[k + 1 :]]))
        out.append(forge([*records[:k], b'{"seq":%d not JSON}' % k, *records[k + 1 :]]))
    return out


@pytest.mark.parametrize("key0", [KEY0, bytes(32)], ids=["key", "another-key"])
def test_every_change_is_reported_as_by_parsing_every_line(tmp_path: Path, key0: bytes) -> None:
    data = write_log(
        tmp_path, [step(i, note={"action": "seal"} if i % 7 == 3 else "x") for i in range(36)]
    )
    anchor = (20, records_of(data)[20]["event"]["hash"])
    for changed in mutations(data, random.Random(11)):
        assert verify_bytes(changed, key0=key0) == full_path(changed, key0=key0), changed
        assert verify_bytes(changed, key0=key0, anchor=anchor) == full_path(
            changed, key0=key0, anchor=anchor
        ), changed


def test_a_seal_that_verifies_late_does_not_hide_the_missing_ones(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, COMMON)  # unsealed for 40 records, then sealed with the key
    for i in range(40):
        log.append(1_700_000_000 + i, step(i))
    log.seal_state = SealState(chain.key_id(KEY0), 0, KEY0)
    log.close(1_700_000_100)
    result = verify_bytes(path.read_bytes(), key0=KEY0)
    assert findings(result) == [
        "line 2: seal: no seal after the first record: seals were removed",
        "line 34: seal: no seal for more than 32 records: seals were removed",
    ]
    assert (result.records, result.seals_checked) == (41, 1)
