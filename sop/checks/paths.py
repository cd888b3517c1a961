"""What lint sees in the paths through an SOP: decisions that leave no way on, and the steps
that run only on some paths (a section a decision chooses, a section or a step with `when`),
whose answers and captures are empty on the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sop.errors import Problem
from sop.model import Sop, Step, blocks, branches


def _deciders(sop: Sop) -> dict[str, list[Step]]:
    """Section id -> the steps whose decision chooses it going forward (going back to a
    section is no way into it), in file order."""
    deciders: dict[str, list[Step]] = {}
    for step in sop.steps:
        for b in branches(sop, step):
            for target in b.sections:
                if not b.back and step not in deciders.get(target.id, []):
                    deciders.setdefault(target.id, []).append(step)
    return deciders


def only_sometimes(sop: Sop) -> dict[str, str]:
    """Step id -> why it may not run, for the steps that run only on some paths."""
    deciders = _deciders(sop)
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


Choice = tuple[str, str]  # a decide step's id and one of its answers that goes on


def choices(sop: Sop) -> dict[str, frozenset[Choice]]:
    """Section id -> the answers that choose it, for the sections a decision chooses: such a
    section runs only when one of them is the answer (a decision that does not run chooses
    nothing)."""
    found: dict[str, set[Choice]] = {}
    for step in sop.steps:
        for b in branches(sop, step):
            if not b.back:
                for target in b.sections:
                    found.setdefault(target.id, set()).add((step.id, b.label))
    return {sid: frozenset(pairs) for sid, pairs in found.items()}


def set_on_every_path(
    sop: Sop, reader: Step, setters: Sequence[Step], sometimes: Mapping[str, str]
) -> bool:
    """Whether every path on which `reader` runs goes through one of `setters` (earlier steps
    that run only on some paths) first. Conservative: a setter with `when`, or in a section
    with `when` other than the reader's, counts for nothing. The others run when their section
    is chosen, so the reader is covered when every answer that chooses its own section (or,
    for a section no decision chooses, every answer that goes on of a decision that always
    runs) chooses a setter's section too: `fix: [replace, verify]` sets in `replace` what
    `verify` reads."""
    sure = []
    for setter in setters:
        section = sop.section(setter.section_id)
        if setter.when or (
            section is not None and section.when and setter.section_id != reader.section_id
        ):
            continue
        if setter.section_id == reader.section_id:
            return True  # the same section: both run or neither does
        sure.append(setter)
    by_section = choices(sop)
    chosen = frozenset().union(*(by_section.get(s.section_id, frozenset()) for s in sure))
    if reader.section_id in by_section:
        return by_section[reader.section_id] <= chosen
    for decision in sop.steps:
        if decision is reader:
            break
        if decision.kind != "decide" or decision.id in sometimes:
            continue
        answers = {(decision.id, b.label) for b in branches(sop, decision) if not b.back}
        if answers and answers <= chosen:
            return True
    return False


def run_before(sop: Sop) -> dict[str, set[str]]:
    """Section id -> the ids of steps (without `when:`) that have run whenever the section
    runs, for the sections only decisions choose: each deciding step runs before it, and so do
    the steps before the decision in its section and what has run whenever that section runs.
    A section several decisions choose gets what all their paths share."""
    deciders = _deciders(sop)
    out: dict[str, set[str]] = {}
    for sid, _ in blocks(sop.steps):  # file order: a decision comes before what it chooses
        paths = []
        for decider in deciders.get(sid, []):
            _, steps = next(b for b in blocks(sop.steps) if b[0] == decider.section_id)
            earlier = steps[: steps.index(decider)]
            section = sop.section(decider.section_id)
            if section is not None and section.when:
                earlier = ()  # its decision may not run: nothing of it is sure
            ran = {s.id for s in earlier if not s.when} | {decider.id}
            paths.append(ran | out.get(decider.section_id, set()))
        if paths:
            out[sid] = set.intersection(*paths)
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
