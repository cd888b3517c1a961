"""Reading an audit log back: torn tails, and everything the chain, the seals and an anchor
reveal about edits, deletions, reordering, duplication and truncation."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sop.audit import chain
from sop.errors import SopError


class AuditReadError(SopError):
    """The audit log cannot be read at all."""


@dataclass(frozen=True)
class Finding:
    line: int
    kind: str  # edited | deleted | reordered | duplicated | corrupt | torn | truncated | seal
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.message}"


@dataclass
class Parsed:
    """The records of a log with their line numbers, and a torn tail if the last line is one."""

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad_lines: list[Finding] = field(default_factory=list)
    torn: Finding | None = None
    good_bytes: int = 0  # the length of the file up to the end of the last good line


def parse_log(data: bytes) -> Parsed:
    out = Parsed()
    stripped = data.rstrip(b"\0")
    pieces = stripped.split(b"\n")
    complete, tail = pieces[:-1], pieces[-1]
    offset = 0
    for number, raw in enumerate(complete, start=1):
        record = _load(raw)
        is_last = number == len(complete) and not tail
        if record is None:
            if is_last:
                out.torn = Finding(
                    number, "torn", "the last line does not parse (a crash while writing?)"
                )
                return out
            out.bad_lines.append(Finding(number, "corrupt", "not a JSON record"))
        else:
            out.records.append((number, record))
        offset += len(raw) + 1
        if record is not None:
            out.good_bytes = offset
    if tail or len(stripped) != len(data):
        out.torn = Finding(
            len(complete) + 1 if tail else max(len(complete), 1),
            "torn",
            "the last line is incomplete"
            + (" and padded with NUL bytes" if len(stripped) != len(data) else "")
            + " (a crash while writing?)",
        )
    return out


def _load(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("seq"), int)
        or not isinstance(value.get("hash"), str)
    ):
        return None
    return value


@dataclass
class Verification:
    records: int
    head: tuple[int, str]
    findings: list[Finding]
    seals_checked: int = 0
    seals_unchecked: int = 0
    next_seal: int = 0  # the number the next seal gets

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def only_torn(self) -> bool:
        return bool(self.findings) and all(f.kind == "torn" for f in self.findings)


def verify_bytes(
    data: bytes, *, anchor: tuple[int, str] | None = None, key0: bytes | None = None
) -> Verification:
    parsed = parse_log(data)
    findings = list(parsed.bad_lines)
    prev_hash, prev_seq = chain.GENESIS, -1
    seals = [0, 0, 0]  # checked, unchecked, the next seal's number
    since_seal = 0
    by_seq: dict[int, str] = {}
    remaining: dict[int, int] = {}
    for _, record in parsed.records:
        remaining[record["seq"]] = remaining.get(record["seq"], 0) + 1
    for line, record in parsed.records:
        remaining[record["seq"]] -= 1
        finding = _check_link(line, record, prev_hash, prev_seq, remaining)
        if finding is not None:
            findings.append(finding)
        if record.get("event", {}).get("action") == "seal":
            finding = _check_seal(line, record, key0, seals)
            if finding is not None:
                findings.append(finding)
            since_seal = 0
        else:
            since_seal += 1
            if since_seal == chain.SEAL_EVERY + 2:
                findings.append(
                    Finding(
                        line,
                        "seal",
                        f"no seal for more than {chain.SEAL_EVERY} records: seals were removed",
                    )
                )
        prev_hash, prev_seq = record["hash"], record["seq"]
        by_seq.setdefault(record["seq"], record["hash"])
    if parsed.torn is not None:
        findings.append(parsed.torn)
    if anchor is not None:
        seq, expected = anchor
        last_line = parsed.records[-1][0] if parsed.records else 0
        if seq > prev_seq:
            findings.append(
                Finding(
                    last_line,
                    "truncated",
                    f"the log ends at seq {prev_seq}, before the anchor {seq}:{expected[:12]}...",
                )
            )
        elif by_seq.get(seq) != expected:
            line = next((n for n, r in parsed.records if r["seq"] == seq), last_line)
            findings.append(
                Finding(
                    line, "edited", f"seq {seq} does not match the anchor: the log was rewritten"
                )
            )
    findings.sort(key=lambda f: f.line)
    return Verification(
        len(parsed.records), (prev_seq, prev_hash), findings, seals[0], seals[1], seals[2]
    )


def _check_link(
    line: int, record: dict[str, Any], prev_hash: str, prev_seq: int, later: dict[int, int]
) -> Finding | None:
    """`later` counts the seqs still to come: a gap whose missing record comes later is a swap."""
    expected_seq = prev_seq + 1
    if chain.link_hash(str(record.get("prev", "")), record) != record["hash"]:
        return Finding(line, "edited", "the record does not match its hash")
    if record.get("prev") == prev_hash and record["seq"] == expected_seq:
        return None
    seq = record["seq"]
    if seq == prev_seq and record.get("prev") != prev_hash:
        return Finding(line, "duplicated", f"seq {seq} appears twice")
    if seq > expected_seq and later.get(expected_seq, 0) > 0:
        return Finding(line, "reordered", f"seq {seq} comes before seq {expected_seq}")
    if seq > expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
        return Finding(line, "deleted", f"record(s) {missing} are missing before this line")
    if seq < expected_seq:
        return Finding(line, "reordered", f"seq {seq} comes after seq {prev_seq}")
    return Finding(line, "edited", "the chain breaks here (the previous record was changed)")


def _check_seal(
    line: int, record: dict[str, Any], key0: bytes | None, seals: list[int]
) -> Finding | None:
    seal = record.get("sop", {}).get("seal", {})
    number = int(seal.get("n", -1))
    if number != seals[2]:
        found = Finding(
            line,
            "seal",
            f"seal {number} where seal {seals[2]} was due: a seal was removed or moved",
        )
        seals[2] = number + 1
        return found
    seals[2] = number + 1
    if key0 is None or seal.get("key_id") != chain.key_id(key0):
        seals[1] += 1
        return None
    seals[0] += 1
    expected = chain.seal_mac(chain.nth_key(key0, number), str(record.get("prev")))
    if seal.get("mac") != expected:
        return Finding(
            line,
            "seal",
            "the seal does not match: the log before it was changed and its chain recomputed",
        )
    return None


def verify_file(
    path: Path, *, anchor: tuple[int, str] | None = None, key0: bytes | None = None
) -> Verification:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror}") from None
    return verify_bytes(data, anchor=anchor, key0=key0)


def parse_anchor(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise SopError(
            f"an anchor is SEQ:HASH (the head printed at the end of a run), got '{text}'"
        )
    return int(seq), digest


def records_of(path: Path) -> list[dict[str, Any]]:
    """Every parseable record of a log, in order (for reports and resume)."""
    return [r for _, r in parse_log(path.read_bytes()).records]


def repair_torn_tail(path: Path) -> dict[str, Any] | None:
    """Cut a torn last line off; returns what was cut (for the record that says so)."""
    data = path.read_bytes()
    parsed = parse_log(data)
    if parsed.torn is None:
        return None
    cut = data[parsed.good_bytes :]
    with path.open("r+b") as handle:
        handle.truncate(parsed.good_bytes)
        handle.flush()
        os.fsync(handle.fileno())
    return {"line": parsed.torn.line, "bytes": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}
