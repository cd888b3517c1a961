"""Tabletop scenario files (`runbooks/scenarios/*.yaml`): the format, declared with the spec
classes of `sop.format.schemakit`, the frozen records, and loading them with `file:line:col` errors.

```yaml
tabletop: 1
id: exfil-friday-night
title: Friday night, the database leaves the building
phases: [detect, respond, recover]
expected: [data-exfiltration, collect-evidence, isolate-host]
narrative: |
  It is 22:40 on a Friday ...
injects:
  - at: 0m
    text: The on-call phone rings: UnusualEgressVolume on app-2.
  - at: 5m
    text: The monitoring dashboard shows a large, sustained amount of outbound traffic.
    expects: [data-exfiltration]
```
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import field
from pathlib import Path

from sop.errors import NOWHERE, Location, NotFoundError, Problem, SopFileError
from sop.format import yamlnodes
from sop.format.loader import read_document
from sop.format.schema import ID, ID_HINT
from sop.format.schemakit import (
    BAD,
    Checked,
    Duration,
    Int,
    JsonSchema,
    ListOf,
    Str,
    Struct,
    document_schema,
)
from sop.format.sopfiles import SUFFIXES, search_dirs
from sop.model import PHASES
from sop.records import dataclass

FORMAT_VERSION = 1
FOLDER = "scenarios"  # beside the SOPs: runbooks/scenarios/

SOP_ID = Str("An SOP id.", pattern=ID, pattern_hint=ID_HINT)

INJECT = Struct(
    "inject",
    {
        "at": Duration("When the inject happens, from the start of the scenario: 0m, 5m, 1h."),
        "text": Str("What the team learns now (Markdown)."),
        "expects": ListOf(SOP_ID, "The SOPs the team should pick at this point.", single_ok=True),
    },
    "A new piece of information, handed to the team at a given time.",
    required=("at", "text"),
)


def _check_scenario(checked: Checked, problems: list[Problem], path: str) -> None:
    expected = set(checked.values["expected"])
    previous = -1.0
    for i, inject in enumerate(checked.values["injects"]):
        if inject.values["at"] < previous:
            problems.append(
                Problem(
                    inject.locs["at"],
                    f"injects[{i}].at",
                    "injects must be in time order (this one comes before the one above it)",
                )
            )
        previous = inject.values["at"]
        for sop_id in inject.get("expects", ()):
            if sop_id not in expected:
                problems.append(
                    Problem(
                        inject.locs["expects"],
                        f"injects[{i}].expects",
                        f"'{sop_id}' is not in the scenario's `expected` list",
                    )
                )


SCENARIO_FILE = Struct(
    "tabletop",
    {
        "tabletop": Int("Format version.", minimum=FORMAT_VERSION, maximum=FORMAT_VERSION),
        "id": Str(
            "The scenario's id; how `sop tabletop ID` finds it.", pattern=ID, pattern_hint=ID_HINT
        ),
        "title": Str("A short title."),
        "summary": Str("One or two sentences for the exercise's invitation."),
        "narrative": Str("The story the facilitator reads out first (Markdown)."),
        "phases": ListOf(
            Str("A NIST CSF function.", choices=PHASES), "The NIST phases at stake.", min_items=1
        ),
        "expected": ListOf(SOP_ID, "The SOPs that should apply.", min_items=1),
        "injects": ListOf(INJECT, "The injects, in time order.", min_items=1),
    },
    "A tabletop exercise: a narrative, timed injects and the SOPs that should apply.",
    required=("tabletop", "id", "title", "narrative", "phases", "expected", "injects"),
    custom=_check_scenario,
)


def json_schema() -> JsonSchema:
    """The JSON Schema (2020-12) of a tabletop scenario file (`sop schema --tabletop`)."""
    return document_schema(
        SCENARIO_FILE, (SCENARIO_FILE, INJECT), "tabletop-v1", "sop: a tabletop exercise scenario"
    )


@dataclass(frozen=True)
class Inject:
    number: int  # from 1
    at: float  # seconds from the start of the scenario
    text: str
    expects: tuple[str, ...] = ()
    where: Location = NOWHERE

    @property
    def minutes(self) -> float:
        return self.at / 60


@dataclass(frozen=True)
class TabletopScenario:
    id: str
    title: str
    path: Path
    narrative: str
    phases: tuple[str, ...]
    expected: tuple[str, ...]
    injects: tuple[Inject, ...]
    summary: str = ""
    where: Location = NOWHERE
    expected_where: Mapping[str, Location] = field(default_factory=dict, compare=False)


def load_scenario(path: Path) -> TabletopScenario:
    """Load and validate one scenario file. Raises `SopFileError` with every problem found."""
    root, _name, _digest = read_document(path)
    problems: list[Problem] = []
    checked = SCENARIO_FILE.check(root, "", problems)
    if checked is BAD or problems:
        raise SopFileError(sorted(problems, key=lambda p: (p.where.line, p.where.col)))
    expected_node = root.entries["expected"]
    items = expected_node.items if isinstance(expected_node, yamlnodes.Seq) else []
    return TabletopScenario(
        id=checked.values["id"],
        title=checked.values["title"],
        path=path,
        narrative=checked.values["narrative"],
        phases=tuple(dict.fromkeys(checked.values["phases"])),
        expected=tuple(dict.fromkeys(checked.values["expected"])),
        injects=tuple(
            Inject(
                number=i + 1,
                at=c.values["at"],
                text=c.values["text"],
                expects=tuple(c.get("expects", ())),
                where=c.where,
            )
            for i, c in enumerate(checked.values["injects"])
        ),
        summary=checked.get("summary", ""),
        where=checked.where,
        expected_where={
            str(item.value): item.where for item in items if isinstance(item, yamlnodes.Scalar)
        },
    )


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """The scenario files in every `scenarios/` folder below the given folders (default: the
    search folders), and the files named directly that are in a `scenarios/` folder."""
    out: list[Path] = []
    for folder in list(paths) or search_dirs():
        if not folder.is_dir():
            if folder.parent.name == FOLDER and folder.exists():
                out.append(folder)
            continue
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            if Path(root).name != FOLDER:
                continue
            out.extend(
                Path(root, f)
                for f in sorted(files)
                if Path(f).suffix in SUFFIXES and not f.startswith((".", "_"))
            )
    return out


def find_scenario(ref: str) -> Path:
    """A scenario by path, or by id: `<dir>/scenarios/<id>.yaml` in the search folders."""
    path = Path(ref)
    if path.suffix in SUFFIXES or os.sep in ref:
        if not path.exists():  # anything else there: the loader says what it is
            raise NotFoundError(f"{ref}: no such scenario file")
        return path
    for folder in search_dirs():
        for suffix in SUFFIXES:
            candidate = folder / FOLDER / f"{ref}{suffix}"
            if candidate.exists():
                return candidate
    for candidate in scenario_files(search_dirs()):
        try:
            if load_scenario(candidate).id == ref:
                return candidate
        except SopFileError:
            continue
    where = ", ".join(str(d / FOLDER) for d in search_dirs())
    raise NotFoundError(f"no tabletop scenario with id '{ref}' in {where}")


def lint_scenarios(paths: Iterable[Path], known: Iterable[str]) -> tuple[int, list[Problem]]:
    """(files checked, problems): every scenario loads, and every SOP it expects exists."""
    ids = set(known)
    files = scenario_files(paths)
    problems: list[Problem] = []
    for path in files:
        try:
            scenario = load_scenario(path)
        except SopFileError as exc:
            problems.extend(exc.problems)
            continue
        for i, sop_id in enumerate(scenario.expected):
            if sop_id not in ids:
                problems.append(
                    Problem(
                        scenario.expected_where.get(sop_id, scenario.where),
                        f"expected[{i}]",
                        f"no SOP with id '{sop_id}' in the library",
                        "error",
                        "scenario",
                    )
                )
    return len(files), problems
