"""The SOP and inventory formats, declared once with the kit of `sop.format.schemakit`.

The same declarations validate YAML nodes (collecting every problem with its `file:line:col`
and key path) and export the JSON Schema that editors use (`sop schema`).
"""

from __future__ import annotations

import re

from sop.errors import Problem
from sop.format.alerts import FROM_ALERT
from sop.format.schemakit import (
    Bool,
    Checked,
    Data,
    Date,
    Duration,
    Either,
    Int,
    JsonSchema,
    ListOf,
    MapOf,
    ScalarOr,
    Spec,
    Str,
    Struct,
    Value,
    document_schema,
)
from sop.model import (
    ACKNOWLEDGEABLE,
    CONFIRM_LEVELS,
    EXECUTABLE_KINDS,
    FORMAT_VERSION,
    INPUT_TYPES,
    ON_DATA,
    PHASES,
    SEVERITIES,
    STEP_KINDS,
)

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
NAME_HINT = "a name uses letters, digits and '_' and does not start with a digit"
ID = r"[a-z0-9][a-z0-9_-]*"
ID_HINT = "an id uses lowercase letters, digits, '-' and '_'"
TARGET = Str("A host, a group, `local`, or a template such as `{{ host }}`.")
TARGETS = ListOf(
    TARGET,
    "Where the step runs: a host, a group, `local`, or a list of them.",
    min_items=1,
    single_ok=True,
)
ON_DATA_SPEC = ListOf(
    Str(choices=ON_DATA),
    "What a templated `on:` beside it may name besides one inventory host: `group` (a group of "
    "the inventory), `local` (the responder's machine). Default: exactly one host.",
    single_ok=True,
)
SECRETS = ListOf(
    Str(pattern=NAME, pattern_hint=NAME_HINT),
    "Secrets the step's commands get as $SOP_SECRET_<NAME>, besides those its `run` or `script` "
    "names; a task step gets only these.",
    single_ok=True,
)
TEXT = Str("Text; may use Jinja2 templates over inputs, answers and captures.")
MARKDOWN = Str("Markdown; may use Jinja2 templates.")


def _input_fields(*, for_ask: bool) -> dict[str, Spec]:
    fields: dict[str, Spec] = {
        "help": Str("What the value is, shown when sop asks for it."),
        "type": Str("The value's type.", choices=INPUT_TYPES),
        "required": Bool("The run cannot start without it."),
        "default": Value("Used when no value is given."),
        "pattern": Str("A regular expression the whole value must match."),
        "choices": ListOf(Value(), "The only values allowed.", min_items=1),
        "secret": Bool("Never shown, logged or put on a command line; masked in every output."),
        "allow_dash": Bool(
            "Allow a value that begins with '-' (refused by default: option injection)."
        ),
        "drill": Value("The value a fire drill uses."),
    }
    if not for_ask:
        fields["env"] = Str(
            "An environment variable to read the value from.", pattern=NAME, pattern_hint=NAME_HINT
        )
        fields["from_alert"] = Str(
            "Where `sop run --alert` takes the value from in the alert: `labels.NAME`, "
            "`annotations.NAME`, `commonLabels.NAME`, `commonAnnotations.NAME`, "
            "`groupLabels.NAME`, `name` or `status` (default: the label, else the annotation, "
            "of the input's name).",
            pattern=FROM_ALERT,
            pattern_hint="expected labels.NAME, annotations.NAME, commonLabels.NAME, "
            "commonAnnotations.NAME, groupLabels.NAME, name or status",
        )
        fields["command"] = ListOf(
            Str(),
            "A secret's command, as an argument list run without a shell and never templated "
            "(`[pass, show, ops/token]`): what it prints is the secret. Only a real run runs "
            "it; a drill uses the `drill` value.",
            min_items=1,
        )
    return fields


def _check_input(checked: Checked, problems: list[Problem], path: str) -> None:
    pattern = checked.get("pattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            problems.append(
                Problem(
                    checked.locs["pattern"],
                    f"{path}.pattern",
                    f"not a valid regular expression: {exc}",
                )
            )
    if checked.get("secret") and "default" in checked.values:
        problems.append(
            Problem(
                checked.locs["default"], f"{path}.default", "a secret input cannot have a default"
            )
        )
    command = checked.get("command")
    if command is not None and not checked.get("secret"):
        problems.append(
            Problem(
                checked.locs["command"],
                f"{path}.command",
                "'command' reads a secret; this input is not `secret: true`",
            )
        )
    elif command and any(mark in arg for arg in command for mark in ("{{", "{%", "{#")):
        problems.append(
            Problem(
                checked.locs["command"],
                f"{path}.command",
                "a secret's command runs as written: no template in its arguments",
            )
        )
    if checked.get("secret") and "from_alert" in checked.values:
        problems.append(
            Problem(
                checked.locs["from_alert"],
                f"{path}.from_alert",
                "a secret input cannot come from an alert (its payload is shown and logged)",
            )
        )
    default = checked.get("default")
    if default is None or (default == "" and not checked.get("required")):
        return  # an optional value left empty is not checked (nor is it when a run uses it)
    choices = checked.get("choices")
    if choices and default not in choices:
        problem = f"'{default}' is not one of its choices ({', '.join(choices)})"
    elif compiled is not None and not compiled.fullmatch(default):
        problem = f"'{default}' does not match its pattern {pattern}"
    else:
        return
    problems.append(Problem(checked.locs["default"], f"{path}.default", problem))


INPUT = Struct("input", _input_fields(for_ask=False), "A value the SOP needs.", custom=_check_input)
QUESTION = Struct(
    "question", _input_fields(for_ask=True), "A question a prose step asks.", custom=_check_input
)


# what an interactive step cannot have: sop neither holds its output nor runs it unattended
NOT_INTERACTIVE = ("stdin", "ok_exit", "capture", "timeout", "retries", "canary", "parallel")


def _check_step(checked: Checked, problems: list[Problem], path: str) -> None:
    if checked.values.get("interactive") is True:
        for key in NOT_INTERACTIVE:
            if key in checked.values:
                problems.append(
                    Problem(
                        checked.locs[key],
                        f"{path}.{key}",
                        f"'{key}' does not go with `interactive: true`: the terminal is the "
                        "responder's, until the command exits or they detach",
                    )
                )
    if "on_data" in checked.values and "on" not in checked.values:
        problems.append(
            Problem(
                checked.locs["on_data"],
                f"{path}.on_data",
                "'on_data' says what the templated `on:` beside it may name; this step has no `on:`",
            )
        )
    if "decide" in checked.values and "options" not in checked.values:
        problems.append(
            Problem(
                checked.where, path, "a decide step needs 'options': the answers to choose from"
            )
        )


ROLE = Str("A role: who does a step.", pattern=ID, pattern_hint=ID_HINT)

SECTION_ID = Str("A section's id (its heading's `id`).", pattern=ID, pattern_hint=ID_HINT)

DRILL = Struct(
    "drill",
    {
        "stdout": Str("Simulated standard output.", nonempty=False),
        "stderr": Str("Simulated standard error.", nonempty=False),
        "exit": Int("Simulated exit code.", minimum=0, maximum=255),
        "delay": Duration("How long the simulated command takes."),
    },
    "Simulated result used by fire drills instead of running the step.",
)

CONFIRM_TYPED = Struct(
    "confirm_typed",
    {
        "type": Str(
            "What the responder types to confirm (default: the target), e.g. the id of the key "
            "a step revokes; may use templates."
        )
    },
    "A typed confirmation that names what is at risk.",
    required=("type",),
)

# the keys of a step that mean something only for some kinds: `timeout` on a prose step is an
# error, not a setting nobody reads
RUNS_COMMANDS = ("run", "script")
ONLY_WITH: dict[str, str | tuple[str, ...]] = {
    "ask": "prose",
    "args": "task",
    "with": "call",
    "strict": "script",
    "interactive": "run",
    "ok_exit": RUNS_COMMANDS,
    "stdin": RUNS_COMMANDS,
    "confirm": ("prose", *EXECUTABLE_KINDS),
    "role": ("prose", *EXECUTABLE_KINDS),
    "approval": ("prose", *EXECUTABLE_KINDS),
    "options": "decide",
    "else": "decide",
    "max": "decide",
    **{
        key: EXECUTABLE_KINDS
        for key in (
            "on",
            "on_data",
            "secrets",
            "capture",
            "timeout",
            "retries",
            "delay",
            "parallel",
            "canary",
            "drill",
        )
    },
}

LINK = Struct(
    "link",
    {
        "title": Str("What the link is."),
        "url": Str(
            "Where it goes.",
            pattern=r"(https?://|mailto:)\S+|(/|\./|\.\./|#)\S*",
            pattern_hint="expected an http(s) or mailto URL, or a relative path starting with"
            " '/', './', '../' or '#'",
        ),
    },
    required=("title", "url"),
)

STEP = Struct(
    "step",
    {
        "id": Str("A stable id, unique in the SOP.", pattern=ID, pattern_hint=ID_HINT),
        "title": TEXT,
        "note": MARKDOWN,
        "links": ListOf(LINK, "Dashboards and documents for this step."),
        "alerts": ListOf(
            Str(),
            "Alerts this step answers first (case ignored; globs), among those of the SOP's "
            "`alerts`: `sop alerts runbook-urls` points their runbook_url at the step.",
        ),
        "prose": Str("A manual instruction (Markdown) the responder confirms."),
        "run": Str("A shell command line; every template value is quoted for the shell."),
        "script": Str("A multi-line shell script, run by /bin/sh with `set -eu` (see `strict`)."),
        "strict": Bool(
            "A script step stops at the first failing command or unset variable (`set -eu`); "
            "`strict: false` runs every line whatever fails, as a plain `sh` script does."
        ),
        "stdin": Str(
            "Text the command reads on its standard input (a query, a here-document); a template "
            "whose values are inserted as they are, not quoted for the shell: use a quoting "
            "filter such as `sql_literal`."
        ),
        "interactive": Bool(
            "The command gets the responder's terminal (`psql`, `kubectl exec -it`, `tail -f`) "
            "on exactly one host, until it exits or the responder detaches (Ctrl-] then d); its "
            "output is recorded, masked, in the run's folder."
        ),
        "task": Str("An invoke task from the SOP's `tasks` module, e.g. `logs.rotate`."),
        "call": Str(
            "The id of another SOP to walk through as a sub-procedure.",
            pattern=ID,
            pattern_hint=ID_HINT,
        ),
        "decide": Str(
            "A question the responder answers by choosing one of `options`; the answer selects "
            "which sections come next."
        ),
        "options": MapOf(
            ListOf(SECTION_ID, "A section id, a list of them, or [] for none.", single_ok=True),
            "A decide step's answers, each naming the section(s) it leads to: later sections run "
            "only when chosen, an earlier one means going back to it; `[]` chooses none of them "
            "and goes on.",
        ),
        "else": ListOf(
            SECTION_ID,
            "The section(s) for any other answer (`else` in the menu).",
            min_items=1,
            single_ok=True,
        ),
        "max": Int(
            "How many times this decision may send the run back to an earlier section (default 3).",
            minimum=1,
            maximum=100,
        ),
        "ask": MapOf(
            QUESTION,
            "Questions whose answers become variables.",
            key_pattern=NAME,
            key_hint=NAME_HINT,
        ),
        "args": MapOf(
            Data(), "Keyword arguments for the task.", key_pattern=NAME, key_hint=NAME_HINT
        ),
        "with": MapOf(
            Value(), "Inputs passed to the called SOP.", key_pattern=NAME, key_hint=NAME_HINT
        ),
        "on": TARGETS,
        "on_data": ON_DATA_SPEC,
        "secrets": SECRETS,
        "confirm": ScalarOr(
            Str(choices=CONFIRM_LEVELS),
            CONFIRM_TYPED,
            "How the responder confirms before it runs: a level, or `{type: WORD}` for a typed "
            "confirmation of WORD.",
        ),
        "acknowledge": MapOf(
            Str("Why the warning is fine here: the reason a reviewer reads."),
            "Lint warnings of this step that the author has weighed, each with the reason: "
            + ", ".join(f"`{code}` ({what})" for code, what in ACKNOWLEDGEABLE.items())
            + ".",
            key_pattern="|".join(ACKNOWLEDGEABLE),
            key_hint="a warning a step may acknowledge: " + ", ".join(ACKNOWLEDGEABLE),
        ),
        "role": Str(
            "Who does this step (`ir-lead`, `account-owner`, `comms`): a run whose operator "
            "does not hold the role (`--role`) waits for that person's go-ahead "
            "(`sop approve RUN STEP --role ROLE`).",
            pattern=ID,
            pattern_hint=ID_HINT,
        ),
        "approval": Str(
            "Two-person rule: someone other than the operator approves before it runs "
            "(`sop approve RUN STEP`): `required` (anyone), or the role whose holder must.",
            pattern=ID,
            pattern_hint=ID_HINT,
        ),
        "ok_exit": ListOf(
            Int(minimum=0, maximum=255),
            "The exit codes that mean success (default 0), e.g. [0, 3] for a check whose "
            "exit code says what it found.",
            min_items=1,
            single_ok=True,
        ),
        "when": Str("A Jinja2 expression; the step is skipped when it is false."),
        "capture": Str(
            "A variable that receives the step's stdout.", pattern=NAME, pattern_hint=NAME_HINT
        ),
        "timeout": Duration("Stop the command after this long."),
        "retries": Int(
            "Run again this many times while it fails, before asking.", minimum=0, maximum=100
        ),
        "delay": Duration("Wait this long between retries."),
        "parallel": Int("How many hosts run at once.", minimum=1, maximum=256),
        "canary": Int("Run on this many hosts first and ask before the rest.", minimum=0),
        "drill": DRILL,
    },
    "One item of the checklist.",
    exactly_one=STEP_KINDS,
    only_with=ONLY_WITH,
    custom=_check_step,
)

REPEAT = Struct(
    "repeat",
    {
        "until": Str(
            "A Jinja2 expression checked after each pass; the section repeats until true."
        ),
        "max": Int("Passes at most.", minimum=2, maximum=100),
    },
    "Walk the section again until `until` holds, at most `max` times.",
    required=("until", "max"),
)

HEADING = Struct(
    "heading",
    {
        "heading": Str("A section title such as Diagnosis or Mitigation."),
        "id": Str(
            "The section's id, for a decide step's options and the audit log (default section-N).",
            pattern=ID,
            pattern_hint=ID_HINT,
        ),
        "note": MARKDOWN,
        "when": Str("A Jinja2 expression; the whole section is skipped when it is false."),
        "phase": Str("The NIST CSF function its steps serve.", choices=PHASES),
        "repeat": REPEAT,
    },
    "Starts a section; the steps after it belong to it.",
    required=("heading",),
)

STEPS = ListOf(Either({"heading": HEADING}, STEP), "The checklist, in order.", min_items=1)

SCENARIO = Struct(
    "scenario",
    {
        "summary": Str("What happens in this scenario, for the drill's participants."),
        "steps": MapOf(
            ListOf(DRILL, single_ok=True),
            "Per step id: its simulated result, or a list of results for attempt 1, 2, ... "
            "(the last one repeats).",
            key_pattern=ID,
            key_hint=ID_HINT,
        ),
        "unreachable": ListOf(Str(), "Hosts that do not answer in this scenario."),
        "inputs": MapOf(
            Value(),
            "Per input name: its value in this scenario, over its `drill:` value (-i still wins).",
            key_pattern=NAME,
            key_hint=NAME_HINT,
        ),
        "answers": MapOf(
            ListOf(Value(), single_ok=True),
            "Per decide step id or `ask` question name: the answer a drill with --yes gives, or "
            "a list of answers for pass 1, 2, ... of its section (the last one repeats).",
            key_pattern=f"{ID}|{NAME}",
            key_hint=f"{ID_HINT}; or {NAME_HINT}",
        ),
    },
    "A named set of drill overrides: `sop drill SOP --scenario NAME`.",
)

SOP = Struct(
    "sop",
    {
        "sop": Int("Format version.", minimum=FORMAT_VERSION, maximum=FORMAT_VERSION),
        "id": Str("The SOP's id; how `sop run ID` finds it.", pattern=ID, pattern_hint=ID_HINT),
        "title": Str("A short title."),
        "summary": Str("One or two sentences: when to use this SOP."),
        "owner": Str("The team that keeps the SOP true."),
        "severity": Str("The incident severity it is written for.", choices=SEVERITIES),
        "status_updates": ScalarOr(
            Duration(positive=True),
            MapOf(
                Duration(positive=True),
                key_pattern="|".join(SEVERITIES),
                key_hint=f"a severity: {', '.join(SEVERITIES)}",
            ),
            "How often a run asks for a status update (`30m`), or how often by the run's "
            "severity (`{sev1: 15m, sev2: 30m}`; `sop run --severity`, default `severity`).",
        ),
        "phase": Str("NIST CSF function.", choices=PHASES),
        "tags": ListOf(Str(), "Free-form tags."),
        "alerts": ListOf(
            Str(), "Alert names that should lead here (case ignored; globs such as `KubePod*`)."
        ),
        "reviewed": Date("When the SOP was last reviewed."),
        "target_minutes": Int("How long the SOP should take, for drills.", minimum=1),
        "tasks": Str("A Python file of invoke tasks, relative to this file."),
        "inputs": MapOf(INPUT, "Values the SOP needs.", key_pattern=NAME, key_hint=NAME_HINT),
        "on": TARGETS,
        "on_data": ON_DATA_SPEC,
        "context": MARKDOWN,
        "impact": MARKDOWN,
        "links": ListOf(LINK, "Dashboards, other runbooks, documentation."),
        "steps": STEPS,
        "rollback": ListOf(STEP, "Steps that undo the SOP's changes, walked on request."),
        "roles": ListOf(
            ROLE,
            "The roles of the people who take part (those steps name with `role` need not be "
            "listed); `approval: ROLE` must name one of them or a step's role.",
        ),
        "scenarios": MapOf(
            SCENARIO,
            "Fire-drill scenarios: failures to rehearse.",
            key_pattern=ID,
            key_hint=ID_HINT,
        ),
    },
    "An executable Standard Operating Procedure.",
    required=("sop", "id", "title", "steps"),
)

HOST = Struct(
    "host",
    {
        "address": Str(
            "Hostname or IP address (default: the host's name).",
            pattern=r"[^-\s]\S*",
            pattern_hint="an address cannot begin with '-' or contain spaces",
        ),
        "user": Str("SSH user."),
        "port": Int("SSH port.", minimum=1, maximum=65535),
        "forward_agent": Bool("Forward the SSH agent (off by default)."),
        "identity_file": Str("Private key file."),
    },
)

INVENTORY = Struct(
    "inventory",
    {
        "defaults": HOST,
        "hosts": MapOf(
            HOST,
            "Hosts by name.",
            key_pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
            key_hint="a host name uses letters, digits, '.', '-' and '_'",
        ),
        "groups": MapOf(ListOf(Str(), min_items=1), "Groups of hosts by name."),
    },
    "Hosts and groups that `on:` may name.",
)

STRUCTS = (SOP, STEP, HEADING, REPEAT, INPUT, QUESTION, DRILL, CONFIRM_TYPED, LINK, SCENARIO)


def json_schema() -> JsonSchema:
    """The JSON Schema (2020-12) of an SOP file."""
    return document_schema(
        SOP, STRUCTS, "sop-v1", "sop: an executable Standard Operating Procedure"
    )


# Ansible's YAML inventory (`format/ansible.py` reads it): groups with hosts, children and
# variables, as an editor should accept it in `inventory.yaml`
_ANSIBLE_GROUP: JsonSchema = {
    "description": "An Ansible group: its hosts, child groups and variables.",
    "type": ["object", "null"],
    "properties": {
        "hosts": {
            "description": "Hosts by name (a range such as web[01:03] names several), each with "
            "its variables (ansible_host, ansible_port, ansible_user, ...).",
            "type": ["object", "null"],
            "additionalProperties": {"type": ["object", "null"]},
        },
        "children": {
            "description": "Child groups by name.",
            "type": ["object", "null"],
            "additionalProperties": {"$ref": "#/$defs/ansible-group"},
        },
        "vars": {
            "description": "Variables of every host of the group.",
            "type": ["object", "null"],
        },
    },
    "additionalProperties": False,
}


def inventory_json_schema() -> JsonSchema:
    """The JSON Schema (2020-12) of an inventory file: sop's own format, or Ansible's YAML."""
    own = document_schema(INVENTORY, (HOST,), "inventory-v1", "sop inventory: hosts and groups")
    defs = own.pop("$defs")
    keys = ("$schema", "$id", "title")
    return {
        **{k: own.pop(k) for k in keys},
        "anyOf": [
            {"$ref": "#/$defs/inventory"},
            {
                "description": "An Ansible YAML inventory: groups by name (`all:` at the top).",
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/ansible-group"},
            },
        ],
        "$defs": {**defs, "inventory": own, "ansible-group": _ANSIBLE_GROUP},
    }
