"""`sop lint`: the schema, then what a schema cannot see: undefined template variables, missing
tasks and targets, calls that loop, quoting mistakes, stale reviews."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sop import templating
from sop.checks.paths import decision_problems, only_sometimes, run_before, set_on_every_path
from sop.checks.secretargs import exposed_secrets
from sop.errors import Location, NotFoundError, Problem, SopError
from sop.format.alerts import alert_matches
from sop.format.discovery import find_called_sop, find_inventory, load_library
from sop.format.gcpause import cycle_collector_paused
from sop.format.loader import load_sop
from sop.format.taskscan import scan_tasks
from sop.model import (
    APPROVAL_ANYONE,
    BUILTIN_VARIABLES,
    ELSE,
    LOCAL,
    STEP_RESULTS,
    DrillScenario,
    Input,
    Inventory,
    Link,
    Section,
    Sop,
    Step,
    blocks,
    env_name,
    named_by,
)
from sop.records import dataclass

REVIEW_MAX_DAYS = 180
_STEP_PATH = re.compile(r"(?:steps|rollback)\[\d+\]")  # the step a problem's key path is in


@dataclass(frozen=True)
class LintReport:
    files: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def failed(self, strict: bool) -> bool:
        return bool(self.errors or (strict and self.warnings))

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "errors": self.errors,
            "warnings": self.warnings,
            "problems": [p.as_dict() for p in self.problems],
        }


def lint_paths(
    paths: Iterable[Path],
    *,
    today: dt.date,
    inventory: Sequence[Path] = (),
    runs: Path | None = None,
    drill_days: int = 90,
) -> LintReport:
    """`runs`: also warn about SOPs not drilled for `drill_days` days (from its audit logs)."""
    from sop.format.scenario import lint_scenarios

    paths = list(paths)
    library = load_library(paths)
    problems = list(library.problems)
    problems.extend(duplicate_ids(library.sops))
    known = library.by_id()
    inventories = _Inventories(inventory)
    with cycle_collector_paused():
        for sop in library.sops:
            problems.extend(
                lint_sop(
                    sop,
                    today=today,
                    inventory_path=inventory,
                    known=known,
                    inventory_of=inventories,
                )
            )
    scenarios, scenario_problems = lint_scenarios(paths, _ids_for_scenarios(paths, known))
    problems.extend(scenario_problems)
    if runs is not None:  # the audit reader, only for --runs
        from sop.checks.stats import drill_problems

        problems.extend(drill_problems(library.sops, runs, today=today, max_days=drill_days))
    problems.sort(key=lambda p: (p.where.file, p.where.line, p.where.col))
    return LintReport(library.files + scenarios, tuple(problems))


def duplicate_ids(sops: Iterable[Sop]) -> Iterator[Problem]:
    """An error at each SOP whose id an earlier file of the library already has, naming
    that file: `sop show` and `sop run` refuse such an id, and `sop render` fails."""
    first: dict[str, Sop] = {}
    for sop in sops:
        if sop.id not in first:
            first[sop.id] = sop
            continue
        yield Problem(
            sop.loc("id"),
            "id",
            f"duplicate SOP id '{sop.id}': {first[sop.id].loc('id')} has it too; "
            "give each SOP its own id",
            "error",
            "id",
        )


def _ids_for_scenarios(paths: list[Path], known: dict[str, Sop]) -> set[str]:
    """The SOP ids a scenario may expect: those linted, and for a scenario file named on its
    own, those of the library its `scenarios/` folder is in."""
    from sop.format.scenario import FOLDER

    libraries = sorted({p.parent.parent for p in paths if p.parent.name == FOLDER})
    return set(known) | set(load_library(libraries).by_id()) if libraries else set(known)


def lint_sop(
    sop: Sop,
    *,
    today: dt.date,
    inventory_path: Sequence[Path] = (),
    known: dict[str, Sop] | None = None,
    inventory_of: Callable[[Path], Inventory | None] | None = None,
) -> list[Problem]:
    """`inventory_of`: finds the inventory of an SOP path (default: `find_inventory` with
    `inventory_path`, the files named by --inventory; a dynamic inventory is never run);
    `lint_paths` passes one that reads each inventory once."""
    checker = _Checker(sop, known or {sop.id: sop})
    checker.metadata(today)
    checker.templates()
    checker.problems += decision_problems(sop)
    checker.secrets()
    checker.data_targets()
    checker.tasks()
    try:
        if inventory_of is None:
            inventory = find_inventory(sop.path, inventory_path)
        else:
            inventory = inventory_of(sop.path)
        checker.targets(inventory)
        checker.interactive_targets(inventory)
    except SopError as exc:  # the inventory's own problems; targets cannot be checked without it
        checker.error(
            Location(str(inventory_path[0] if inventory_path else sop.path)),
            "",
            f"inventory: {exc}",
            "target",
        )
    checker.calls()
    checker.alerts()
    checker.roles()
    checker.not_templates()
    checker.scenarios()
    checker.todos()
    checker.empty_sections()
    return checker.unacknowledged()


class _Inventories:
    """`find_inventory`, once per folder: the SOPs of one folder share their inventory (and
    its problems, raised again for each SOP)."""

    def __init__(self, explicit: Sequence[Path]) -> None:
        self.explicit = explicit
        self.found: dict[Path, Inventory | SopError | None] = {}

    def __call__(self, sop_path: Path) -> Inventory | None:
        folder = sop_path.parent
        if folder not in self.found:
            try:
                self.found[folder] = find_inventory(sop_path, self.explicit)
            except SopError as exc:
                self.found[folder] = exc
        found = self.found[folder]
        if isinstance(found, SopError):
            raise found
        return found


class _Checker:
    def __init__(self, sop: Sop, known: dict[str, Sop]) -> None:
        self.sop = sop
        self.known = known
        self.problems: list[Problem] = []
        self.ran_before: dict[str, set[str]] = {}  # section id -> steps sure to have run

    def error(self, where: Location, path: str, message: str, code: str) -> None:
        self.problems.append(Problem(where, path, message, "error", code))

    def warn(self, where: Location, path: str, message: str, code: str) -> None:
        self.problems.append(Problem(where, path, message, "warning", code))

    def unacknowledged(self) -> list[Problem]:
        """The problems, without the warnings a step acknowledges (`acknowledge: {CODE:
        reason}`); an acknowledgement that matches no warning of its step is one itself: it
        would hide the next warning of that kind, which nobody has weighed."""
        steps = {step.path: step for step in self.all_steps()}
        used: set[tuple[str, str]] = set()
        kept: list[Problem] = []
        for problem in self.problems:
            match = _STEP_PATH.match(problem.path)
            step = steps.get(match.group(0)) if match else None
            if problem.severity == "warning" and step and problem.code in step.acknowledge:
                used.add((step.path, problem.code))
                continue
            kept.append(problem)
        for step in steps.values():
            for code in step.acknowledge:
                if (step.path, code) not in used:
                    kept.append(
                        Problem(
                            step.locs.get("acknowledge", step.where),
                            f"{step.path}.acknowledge.{code}",
                            f"acknowledges no `{code}` warning of this step: remove it, or it "
                            "hides the next one nobody has weighed",
                            "warning",
                            "acknowledge",
                        )
                    )
        return kept

    def all_steps(self) -> Iterator[Step]:
        yield from self.sop.steps
        yield from self.sop.rollback

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self, today: dt.date) -> None:
        sop = self.sop
        if not sop.owner:
            self.warn(sop.where, "owner", "no owner: who keeps this SOP true?", "metadata")
        if sop.reviewed is None:
            self.warn(
                sop.where, "reviewed", "no review date: add `reviewed: YYYY-MM-DD`", "metadata"
            )
        elif (today - sop.reviewed).days > REVIEW_MAX_DAYS:
            days = (today - sop.reviewed).days
            self.warn(
                sop.loc("reviewed"),
                "reviewed",
                f"last reviewed {days} days ago (over {REVIEW_MAX_DAYS}); review it and update the date",
                "metadata",
            )

    # -- templates ---------------------------------------------------------------------------

    def templates(self) -> None:
        sop = self.sop
        defined = {i.name for i in sop.inputs} | set(BUILTIN_VARIABLES)
        secrets = {i.name for i in sop.inputs if i.secret}
        for key, text in (("context", sop.context), ("impact", sop.impact)):
            self.names(text, defined, sop.loc(key), key)
        for i, target in enumerate(sop.on):
            self.names(target, defined, sop.loc("on"), f"on[{i}]")
        self.reserved()
        later = {name: step for step in self.all_steps() for name in _defines(step)}
        defined.add(STEP_RESULTS)
        before: set[str] = set()
        sometimes = only_sometimes(sop)
        self.ran_before = run_before(sop)
        maybe: dict[str, list[Step]] = {}  # set only by steps that run on some paths
        for section_id, steps in blocks(sop.steps):
            section = sop.section(section_id)
            if section is not None:
                self.section_templates(section, defined, later, before)
            for step in steps:
                used = self.step_templates(step, defined, later, secrets, before)
                self.maybe_empty(step, used, maybe, sometimes)
                for name in _defines(step):
                    later.pop(name, None)
                    if step.id not in sometimes:
                        maybe.pop(name, None)
                    elif name not in defined or name in maybe:
                        maybe.setdefault(name, []).append(step)
                defined |= _defines(step)
                before.add(step.id)
            if section is not None and section.until:
                self.section_text(
                    section.until, "repeat.until", section, defined, later, before, expression=True
                )
        all_defined = defined | {n for s in self.all_steps() for n in _defines(s)}
        for step in sop.rollback:
            self.step_templates(step, all_defined, {}, secrets, before)
            before.add(step.id)

    def section_templates(
        self, section: Section, defined: set[str], later: dict[str, Step], before: set[str]
    ) -> None:
        """A heading's `when` and `note`, read when the section starts: with the values set
        before it (its `repeat.until` is read after a pass, with the section's own)."""
        if section.when:
            self.section_text(
                section.when, "when", section, defined, later, before, expression=True
            )
        if section.note:
            self.section_text(section.note, "note", section, defined, later, before)

    def section_text(
        self,
        text: str,
        key: str,
        section: Section,
        defined: set[str],
        later: dict[str, Step],
        before: set[str],
        *,
        expression: bool = False,
    ) -> None:
        where = section.loc(key.split(".")[0])
        path = f"{section.path}.{key}"
        used = self.names(text, defined, where, path, expression=expression, later=later)
        if STEP_RESULTS in used:
            self.step_results(text, None, before, where, path, expression=expression)

    def reserved(self) -> None:
        """`steps` holds the results of finished steps: no input, answer or capture may be it."""
        named = [(i.name, i.where, f"inputs.{i.name}", "an input") for i in self.sop.inputs]
        for step in self.all_steps():
            named += [(q.name, q.where, f"{step.path}.ask.{q.name}", "an answer") for q in step.ask]
            if step.capture:
                where = step.locs.get("capture", step.where)
                named.append((step.capture, where, f"{step.path}.capture", "a capture"))
        for name, where, path, what in named:
            if name == STEP_RESULTS:
                self.error(
                    where,
                    path,
                    f"'{name}' cannot name {what}: it holds the results of earlier steps "
                    f"({name}.ID.exit_code)",
                    "template",
                )

    def step_results(
        self,
        text: str,
        step: Step | None,
        before: set[str],
        where: Location,
        path: str,
        *,
        expression: bool,
    ) -> None:
        """`steps.ID` names a step of this SOP that finishes before this one."""
        try:
            ids = templating.attributes_read(text, STEP_RESULTS, expression=expression)
        except templating.TemplateError:
            return  # names() reports it
        known = {s.id: s for s in self.all_steps()}
        for step_id in sorted(ids - before):
            other = known.get(step_id)
            if other is None:
                message = f"'{STEP_RESULTS}.{step_id}': no step '{step_id}' in this SOP"
            elif step is not None and other.id == step.id:
                message = f"'{STEP_RESULTS}.{step_id}': a step cannot read its own result"
            else:
                message = f"'{STEP_RESULTS}.{step_id}': step {other.number} ({step_id}) comes later"
            self.error(where, path, message, "template")

    def maybe_empty(
        self, step: Step, used: set[str], maybe: dict[str, list[Step]], sometimes: dict[str, str]
    ) -> None:
        """Warn about a name that only steps running on some paths set, used by a step that
        runs on a path none of them is on: there it is empty. Not when the step's section runs
        only after one of them (a decision after it chooses the section), nor when the step's
        own `when:` reads the name: it tests it already."""
        try:
            tested = templating.names_used(step.when, expression=True) if step.when else set()
        except templating.TemplateError:  # reported where the `when` is checked
            tested = set()
        for name in sorted((used & maybe.keys()) - tested):
            if set_on_every_path(self.sop, step, maybe[name], sometimes):
                continue
            if any(s.id in self.ran_before.get(step.section_id, ()) for s in maybe[name]):
                continue  # its section runs only on paths through a setter
            setter = maybe[name][0]
            self.warn(
                step.where,
                step.path,
                f"'{name}' is set only by step {setter.number} ({setter.id}), "
                f"{sometimes[setter.id]}; on other paths it is empty here",
                "path",
            )

    def step_templates(
        self,
        step: Step,
        defined: set[str],
        later: dict[str, Step],
        secrets: set[str],
        before: set[str],
    ) -> set[str]:
        """Check the step's templates; return the names they use."""
        all_used: set[str] = set()
        for key, text, expression in _template_fields(step):
            where = step.locs.get(key.split("[")[0].split(".")[0], step.where)
            path = f"{step.path}.{key}"
            used = self.names(text, defined, where, path, expression=expression, later=later)
            if STEP_RESULTS in used:
                self.step_results(text, step, before, where, path, expression=expression)
            all_used |= used
            if key in ("run", "script", "stdin") or key.startswith("args"):
                place = "shown and logged as stdin" if key == "stdin" else "put on a command line"
                for name in sorted(used & secrets):
                    self.error(
                        where,
                        path,
                        f"secret input '{name}' would be {place}; commands get it "
                        f"from the environment as $SOP_SECRET_{name.upper()}",
                        "secret",
                    )
            if key in ("run", "script"):
                for line in _quoted_templates(text):
                    self.warn(
                        where,
                        path,
                        f"template inside quotes in `{line.strip()}`: sop quotes every value for the "
                        "shell; remove the quotes around it",
                        "quoting",
                    )
        return all_used

    def names(
        self,
        text: str,
        defined: set[str],
        where: Location,
        path: str,
        *,
        expression: bool = False,
        later: dict[str, Step] | None = None,
    ) -> frozenset[str]:
        try:
            analysis = templating.analyse(text, expression=expression)
        except templating.TemplateError as exc:
            self.error(where, path, str(exc), "template")
            return frozenset()
        used = analysis.names
        for statement in analysis.statements:
            self.error(
                where,
                path,
                f"'{statement}' is not allowed: SOP text cannot read other files",
                "template",
            )
        for name in sorted(used - defined):
            step = (later or {}).get(name)
            if step is not None:
                message = f"'{name}' is set by step {step.number} ({step.id}), which comes later"
            else:
                message = f"undefined variable '{name}': not an input, an answer or a capture"
            self.error(where, path, message, "template")
        return used

    # -- secrets -----------------------------------------------------------------------------

    def secrets(self) -> None:
        """Each step names only secrets the SOP declares (an input or a question with `secret:
        true`), and never puts one on a command line, where `ps` on the host shows it."""
        declared = sorted(
            {i.name for i in self.sop.inputs if i.secret}
            | {q.name for s in self.all_steps() for q in s.ask if q.secret}
        )
        by_env: dict[str, str] = {}
        for name in declared:
            if env_name(name) in by_env:
                self.error(
                    self.sop.where,
                    "inputs",
                    f"secrets '{by_env[env_name(name)]}' and '{name}' are both "
                    f"${env_name(name)}: rename one",
                    "secret",
                )
            by_env.setdefault(env_name(name), name)
        known = f"its secrets: {', '.join(declared)}" if declared else "it declares none"
        for step in self.all_steps():
            where = step.locs.get(step.kind, step.where)
            for variable in sorted(named_by(step) - by_env.keys()):
                self.error(
                    where,
                    f"{step.path}.{step.kind}",
                    f"${variable} is not the variable of a secret of this SOP ({known}); "
                    "the command would find it empty",
                    "secret",
                )
            for name in step.secrets:
                if name not in declared:
                    self.error(
                        step.locs.get("secrets", step.where),
                        f"{step.path}.secrets",
                        f"'{name}' is not a secret of this SOP ({known})",
                        "secret",
                    )
            if step.kind not in ("run", "script"):
                continue
            for exposed in exposed_secrets(step.body):
                self.warn(
                    where,
                    f"{step.path}.{step.kind}",
                    f"${exposed.variable} is an argument of `{exposed.command}` in "
                    f"`{exposed.line}`: any user of the host sees it in `ps` while the command "
                    "runs; give it on stdin (a pipe from printf, a here-document) or in a file",
                    "secret",
                )

    def data_targets(self) -> None:
        """Targets that a capture or an answer decides: a host's output, or whoever answers,
        chooses where the step runs. sop accepts one inventory host there unless `on_data:`
        allows more; say so where the SOP is written."""
        origin = {q.name: "answer" for s in self.all_steps() for q in s.ask}
        origin |= {s.capture: "capture" for s in self.all_steps() if s.capture}
        places = [(self.sop.on, self.sop.on_data, self.sop.loc("on"), "on")]
        places += [
            (step.on, step.on_data, step.locs.get("on", step.where), f"{step.path}.on")
            for step in self.all_steps()
            if step.on
        ]
        for targets, on_data, where, path in places:
            for i, target in enumerate(targets):
                try:
                    names = templating.names_used(target)
                except templating.TemplateError:
                    continue  # templates() reports it
                from_data = sorted(n for n in names if n in origin)
                if not from_data:
                    continue
                what = ", ".join(f"{origin[n]} '{n}'" for n in from_data)
                may = " or ".join(
                    ["one host of the inventory"]
                    + [{"group": "a group", "local": "`local`"}[k] for k in on_data]
                )
                self.warn(
                    where,
                    f"{path}[{i}]",
                    f"target '{target}' is built from run data ({what}): a host's output or an "
                    f"answer decides where the step runs. When it runs it must name {may}, else "
                    "nothing runs (`on_data: group` or `on_data: local` allows more; "
                    "`acknowledge: {target: REASON}` on the step says why it is fine)",
                    "target",
                )

    # -- tasks, targets, calls ---------------------------------------------------------------

    def tasks(self) -> None:
        task_steps = [s for s in self.all_steps() if s.kind == "task"]
        if not task_steps:
            return
        if self.sop.tasks is None:
            for step in task_steps:
                self.error(
                    step.locs.get("task", step.where),
                    f"{step.path}.task",
                    "a task step needs `tasks:` at the top of the SOP",
                    "task",
                )
            return
        scan = scan_tasks(self.sop.tasks)  # read, never imported: lint runs no code
        if scan.error:
            self.error(self.sop.loc("tasks"), "tasks", scan.error, "task")
            return
        for step in task_steps:
            if scan.find(step.body) is not None:
                continue
            where, path = step.locs.get("task", step.where), f"{step.path}.task"
            doubt = scan.doubt(step.body)
            if doubt:
                self.warn(
                    where,
                    path,
                    f"cannot tell whether {self.sop.tasks.name} defines task '{step.body}' "
                    f"without running it ({doubt}); sop does not import tasks to check",
                    "task",
                )
            else:
                names = ", ".join(scan.names()) or "none"
                self.error(
                    where,
                    path,
                    f"no task '{step.body}' in {self.sop.tasks.name} (it defines: {names})",
                    "task",
                )

    def targets(self, inventory: Inventory | None) -> None:
        places: list[tuple[str, Location, str]] = [
            (t, self.sop.loc("on"), f"on[{i}]") for i, t in enumerate(self.sop.on)
        ]
        for step in self.all_steps():
            for i, target in enumerate(step.on or ()):
                places.append((target, step.locs.get("on", step.where), f"{step.path}.on[{i}]"))
        for target, where, path in places:
            if "{{" in target or "{%" in target or target == LOCAL:
                continue
            if inventory is None:
                self.error(
                    where,
                    path,
                    f"target '{target}' needs an inventory (runbooks/inventory.yaml or --inventory)",
                    "target",
                )
            elif not inventory.knows(target):
                self.error(
                    where,
                    path,
                    f"target '{target}' is not a host or group of {inventory.named}",
                    "target",
                )

    def interactive_targets(self, inventory: Inventory | None) -> None:
        """An interactive step hands the responder's terminal to one command on one host: its
        targets must name exactly one (a templated one is checked when the step runs)."""
        for step in self.all_steps():
            if not step.interactive:
                continue
            targets = step.on or self.sop.on
            where = step.locs.get("on", step.locs.get("interactive", step.where))
            groups = [t for t in targets if inventory is not None and t in inventory.groups]
            if len(targets) > 1 or groups:
                many = f"the group '{groups[0]}'" if groups else ", ".join(targets)
                self.error(
                    where,
                    f"{step.path}.on" if step.on else f"{step.path}.interactive",
                    f"an interactive step runs on exactly one host (it gets the responder's "
                    f"terminal); it targets {many}",
                    "target",
                )

    def todos(self) -> None:
        """A step that says TODO (TBD, FIXME) is unfinished: its author, or an importer that
        found a TODO in the source runbook, left a decision for a person."""
        for step in self.all_steps():
            for key, text in (("title", step.title), ("note", step.note), (step.kind, step.body)):
                line = _todo_line(text or "")
                if line is not None:
                    self.warn(
                        step.locs.get(key, step.where),
                        f"{step.path}.{key}",
                        f"step {step.number} ({step.id}) is unfinished: `{line}`",
                        "todo",
                    )
                    break

    def empty_sections(self) -> None:
        """A heading with no step under it is shown nowhere (`show`, `run` and the pages show
        a section with its steps), and so is its note: say so rather than lose it."""
        used = {step.section_id for step in self.all_steps()}
        for section in self.sop.sections:
            if section.id in used:
                continue
            lost = " (nor its note)" if section.note else ""
            self.warn(
                section.where,
                f"{section.path}.heading",
                f"heading '{section.title}' has no step under it: no run or page shows it{lost}; "
                "put its text in a prose step under it, or remove it",
                "heading",
            )

    def alerts(self) -> None:
        """A step's `alerts` are among the SOP's: an alert no `alerts:` of the SOP answers never
        leads here (`sop list --alert`, `sop run --alert`), so `sop alerts runbook-urls` would
        never point it at the step. A glob must be as narrow as one of the SOP's (`KubePod*`
        under `Kube*`)."""
        answered = self.sop.alerts
        for step in self.all_steps():
            for i, alert in enumerate(step.alerts):
                if any(_alert_within(alert, pattern) for pattern in answered):
                    continue
                known = ", ".join(answered) if answered else "none"
                self.error(
                    step.locs.get("alerts", step.where),
                    f"{step.path}.alerts[{i}]",
                    f"alert '{alert}' is not among the SOP's alerts ({known}): "
                    "add it to `alerts:` at the top, or remove it here",
                    "alert",
                )

    def roles(self) -> None:
        """An `approval: ROLE` names a role of the SOP (its `roles:`, or a step's `role`): a
        misspelt role would wait for an approver nobody can be."""
        steps = list(self.all_steps())
        known = sorted({*self.sop.roles, *(step.role for step in steps if step.role)})
        for step in steps:
            if step.approval not in ("", APPROVAL_ANYONE) and step.approval not in known:
                self.error(
                    step.locs.get("approval", step.where),
                    f"{step.path}.approval",
                    f"approval by '{step.approval}': no step has that role and the SOP's "
                    f"`roles:` do not name it (roles: {', '.join(known) or 'none'}); name "
                    "one, or `approval: required` for anyone but the operator",
                    "role",
                )

    def not_templates(self) -> None:
        """`{{` or `{%` in text that is no template (titles of the SOP and its headings, the
        summary, links): every reader sees it as written, and a link with `{{ host }}` in its
        address leads nowhere."""
        sop = self.sop
        places = [
            (sop.title, sop.loc("title"), "title"),
            (sop.summary, sop.loc("summary"), "summary"),
        ]
        places += _link_places(sop.links, sop.loc("links"), "links")
        for section in sop.sections:
            places.append((section.title, section.loc("heading"), f"{section.path}.heading"))
        for step in self.all_steps():
            places += _link_places(
                step.links, step.locs.get("links", step.where), f"{step.path}.links"
            )
        for text, where, path in places:
            if "{{" in text or "{%" in text:
                self.warn(
                    where,
                    path,
                    "this text is not a template: `sop show`, `sop run` and the wiki show its "
                    "`{{ }}` as written; name the value in words, or put it in a note",
                    "template",
                )

    def scenarios(self) -> None:
        ids = {step.id for step in self.all_steps()}
        for name, scenario in self.sop.scenarios.items():
            here = self.sop.loc("scenarios")
            for step_id in scenario.steps:
                if step_id not in ids:
                    self.error(
                        scenario.locs.get(f"steps.{step_id}", here),
                        f"scenarios.{name}.steps.{step_id}",
                        f"no step '{step_id}' in this SOP",
                        "drill",
                    )
            for input_name, value in scenario.inputs.items():
                where = scenario.locs.get(f"inputs.{input_name}", here)
                path = f"scenarios.{name}.inputs.{input_name}"
                inp = self.sop.input(input_name)
                if inp is None:
                    known = ", ".join(i.name for i in self.sop.inputs) or "none"
                    self.error(where, path, f"no input '{input_name}' (inputs: {known})", "drill")
                else:
                    self.scenario_value(inp, value, where, path)
            for answered, answers in scenario.answers.items():
                self.scenario_answers(name, scenario, answered, answers)

    def scenario_answers(
        self, name: str, scenario: DrillScenario, answered: str, answers: tuple[str, ...]
    ) -> None:
        """A scenario answers decide steps of this SOP, each with one of the step's answers,
        and its questions, each with a value the question accepts."""
        where = scenario.locs.get(f"answers.{answered}", self.sop.loc("scenarios"))
        path = f"scenarios.{name}.answers.{answered}"
        step = next((s for s in self.sop.steps if s.id == answered), None)
        question = next((q for s in self.all_steps() for q in s.ask if q.name == answered), None)
        if question is not None and (step is None or step.kind != "decide"):
            for answer in dict.fromkeys(answers):
                self.scenario_value(question, answer, where, path)
            return
        if step is None or step.kind != "decide":
            what = f"step '{answered}' is a {step.kind} step" if step else f"no step '{answered}'"
            self.error(
                where,
                path,
                f"{what}: a scenario answers decide steps (by id) and questions (by name)",
                "drill",
            )
            return
        labels = [o.label for o in step.options] + ([ELSE] if step.otherwise else [])
        for answer in dict.fromkeys(answers):
            if answer not in labels:
                self.error(
                    where,
                    path,
                    f"'{answer}' is not an answer of step {step.number} ({step.id}); "
                    f"one of: {', '.join(labels)}",
                    "drill",
                )

    def scenario_value(self, inp: Input, value: str, where: Location, path: str) -> None:
        """A scenario's value for an input or a question: one it accepts, and never a secret
        (a drill makes secrets up; a value in the SOP file is no secret)."""
        if inp.secret:
            self.error(where, path, f"'{inp.name}' is secret: a drill makes up its value", "drill")
        elif inp.choices and value not in inp.choices:
            self.error(where, path, f"'{value}' is not one of {', '.join(inp.choices)}", "drill")
        elif inp.pattern and not re.fullmatch(inp.pattern, value):
            self.error(where, path, f"'{value}' does not match {inp.pattern}", "drill")

    def calls(self) -> None:
        for step in self.all_steps():
            if step.kind != "call":
                continue
            where = step.locs.get("call", step.where)
            callee = self.resolve(step.body)
            if callee is None:
                self.error(where, f"{step.path}.call", f"no SOP with id '{step.body}'", "call")
                continue
            for name in step.with_inputs:
                if callee.input(name) is None:
                    self.error(
                        step.locs.get("with", where),
                        f"{step.path}.with.{name}",
                        f"'{callee.id}' has no input '{name}'",
                        "call",
                    )
            for inp in callee.inputs:
                if inp.required and inp.default is None and inp.name not in step.with_inputs:
                    self.error(
                        where,
                        f"{step.path}.call",
                        f"'{callee.id}' needs input '{inp.name}'",
                        "call",
                    )
            cycle = self.cycle_from(callee, [self.sop.id])
            if cycle:
                self.error(where, f"{step.path}.call", "calls loop: " + " -> ".join(cycle), "call")

    def resolve(self, sop_id: str) -> Sop | None:
        if sop_id not in self.known:
            try:
                self.known[sop_id] = load_sop(find_called_sop(sop_id, self.sop.path))
            except (NotFoundError, SopError):
                return None
        return self.known.get(sop_id)

    def cycle_from(self, sop: Sop, trail: list[str]) -> list[str] | None:
        trail = [*trail, sop.id]
        if sop.id in trail[:-1]:
            return trail
        for step in (*sop.steps, *sop.rollback):
            if step.kind == "call":
                callee = self.resolve(step.body)
                if callee is not None:
                    found = self.cycle_from(callee, trail)
                    if found:
                        return found
        return None


def _link_places(
    links: Sequence[Link], where: Location, path: str
) -> list[tuple[str, Location, str]]:
    return [
        (text, where, f"{path}[{i}].{key}")
        for i, link in enumerate(links)
        for key, text in (("title", link.title), ("url", link.url))
    ]


def _alert_within(alert: str, pattern: str) -> bool:
    """Does every alert that `alert` (a name or a glob) matches match `pattern` too? Read as a
    name, `alert` matches `pattern` (a `*` or `?` of its own matches the pattern's), or it is
    the same text (a `[...]` set does not match itself)."""
    return alert.casefold() == pattern.casefold() or alert_matches(alert, pattern)


def _defines(step: Step) -> set[str]:
    names = {q.name for q in step.ask}
    if step.capture:
        names.add(step.capture)
    return names


def _template_fields(step: Step) -> Iterator[tuple[str, str, bool]]:
    """(key path, text, is an expression) for every templated field of a step."""
    if step.title:
        yield "title", step.title, False
    if step.note:
        yield "note", step.note, False
    if step.kind in ("prose", "run", "script", "decide"):
        yield step.kind, step.body, False
    if step.stdin is not None:
        yield "stdin", step.stdin, False
    if step.when:
        yield "when", step.when, True
    if step.confirm_word:
        yield "confirm.type", step.confirm_word, False
    for i, target in enumerate(step.on or ()):
        yield f"on[{i}]", target, False
    for key, value in step.args.items():
        yield from ((f"args.{key}{sub}", text, False) for sub, text in _strings(value))
    for key, value in step.with_inputs.items():
        yield f"with.{key}", str(value), False


def _strings(value: object, sub: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield sub, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{sub}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{sub}.{key}")


_TODO = re.compile(r"^[ \t#>*-]*(?:TODO|TBD|FIXME)\b", re.MULTILINE)


def _todo_line(text: str) -> str | None:
    """The first line of `text` that begins with TODO, TBD or FIXME (after a comment or list
    mark), shortened."""
    found = _TODO.search(text)
    if found is None:
        return None
    line = text[found.start() :].split("\n", 1)[0].strip()
    return line if len(line) <= 60 else line[:57] + "..."


# `{% raw %}...{% endraw %}`: text, not a template, wherever it stands
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.DOTALL)

# what can change the quoting state of a command line, or matter inside quotes; a comment
_QUOTING_TOKEN = re.compile(r"""\\|\{\{|\$\(|[)'"]|(?:^|(?<=\s))#""")


def _quoted_templates(source: str) -> Iterator[str]:
    """Lines where a `{{ ... }}` stands inside quotes the author wrote. `$( ... )` opens a new
    quoting context, as in the shell: `"$(df {{ mount }})"` is fine. Quotes go on over line
    ends, as in the shell; a comment ends at its line. A raw block is text, and its braces are
    no template."""
    if "{{" not in source or ("'" not in source and '"' not in source):
        return  # no template, or no quote it could stand in
    if "raw" in source:
        source = _RAW.sub(lambda raw: "x" + "\n" * raw.group(0).count("\n"), source)
    quote = ""
    outer: list[str] = []  # quote states around each open $(
    for line in source.splitlines():
        if not quote and not outer and "'" not in line and '"' not in line:
            continue  # nothing quoted on this line
        i = 0
        reported = False
        while True:
            token = _QUOTING_TOKEN.search(line, i)
            if token is None:
                break
            at, text = token.start(), token[0]
            i = at + 1
            if text == "\\":
                if quote != "'":
                    i = at + 2  # the next character is escaped
            elif text == "#":
                if not quote:
                    break  # a comment, to the end of the line
            elif text == "{{":
                if quote and not reported:
                    yield line
                    reported = True
            elif text == "$(":
                if quote != "'":
                    outer.append(quote)
                    quote = ""
                    i = at + 2
            elif text == ")":
                if not quote and outer:
                    quote = outer.pop()
            elif not quote or quote == text:
                quote = "" if quote else text
