"""What lint sees in the paths through an SOP: decisions that leave no way on, and the steps
that run only on some paths (a section a decision chooses, a section or a step with `when`),
whose answers and captures are empty on the others."""

from __future__ import annotations

from sop.errors import Problem
from sop.model import Sop, Step, blocks, branches


def only_sometimes(sop: Sop) -> dict[str, str]:
    """Step id -> why it may not run, for the steps that run only on some paths."""
    deciders: dict[str, list[Step]] = {}
    for step in sop.steps:
        for b in branches(sop, step):
            for target in b.sections:
                if not b.back and step not in deciders.get(target.id, []):
                    deciders.setdefault(target.id, []).append(step)
    out: dict[str, str] = {}
    for sid, steps in blocks(sop.steps):
        section = sop.section(sid)
        why = ""
        if section is not None and sid in deciders:
            named = ", ".join(f"step {d.number} ({d.id})" for d in deciders[sid])
            why = f"in section '{section.title}', which runs only when the decision at {named} chooses it"
        elif section is not None and section.when:
            why = f"in section '{section.title}', which runs only when `{section.when}`"
        for step in steps:
            if why:
                out[step.id] = why
            elif step.when:
                out[step.id] = f"which runs only when `{step.when}`"
    return out


def decision_problems(sop: Sop) -> list[Problem]:
    """A decision must leave a way on: an answer (or `else`) that does not go back, or the
    steps after it can never run once it may not go back again; and going back names one
    section."""
    problems: list[Problem] = []
    for step in sop.steps:
        if step.kind != "decide":
            continue
        found = branches(sop, step)
        if found and all(b.back for b in found):
            problems.append(
                Problem(
                    step.where,
                    step.path,
                    "every answer goes back to an earlier section: after `max` passes no answer "
                    "is left and the steps after it can never run; add one that goes on, or `else:`",
                    "error",
                    "path",
                )
            )
        for b in found:
            if b.back and len(b.sections) > 1:
                key = "else" if b.label == "else" and step.otherwise else f"options.{b.label}"
                problems.append(
                    Problem(
                        step.locs.get(key.split(".")[0], step.where),
                        f"{step.path}.{key}",
                        "an answer that goes back names one section: "
                        + ", ".join(s.id for s in b.sections),
                        "error",
                        "path",
                    )
                )
    return problems
