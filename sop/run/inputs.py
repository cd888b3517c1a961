"""Input values: from the command line, the environment, a file or a prompt; validated against
the SOP's declaration before anything runs. Also validates answers to `ask` questions."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Protocol

from sop.errors import SopError, UsageError
from sop.files import FileReadError, read_regular_file
from sop.format.alerts import Alert
from sop.model import Input, Sop
from sop.records import dataclass
from sop.redact import MASK, MIN_SECRET_LENGTH
from sop.templating import Choice, DashOk, Placeholder

TRUE = ("true", "yes", "y", "1", "on")
FALSE = ("false", "no", "n", "0", "off")
SECRET_FILE_BYTES = 64 * 1024  # a key, a token, a certificate chain


class InputError(SopError):
    """A value that does not fit its input's type, pattern or choices, or is missing."""


class Asker(Protocol):
    """The responder at start-up, asked for the inputs the run needs."""

    def ask(self, question: Input) -> str: ...

    def warn(self, message: str) -> None:
        """Say why a value was refused, before it is asked again."""


def validate(inp: Input, raw: str, what: str = "input") -> object:
    """Check one value; return it typed (int, bool, str, or `Choice` for fixed choices)."""
    label = f"{what} '{inp.name}'"
    if "\0" in raw:
        raise InputError(f"{label}: the value contains a NUL byte")
    if raw.startswith("-") and not inp.allow_dash and inp.type == "string":
        raise InputError(
            f"{label}: '{_shown(inp, raw)}' begins with '-' and could be read as an option; "
            "the SOP must set `allow_dash: true` to accept it"
        )
    if inp.choices and raw not in inp.choices:
        raise InputError(f"{label}: '{_shown(inp, raw)}' is not one of {', '.join(inp.choices)}")
    if inp.pattern and not re.fullmatch(inp.pattern, raw):
        raise InputError(f"{label}: '{_shown(inp, raw)}' does not match {inp.pattern}")
    if inp.secret and len(raw) < MIN_SECRET_LENGTH:
        raise InputError(
            f"{label}: a secret must be at least {MIN_SECRET_LENGTH} characters (to be masked safely)"
        )
    value: object = raw
    if inp.type == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"{label}: '{raw}' is not an integer") from None
    elif inp.type == "boolean":
        if raw.lower() not in TRUE + FALSE:
            raise InputError(f"{label}: '{raw}' is not true or false")
        value = raw.lower() in TRUE
    if inp.choices:
        return Choice(raw)
    if inp.allow_dash and isinstance(value, str):
        return DashOk(value)
    return value


def _shown(inp: Input, raw: str) -> str:
    return MASK if inp.secret else raw


@dataclass
class ResolvedInputs:
    values: dict[str, object] = field(default_factory=dict)  # non-secret, for templates
    secrets: dict[str, str] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)  # for headers and logs: secrets masked


def refuse_secret_answers(sop: Sop, answers: Mapping[str, str]) -> None:
    """A secret `ask` answered with `-a` would be seen in ps and shell history: refused."""
    for step in sop.steps:
        for q in step.ask:
            if q.secret and q.name in answers:
                raise InputError(secret_answer_refusal(q))


def secret_answer_refusal(q: Input) -> str:
    return (
        f"secret answer '{q.name}' cannot be given on the command line (it would be seen in ps "
        "and shell history); answer it at the prompt (run in a terminal, without --yes)"
    )


def parse_assignments(items: tuple[str, ...], option: str) -> dict[str, str]:
    """`NAME=VALUE` pairs from repeated options."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{option} takes NAME=VALUE, got '{item}'")
        out[name] = value
    return out


def resolve_inputs(
    sop: Sop,
    given: Mapping[str, str],
    *,
    secret_files: Mapping[str, Path],
    environ: Mapping[str, str],
    asker: Asker | None,
    drill: bool = False,
    sources: Mapping[str, str] | None = None,
    run_commands: bool = False,
) -> ResolvedInputs:
    """Every input's value, in order of precedence: given, secret file, environment, default
    (or drill value), prompt; a secret's `command` after the environment, run only when
    `run_commands` (a real run: never a drill, a dry run or lint). `asker` is None when nobody can be asked: a value that does not
    fit its input is then an `InputError`; else the asker is told why and asked again, as a
    question asked during the run is. `sources` says where a given value came from when not
    from `-i` (an inputs file, an alert): errors name it."""
    declared = {i.name for i in sop.inputs}
    for name in list(given) + list(secret_files):
        if name not in declared:
            raise InputError(
                f"'{sop.id}' has no input '{name}' (it has: {', '.join(sorted(declared)) or 'none'})"
            )
    out = ResolvedInputs()
    for inp in sop.inputs:
        if inp.secret and inp.name in given:
            raise InputError(
                f"secret input '{inp.name}' cannot be given on the command line (it would be seen in "
                f"ps and shell history); use {'$' + inp.env + ', ' if inp.env else ''}"
                f"--secret-file {inp.name}=PATH, or answer the prompt"
            )
        raw = _raw_value(inp, given, secret_files, environ, drill, run_commands)
        if raw is None and drill and inp.secret:
            raw = "drill-" + secrets.token_hex(8)  # a drill never needs a real secret
        if raw is None and asker is not None and (inp.required or inp.secret):
            raw = asker.ask(inp)
        if raw is None:
            if inp.required or inp.secret:
                how = (
                    f"-i {inp.name}=VALUE"
                    if not inp.secret
                    else f"${inp.env or 'ENV'} or --secret-file"
                )
                raise InputError(f"input '{inp.name}' is required: give it with {how}")
            raw = ""
        source = (sources or {}).get(inp.name) if inp.name in given else None
        while True:
            try:
                if isinstance(raw, Placeholder):  # a dry run's: shown, never checked or run
                    value: object = raw
                    break
                value = validate(inp, raw) if raw != "" or inp.required else ""
                break
            except InputError as exc:
                problem = f"{exc} (from {source})" if source else str(exc)
                if asker is None:
                    raise InputError(problem) from None
                asker.warn(problem)
                raw, source = asker.ask(inp), None
        if inp.secret:
            out.secrets[inp.name] = raw
            out.shown[inp.name] = MASK
        else:
            out.values[inp.name] = value
            out.shown[inp.name] = raw
    return out


def _raw_value(
    inp: Input,
    given: Mapping[str, str],
    secret_files: Mapping[str, Path],
    environ: Mapping[str, str],
    drill: bool,
    run_commands: bool,
) -> str | None:
    if inp.name in given:
        return given[inp.name]
    if inp.name in secret_files:
        return _read_secret_file(inp.name, secret_files[inp.name])
    if inp.env and inp.env in environ:
        return environ[inp.env]
    if inp.command and run_commands:
        from sop.run.secretcommand import read_secret_command

        return read_secret_command(inp.name, inp.command)
    if inp.command and not drill:
        return "unread-" + secrets.token_hex(8)  # a dry run runs nothing, this command neither
    if drill and inp.drill is not None:
        return inp.drill
    return inp.default


def _read_secret_file(name: str, path: Path) -> str:
    """A `--secret-file`: a regular file of at most 64 KiB, in UTF-8; one final newline is not
    part of the secret."""
    try:
        data = read_regular_file(path, SECRET_FILE_BYTES, what="secret files")
        return data.decode("utf-8").rstrip("\n")
    except FileReadError as exc:
        raise InputError(f"input '{name}': {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"input '{name}': {path}: not UTF-8 text") from None


INPUTS_FILE_BYTES = 1024 * 1024


def read_inputs_file(sop: Sop, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """`--inputs FILE`: a JSON or YAML mapping of input name to value (text, number or boolean).
    A secret input is refused: the file is made to be kept and passed around (a ticket, a
    repository), and nothing keeps it private; secrets come from the environment,
    `--secret-file` or the prompt. Errors name the file, line and column. Returns the values
    and where each one is (`FILE:LINE:COL`)."""
    from sop.format import yamlnodes

    name = str(path)
    try:
        data = read_regular_file(path, INPUTS_FILE_BYTES, name, "inputs files")
    except FileReadError as exc:
        raise InputError(f"--inputs {exc}") from None
    root = yamlnodes.parse(yamlnodes.decode(data, name), name)
    if not isinstance(root, yamlnodes.Map):
        where = root.where if root is not None else f"{name}:1:1"
        raise InputError(f"{where}: --inputs takes a mapping of input names to values")
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, node in root.entries.items():
        inp = sop.input(key)
        at = root.key_where[key]
        if inp is None:
            declared = ", ".join(i.name for i in sop.inputs) or "none"
            raise InputError(f"{at}: '{sop.id}' has no input '{key}' (it has: {declared})")
        if inp.secret:
            raise InputError(
                f"{at}: secret input '{key}' cannot come from an inputs file (files are kept and "
                f"passed around); use {'$' + inp.env + ', ' if inp.env else ''}"
                f"--secret-file {key}=PATH, or answer the prompt"
            )
        if not isinstance(node, yamlnodes.Scalar) or node.value is None:
            raise InputError(f"{node.where}: input '{key}' needs a text, number or boolean value")
        value = node.value
        values[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        sources[key] = str(node.where)
    return values, sources


def alert_inputs(sop: Sop, alert: Alert, payload: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The values an alert gives the SOP's inputs, and where each came from: an input's
    `from_alert` path, else the label, else the annotation, of the input's name. Secret
    inputs never come from an alert."""
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for inp in sop.inputs:
        if inp.secret:
            continue
        if inp.from_alert:
            key: str | None = inp.from_alert
        elif f"labels.{inp.name}" in alert.fields:
            key = f"labels.{inp.name}"
        elif f"annotations.{inp.name}" in alert.fields:
            key = f"annotations.{inp.name}"
        else:
            key = None
        if key is not None and key in alert.fields:
            values[inp.name] = alert.fields[key]
            sources[inp.name] = f"{payload}: {key}"
    return values, sources
