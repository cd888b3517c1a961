"""Prose steps: the responder reads, does it by hand, confirms, and answers the step's questions."""

from __future__ import annotations

from sop import events as ev
from sop import templating
from sop.errors import SopError
from sop.events import Outcome
from sop.model import Input, Step
from sop.redact import MASK
from sop.run.approval import await_approval, gate_of
from sop.run.inputs import validate
from sop.run.options import ConfirmationRequired, RunOptions
from sop.run.scope import Scope, Stop
from sop.run.services import Services

UNATTENDED = "--yes: nobody confirmed doing this manual step"


def run_prose(services: Services, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
    s, options = services, services.options
    try:
        prose = templating.render_markdown(step.body, scope.variables)
    except templating.TemplateError as exc:
        s.broken(ref, step, str(exc))
        return
    started = s.clock.monotonic()
    s.emit(
        ev.StepShown(
            s.clock.now(), ref, prose=prose, note=note, links=step.links, confirm=step.confirm
        )
    )
    if options.dry_run:
        for q in step.ask:
            scope.variables[q.name] = _unanswered(q, drill=options.drill is not None)
        s.finish(ref, Outcome.DRY_RUN, 0.0)
        return
    verdict = await_approval(s, step, ref)
    if not verdict.go:
        _default_answers(step, scope)
        return
    gate = gate_of(step, options)
    if gate is not None and gate.task and verdict.answer is not None:
        _done_by(s, step, scope, ref, verdict.answer, started)
        return
    if step.confirm != "never" and not options.yes:
        choices = [("d", "done"), ("s", "skip"), ("o", "off-script"), ("q", "quit"), ("a", "abort")]
        choice = s.prompt().choose("Done?", choices, "d")
        while choice == "o":
            s.off_script(ref)
            choice = s.prompt().choose("Done?", choices, "d")
        if choice == "q":
            raise Stop("quit")
        if choice == "a":
            s.abort(ref)
        if choice == "s":
            s.skip(ref, step)
            _default_answers(step, scope)
            return
    s.emit(ev.StepConfirmed(s.clock.now(), ref, "--yes" if options.yes else "interactive"))
    for q in step.ask:
        _answer(s, q, scope, ref)
    if options.yes:  # --yes runs commands; no one said this manual step was done
        s.finish(ref, Outcome.UNATTENDED, 0.0, reason=UNATTENDED)
        return
    s.finish(ref, Outcome.DONE, s.clock.monotonic() - started)


def _done_by(
    s: Services,
    step: Step,
    scope: Scope,
    ref: ev.StepRef,
    answer: ev.ApprovalAnswered,
    started: float,
) -> None:
    """Someone else's task, confirmed done by them (`sop approve`): the operator records the
    answers to its questions, if it asks any."""
    by = f"{answer.approver} as {answer.role}" if answer.role else answer.approver
    s.emit(ev.StepConfirmed(s.clock.now(), ref, f"approved by {by}"))
    for q in step.ask:
        _answer(s, q, scope, ref)
    s.finish(ref, Outcome.DONE, s.clock.monotonic() - started, reason=f"done by {by}")


def _answer(s: Services, q: Input, scope: Scope, ref: ev.StepRef) -> None:
    options = s.options
    unattended = options.yes or s.prompter is None
    while True:
        scripted = _scenario_answer(q, scope, options) if unattended else ""
        if q.name in options.answers:
            raw = options.answers[q.name]
        elif scripted:
            raw = scripted
        elif options.drill is not None and q.drill is not None and unattended:
            raw = q.drill
        elif unattended:
            if q.default is None:
                raise ConfirmationRequired(
                    f"step {ref.number} ({ref.id}) asks '{q.help or q.name}' and has no default: "
                    f"answer it with -a {q.name}=VALUE"
                )
            raw = q.default
        else:
            raw = s.prompt().ask(q)
        try:
            value = validate(q, raw, "answer")
        except SopError as exc:
            if unattended or q.name in options.answers:
                raise
            s.emit(ev.StepShown(s.clock.now(), ref, plain=str(exc)))
            continue
        break
    if q.secret:
        s.add_secret(scope, q.name, raw)
        scope.variables[q.name] = templating.Secret(q.name)
    else:
        scope.variables[q.name] = value
    s.emit(ev.Answered(s.clock.now(), ref, q.name, MASK if q.secret else raw))


def _scenario_answer(q: Input, scope: Scope, options: RunOptions) -> str:
    """The drill scenario's answer to question `q` in this pass of its section, or "": only
    the drilled SOP's own questions (a called SOP's are its own)."""
    if options.drill is None or scope.depth:
        return ""
    scenario = scope.sop.scenarios.get(options.drill.scenario)
    return scenario.answer(q.name, scope.round) if scenario else ""


def _default_answers(step: Step, scope: Scope) -> None:
    for q in step.ask:
        if q.default is not None:
            scope.variables[q.name] = validate(q, q.default, "answer")


def _unanswered(question: Input, *, drill: bool) -> str:
    """What a dry run takes for a question nobody answers: its default; in a drill's dry run its
    drill value, as the drill would answer (a value a called SOP's input pattern accepts);
    otherwise a placeholder that names it."""
    if question.default is not None:
        return question.default
    if drill and question.drill is not None:
        return str(question.drill)
    return templating.Placeholder(f"<answer:{question.name}>")
