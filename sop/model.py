"""Frozen records of a loaded SOP. No I/O here: the loader builds these, everyone else reads them.

The records are named tuples rather than frozen dataclasses: every command that loads an SOP
imports this module (`sop list` must start in about the time of `import click, yaml`), and a
frozen dataclass costs over a millisecond to create at import and is slower to instantiate
(thousands per library). They are immutable all the same; change one with `_replace`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from sop.errors import NOWHERE, Location, UsageError

STEP_KINDS = ("prose", "run", "script", "task", "call", "decide")
EXECUTABLE_KINDS = ("run", "script", "task")
CONFIRM_LEVELS = ("never", "auto", "always", "typed")
APPROVAL_ANYONE = "required"  # `approval: required`: anyone but the operator may approve
INTERACTIVE = (
    "takes your terminal"  # how pages, `sop show` and a run mark an `interactive: true` step
)
# the lint warnings a step may acknowledge (`acknowledge: {CODE: reason}`), as a reader says them
ACKNOWLEDGEABLE = {
    "target": "a target built from run data",
    "path": "a value set only on some paths",
    "quoting": "a template inside quotes",
    "secret": "a secret in a command's arguments",
    "task": "a task sop cannot see statically",
    "template": "`{{ }}` in text that is no template",
    "todo": "a TODO",
}
PHASES = ("identify", "protect", "detect", "respond", "recover")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4", "sev5")
INPUT_TYPES = ("string", "integer", "boolean")
LOCAL = "local"
# what a target built from run data may name besides one inventory host (`on_data:`)
ON_DATA = ("group", "local")
BUILTIN_VARIABLES = ("sop_id", "run_id", "trace_id", "incident", "operator")
STEP_RESULTS = "steps"  # the variable that holds what earlier steps did: steps.ID.exit_code
FORMAT_VERSION = 1


NO_LOCS: Mapping[str, Location] = MappingProxyType({})
NO_VALUES: Mapping[str, object] = MappingProxyType({})


class Input(NamedTuple):
    """A value the SOP needs (`inputs:`) or a question a prose step asks (`ask:`)."""

    name: str
    help: str = ""
    type: str = "string"
    required: bool = False
    default: str | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    env: str | None = None
    allow_dash: bool = False
    drill: str | None = None
    from_alert: str | None = None  # where in an alert the value comes from: `labels.instance`
    command: tuple[str, ...] = ()  # a secret's command (argv, as written): its stdout is the value
    where: Location = NOWHERE
    locs: Mapping[str, Location] = NO_LOCS


class Option(NamedTuple):
    """One answer of a `decide` step and the sections it leads to (`goto`, by section id)."""

    label: str
    goto: tuple[str, ...]


ELSE = "else"  # the choice that takes a decision's `else:` sections
GOES_ON = "on, no section"  # where an answer that names no section (`[]`) leads, for readers
BACK_MAX = 3  # how many times a decision may send the run back, unless it says `max:`


class DrillResult(NamedTuple):
    """What a step pretends to return during a fire drill."""

    stdout: str = ""
    stderr: str = ""
    exit: int = 0
    delay: float = 0.0


class DrillScenario(NamedTuple):
    """Drill overrides: per step id, the results of attempt 1, 2, ... (the last repeats);
    hosts that do not answer; inputs' values; per decide step id or question name, the answers
    of pass 1, 2, ... of its section (the last repeats) that an unattended drill gives. `locs`:
    where each key stands, by `steps.ID`, `inputs.NAME` and `answers.NAME`."""

    name: str
    summary: str = ""
    steps: Mapping[str, tuple[DrillResult, ...]] = MappingProxyType({})
    unreachable: tuple[str, ...] = ()
    answers: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    inputs: Mapping[str, str] = MappingProxyType({})
    locs: Mapping[str, Location] = MappingProxyType({})

    def answer(self, name: str, round_: int) -> str:
        """The answer to decision or question `name` in pass `round_` of its section (the last
        one repeats), "" when the scenario gives none."""
        answers = self.answers.get(name, ())
        return answers[min(round_, len(answers)) - 1] if answers else ""


class Link(NamedTuple):
    title: str
    url: str


class Step(NamedTuple):
    """One item of the checklist. `kind` says which of prose/run/script/task/call it is and
    `body` holds that key's text (the prose, the command, the script, the task or SOP id)."""

    id: str
    kind: str
    body: str
    number: int
    path: str = ""  # key path in the file, e.g. "steps[3]"
    title: str = ""
    note: str = ""
    section: str = ""
    section_note: str = ""  # the note of the heading the step is under (Markdown, a template)
    links: tuple[Link, ...] = ()
    alerts: tuple[str, ...] = ()  # alert names (globs) whose runbook_url points at this step
    on: tuple[str, ...] | None = None
    on_data: tuple[str, ...] = ()  # what a templated `on:` may name beyond one host
    secrets: tuple[str, ...] = ()  # secrets the step gets besides those its text names
    confirm: str = "auto"
    confirm_word: str = ""  # what a typed confirmation asks for (a template); "" the targets
    ok_exit: tuple[int, ...] = (0,)  # the exit codes that mean success
    when: str | None = None
    capture: str | None = None
    timeout: float | None = None
    retries: int = 0
    delay: float = 0.0
    parallel: int = 10
    canary: int = 0
    strict: bool = True  # a script step runs with `set -eu` unless it says `strict: false`
    stdin: str | None = None  # text (a template, never shell-quoted) the command reads on stdin
    interactive: bool = False  # a run step that gets the responder's terminal (one host)
    role: str = ""  # who does the step (`ir-lead`): another person's task unless the run holds it
    approval: str = ""  # "" none, APPROVAL_ANYONE, or the role whose holder must approve
    acknowledge: Mapping[str, str] = MappingProxyType(
        {}
    )  # lint warning code -> why it is fine here
    ask: tuple[Input, ...] = ()
    args: Mapping[str, object] = NO_VALUES
    with_inputs: Mapping[str, object] = NO_VALUES
    drill: DrillResult | None = None
    section_id: str = ""  # the id of the section it belongs to ("" before the first heading)
    options: tuple[Option, ...] = ()  # a decide step's answers
    otherwise: tuple[str, ...] = ()  # a decide step's `else:` sections
    max_back: int = BACK_MAX  # how many times a decide step may send the run back
    where: Location = NOWHERE
    locs: Mapping[str, Location] = NO_LOCS

    @property
    def executable(self) -> bool:
        return self.kind in EXECUTABLE_KINDS

    @property
    def label(self) -> str:
        """What a responder reads first: the title, else a short form of the body (for prose,
        its first line as plain text: no Markdown, each `{{ value }}` by its name)."""
        if self.title:
            return self.title
        body = plain_text(self.body) if self.kind == "prose" else self.body
        first = body.strip().splitlines()[0] if body.strip() else self.id
        return first if len(first) <= 72 else first[:69] + "..."


_JINJA_VALUE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_JINJA_OTHER = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_NAME_OF_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:\[[^\]]*\])*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# `_` is emphasis only at a word's edge: snake_case_names stay as they are
_EMPHASIS = re.compile(
    r"(\*\*|\*|~~|`+)(?=\S)(.+?)(?<=\S)\1|(?<![A-Za-z0-9])(__|_)(?=\S)(.+?)(?<=\S)\3(?![A-Za-z0-9])"
)
_BLOCK_START = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-+*]\s+|[0-9]+[.)]\s+)")


def plain_text(source: str) -> str:
    """Prose as a title shows it: `Open **{{ host }}**'s [dashboard](https://...)` reads
    `Open host's dashboard`. Each `{{ value }}` becomes its name (the value is not known
    before a run), statements and comments go, and so does Markdown's markup."""

    def value_name(match: re.Match[str]) -> str:
        name = _NAME_OF_VALUE.match(match[1])
        return name[0] if name else "..."

    text = _JINJA_OTHER.sub("", _JINJA_VALUE.sub(value_name, source))
    lines = []
    for line in text.splitlines():
        line = _LINK.sub(r"\1", _BLOCK_START.sub("", line))
        lines.append(_EMPHASIS.sub(lambda m: m[2] if m[1] else m[4], line))
    return "\n".join(lines)


class Section(NamedTuple):
    """A heading and what it says about the steps under it: whether they apply (`when`), the
    NIST phase they serve, and whether they repeat (`repeat: {until, max}`)."""

    id: str
    title: str
    note: str = ""
    when: str | None = None
    phase: str | None = None
    until: str | None = None
    max: int = 1  # passes at most (1: no repeat)
    path: str = ""
    where: Location = NOWHERE
    locs: Mapping[str, Location] = NO_LOCS

    def loc(self, key: str) -> Location:
        return self.locs.get(key, self.where)


class Sop(NamedTuple):
    """A whole SOP as loaded from one file."""

    id: str
    title: str
    path: Path
    sha256: str
    version: int = FORMAT_VERSION
    summary: str = ""
    owner: str | None = None
    severity: str | None = None
    phase: str | None = None
    tags: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    target_minutes: int | None = None
    tasks: Path | None = None
    inputs: tuple[Input, ...] = ()
    on: tuple[str, ...] = (LOCAL,)
    on_data: tuple[str, ...] = ()
    context: str = ""
    impact: str = ""
    links: tuple[Link, ...] = ()
    steps: tuple[Step, ...] = ()
    rollback: tuple[Step, ...] = ()
    roles: tuple[str, ...] = ()  # the roles the SOP declares (besides those its steps name)
    sections: tuple[Section, ...] = ()
    scenarios: Mapping[str, DrillScenario] = MappingProxyType({})
    # seconds between status updates by severity ("" for every severity): `status_updates`
    status_updates: Mapping[str, float] = MappingProxyType({})
    where: Location = NOWHERE
    locs: Mapping[str, Location] = NO_LOCS

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    def loc(self, key: str) -> Location:
        return self.locs.get(key, self.where)

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    def status_every(self, severity: str) -> float | None:
        """Seconds between the status updates a run at `severity` owes (None: it owes none)."""
        return self.status_updates.get(severity, self.status_updates.get(""))

    @property
    def phases(self) -> tuple[str, ...]:
        """The NIST phases it serves: its own `phase:` and its sections', each once, in order."""
        found = [self.phase] if self.phase else []
        found += [s.phase for s in self.sections if s.phase]
        return tuple(dict.fromkeys(found))

    @property
    def branching(self) -> bool:
        """Whether its steps do not simply run in order: a decision, a section that applies
        only `when` something holds, or one that repeats."""
        return any(s.kind == "decide" for s in self.steps) or any(
            s.when or s.max > 1 for s in self.sections
        )


class Branch(NamedTuple):
    """One answer of a decide step as a reader sees it: the sections it leads to, and whether
    that means going back (to the step's own section or an earlier one)."""

    label: str
    sections: tuple[Section, ...]
    back: bool


def branches(sop: Sop, step: Step) -> tuple[Branch, ...]:
    """A decide step's answers, `else` last."""
    order = [s.id for s in sop.sections]
    here = order.index(step.section_id) if step.section_id in order else -1
    answers = [*((o.label, o.goto) for o in step.options)]
    if step.otherwise:
        answers.append((ELSE, step.otherwise))
    out = []
    for label, goto in answers:
        found = tuple(s for t in goto if (s := sop.section(t)) is not None)
        out.append(Branch(label, found, any(order.index(s.id) <= here for s in found)))
    return tuple(out)


def section_conditions(sop: Sop) -> dict[str, str]:
    """Section id -> when its steps run, as plain text for a reader (a wiki page, `sop show`,
    a dry run), for the sections that do not simply run in order."""
    chosen_by: dict[str, list[str]] = {}
    for step in sop.steps:
        for b in branches(sop, step):
            for target in b.sections:
                if not b.back:
                    chosen_by.setdefault(target.id, []).append(
                        f"step {step.number} gets another answer"
                        if b.label == ELSE and step.otherwise
                        else f"the answer to step {step.number} is “{b.label}”"
                    )
    out: dict[str, str] = {}
    for section in sop.sections:
        parts = []
        if section.id in chosen_by:
            parts.append("only when " + " or ".join(chosen_by[section.id]))
        if section.when:
            parts.append(f"only when {section.when}")
        if section.until:
            parts.append(f"repeats until {section.until} (at most {section.max} passes)")
        if parts:
            text = "; ".join(parts)
            out[section.id] = text[0].upper() + text[1:]
    return out


def blocks(steps: Iterable[Step]) -> list[tuple[str, tuple[Step, ...]]]:
    """The steps grouped by section, in order: (section id, its steps)."""
    out: list[tuple[str, list[Step]]] = []
    for step in steps:
        if not out or out[-1][0] != step.section_id:
            out.append((step.section_id, []))
        out[-1][1].append(step)
    return [(sid, tuple(group)) for sid, group in out]


class Host(NamedTuple):
    """A machine from the inventory."""

    name: str
    address: str
    user: str | None = None
    port: int = 22
    forward_agent: bool = False
    identity_file: str | None = None

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    @property
    def ssh_address(self) -> str:
        """`user@address:port` as the inventory gives them (user and a port of 22 left out)."""
        user = f"{self.user}@" if self.user else ""
        port = "" if self.port == 22 else f":{self.port}"
        return f"{user}{self.address}{port}"


LOCAL_HOST = Host(name=LOCAL, address="localhost")


class Inventory(NamedTuple):
    hosts: Mapping[str, Host] = MappingProxyType({})
    groups: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    path: Path | None = None  # the first file it was read from
    sources: tuple[str, ...] = ()  # every file (or dynamic inventory) it was read from, in order
    notes: tuple[str, ...] = ()  # what reading it left out or overrode, for the responder
    # dynamic inventories named but not run (lint, drills, dry runs): any host may be theirs
    unresolved: tuple[str, ...] = ()

    def knows(self, target: str) -> bool:
        return (
            target == LOCAL
            or target in self.hosts
            or target in self.groups
            or bool(self.unresolved)
        )

    @property
    def named(self) -> str:
        """The files it was read from, as an error message names them."""
        return " + ".join(self.sources) if self.sources else str(self.path or "")


def same_name(name: str) -> str:
    """A task name as sop compares it (a task step's body with a tasks file's names): '_' and
    '-' are the same, as invoke names them."""
    return name.replace("_", "-")


# --- which secrets a step gets ----------------------------------------------------------------
# Which secrets a step gets: those its `run` or `script` text names as `$SOP_SECRET_<NAME>`
# (`${SOP_SECRET_<NAME>}`, or the bare variable name, as in `os.environ["SOP_SECRET_TOKEN"]`),
# and those its `secrets:` key lists; a task step only the listed ones.
#
# The text is read as the SOP wrote it, never as rendered: a value from a host or a responder
# cannot make a step ask for a secret. Templates cannot hand a secret over either: a secret in
# `{{ }}` fails to render (`templating.Secret`).

ENV_PREFIX = "SOP_SECRET_"
# the whole variable name: `$SOP_SECRET_TOKEN_B` names TOKEN_B, not TOKEN
_MENTION = re.compile(r"(?<![A-Za-z0-9_])SOP_SECRET_([A-Za-z0-9_]+)")


def env_name(secret: str) -> str:
    """The environment variable a command reads `secret` from."""
    return ENV_PREFIX + secret.upper()


def mentioned(text: str) -> set[str]:
    """The environment variables of secrets that `text` names, e.g. {"SOP_SECRET_TOKEN"}."""
    return {ENV_PREFIX + m[1] for m in _MENTION.finditer(text)}


def named_by(step: Step) -> set[str]:
    """The secret variables a step's own text names (a task's commands are not in the SOP)."""
    return mentioned(step.body) if step.kind in ("run", "script") else set()


def step_secrets(step: Step, available: Iterable[str]) -> tuple[str, ...]:
    """The names, among the secrets `available` to the step's SOP, that the step gets."""
    if step.kind not in ("run", "script", "task"):
        return ()
    named = named_by(step)
    listed = set(step.secrets)
    return tuple(s for s in available if s in listed or env_name(s) in named)


# -- team configuration (sop.toml, ~/.config/sop/config.toml) ------------------------------------

NOTIFY_EVENTS = (
    "run-started",
    "step-failed",
    "approval-needed",
    "status-update",
    "run-paused",
    "run-finished",
)
NOTIFY_FORMATS = ("slack", "json")

# an incident's id as a run records it (`--incident`): a ticket id, one word a shell, a chat and
# a wiki show as it is; `incident_prefix` (sop.toml) is the start of one
TICKET_ID_RULE = "letters, digits and . _ : # / + -, at most 64, as INC-4711"
_TICKET_ID = re.compile(r"[A-Za-z0-9#][A-Za-z0-9._:#/+-]{0,63}")


def is_ticket_id(text: str) -> bool:
    return _TICKET_ID.fullmatch(text) is not None


def incident_id(given: str, prefix: str = "") -> str:
    """The incident id a run records for `--incident given`: the team's `prefix` put before it
    (`4711` -> `INC-4711`), unless it starts with the prefix already, in any case (`inc-4711`
    -> `INC-4711`: the team's spelling). Raises `UsageError` for what is no ticket id."""
    number = given
    if prefix and given[: len(prefix)].upper() == prefix.upper():
        number = given[len(prefix) :]
    if not is_ticket_id(number) or not is_ticket_id(prefix + number):
        raise UsageError(f"--incident {given!r}: not a ticket id ({TICKET_ID_RULE})")
    return prefix + number


class Notifier(NamedTuple):
    """One `[[notify]]` table of a trusted configuration: where a run's news goes (a webhook
    `url` in `format` slack or json, or a `command`'s stdin), for which `events`."""

    url: str = ""
    command: tuple[str, ...] = ()
    format: str = "json"
    events: frozenset[str] = frozenset(NOTIFY_EVENTS)
    name: str = ""  # how the audit log names it: never the URL, whose path may be a token
    timeout: float = 5.0  # seconds per attempt
    retries: int = 3  # attempts after the first failed one
    where: Location = NOWHERE

    @property
    def label(self) -> str:
        """The name the audit log and `sop config show` give it: its `name`, else the URL's
        scheme and host (a webhook's path is often its secret) or the command's program."""
        if self.name:
            return self.name
        if self.url:
            scheme, _, rest = self.url.partition("://")
            return f"{scheme}://{rest.split('/', 1)[0].rpartition('@')[2]}"
        return self.command[0]
