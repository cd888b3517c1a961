"""Reading an audit log back: torn tails, and everything the chain, the seals and an anchor
reveal about edits, deletions, reordering, duplication and truncation.

With the verification key, most lines are not parsed. A line in the writer's form (chain.py)
whose stored hash is SHA-256 of the previous record's hash and the line's own bytes is taken as
the next record (the next seq, no seal) without json.loads, unless it holds the bytes
`"action":"seal"`. Every seal the writer stores holds them, so no seal passes for an ordinary
record; other lines may hold them too (in a nested object, say; not inside a string, where `"`
is escaped) and are merely parsed.

A hash alone proves nothing about a line's content: anyone can recompute it, over bytes that
are not even JSON. So these records are taken on credit until the next seal. When it verifies,
its MAC covers the chain head and, through the hashes, every byte before it: a holder of the
seal key wrote those lines, that is sop's writer, whose lines are canonical JSON with the seq
and prev that were credited. When anything else comes first (a finding, a seal that does not
verify or cannot be checked, more records than a seal may be apart, the end of the log), the
walk goes back to the last seal that verified and parses every line from there. The findings
are therefore those of parsing every line, unless someone who holds a seal key forged lines
that are not JSON (with well-formed ones they would pass either way). Without the key nothing
settles the credit, and every line is parsed.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import field
from pathlib import Path
from typing import Any, NamedTuple

from sop.audit import chain
from sop.audit.actions import Action
from sop.errors import SopError
from sop.files import RUN_FILE_BYTES, FileReadError, open_regular_file, read_regular_file
from sop.records import dataclass


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


def _scan(
    data: bytes, out: Parsed, start: int = 0, number: int = 0
) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Each record with its line number and line, from offset `start` where `number` lines are
    behind; bad lines, a torn tail and the good length go into `out` (whose `records` stay for
    the caller to fill)."""
    stripped = data.rstrip(b"\0")  # the same object when there is nothing to strip
    last = stripped.rfind(b"\n")
    tail = stripped[last + 1 :]
    complete = stripped.count(b"\n")
    out.good_bytes = start
    while start <= last:  # slices, not split(): a long log is never held twice
        end = stripped.find(b"\n", start)
        raw = stripped[start:end]
        number += 1
        start = end + 1
        record = load_record(raw)
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


def load_record(raw: bytes) -> dict[str, Any] | None:
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
        or not all(isinstance(value.get(key, {}), dict) for key in _OBJECT_MEMBERS)
        or chain.link_of(value) is None
    ):
        return None  # not a record sop wrote: readers may rely on its shape
    return value


# the members every reader of records walks into: an sop record holds objects there
_OBJECT_MEMBERS = ("event", "sop", "host", "user", "process", "trace", "span", "error", "labels")


@dataclass
class Verification:
    records: int
    head: tuple[int, str]
    findings: list[Finding]
    seals_checked: int = 0
    seals_unchecked: int = 0
    next_seal: int = 0  # the number the next seal gets
    keyed: bool = False  # checked with the run's verification key
    sealed_records: int = 0  # the records up to and including the last seal that verified
    notes: list[str] = field(default_factory=list)  # what the caller should know besides

    @property
    def ok(self) -> bool:
        """The chain holds and nothing was found; see `proven` for what that is worth."""
        return not self.findings

    @property
    def unsealed(self) -> int:
        """How many records follow the last seal that verified: nothing proves who wrote them."""
        return self.records - self.sealed_records

    @property
    def proven(self) -> bool:
        """Every record is covered by a seal that verified with the run's key."""
        return self.ok and self.keyed and self.unsealed == 0 and self.records > 0

    @property
    def only_torn(self) -> bool:
        return bool(self.findings) and all(f.kind == "torn" for f in self.findings)


def verify_bytes(
    data: bytes,
    *,
    anchor: tuple[int, str] | None = None,
    key0: bytes | None = None,
    parsed: Parsed | None = None,
    escrowed: tuple[int, str] | None = None,
) -> Verification:
    """The records checked in order, none of them kept; with the key, most lines are not
    parsed (see the module docstring). `parsed`, if given, is `parse_log(data)` already done by
    the caller. `escrowed` is the head the key folder kept (SEQ, hash): checked like an anchor."""
    anchors = {}
    if escrowed is not None:
        anchors[escrowed[0]] = (escrowed[1], ESCROWED)
    if anchor is not None:
        anchors[anchor[0]] = (anchor[1], ANCHOR)
    walk = _Walk(anchors, key0)
    if parsed is None:
        parsed = Parsed()
        start = _walk_sealed(data, walk) if walk.keys is not None else 0
        lines = _scan(data, parsed, start, walk.line)
    else:
        lines = ((n, raw, r) for (n, r), raw in zip(parsed.records, parsed.lines, strict=True))
    for line, raw, record in lines:
        walk.add(line, raw, record)
    return walk.result(parsed)


SEAL_ACTION = b'"action":"%s"' % Action.SEAL.value.encode()
ANCHOR, ESCROWED = "the anchor", "the head the key folder kept"


def _walk_sealed(data: bytes, walk: _Walk) -> int:
    """Walk the log while nothing is found, proving what lines it can by their hash (see the
    module docstring); leave `walk` after the last seal that verified and return the offset of
    the line after it, where parsing every line takes over."""
    sealed = walk.checkpoint(0)
    offset = 0
    while True:
        offset = _prove(data, offset, walk)
        end = data.find(b"\n", offset)
        if end < 0:
            break
        raw = data[offset:end]
        record = load_record(raw)
        if record is None:  # a line for the full path to name
            break
        walk.add(walk.line + 1, raw, record)
        offset = end + 1
        if walk.found or walk.seals[1]:  # or a seal the key cannot check
            break
        if walk.since_seal == 0:  # that record was a seal, and it verified
            sealed = walk.checkpoint(offset)
    return walk.restore(sealed)


def _prove(data: bytes, offset: int, walk: _Walk) -> int:
    """Credit `walk` with the records from `offset` on that are in the writer's form (as
    `chain.stored_hash` reads it, here without copying each line), chain onto the previous
    record and are no seal, as many as it allows; returns the offset after them."""
    link, proven, room = walk.prev_hash.encode(), 0, walk.provable()
    member, tail = chain.HASH_MEMBER, chain.HASH_TAIL
    while proven < room:
        end = data.find(b"\n", offset)
        if data.startswith(b'"}}', end - 3):  # this format: `event` last, its hash last in it
            body_end, close = end - tail, b"}}"
        else:  # the first format: the hash last in the record
            body_end, close = end - tail + 1, b"}"
        if (
            body_end <= offset  # too short, or no line left (end is -1)
            or not data.startswith(member, body_end)
            or not data.startswith(b'"', end - len(close) - 1)
            or data.find(SEAL_ACTION, offset, end) >= 0
        ):
            break
        body = data[offset:body_end]
        digest = hashlib.sha256(b"%s\n%s%s" % (link, body, close)).hexdigest().encode()
        if not data.startswith(digest, end - 65 - len(close)):  # the stored hash, before `"}}`
            break
        link, proven, offset = digest, proven + 1, end + 1
    walk.add_proven(proven, link.decode())
    return offset


class _Checkpoint(NamedTuple):
    """A walk with nothing found yet, at `offset` in the log."""

    offset: int
    line: int
    records: int
    prev_hash: str
    prev_seq: int
    seals: tuple[int, ...]
    since_seal: int
    at_anchor: dict[int, tuple[int, str]]
    sealed_records: int


class _Walk:
    """The records so far, in order: the chain, the seals and the anchor."""

    def __init__(self, anchors: dict[int, tuple[str, str]], key0: bytes | None) -> None:
        self.anchors = anchors  # seq -> (hash, what it is)
        self.anchor_seqs = sorted(anchors)
        self.keys = _Keys(key0) if key0 is not None else None
        self.found: list[Finding] = []
        self.prev_hash, self.prev_seq = chain.GENESIS, -1
        self.seals = [0, 0, 0]  # checked, unchecked, the next seal's number
        self.since_seal = 0
        self.seqs: list[int] = []  # every record's seq, in order: to settle gaps at the end
        self.gaps: list[tuple[int, int, int]] = []  # (index in found, index in seqs, missing seq)
        self.at_anchor: dict[int, tuple[int, str]] = {}  # an anchor's seq: its line and hash
        self.line = 0  # the last record's line
        self.sealed_records = 0  # the records up to the last seal that verified

    def add(self, line: int, raw: bytes, record: dict[str, Any]) -> None:
        link = chain.link_of(record)
        assert link is not None  # load_record keeps only records that have one
        seq, prev, digest = link
        matches = _matches_hash(raw, record, link)
        finding = _check_link(line, seq, prev, matches, self.prev_hash, self.prev_seq)
        if finding is not None:
            if finding.kind == "deleted":
                self.gaps.append((len(self.found), len(self.seqs), self.prev_seq + 1))
            self.found.append(finding)
        self.seqs.append(seq)
        if record.get("event", {}).get("action") == Action.SEAL:
            seal = record.get("sop", {}).get("seal")
            seal = seal if isinstance(seal, dict) else {}
            finding = _check_seal(line, seal, prev, self.keys, self.seals)
            if finding is not None:
                self.found.append(finding)
            elif self.keys is not None:
                self.sealed_records = len(self.seqs)
            self.since_seal = 0
        else:
            if len(self.seqs) == 2:  # sop seals right after a log's first record
                self.found.append(
                    Finding(line, "seal", "no seal after the first record: seals were removed")
                )
            self.since_seal += 1
            if self.since_seal == chain.SEAL_EVERY + 2:
                self.found.append(
                    Finding(
                        line,
                        "seal",
                        f"no seal for more than {chain.SEAL_EVERY} records: seals were removed",
                    )
                )
        self.prev_hash, self.prev_seq, self.line = digest, seq, line
        if seq in self.anchors and seq not in self.at_anchor:
            self.at_anchor[seq] = (line, digest)

    def provable(self) -> int:
        """How many next records `add_proven` may take: those up to, not including, the
        anchors' seqs, the second record (a seal is due there) or the record that would make
        a seal overdue (`add` checks those)."""
        room = chain.SEAL_EVERY + 1 - self.since_seal
        if len(self.seqs) < 2:
            room = min(room, 1 - len(self.seqs))
        after = bisect.bisect_right(self.anchor_seqs, self.prev_seq)
        if after < len(self.anchor_seqs):
            room = min(room, self.anchor_seqs[after] - self.prev_seq - 1)
        return room

    def add_proven(self, count: int, digest: str) -> None:
        """`count` records that are each the next seq and no seal, the last one's hash `digest`."""
        self.seqs.extend(range(self.prev_seq + 1, self.prev_seq + 1 + count))
        self.prev_hash, self.prev_seq = digest, self.prev_seq + count
        self.line += count
        self.since_seal += count

    def checkpoint(self, offset: int) -> _Checkpoint:
        """This walk, to come back to while nothing is found yet."""
        return _Checkpoint(
            offset,
            self.line,
            len(self.seqs),
            self.prev_hash,
            self.prev_seq,
            tuple(self.seals),
            self.since_seal,
            dict(self.at_anchor),
            self.sealed_records,
        )

    def restore(self, mark: _Checkpoint) -> int:
        """Back to `mark`; returns its offset."""
        self.found.clear()
        self.gaps.clear()
        del self.seqs[mark.records :]
        self.line, self.prev_hash, self.prev_seq = mark.line, mark.prev_hash, mark.prev_seq
        self.seals = list(mark.seals)
        self.since_seal, self.at_anchor = mark.since_seal, dict(mark.at_anchor)
        self.sealed_records = mark.sealed_records
        return mark.offset

    def result(self, parsed: Parsed) -> Verification:
        findings = parsed.bad_lines + self._settled_gaps()
        if parsed.torn is not None:
            findings.append(parsed.torn)
        for seq, (digest, what) in sorted(self.anchors.items()):
            findings += self._anchor_findings(seq, digest, what)
        findings.sort(key=lambda f: f.line)
        head = (self.prev_seq, self.prev_hash)
        return Verification(
            len(self.seqs),
            head,
            findings,
            seals_checked=self.seals[0],
            seals_unchecked=self.seals[1],
            next_seal=self.seals[2],
            keyed=self.keys is not None,
            sealed_records=self.sealed_records,
        )

    def _settled_gaps(self) -> list[Finding]:
        """The findings, a gap whose missing record comes later turned into a swap."""
        found = list(self.found)
        if self.gaps:
            last_at = {seq: index for index, seq in enumerate(self.seqs)}
            for index, position, missing in self.gaps:
                if last_at.get(missing, -1) > position:
                    found[index] = Finding(
                        found[index].line,
                        "reordered",
                        f"seq {self.seqs[position]} comes before seq {missing}",
                    )
        return found

    def _anchor_findings(self, seq: int, expected: str, what: str) -> list[Finding]:
        last_line = self.line if self.seqs else 0
        if seq > self.prev_seq:
            message = f"the log ends at seq {self.prev_seq}, before {what} {seq}:{expected[:12]}..."
            if what == ESCROWED:
                message += ": it was cut back or rolled back"
            return [Finding(last_line, "truncated", message)]
        at = self.at_anchor.get(seq)
        if at is None or at[1] != expected:
            return [
                Finding(
                    at[0] if at else last_line,
                    "edited",
                    f"seq {seq} does not match {what}: the log was rewritten",
                )
            ]
        return []


def _matches_hash(raw: bytes, record: dict[str, Any], link: chain.Link) -> bool:
    """The hash must cover the line's stored bytes (the writer's form) or, for a line in any
    other form (written by hand), the record's canonical JSON."""
    prev, digest = link.prev, link.hash
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
    number = seal.get("n")
    if not isinstance(number, int) or isinstance(number, bool):
        return Finding(line, "seal", "a seal without its number: the seal was edited")
    if number != seals[2]:
        found = Finding(
            line,
            "seal",
            f"seal {number} where seal {seals[2]} was due: a seal was removed or moved",
        )
        seals[2] = number + 1
        return found
    seals[2] = number + 1
    if keys is None:
        seals[1] += 1
        return None
    if seal.get("key_id") != keys.id:
        return Finding(
            line,
            "seal",
            f"sealed under another key (key id {str(seal.get('key_id'))[:16]}, this run's is "
            f"{keys.id}): the log is another run's, or forged",
        )
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
        data = read_regular_file(path, RUN_FILE_BYTES)
    except FileReadError as exc:
        raise AuditReadError(str(exc)) from None
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
        with open_regular_file(path) as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a torn tail is no record
                record = load_record(raw[:-1])
                if record is not None:
                    return str(record.get("sop", {}).get("run_id", ""))
    except FileReadError as exc:
        raise AuditReadError(str(exc)) from None
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror}") from None
    return ""


def run_id_of_bytes(data: bytes) -> str:
    """The run id in a log's first record, '' when it has none."""
    end = data.find(b"\n")
    record = load_record(data[:end]) if end >= 0 else None
    run_id = record.get("sop", {}).get("run_id") if record is not None else None
    return run_id if isinstance(run_id, str) else ""


def unproven_ranges(data: bytes) -> list[tuple[int, int]]:
    """The seq ranges that `unproven` records name: records a resume found after the last
    verified seal, which later seals cover though nothing proves sop wrote them. Found without
    parsing every line."""
    marker = b'"action":"%s"' % Action.UNPROVEN.value.encode()
    out = []
    at = data.find(marker)
    while at >= 0:
        start, end = data.rfind(b"\n", 0, at) + 1, data.find(b"\n", at)
        end = end if end >= 0 else len(data)
        record = load_record(data[start:end])
        if record is not None and record.get("event", {}).get("action") == Action.UNPROVEN:
            fields = record.get("sop", {})
            first, last = fields.get("from_seq"), fields.get("to_seq")
            if isinstance(first, int) and isinstance(last, int):
                out.append((first, last))
        at = data.find(marker, end)
    return out


def repair_torn_tail(path: Path) -> dict[str, Any] | None:
    """Cut a torn last line off; returns what was cut (for the record that says so)."""
    data = read_regular_file(path, RUN_FILE_BYTES, follow_symlinks=False)
    parsed = parse_log(data)
    if parsed.torn is None:
        return None
    cut = data[parsed.good_bytes :]
    with path.open("r+b") as handle:
        handle.truncate(parsed.good_bytes)
        handle.flush()
        os.fsync(handle.fileno())
    return {"line": parsed.torn.line, "bytes": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}
