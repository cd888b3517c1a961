"""Everything sop prints to a terminal. rich is imported only by the functions that need it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from sop.model import Sop, Step

if TYPE_CHECKING:
    from rich.console import Console


def error(message: str) -> None:
    click.echo(f"sop: error: {message}", err=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table (no rich: `sop list` must start fast)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def console(**kwargs: Any) -> Console:
    from rich.console import Console

    return Console(highlight=False, **kwargs)


def step_number(step: Step, prefix: str = "") -> str:
    return f"{prefix}{step.number}"


def show_sop(sop: Sop, out: Console) -> None:
    """The checklist as a responder will see it; nothing is rendered or run."""
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table

    meta = " · ".join(
        x
        for x in (
            sop.severity,
            sop.phase,
            f"owner {sop.owner}" if sop.owner else "",
            f"reviewed {sop.reviewed}" if sop.reviewed else "",
        )
        if x
    )
    out.print(Panel(f"[bold]{_esc(sop.title)}[/bold]\n{_esc(sop.id)}  {_esc(meta)}", expand=False))
    if sop.summary:
        out.print(_esc(sop.summary))
    for heading, text in (("Context", sop.context), ("Impact", sop.impact)):
        if text:
            out.print(f"\n[bold]{heading}[/bold]")
            out.print(Markdown(text))
    if sop.links:
        out.print("\n[bold]Links[/bold]")
        for link in sop.links:
            out.print(f"  • {_esc(link.title)}: {_esc(link.url)}")
    if sop.inputs:
        grid = Table("input", "required", "default", "help", box=None, header_style="bold")
        for inp in sop.inputs:
            default = "(secret)" if inp.secret else (inp.default or "")
            grid.add_row(inp.name, "yes" if inp.required else "", default, inp.help)
        out.print()
        out.print(grid)
    targets = ", ".join(sop.on)
    out.print(f"\n[bold]Steps[/bold] (default target: {_esc(targets)})")
    for title, steps, prefix in (("", sop.steps, ""), ("Rollback", sop.rollback, "R")):
        if title and steps:
            out.print(f"\n[bold]{title}[/bold]")
        section = ""
        for step in steps:
            if step.section and step.section != section:
                section = step.section
                out.print(f"\n[bold underline]{_esc(section)}[/bold underline]")
            on = ", ".join(step.on) if step.on else targets
            where = "" if step.kind in ("prose", "call") else f"  [dim]on {_esc(on)}[/dim]"
            tags = f" [dim]({step.kind}; confirm {step.confirm})[/dim]"
            out.print(f"\n[bold]{prefix}{step.number}. {_esc(step.label)}[/bold]{tags}{where}")
            if step.kind == "prose":
                out.print(Markdown(step.body))
                for q in step.ask:
                    out.print(
                        f"  ? {_esc(q.help or q.name)} → [cyan]{q.name}[/cyan]"
                        + (f" (default {_esc(q.default)})" if q.default else "")
                    )
            elif step.kind in ("run", "script"):
                out.print(
                    Syntax(
                        step.body.rstrip("\n"),
                        "bash",
                        theme="ansi_dark",
                        background_color="default",
                    )
                )
            elif step.kind == "task":
                args = ", ".join(f"{k}={v!r}" for k, v in step.args.items())
                out.print(f"  invoke task [cyan]{_esc(step.body)}[/cyan]({_esc(args)})")
            else:
                passed = ", ".join(f"{k}={v}" for k, v in step.with_inputs.items())
                out.print(f"  runs SOP [cyan]{_esc(step.body)}[/cyan] ({_esc(passed)})")
            if step.note:
                out.print(Markdown(step.note), style="dim")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)
