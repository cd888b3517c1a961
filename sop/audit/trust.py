"""How far a run's audit log can be trusted: the log checked with everything sop keeps about
the run elsewhere. `verify_bytes` checks a log's own chain and seals; this adds what only the
run's surroundings can tell:

- the files: the run folder and its files, the key folder and the key are real files of this
  user (or, in a state directory shared with a group, of the group's members), which nobody else
  can write (a swapped-in file or an outsider's write access would make every check below moot);
- the run: the run id in the log is its folder's name, and the key is that run's;
- the seals: with the key, what they cover; without it, that nothing was proven;
- the head the key folder kept after the latest seal: a log cut back or rolled back to an
  older copy no longer reaches it;
- the recordings of interactive sessions beside the log: each must match the SHA-256 its
  `interactive-session` record holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sop.audit import escrow
from sop.audit.actions import Action
from sop.audit.reader import entry, read_log_bytes
from sop.audit.sharing import Sharing
from sop.audit.state import AUDIT, check_run_files, state_dir_of
from sop.audit.verify import (
    Finding,
    Parsed,
    Verification,
    parse_anchor,
    run_id_of_bytes,
    unproven_ranges,
    verify_bytes,
)
from sop.files import RUN_FILE_BYTES, FileReadError, read_regular_file
from sop.records import dataclass
from sop.text import visible

RECORDING_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.cast")
_SESSION_ACTION = b'"action":"%s"' % Action.INTERACTIVE_SESSION.value.encode()


@dataclass(frozen=True)
class RunLog:
    """A log read for verification: its bytes, its run id, and the run's escrowed head."""

    path: Path
    data: bytes
    run_id: str
    folder: str | None  # the run folder's name, when the log is a run folder's audit.jsonl
    keys: escrow.KeyFolder  # where the run's key and head are kept
    head: escrow.EscrowedHead | None


def read_run_log(path: Path, *, follow_symlinks: bool = False) -> RunLog:
    """Check the files around `path`, then read it (unparsed). Raises `UnsafeFileError` or
    `StateDirError` for a file sop must not trust, `AuditReadError` for one it cannot read."""
    folder = None
    if path.name == AUDIT and path.parent.parent.name == "runs":
        check_run_files(path.parent)
        folder = path.parent.name
        data = read_log_bytes(path)
        keys = escrow.key_folder(state_dir_of(path.parent))
    else:  # a copy named on the command line (`verify` follows a link to it); others must
        # not be able to write it
        data = read_log_bytes(path, follow_symlinks=follow_symlinks)
        Sharing().check(path.resolve(), "audit log", own=False)
        keys = escrow.key_folder()
    run_id = run_id_of_bytes(data)
    head = escrow.load_head(keys, run_id) if run_id else None
    return RunLog(path, data, run_id, folder, keys, head)


def verify_run(
    log: RunLog,
    *,
    anchor: tuple[int, str] | None = None,
    key_file: Path | None = None,
    parsed: Parsed | None = None,
) -> Verification:
    """`log` checked with the run's key (`key_file`, else the key folder's), the head the key
    folder kept, and `anchor`; the notes say what was not proven."""
    key0 = escrow.load_key(log.keys, log.run_id, key_file) if log.run_id else None
    escrowed = (log.head.seq, log.head.hash) if log.head is not None else None
    result = verify_bytes(log.data, anchor=anchor, key0=key0, parsed=parsed, escrowed=escrowed)
    if log.folder is not None and log.run_id != log.folder:
        result.findings.insert(
            0,
            Finding(
                1,
                "moved",
                f"the log is of run '{log.run_id}', but lies in the folder of run "
                f"'{log.folder}': it was moved or swapped in",
            ),
        )
    result.notes.extend(_notes(log, result))
    findings, matched = check_recordings(log)
    result.findings.extend(findings)
    if matched:
        result.notes.append(
            f"{len(matched)} interactive session recording(s) match the SHA-256 the log holds: "
            + ", ".join(matched)
        )
    for first, last in unproven_ranges(log.data):
        result.notes.append(
            f"records {first}-{last} were not under a seal when the run was resumed: a later seal "
            "covers them, but nothing proves sop wrote them"
        )
    return result


def check_recordings(log: RunLog) -> tuple[list[Finding], list[str]]:
    """Each interactive session's recording against the SHA-256 its record holds: (findings,
    the files that match). A recording is looked for beside the log; one missing from a run's
    own folder is a finding (a copy of a log elsewhere may have left its recordings behind)."""
    findings: list[Finding] = []
    matched: list[str] = []
    for number, line in enumerate(log.data.split(b"\n"), 1):
        if _SESSION_ACTION not in line:
            continue
        try:
            recorded = entry(json.loads(line))
        except ValueError:  # the chain check reports the line
            continue
        name = recorded.recording
        if not name:
            continue
        if not RECORDING_NAME.fullmatch(name):
            findings.append(
                Finding(number, "recording", f"'{visible(name)}' is not a recording's file name")
            )
            continue
        try:
            data = read_regular_file(log.path.parent / name, RUN_FILE_BYTES, follow_symlinks=False)
        except FileReadError as exc:
            if log.folder is not None or exc.errno is None:
                findings.append(Finding(number, "recording", f"{name}: {exc.reason}"))
            continue
        if hashlib.sha256(data).hexdigest() != recorded.recording_sha256:
            findings.append(
                Finding(
                    number,
                    "recording",
                    f"{name} does not match the SHA-256 its record holds: it changed after "
                    "the session",
                )
            )
        else:
            matched.append(name)
    return findings, matched


def unproven_note(first: int, last: int) -> tuple[str, str, dict[str, Any]]:
    """The record resume appends before going on from a log whose records `first`..`last` came
    after the last verified seal (the action, message and fields of an audit note): its own
    seals will cover them, so the log must say that none did before."""
    return (
        Action.UNPROVEN,
        f"records {first}-{last} came after the last verified seal: nothing proves sop wrote "
        "them; their steps were treated as in doubt",
        {"from_seq": first, "to_seq": last},
    )


def verify_run_log(
    path: Path, *, anchor: str | None = None, key: Path | None = None
) -> Verification:
    """`sop audit verify`: the log at `path`, its files and the run's escrowed head checked,
    against an anchor given as SEQ:HASH and the run's verification key (`key`, else the one the
    key folder kept)."""
    return verify_run(
        read_run_log(path, follow_symlinks=True),
        anchor=parse_anchor(anchor) if anchor else None,
        key_file=key,
    )


def _notes(log: RunLog, result: Verification) -> list[str]:
    notes = []
    if not result.keyed:
        notes.append(
            f"seals not checked: no verification key for run '{log.run_id}' (give it with --key); "
            "the chain holds, but anyone who can write the log could have rewritten it whole"
        )
    elif result.unsealed:
        notes.append(
            f"{result.unsealed} record(s) after the last verified seal are not covered by a "
            "seal: nothing proves who wrote them (a run in progress, or killed)"
        )
    if log.head is None and result.keyed:
        notes.append(
            "the key folder kept no head for this run (written by an older sop, or on another "
            "machine): a log cut back to an earlier seal is found only with the ticket's --anchor"
        )
    return notes


def status_of(result: Verification) -> str:
    """`verified`, `unproven` (the chain holds, but not every record is under a verified
    seal) or `failed`."""
    if not result.ok:
        return "failed"
    return "verified" if result.proven else "unproven"


def verification_dict(result: Verification) -> dict[str, object]:
    """The result for machines (`sop audit verify --format json`, docs/cli.md)."""
    seq, digest = result.head
    return {
        "status": status_of(result),
        "records": result.records,
        "head": f"{seq}:{digest}",
        "seals_verified": result.seals_checked,
        "keyed": result.keyed,
        "unsealed_records": result.unsealed,
        "findings": [
            {"line": f.line, "kind": f.kind, "message": f.message} for f in result.findings
        ],
        "notes": list(result.notes),
    }


def summary(result: Verification) -> str:
    """One line: what the log proves (its findings are listed apart)."""
    seq, digest = result.head
    if not result.ok:
        return "NOT VERIFIED: " + "; ".join(str(f) for f in result.findings)
    if result.proven:
        return (
            f"ok: {result.records} records, head {seq}:{digest}, "
            f"{result.seals_checked} seal(s) verified"
        )
    if not result.keyed:
        return (
            f"unproven: {result.records} records, head {seq}:{digest}: the chain holds, "
            f"but {result.seals_unchecked} seal(s) were not checked (no key)"
        )
    if result.sealed_records == 0:
        return f"unproven: {result.records} record(s), head {seq}:{digest}, and no seal yet"
    return (
        f"ok up to seq {result.sealed_records - 1} ({result.seals_checked} seal(s) verified); "
        f"unproven: the {result.unsealed} record(s) after it, head {seq}:{digest}"
    )
