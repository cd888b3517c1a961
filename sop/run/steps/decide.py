"""Decide steps: the responder chooses one of the step's options, and the choice says which
sections come next (a later one: it applies; an earlier one: the run goes back to it)."""

from __future__ import annotations

from sop import events as ev
from sop import templating
from sop.events import Outcome
from sop.model import ELSE, GOES_ON, Sop, Step, branches
from sop.run.options import ConfirmationRequired, RunOptions
from sop.run.scope import Scope, Stop
from sop.run.services import Services


class DecisionError(ConfirmationRequired):
    """An answer given on the command line that is not one of the decision's options."""


def going_back(step: Step, sop: Sop) -> set[str]:
    """The labels of the options that lead to the step's own section or an earlier one."""
    return {b.label for b in branches(sop, step) if b.back}


def answers_text(step: Step, sop: Sop) -> str:
    """The answers as a Markdown list: where each leads, in the sections' titles."""
    lines = []
    for b in branches(sop, step):
        titles = ", ".join(s.title for s in b.sections) or GOES_ON
        lines.append(f"- **{b.label}** → {'back to ' if b.back else ''}{titles}")
    return "\n".join(lines)


def offered(step: Step, sop: Sop, round_: int) -> list[str]:
    """The answers the responder may choose in this pass of the step's section: going back
    only while the section has run at most `max` times; `else` when the step has one."""
    back = going_back(step, sop)
    labels = [o.label for o in step.options if o.label not in back or round_ <= step.max_back]
    return labels + ([ELSE] if step.otherwise else [])


def goto_of(step: Step, choice: str) -> tuple[str, ...]:
    """The sections a choice leads to."""
    if choice == ELSE:
        return step.otherwise
    return next(o.goto for o in step.options if o.label == choice)


def scripted_answer(step: Step, scope: Scope, options: RunOptions) -> str:
    """The drill scenario's answer to this decision in this pass of its section (the last one
    repeats), or "" when it gives none. Only the drilled SOP's own decisions: a called SOP's
    are its own."""
    if options.drill is None or scope.depth:
        return ""
    scenario = scope.sop.scenarios.get(options.drill.scenario)
    return scenario.answer(step.id, scope.round) if scenario else ""


def run_decide(services: Services, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
    s, options = services, services.options
    try:
        # the question is the step's title unless it has one (or is longer than a title)
        asked = step.title or step.label != step.body.strip()
        question = templating.render_markdown(step.body, scope.variables) if asked else ""
        question = "\n\n".join(x for x in (question, answers_text(step, scope.sop)) if x)
    except templating.TemplateError as exc:
        s.broken(ref, step, str(exc))
        return
    started = s.clock.monotonic()
    s.emit(ev.StepShown(s.clock.now(), ref, prose=question, note=note, confirm=step.confirm))
    if options.dry_run:
        s.finish(ref, Outcome.DRY_RUN, 0.0)
        return
    labels = offered(step, scope.sop, ref.round)
    unattended = options.yes or s.prompter is None
    if step.id in options.answers:
        choice, how = options.answers[step.id], "--answer"
        if choice not in labels:
            raise DecisionError(
                f"step {ref.number} ({step.id}): '{choice}' is not an answer of this decision "
                f"here; one of: {', '.join(labels)}"
            )
    elif unattended and options.drill is not None and scripted_answer(step, scope, options):
        choice, how = scripted_answer(step, scope, options), "scenario"
        if choice not in labels:
            raise DecisionError(
                f"step {ref.number} ({step.id}): the scenario's answer '{choice}' is not an "
                f"answer of this decision here; one of: {', '.join(labels)}"
            )
    elif unattended and options.drill is not None:
        # a drill takes the first answer that goes on, unless -a or its scenario says another
        back = going_back(step, scope.sop)
        choice, how = next((x for x in labels if x not in back), labels[0]), "drill"
    elif unattended:
        raise ConfirmationRequired(
            f"step {ref.number} ({step.id}) is a decision: answer it with -a {step.id}=ANSWER "
            f"(one of: {', '.join(labels)})"
        )
    else:
        keys = [(str(i), label) for i, label in enumerate(labels, 1)]
        picked = s.prompt().choose("Your answer?", [*keys, ("q", "quit"), ("a", "abort")])
        if picked == "q":
            raise Stop("quit")
        if picked == "a":
            s.abort(ref)
        choice, how = dict(keys)[picked], "interactive"
    s.decisions[ref.key] = choice
    s.emit(ev.Decided(s.clock.now(), ref, choice, goto_of(step, choice), how))
    s.finish(ref, Outcome.DONE, s.clock.monotonic() - started)
