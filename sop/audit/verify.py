"""Reading an audit log back: torn tails, and everything the chain, the seals and an anchor
reveal about edits, deletions, reordering, duplication and truncation."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
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
    lines: list[bytes] = field(default_factory=list)  # each record's line, without its newline
    bad_lines: list[Finding] = field(default_factory=list)
    torn: Finding | None = None
    good_bytes: int = 0  # the length of the file up to the end of the last good line


def parse_log(data: bytes) -> Parsed:
    out = Parsed()
    for number, raw, record in _scan(data, out):
        out.records.append((number, record))
        out.lines.append(raw)
    return out


def _scan(data: bytes, out: Parsed) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Each record with its line number and line; bad lines, a torn tail and the good length
    go into `out` (whose `records` stay for the caller to fill)."""
    stripped = data.rstrip(b"\0")  # the same object when there is nothing to strip
    last = stripped.rfind(b"\n")
    tail = stripped[last + 1 :]
    complete = stripped.count(b"\n")
    start = number = 0
    while start <= last:  # slices, not split(): a long log is never held twice
        end = stripped.find(b"\n", start)
        raw = stripped[start:end]
        number += 1
        start = end + 1
        record = _load(raw)
        if record is None:
            if number == complete and not tail:
                out.torn = Finding(
                    number, "torn", "the last line does not parse (a crash while writing?)"
                )
                return
            out.bad_lines.append(Finding(number, "corrupt", "not a JSON record"))
            continue
        out.good_bytes = start
        yield number, raw, record
    if tail or len(stripped) != len(data):
        out.torn = Finding(
            complete + 1 if tail else max(complete, 1),
            "torn",
            "the last line is incomplete"
            + (" and padded with NUL bytes" if len(stripped) != len(data) else "")
            + " (a crash while writing?)",
        )


# json.loads without its wrappers: the same decoder, one call per line
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _load(raw: bytes) -> dict[str, Any] | None:
    try:
        text = raw.decode("utf-8")
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):  # not one JSON value alone: json.loads says what it is
            value = json.loads(text)
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
    data: bytes,
    *,
    anchor: tuple[int, str] | None = None,
    key0: bytes | None = None,
    parsed: Parsed | None = None,
) -> Verification:
    """One pass over the records, keeping none of them. `parsed`, if given, is
    `parse_log(data)` already done by the caller."""
    if parsed is None:
        parsed = Parsed()
        lines = _scan(data, parsed)
    else:
        lines = ((n, raw, r) for (n, r), raw in zip(parsed.records, parsed.lines, strict=True))
    found: list[Finding] = []
    prev_hash, prev_seq = chain.GENESIS, -1
    keys = _Keys(key0) if key0 is not None else None
    seals = [0, 0, 0]  # checked, unchecked, the next seal's number
    since_seal = 0
    seqs: list[int] = []  # every record's seq, in order: to settle gaps at the end
    gaps: list[tuple[int, int, int]] = []  # (index in found, index in seqs, the missing seq)
    anchor_seq = anchor[0] if anchor is not None else -1
    at_anchor: tuple[int, str] | None = None  # the line and hash of the anchor's seq
    line = 0
    for line, raw, record in lines:
        seq, prev, digest = record["seq"], record.get("prev"), record["hash"]
        finding = _check_link(line, seq, prev, _matches_hash(raw, record), prev_hash, prev_seq)
        if finding is not None:
            if finding.kind == "deleted":
                gaps.append((len(found), len(seqs), prev_seq + 1))
            found.append(finding)
        seqs.append(seq)
        if record.get("event", {}).get("action") == "seal":
            seal = record.get("sop", {}).get("seal", {})
            finding = _check_seal(line, seal, prev, keys, seals)
            if finding is not None:
                found.append(finding)
            since_seal = 0
        else:
            since_seal += 1
            if since_seal == chain.SEAL_EVERY + 2:
                found.append(
                    Finding(
                        line,
                        "seal",
                        f"no seal for more than {chain.SEAL_EVERY} records: seals were removed",
                    )
                )
        prev_hash, prev_seq = digest, seq
        if seq == anchor_seq and at_anchor is None:
            at_anchor = (line, digest)
    if gaps:  # a gap whose missing record comes later is a swap
        last_at = {seq: index for index, seq in enumerate(seqs)}
        for index, position, missing in gaps:
            if last_at.get(missing, -1) > position:
                found[index] = Finding(
                    found[index].line,
                    "reordered",
                    f"seq {seqs[position]} comes before seq {missing}",
                )
    findings = parsed.bad_lines + found
    if parsed.torn is not None:
        findings.append(parsed.torn)
    if anchor is not None:
        seq, expected = anchor
        last_line = line if seqs else 0
        if seq > prev_seq:
            findings.append(
                Finding(
                    last_line,
                    "truncated",
                    f"the log ends at seq {prev_seq}, before the anchor {seq}:{expected[:12]}...",
                )
            )
        elif at_anchor is None or at_anchor[1] != expected:
            findings.append(
                Finding(
                    at_anchor[0] if at_anchor else last_line,
                    "edited",
                    f"seq {seq} does not match the anchor: the log was rewritten",
                )
            )
    findings.sort(key=lambda f: f.line)
    return Verification(len(seqs), (prev_seq, prev_hash), findings, seals[0], seals[1], seals[2])


def _matches_hash(raw: bytes, record: dict[str, Any]) -> bool:
    """The hash must cover the line's stored bytes (the writer's form) or, for a line in any
    other form (written by hand or by an older sop), the record's canonical JSON."""
    prev = str(record.get("prev", ""))
    digest: str = record["hash"]
    return chain.stored_hash(prev, raw) == digest or chain.link_hash(prev, record) == digest


def _check_link(
    line: int, seq: int, prev: Any, matches: bool, prev_hash: str, prev_seq: int
) -> Finding | None:
    """A gap is reported as `deleted` here; the caller turns it into `reordered` when the
    missing record comes later."""
    expected_seq = prev_seq + 1
    if not matches:
        return Finding(line, "edited", "the record does not match its hash")
    if prev == prev_hash and seq == expected_seq:
        return None
    if seq == prev_seq and prev != prev_hash:
        return Finding(line, "duplicated", f"seq {seq} appears twice")
    if seq > expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
        return Finding(line, "deleted", f"record(s) {missing} are missing before this line")
    if seq < expected_seq:
        return Finding(line, "reordered", f"seq {seq} comes after seq {prev_seq}")
    return Finding(line, "edited", "the chain breaks here (the previous record was changed)")


class _Keys:
    """The verification key's id and its evolved keys, computed once per log."""

    def __init__(self, key0: bytes) -> None:
        self.id = chain.key_id(key0)
        self.cursor = chain.KeyCursor(key0)


def _check_seal(
    line: int, seal: dict[str, Any], prev: Any, keys: _Keys | None, seals: list[int]
) -> Finding | None:
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
    if keys is None or seal.get("key_id") != keys.id:
        seals[1] += 1
        return None
    seals[0] += 1
    expected = chain.seal_mac(keys.cursor.nth(number), str(prev))
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


def run_id_of(path: Path) -> str:
    """The run id in a log's first record, read without reading the rest of the log."""
    try:
        with path.open("rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a torn tail is no record
                record = _load(raw[:-1])
                if record is not None:
                    return str(record.get("sop", {}).get("run_id", ""))
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror}") from None
    return ""


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
