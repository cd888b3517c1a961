"""Call steps: walk another SOP in a scope of its own, its steps numbered under the call's."""

from __future__ import annotations

from sop import events as ev
from sop import templating
from sop.errors import SopError
from sop.events import Outcome
from sop.model import LOCAL, Step
from sop.run.inputs import resolve_inputs
from sop.run.options import EndOfInput
from sop.run.scope import Scope
from sop.run.services import Services


def run_call(services: Services, step: Step, scope: Scope, ref: ev.StepRef, note: str) -> None:
    s, options = services, services.options
    if s.load_callee is None:
        raise SopError(f"step {ref.number} calls '{step.body}', but this runner cannot load SOPs")
    try:
        callee = s.load_callee(step.body, scope.sop)
        # a dry run's placeholders pass through as placeholders, never checked as values
        given = {
            k: templating.placeholder_in(
                templating.render(str(v), scope.variables), scope.variables
            )
            for k, v in step.with_inputs.items()
        }
        inputs = resolve_inputs(
            callee,
            given,
            secret_files={},
            environ=s.environ,
            asker=None if (options.yes or options.dry_run) else s.prompter,
            run_commands=not options.dry_run and options.drill is None,
        )
    except EndOfInput:  # Ctrl-D at one of its questions: the run pauses
        raise
    except SopError as exc:
        s.broken(ref, step, str(exc))
        return
    for secret in inputs.secrets.values():
        s.mask(secret)
    s.emit(
        ev.StepShown(
            s.clock.now(),
            ref,
            prose=f"Runs the SOP **{callee.title}** ({callee.id}).",
            note=note,
            links=step.links,
        )
    )
    own_targets = callee.on != (LOCAL,)
    inner = Scope(
        callee,
        s.variables(callee, inputs),
        callee.on if own_targets else scope.targets,
        # a call in a section's second pass: its steps are 4@2.1, ... (keys unique per pass)
        prefix=f"{ref.number}." if ref.round == 1 else f"{ref.number}@{ref.round}.",
        depth=scope.depth + 1,
        secrets=dict(inputs.secrets),  # its steps get the callee's secrets, never the caller's
        on_data=callee.on_data if own_targets else scope.on_data,
    )
    s.open_scope(inner)
    started = s.clock.monotonic()
    s.walk(inner)
    s.finish(
        ref,
        Outcome.DRY_RUN if options.dry_run else Outcome.DONE,
        s.clock.monotonic() - started,
    )
