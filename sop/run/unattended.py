"""`--skip STEP=REASON` and `--start-at STEP=REASON`: which steps a run leaves out, checked
against the SOP before anything runs (the runner records each as a deviation)."""

from __future__ import annotations

from sop.errors import UsageError
from sop.model import Sop, Step, branches
from sop.run.options import RunOptions


def check_step_requests(sop: Sop, options: RunOptions) -> None:
    """Refuse a `--skip` or `--start-at` that names no step of `sop` (with the list of its
    step ids), and a `--start-at` step that only a decision leads to: the steps before it
    would be skipped, the decision with them, and nothing would choose its section."""
    for step_id in options.skip:
        if _find(sop.steps, step_id) is None and _find(sop.rollback, step_id) is None:
            raise UsageError(f"--skip {step_id}: {_none_such(sop, with_rollback=True)}")
    if not options.start_at:
        return
    step = _find(sop.steps, options.start_at)
    if step is None:
        raise UsageError(f"--start-at {options.start_at}: {_none_such(sop, with_rollback=False)}")
    section = sop.section(step.section_id)
    deciders = [
        d
        for d in sop.steps
        if d.kind == "decide"
        and any(section in b.sections and not b.back for b in branches(sop, d))
    ]
    if section is not None and deciders:
        named = ", ".join(f"step {d.number} ({d.id})" for d in deciders)
        raise UsageError(
            f"--start-at {step.id}: step {step.number} is in the section '{section.title}', "
            f"which only the decision at {named} leads to; start at the decision (or before "
            "it), and answer it"
        )


def _find(steps: tuple[Step, ...], step_id: str) -> Step | None:
    return next((s for s in steps if s.id == step_id), None)


def _none_such(sop: Sop, *, with_rollback: bool) -> str:
    """What the error says: no such step, and the ids there are (a called SOP's steps are
    not among them: name the call step)."""
    ids = ", ".join(s.id for s in sop.steps)
    if with_rollback and sop.rollback:
        ids += "; rollback: " + ", ".join(s.id for s in sop.rollback)
    return f"'{sop.id}' has no such step (its steps: {ids})"


def step_reasons(items: tuple[str, ...], option: str) -> dict[str, str]:
    """`STEP=REASON` values of a repeated option: every step given once, each with a reason."""
    out: dict[str, str] = {}
    for item in items:
        step_id, _, reason = item.partition("=")
        step_id, reason = step_id.strip(), reason.strip()
        if not step_id or not reason:
            raise UsageError(
                f"{option} takes STEP=REASON (the reason goes in the audit log), got '{item}'"
            )
        if step_id in out:
            raise UsageError(f"{option} {step_id}: given twice")
        out[step_id] = reason
    return out
