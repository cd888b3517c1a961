"""The two-person rule's channel: answers to a step's approval request, one file per approver.

A run that waits for someone else (docs/run.md, "Approvals and roles") records an
`approval-requested` record: the rendered command, hosts, stdin and inputs, and `binding`, the
SHA-256 of all of them with the run and step. The approver's own sop (`sop approve`) reads
the request from the log, shows it, recomputes the binding from what it showed (never copying
the record's), and writes its answer as `RUN_DIR/approvals/STEP_KEY.UID.json`, a file only its
owner can write (0644, whatever the folder's sharing). The run believes an answer only when

- the file is a regular file (not a link) that no group or other user can write: its owner wrote
  every byte of it, and the owner is who approved (`st_uid`, never a name in the file);
- its owner is not the operator (the uid of the process driving the run);
- it names this run, this step and the binding the run computed itself for what will run.

So a state-directory writer cannot approve in another's name (the file would be theirs), make a
teammate's approval cover a different command, host or input (the binding differs), nor move
an approval to another run or step (both are inside it). See docs/threat-model.md (T30-T33)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from sop.audit.sharing import make_dir, sharing_of, user_name
from sop.audit.state import state_dir_of
from sop.errors import SopError
from sop.records import dataclass

FOLDER = "approvals"
ANSWER_MODE = 0o644  # its owner's alone to write: the owner is the approver
ANSWER_BYTES = 64 * 1024


class ApprovalError(SopError):
    """An answer cannot be given (no such request, your own run, already answered ...)."""


def binding(
    *,
    run_id: str,
    step_key: str,
    command: str,
    hosts: Sequence[str],
    stdin: str | None,
    inputs: Mapping[str, str],
    role: str,
) -> str:
    """The SHA-256 an approval must carry: of exactly what the approver is shown (the rendered
    command, the hosts, the stdin text, the run's inputs as shown), the role they approve as,
    and which run and step it is, as canonical JSON."""
    document = {
        "run_id": run_id,
        "step": step_key,
        "command": command,
        "hosts": list(hosts),
        "stdin": stdin,
        "inputs": dict(sorted(inputs.items())),
        "role": role,
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    """An answer as read from its file; `approver_id` is the file's owner."""

    file: str
    approver_id: int
    run_id: str
    step: str
    binding: str
    approved: bool
    role: str
    given: float
    reason: str
    identity: tuple[int, int]  # (inode, mtime_ns): an answer seen once is not seen twice

    @property
    def approver(self) -> str:
        return account_name(self.approver_id)


@dataclass(frozen=True)
class Unreadable:
    """A file in the approvals folder that is no answer the run could believe."""

    file: str
    reason: str
    approver_id: int
    identity: tuple[int, int]


def account_name(uid: int) -> str:
    """`bob`, or `uid 1234` when the password database does not know the uid."""
    named = user_name(uid)
    return named.partition(" (uid")[0] if "(uid" in named else named


def answer_path(run_dir: Path, step_key: str, uid: int) -> Path:
    return run_dir / FOLDER / f"{step_key}.{uid}.json"


def write_answer(
    run_dir: Path,
    *,
    run_id: str,
    step_key: str,
    bound: str,
    approved: bool,
    role: str,
    given: float,
    reason: str = "",
) -> Path:
    """Write this user's answer for `step_key` (replacing an earlier one of theirs), as a file
    only they can write. The approvals folder is made with the state directory's sharing."""
    folder = run_dir / FOLDER
    sharing = sharing_of(state_dir_of(run_dir), "state directory")
    if not sharing.check(folder, "approvals folder", folder=True):
        make_dir(folder, sharing.dir_mode)
    uid = os.geteuid()
    path = answer_path(run_dir, step_key, uid)
    text = json.dumps(
        {
            "run_id": run_id,
            "step": step_key,
            "binding": bound,
            "answer": "approved" if approved else "refused",
            "role": role,
            "given": given,
            "reason": reason,
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, ANSWER_MODE)
    try:
        os.fchmod(fd, ANSWER_MODE)  # not the folder's group-writable default
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


def read_answers(run_dir: Path, step_key: str) -> list[Answer | Unreadable]:
    """Every answer file for `step_key` (none when there is no approvals folder), each read
    through one descriptor that follows no link, judged by what `fstat` says of it."""
    folder = run_dir / FOLDER
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return []
    if not stat.S_ISDIR(info.st_mode):  # a link to answers elsewhere is no answer here
        return [Unreadable(FOLDER, "the approvals folder is not a folder", info.st_uid, (0, 0))]
    names = sorted(os.listdir(folder))
    prefix = f"{step_key}."
    found: list[Answer | Unreadable] = []
    for name in names:
        if name.startswith(prefix) and name.endswith(".json"):
            found.append(_read(folder / name))
    return found


def _read(path: Path) -> Answer | Unreadable:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:  # a link (ELOOP), a FIFO nobody writes to ...
        try:
            info = path.lstat()
        except OSError:
            return Unreadable(path.name, f"cannot be opened ({exc.strerror})", -1, (0, 0))
        identity = (info.st_ino, info.st_mtime_ns)
        return Unreadable(path.name, f"cannot be opened ({exc.strerror})", info.st_uid, identity)
    try:
        info = os.fstat(fd)
        identity = (info.st_ino, info.st_mtime_ns)
        if not stat.S_ISREG(info.st_mode):
            return Unreadable(path.name, "not a regular file", info.st_uid, identity)
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return Unreadable(
                path.name,
                "writable by others than its owner, so its owner may not have written it",
                info.st_uid,
                identity,
            )
        data = os.read(fd, ANSWER_BYTES + 1)
    finally:
        os.close(fd)
    try:
        fields = json.loads(data) if len(data) <= ANSWER_BYTES else None
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or fields.get("answer") not in ("approved", "refused"):
        return Unreadable(path.name, "not an answer sop wrote", info.st_uid, identity)
    given = fields.get("given")
    return Answer(
        file=path.name,
        approver_id=info.st_uid,
        run_id=str(fields.get("run_id", "")),
        step=str(fields.get("step", "")),
        binding=str(fields.get("binding", "")),
        approved=fields["answer"] == "approved",
        role=str(fields.get("role", "")),
        given=float(given) if isinstance(given, int | float) else 0.0,
        reason=str(fields.get("reason", "")),
        identity=identity,
    )


def why_not(
    answer: Answer, *, run_id: str, step_key: str, bound: str, role: str, operator_id: int
) -> str:
    """Why the run does not accept `answer` ("" when it does)."""
    if answer.approver_id == operator_id:
        return (
            f"{answer.approver} is the operator of this run: the two-person rule needs someone else"
        )
    if answer.run_id != run_id or answer.step != step_key:
        return f"it answers another request (run {answer.run_id}, step {answer.step})"
    if answer.binding != bound:
        return (
            "it approves something other than what will run (its binding "
            f"{answer.binding[:12]} is not {bound[:12]}: a command, host or input differs)"
        )
    if role and answer.role != role:
        stated = f"states the role {answer.role}" if answer.role else "states no role"
        return f"it {stated}; this step needs {role}"
    return ""


@dataclass(frozen=True)
class Request:
    """A step of a run that waits for an answer, as its approval-requested record says."""

    run_id: str
    sop_id: str
    step_key: str
    step_id: str
    number: str
    title: str
    command: str
    hosts: tuple[str, ...]
    stdin: str | None
    inputs: Mapping[str, str]
    role: str
    task: str
    operator: str  # the name the operator claims
    operator_id: str  # the OS account that runs the step (`user.id`)
    time: str

    def bound(self) -> str:
        """The binding of what this request shows, computed here (never read from the log)."""
        return binding(
            run_id=self.run_id,
            step_key=self.step_key,
            command=self.command,
            hosts=self.hosts,
            stdin=self.stdin,
            inputs=self.inputs,
            role=self.role,
        )


def pending_requests(run_dir: Path) -> list[Request]:
    """The steps of the run in `run_dir` that wait for an answer: each step's latest request
    that no approval and no end of the step followed."""
    from sop.audit.actions import Action
    from sop.audit.reader import log_path, read_log

    log = read_log(log_path(run_dir))
    waiting: dict[str, Request] = {}
    for e in log.entries:
        if e.action == Action.APPROVAL_REQUESTED:
            waiting[e.step_key] = Request(
                log.run_id, e.sop_id, e.step_key, e.step_id, e.number, e.step_title, e.command,
                e.hosts, e.stdin, dict(e.inputs), e.role, e.task, e.operator, e.user_id, e.time,
            )  # fmt: skip
        elif e.action in (Action.APPROVED, Action.STEP_FINISHED):
            waiting.pop(e.step_key, None)
    return list(waiting.values())


def choose_request(requests: Sequence[Request], run_id: str, step: str | None) -> Request:
    """The request `step` names (its id, key or number), or the only one."""
    if not requests:
        raise ApprovalError(f"no step of run {run_id} waits for an approval")
    if step is None:
        if len(requests) > 1:
            named = ", ".join(f"{r.step_id} (step {r.number})" for r in requests)
            raise ApprovalError(f"several steps of run {run_id} wait: name one of {named}")
        return requests[0]
    for request in requests:
        if step in (request.step_id, request.step_key, request.number):
            return request
    named = ", ".join(r.step_id for r in requests)
    raise ApprovalError(
        f"step {step} of run {run_id} does not wait for an approval (these do: {named})"
    )


def check_approver(request: Request, role: str) -> None:
    """Refuse, before asking anything, an answer the run would not accept: the operator's
    own, or one that does not state the role the step needs."""
    if request.operator_id == str(os.geteuid()):
        raise ApprovalError(
            f"you ({account_name(os.geteuid())}) are the operator of run {request.run_id}: the "
            "two-person rule needs someone else to answer"
        )
    if request.role and role != request.role:
        raise ApprovalError(
            f"step {request.number} ({request.step_id}) needs the {request.role}: answer with "
            f"--role {request.role} if that is you"
        )


def answer(
    run_dir: Path, request: Request, *, approved: bool, role: str, given: float, reason: str = ""
) -> Path:
    """Write this user's answer to `request`, bound to what it shows."""
    check_approver(request, role)
    try:
        return write_answer(
            run_dir,
            run_id=request.run_id,
            step_key=request.step_key,
            bound=request.bound(),
            approved=approved,
            role=request.role,
            given=given,
            reason=reason,
        )
    except PermissionError as exc:
        raise ApprovalError(
            f"cannot write your answer in {run_dir} ({exc.strerror}): approvals go through a "
            "state directory shared with your team's group (docs/audit.md, Handover)"
        ) from None
