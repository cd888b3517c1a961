"""`runbook_url` annotations for a Prometheus rule file: each alerting rule points at the rendered
page of the SOP that answers its alert, and at a step's anchor when a step names the alert.

The rule file is edited as text at the places its YAML nodes give, never written back from a
parse: its comments, order, quoting and layout stay as they are. Page names and anchors are
those `sop render` writes (`pages.page_names`, `#step-<id>`), so the URLs lead to real pages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from sop.errors import Location, SopError, UsageError
from sop.format import yamlnodes
from sop.format.alerts import alert_matches
from sop.model import Sop
from sop.render.markdown import yaml_string
from sop.render.pages import page_names, safe_name

KEY = "runbook_url"
_BASE_URL = re.compile(r"https?://[^\s\"'<>#?]+")


class RuleFileError(SopError):
    """The rule file is not a Prometheus rule file sop can edit."""


class RunbookUrls(NamedTuple):
    """The edited rule file, and what was left as it was and why (one line each)."""

    text: str
    notes: tuple[str, ...]


class _Edit(NamedTuple):
    start: int  # offsets in the text; an insertion has start == end
    end: int
    text: str


def check_base_url(base_url: str) -> None:
    """The pages' address is an http(s) URL: it goes into every rule's annotations."""
    if not _BASE_URL.fullmatch(base_url):
        raise UsageError(f"--base-url {base_url!r}: expected an http:// or https:// URL")


def runbook_url(sop: Sop, alert: str, page: str, base_url: str, suffix: str) -> str:
    """The URL of `sop`'s page for `alert`: the first step whose `alerts` match it gives the
    anchor."""
    url = base_url.rstrip("/") + "/" + page + suffix
    step = next(
        (s for s in (*sop.steps, *sop.rollback) if any(alert_matches(alert, p) for p in s.alerts)),
        None,
    )
    return url if step is None else f"{url}#step-{safe_name(step.id)}"


def add_runbook_urls(
    text: str, name: str, sops: Sequence[Sop], base_url: str, suffix: str = ".html"
) -> RunbookUrls:
    """`text` (a rule file: `groups:` at the top, or under `spec:` as in a PrometheusRule) with
    the runbook_url of every alerting rule whose alert one SOP answers set to that SOP's page.
    Rules that no SOP, or several, answer are left as they are, and noted."""
    root = yamlnodes.parse(text, name)
    names = page_names(sops)
    lines = _line_starts(text)
    ends = yamlnodes.scalar_ends(text)
    edits: list[_Edit] = []
    notes: list[str] = []
    for rule in _rules(root, name):
        alert = rule.entries.get("alert")
        if not isinstance(alert, yamlnodes.Scalar) or not isinstance(alert.value, str):
            continue  # a recording rule
        answering = [s for s in sops if any(alert_matches(alert.value, p) for p in s.alerts)]
        if len(answering) != 1:
            why = (
                "no SOP answers it"
                if not answering
                else "SOPs " + ", ".join(sorted(s.id for s in answering)) + " all answer it"
            )
            notes.append(f"{alert.where}: alert {alert.value}: {why}; left as it is")
            continue
        sop = answering[0]
        url = yaml_string(runbook_url(sop, alert.value, names[sop.id], base_url, suffix))
        edit = _edit(text, lines, ends, rule, url)
        if edit is None:
            notes.append(f"{alert.where}: alert {alert.value}: annotations is not a mapping")
            continue
        edits.append(edit)
    for edit in sorted(edits, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return RunbookUrls(text, tuple(notes))


def _rules(root: yamlnodes.Node | None, name: str) -> list[yamlnodes.Map]:
    top = root
    if isinstance(top, yamlnodes.Map) and "groups" not in top.entries:
        spec = top.entries.get("spec")
        top = spec if isinstance(spec, yamlnodes.Map) else top
    groups = top.entries.get("groups") if isinstance(top, yamlnodes.Map) else None
    if not isinstance(groups, yamlnodes.Seq):
        where = root.where if root is not None else Location(name, 1, 1)
        raise RuleFileError(
            f"{where}: not a Prometheus rule file: expected `groups:` (or `spec: groups:`), "
            "a list of rule groups"
        )
    rules: list[yamlnodes.Map] = []
    for group in groups.items:
        found = group.entries.get("rules") if isinstance(group, yamlnodes.Map) else None
        if isinstance(found, yamlnodes.Seq):
            rules += [r for r in found.items if isinstance(r, yamlnodes.Map)]
    return rules


def _line_starts(text: str) -> list[int]:
    """The offset of each line's start (PyYAML's lines end at `\\n`, `\\r\\n`, `\\r`, and at
    NEL, LS and PS; a rule file has only the first three in practice, and these are counted)."""
    starts = [0]
    position = 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        starts.append(position)
    return starts


def _offset(lines: list[int], where: Location | tuple[int, int]) -> int:
    line, col = (where.line, where.col) if isinstance(where, Location) else where
    return lines[line - 1] + col - 1


def _is_flow(text: str, lines: list[int], node: yamlnodes.Map) -> bool:
    return text[_offset(lines, node.where)] == "{"


def _edit(
    text: str,
    lines: list[int],
    ends: dict[tuple[int, int], tuple[int, int]],
    rule: yamlnodes.Map,
    url: str,
) -> _Edit | None:
    """The one change that sets the rule's runbook_url to `url` (already a YAML string)."""
    annotations = rule.entries.get("annotations")
    if annotations is None:
        return _add_annotations(text, lines, rule, url)
    if not isinstance(annotations, yamlnodes.Map):
        return None
    current = annotations.entries.get(KEY)
    if isinstance(current, yamlnodes.Scalar):
        start = _offset(lines, current.where)
        end = _offset(lines, ends[(current.where.line, current.where.col)])
        keep = "\n" if text[start:end].endswith("\n") else ""  # a block scalar's line end
        return _Edit(start, end, url + keep)
    if current is not None:
        return None
    if not annotations.key_where:  # `annotations: {}`
        brace = _offset(lines, annotations.where) + 1
        return _Edit(brace, brace, f"{KEY}: {url}")
    first = _offset(lines, next(iter(annotations.key_where.values())))
    if _is_flow(text, lines, annotations):
        return _Edit(first, first, f"{KEY}: {url}, ")
    indent = " " * (next(iter(annotations.key_where.values())).col - 1)
    return _Edit(first, first, f"{KEY}: {url}\n{indent}")


def _add_annotations(text: str, lines: list[int], rule: yamlnodes.Map, url: str) -> _Edit:
    """An `annotations:` mapping with the URL, before the rule's first key."""
    first_key = next(iter(rule.key_where.values()))
    first = _offset(lines, first_key)
    if _is_flow(text, lines, rule):
        return _Edit(first, first, f"annotations: {{{KEY}: {url}}}, ")
    indent = " " * (first_key.col - 1)
    return _Edit(first, first, f"annotations:\n{indent}  {KEY}: {url}\n{indent}")
