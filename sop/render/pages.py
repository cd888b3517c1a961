"""What a wiki page shows, as plain values (dicts, lists, strings) that any format's templates
can lay out. No format-specific escaping happens here; the templates' filters do that.

Templates receive only these plain values (never a `Path` or a model object), so an override
template in the sandbox cannot reach anything but the page's text.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sop.audit.history import SopHistory, history_view, last_drilled, step_median
from sop.errors import SopError
from sop.model import (
    ACKNOWLEDGEABLE,
    APPROVAL_ANYONE,
    GOES_ON,
    INTERACTIVE,
    Input,
    Link,
    Sop,
    Step,
    branches,
    section_conditions,
)
from sop.records import dataclass
from sop.render import placeholders as placeholder
from sop.render.docstrings import task_docstring
from sop.render.flow import mermaid

INDEX = "index"
INDEX_TITLE = "Standard Operating Procedures"
NONE_LABEL = "(none)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXTERNAL = re.compile(r"(?i)(https?://|mailto:)")

View = dict[str, Any]


class RenderError(SopError):
    """The library cannot be rendered as asked (duplicate ids, a page name clash...)."""


def safe_name(text: str) -> str:
    """A file name (and anchor) made from an id: letters, digits, '-' and '_' only; never
    empty, never starting with '.' or '-', so never `..`, a hidden file or an absolute path."""
    name = _UNSAFE.sub("-", text).strip("-_")
    return name or "sop"


@dataclass(frozen=True)
class Site:
    """Every page of a library: one view per SOP, sorted by id, and the index's view."""

    pages: tuple[View, ...]
    index: View


def page_names(sops: Sequence[Sop]) -> dict[str, str]:
    """SOP id -> page name. Two SOPs with the same id, or ids that make the same page name,
    are an error: one page must never silently overwrite another."""
    by_id: dict[str, Sop] = {}
    by_name: dict[str, Sop] = {}
    for sop in sorted(sops, key=lambda s: (s.id, str(s.path))):
        if sop.id in by_id:
            raise RenderError(
                f"two SOPs have the id '{sop.id}': {by_id[sop.id].path} and {sop.path}"
            )
        name = safe_name(sop.id)
        if name == INDEX:
            name = f"sop-{name}"
        if name in by_name:
            raise RenderError(
                f"SOPs '{by_name[name].id}' ({by_name[name].path}) and '{sop.id}' ({sop.path})"
                f" would both be written to the page '{name}'; give one another id"
            )
        by_id[sop.id] = sop
        by_name[name] = sop
    return {sop.id: name for name, sop in by_name.items()}


def page_titles(sops: Sequence[Sop]) -> dict[str, str]:
    """SOP id -> page title: the SOP's title, with the id added when the title alone is not
    unique (wikis such as Confluence need unique titles)."""
    counts: dict[str, int] = {INDEX_TITLE: 1}
    for sop in sops:
        counts[sop.title] = counts.get(sop.title, 0) + 1
    return {
        sop.id: sop.title
        if counts[sop.title] == 1 and sop.title != INDEX_TITLE
        else f"{sop.title} ({sop.id})"
        for sop in sops
    }


def build_site(
    sops: Iterable[Sop],
    history: Mapping[str, SopHistory] | None = None,
    placeholders: str = placeholder.DEFAULT,
) -> Site:
    """`history` (SOP id -> its runs, from `--runs`) adds run history to the pages; without it
    the pages show none. `placeholders` is how commands show their values (`placeholders.STYLES`)."""
    ordered = sorted(sops, key=lambda s: s.id)
    names = page_names(ordered)
    titles = page_titles(ordered)
    local_links = any(_is_local(link.url) for sop in ordered for link in _all_links(sop))
    paths = _file_ids(ordered) if local_links else {}
    refs = {s.id: _ref(s, names, titles) for s in ordered}
    pages = tuple(
        sop_view(
            s,
            names,
            titles,
            paths,
            None if history is None else history.get(s.id, EMPTY),
            placeholders,
        )
        for s in ordered
    )
    index: View = {
        "title": INDEX_TITLE,
        "sops": list(refs.values()),
        "groups": [
            {"name": "Phase", "groups": _group(ordered, refs, lambda s: [s.phase])},
            {"name": "Tag", "groups": _group(ordered, refs, lambda s: list(s.tags))},
            {"name": "Owner", "groups": _group(ordered, refs, lambda s: [s.owner])},
        ],
    }
    return Site(pages, index)


def _file_ids(sops: Sequence[Sop]) -> dict[Path, str]:
    """Each SOP's file (resolved: one `stat` per folder on its path) -> its id. Only relative
    links need them."""
    return {sop.path.resolve(): sop.id for sop in sops}


def _all_links(sop: Sop) -> Iterable[Link]:
    yield from sop.links
    for step in (*sop.steps, *sop.rollback):
        yield from step.links


def _is_local(url: str) -> bool:
    return not (url.startswith("#") or _EXTERNAL.match(url))


def _ref(sop: Sop, names: dict[str, str], titles: dict[str, str]) -> View:
    return {
        "id": sop.id,
        "title": sop.title,
        "page": names[sop.id],
        "page_title": titles[sop.id],
        "summary": sop.summary.strip(),
        "severity": sop.severity or "",
    }


def _group(
    sops: Sequence[Sop], refs: dict[str, View], keys: Callable[[Sop], list[str | None]]
) -> list[View]:
    """SOPs by phase, tag or owner (sorted; the SOPs without one come last)."""
    groups: dict[str, list[View]] = {}
    for sop in sops:
        for key in sorted({k for k in keys(sop) if k}) or [NONE_LABEL]:
            groups.setdefault(key, []).append(refs[sop.id])
    ordered = sorted(groups, key=lambda k: (k == NONE_LABEL, k))
    return [{"name": k, "sops": groups[k]} for k in ordered]


EMPTY = SopHistory()


def sop_view(
    sop: Sop,
    names: dict[str, str],
    titles: dict[str, str],
    paths: dict[Path, str],
    history: SopHistory | None = None,
    placeholders: str = placeholder.DEFAULT,
) -> View:
    view: View = {
        "id": sop.id,
        "title": sop.title,
        "page": names[sop.id],
        "page_title": titles[sop.id],
        "index_title": INDEX_TITLE,
        "summary": sop.summary.strip(),
        "source": sop.path.name,
        "sha256": sop.sha256,
        "metadata": _metadata(sop, history),
        "context": sop.context.strip(),
        "impact": sop.impact.strip(),
        "links": [_link(sop, link, names, titles, paths) for link in sop.links],
        "inputs": [_input(i) for i in sop.inputs],
        "sections": _sections(sop, sop.steps, names, titles, paths, 1),
        "rollback": _sections(sop, sop.rollback, names, titles, paths, len(sop.steps) + 1),
        "run": run_commands(sop, placeholders),
        "run_set_first": placeholder.run_set_first(_run_inputs(sop))
        if placeholders == "shell"
        else (),
        "flow": mermaid(sop),
        "history": None,
    }
    variables = placeholder.Variables.of(sop)
    stdin = {step.id: step.stdin for step in (*sop.steps, *sop.rollback)}
    text = functools.partial(placeholder.in_text, style=placeholders)
    view["context"], view["impact"] = text(view["context"]), text(view["impact"])
    for section in [*view["sections"], *view["rollback"]]:
        section["note"] = text(section["note"])
        for step in section["steps"]:
            if step["kind"] in ("run", "script"):
                filled = placeholder.fill(step["body"], placeholders, variables, stdin[step["id"]])
                step["body"], step["set_first"] = filled.body, filled.set_first
                step["stdin"] = filled.stdin.rstrip("\n")
            elif step["kind"] in ("prose", "decide"):
                step["body"] = text(step["body"])
            step["title"], step["note"] = text(step["title"]), text(step["note"])
            for item in [*step["facts"], *step["args"], *step["with"]]:
                item["value"] = text(item["value"])
    if history is not None:
        view["history"] = history_view(history)
        for section in [*view["sections"], *view["rollback"]]:
            for step in section["steps"]:
                step["median"] = step_median(history, step["id"])
                if step["median"]:
                    step["facts"].append(
                        {"label": "Median time", "value": step["median"], "code": False}
                    )
    return view


def _metadata(sop: Sop, history: SopHistory | None) -> list[View]:
    """The table at the top of a page: label and values (a list: tags, alerts)."""
    rows = [
        ("Owner", [sop.owner] if sop.owner else []),
        ("Severity", [sop.severity] if sop.severity else []),
        ("Phase", [sop.phase] if sop.phase else []),
        ("Tags", sorted(sop.tags)),
        ("Alerts", sorted(sop.alerts)),
        ("Target time", [f"{sop.target_minutes} minutes"] if sop.target_minutes else []),
        ("Reviewed", [sop.reviewed.isoformat()] if sop.reviewed else []),
        # from the audit logs with --runs; without them the row is there so that readers see it
        ("Last drilled", last_drilled(history) if history is not None else []),
    ]
    return [{"label": label, "values": values} for label, values in rows]


def _link(
    sop: Sop, link: Link, names: dict[str, str], titles: dict[str, str], paths: dict[Path, str]
) -> View:
    """External links stay links; a relative link to another SOP's file becomes a link to its
    page; other local paths are shown as text (they would be broken links on a wiki)."""
    view: View = {"title": link.title, "url": link.url, "page": "", "page_title": ""}
    if not _is_local(link.url):
        view["kind"] = "external"
        return view
    target = paths.get((sop.path.resolve().parent / link.url.split("#")[0]).resolve())
    if target is not None:
        view.update(kind="page", page=names[target], page_title=titles[target])
    else:
        view["kind"] = "text"
    return view


def _input(item: Input) -> View:
    return {
        "name": item.name,
        "type": item.type,
        "required": item.required,
        "default": "" if item.secret or item.default is None else str(item.default),
        "choices": [str(c) for c in item.choices],
        "pattern": item.pattern or "",
        "secret": item.secret,
        "env": item.env or "",
        "help": item.help,
    }


def _sections(
    sop: Sop,
    steps: Sequence[Step],
    names: dict[str, str],
    titles: dict[str, str],
    paths: dict[Path, str],
    first: int,
) -> list[View]:
    """Steps grouped by their heading (with the heading's note), in order. `seq` numbers the
    steps across the whole page (checklist, then rollback) from `first`: a unique id for
    checklist items."""
    sections: list[View] = []
    conditions = section_conditions(sop)
    # sections a decision names get an anchor its answers link to
    named = {t.id for step in sop.steps for b in branches(sop, step) for t in b.sections}
    for seq, step in enumerate(steps, start=first):
        if not sections or sections[-1]["key"] != (step.section_id, step.section):
            sections.append(
                {
                    "key": (step.section_id, step.section),
                    "title": step.section,
                    "anchor": "section-" + safe_name(step.section_id)
                    if step.section_id in named
                    else "",
                    "condition": conditions.get(step.section_id, ""),
                    "note": step.section_note.strip(),
                    "steps": [],
                }
            )
        view = _step(sop, step, names, titles)
        view["links"] = [_link(sop, link, names, titles, paths) for link in step.links]
        sections[-1]["steps"].append(view | {"seq": seq})
    return sections


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _step(sop: Sop, step: Step, names: dict[str, str], titles: dict[str, str]) -> View:
    facts: list[View] = []

    def fact(label: str, value: str, code: bool = False) -> None:
        facts.append({"label": label, "value": value, "code": code})

    if step.role:
        fact("Role", step.role)
    if step.approval:
        fact("Approval", "by someone other than the operator" if step.approval == APPROVAL_ANYONE
             else f"by the {step.approval}")  # fmt: skip
    if step.interactive:
        fact("Interactive", INTERACTIVE)
    if step.executable:
        fact("On", ", ".join(step.on if step.on is not None else sop.on), code=True)
        fact("Confirm", f"typed: {step.confirm_word}" if step.confirm_word else step.confirm)
        if step.ok_exit != (0,):
            fact("Succeeds with exit", ", ".join(map(str, step.ok_exit)), code=True)
    if step.kind == "script":
        fact("Shell", "set -eu" if step.strict else "every line runs, whatever fails", step.strict)
    if step.when:
        fact("Only when", step.when, code=True)
    if step.capture:
        fact("Saves output as", step.capture, code=True)
    if step.retries:
        fact("Retries", f"{step.retries}, {_seconds(step.delay)} apart")
    if step.timeout is not None:
        fact("Timeout", _seconds(step.timeout))
    if step.canary:
        fact("Canary hosts first", str(step.canary))
    for code, reason in step.acknowledge.items():  # a lint warning the author weighed
        fact("Acknowledged", f"{ACKNOWLEDGEABLE[code]}: {reason}")
    view: View = {
        "id": step.id,
        "anchor": "step-" + safe_name(step.id),
        "number": step.number,
        "title": step.label,
        "kind": step.kind,
        "body": step.body.rstrip("\n"),
        "stdin": "" if step.stdin is None else step.stdin.rstrip("\n"),
        "set_first": (),
        "note": step.note.strip(),
        "facts": facts,
        "ask": [_input(i) for i in step.ask],
        "args": [{"name": k, "value": _value(v)} for k, v in sorted(step.args.items())],
        "with": [{"name": k, "value": _value(v)} for k, v in sorted(step.with_inputs.items())],
        "doc": task_docstring(sop.tasks, step.body) if step.kind == "task" else "",
        "page": "",
        "page_title": "",
        "median": "",
        "max_back": step.max_back,
        "branches": [
            {
                "label": b.label,
                "back": b.back,
                "goes_on": "" if b.sections else GOES_ON,
                "targets": [
                    {"title": t.title, "anchor": "section-" + safe_name(t.id)} for t in b.sections
                ],
            }
            for b in branches(sop, step)
        ],
    }
    if step.kind == "call" and step.body in names:
        view.update(page=names[step.body], page_title=titles[step.body])
    return view


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _run_inputs(sop: Sop) -> list[Input]:
    """The inputs a run must be given: required, without a default, not read from the
    environment (sop reads an input's `env:` variable itself)."""
    return [i for i in sop.inputs if i.required and i.default is None and not i.env]


def run_commands(sop: Sop, placeholders: str = placeholder.DEFAULT) -> list[View]:
    """The exact commands that walk through the SOP: a dry run, for real, and as a drill.
    Required inputs without a default are placeholders in the page's style; secrets come
    from a file (or from their environment variable, which needs no option)."""
    options: list[str] = []
    for item in _run_inputs(sop):
        option = "--secret-file" if item.secret else "--input"
        value = placeholder.run_placeholder(item.name, item, placeholders)
        if placeholders == "shell":  # the expansion is quoted already, and must stay unquoted
            options += [option, f"{shlex.quote(item.name + '=')}{value}"]
        else:
            options += [option, shlex.quote(f"{item.name}={value}")]
    run = ["sop", "run", shlex.quote(sop.id), *options]
    return [
        {
            "label": "See every step and command first (runs nothing)",
            "command": " ".join([*run, "--dry-run"]),
        },
        {"label": "Run it for real", "command": " ".join(run)},
        {
            "label": "Rehearse it as a fire drill (runs nothing)",
            "command": f"sop drill {shlex.quote(sop.id)}",
        },
    ]
