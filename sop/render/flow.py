"""An SOP's sections and decisions as a Mermaid flowchart, for Markdown pages (GitHub, GitLab
and Mermaid-enabled wikis draw it; elsewhere it stays a readable code block, and the nested
list under each decision says the same)."""

from __future__ import annotations

from sop.model import Sop, blocks, branches, section_conditions

_ENTITIES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;", "`": "", "\n": " "}


def _text(value: str, limit: int = 80) -> str:
    value = " ".join(value.split())
    if len(value) > limit:
        value = value[: limit - 3] + "..."
    return "".join(_ENTITIES.get(c, c) for c in value)


def mermaid(sop: Sop) -> str:
    """The flowchart's source ("" for an SOP whose steps simply run in order): a box per
    section (with when it runs), a diamond per decision, an arrow per answer (dotted: back to
    an earlier section), and a loop on a section that repeats."""
    if not sop.branching:
        return ""
    parts = blocks(sop.steps)
    node = {sid: f"s{i}" for i, (sid, _) in enumerate(parts)}
    conditions = section_conditions(sop)
    chosen = {
        t.id for step in sop.steps for b in branches(sop, step) if not b.back for t in b.sections
    }
    lines = ["flowchart TD"]
    for sid, _ in parts:
        section = sop.section(sid)
        title = _text(section.title) if section else "Steps"
        extra = f"<br/><i>{_text(conditions[sid])}</i>" if sid in conditions else ""
        lines.append(f'  {node[sid]}["{title}{extra}"]')
    ends = False
    for i, (sid, steps) in enumerate(parts):
        after = next((later for later, _ in parts[i + 1 :] if later not in chosen), None)
        decides = [s for s in steps if s.kind == "decide"]
        for step in decides:
            diamond = f"d{step.number}"
            lines.append(f'  {diamond}{{"{step.number}. {_text(step.body, 60)}"}}')
            lines.append(f"  {node[sid]} --> {diamond}")
            for b in branches(sop, step):
                arrow = "-.->" if b.back else "-->"
                label = _text(b.label, 40)
                for target in b.sections:
                    if target.id in node:
                        lines.append(f'  {diamond} {arrow}|"{label}"| {node[target.id]}')
                if not b.sections:  # no section chosen: on to where the branches meet again
                    ends = ends or after is None
                    lines.append(f'  {diamond} -->|"{label}"| {node[after] if after else "done"}')
        section = sop.section(sid)
        if section is not None and section.until:
            lines.append(f'  {node[sid]} -->|"again until {_text(section.until, 40)}"| {node[sid]}')
        if decides:
            continue
        if after is not None:
            lines.append(f"  {node[sid]} --> {node[after]}")
    if ends:
        lines.append('  done(["end"])')
    return "\n".join(lines)
