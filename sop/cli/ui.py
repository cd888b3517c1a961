"""Everything sop prints to a terminal. rich is imported only by the functions that need it.

Every string on its way out passes `sop.text.visible` here, at the sink, whatever its source
(SOP text, inventory, inputs, answers, host output, error messages): `echo` for plain output,
`table` for its cells, the prompter for its prompts, `TerminalUI.emit` for every field of every
event, and on each rich console a render hook that filters every segment it prints (the
backstop: rich's own styling travels outside the segments' text, so colours survive)."""

from __future__ import annotations

import dataclasses
import itertools
import textwrap
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from sop.text import cell_width, may_be_unsafe, pad, visible

if TYPE_CHECKING:
    from pathlib import Path

    # re-exported for the prompter's annotations: rich is imported here only
    from rich.console import Console as Console
    from rich.console import (
        ConsoleOptions,
        ConsoleRenderable,
        RenderableType,
        RenderResult,
    )
    from rich.markdown import Markdown

    from sop import events as ev
    from sop.audit.approvals import Request
    from sop.cli.progress import Ticker
    from sop.drill.report import DrillReport
    from sop.events import Clock
    from sop.model import Link, Sop


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Plain output (the CLI's only way to print): unsafe characters shown as markers."""
    click.echo(visible(message), err=err, nl=nl)


def error(message: str) -> None:
    from sop.redact import shared

    echo(f"sop: error: {shared()(message)}", err=True)


def traceback() -> None:
    """The current exception's traceback, secrets masked."""
    import traceback as tb

    from sop.redact import shared

    echo(shared()(tb.format_exc()), err=True)


def visible_record(value: Any) -> Any:
    """`value` (an event, a record, a tuple, a mapping, a string) with `visible` applied to
    every string inside it; the same object when nothing needed it. Called for every event of a
    run, output lines included: numbers and None go by at once, and a dataclass's field names
    are looked up once per class."""
    if isinstance(value, str):
        return visible(value)
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, tuple):  # the model's named tuples keep their type
        items = [visible_record(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return value._make(items) if hasattr(value, "_make") else tuple(items)
    if isinstance(value, Mapping):
        pairs = {visible_record(k): visible_record(v) for k, v in value.items()}
        same = all(a is b for a, b in zip(pairs.items(), value.items(), strict=True))
        return value if len(pairs) == len(value) and same else pairs
    names = _field_names(type(value))
    if names is None:
        return value
    changed = {}
    for name in names:
        old = getattr(value, name)
        new = visible_record(old)
        if new is not old:
            changed[name] = new
    return dataclasses.replace(value, **changed) if changed else value


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type (None for any other type), looked up once."""
    if kind not in _FIELDS:
        is_record = dataclasses.is_dataclass(kind)
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind)) if is_record else None
    return _FIELDS[kind]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table (no rich: `sop list` must start fast); cells made visible."""
    rows = [[visible(c) for c in row] for row in rows]
    widths = [cell_width(h) for h in headers]
    for row in rows:
        widths = [max(w, cell_width(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(pad(h.upper(), w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def console(**kwargs: Any) -> Console:
    """The terminal's rich Console. Text is shown as written: no highlighting, and no emoji
    codes (rich would turn a title's `:fire:` or `:x:` into a picture)."""
    from rich.console import Console

    return guarded(Console(highlight=False, emoji=False, **kwargs))


_GUARDED: weakref.WeakSet[Console] = weakref.WeakSet()


def guarded(out: Console) -> Console:
    """`out`, with a render hook that makes the text of every segment it prints visible."""
    if out not in _GUARDED:
        from rich.console import RenderHook

        class Visible(RenderHook):
            def process_renderables(
                self, renderables: list[ConsoleRenderable]
            ) -> list[ConsoleRenderable]:
                return [_VisibleSegments(r) for r in renderables]

        out.push_render_hook(Visible())
        _GUARDED.add(out)
    return out


class _VisibleSegments:
    """A renderable as rich renders it, with unsafe characters in its text made visible.
    Control segments (rich's own cursor moves) pass; styles and links travel beside the text,
    so the text is all a string from outside can reach."""

    def __init__(self, inner: ConsoleRenderable) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment

        segments: Iterable[Segment] = console.render(self.inner, options)
        for segment in segments:
            if segment.control or not may_be_unsafe(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text), segment.style)


def show_sop(sop: Sop, out: Console) -> None:
    """The checklist as a responder will see it; nothing is rendered or run."""
    from rich.markdown import Markdown

    from sop.model import ACKNOWLEDGEABLE, GOES_ON, INTERACTIVE, branches, section_conditions

    sop = visible_record(sop)
    guarded(out)
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
        section: tuple[str, str] = ("", "")
        conditions = section_conditions(sop)
        for step in steps:
            if step.section and (step.section_id, step.section) != section:
                section = (step.section_id, step.section)
                out.print(f"\n[bold underline]{_esc(step.section)}[/bold underline]")
                if step.section_id in conditions:
                    out.print(f"[italic]{_esc(conditions[step.section_id])}[/italic]")
                if step.section_note:
                    out.print(Markdown(step.section_note), style="dim")
            on = ", ".join(step.on) if step.on else targets
            where = "" if not step.executable else f"  [dim]on {_esc(on)}[/dim]"
            loose = "; not strict" if step.kind == "script" and not step.strict else ""
            confirm = "" if step.kind == "decide" else f"; confirm {step.confirm}"
            if step.confirm_word:  # as written: show renders nothing
                confirm += f" {step.confirm_word}"
            if step.ok_exit != (0,):
                loose += f"; succeeds with exit {', '.join(map(str, step.ok_exit))}"
            if step.role:
                loose += f"; role {step.role}"
            if step.approval:
                loose += f"; approval {step.approval}"
            if step.interactive:
                loose += f"; interactive: {INTERACTIVE}"
            tags = f" [dim]({_esc(step.kind + confirm + loose)})[/dim]"
            out.print(f"\n[bold]{prefix}{step.number}. {_esc(step.label)}[/bold]{tags}{where}")
            if step.when:
                out.print(f"  [italic]only when {_esc(step.when)}[/italic]")
            if step.kind == "decide":
                if step.body != step.label:
                    out.print(Markdown(step.body))
                for b in branches(sop, step):
                    titles = ", ".join(s.title for s in b.sections) or GOES_ON
                    back = f"back to {titles} (at most {step.max_back} times)" if b.back else titles
                    out.print(f"  • [bold]{_esc(b.label)}[/bold] → {_esc(back)}")
            elif step.kind == "prose":
                out.print(Markdown(step.body))
                for q in step.ask:
                    out.print(
                        f"  ? {_esc(q.help or q.name)} → [cyan]{q.name}[/cyan]"
                        + (f" (default {_esc(q.default)})" if q.default else "")
                    )
            elif step.kind in ("run", "script"):
                out.print(
                    Syntax(
                        wrap_command(step.body.rstrip("\n"), out.width),
                        "bash",
                        theme="ansi_dark",
                        background_color="default",
                    )
                )
                if step.stdin is not None:
                    out.print("  [dim]with stdin:[/dim]")
                    out.print(step.stdin.rstrip("\n"), markup=False, highlight=False, emoji=False)
            elif step.kind == "task":
                args = ", ".join(f"{k}={v!r}" for k, v in step.args.items())
                out.print(f"  invoke task [cyan]{_esc(step.body)}[/cyan]({_esc(args)})")
            else:
                passed = ", ".join(f"{k}={v}" for k, v in step.with_inputs.items())
                out.print(f"  runs SOP [cyan]{_esc(step.body)}[/cyan] ({_esc(passed)})")
            _print_links(out, step.links)
            for code, reason in step.acknowledge.items():
                out.print(
                    f"  [dim]acknowledged: {_esc(ACKNOWLEDGEABLE[code])}: {_esc(reason)}[/dim]"
                )
            if step.note:
                out.print(Markdown(step.note), style="dim")


def _print_links(out: Console, links: Sequence[Link]) -> None:
    """Links as their title and address, in full: a terminal hyperlink would hide where a
    link goes."""
    for link in links:
        out.print(f"  [dim]link[/dim] {_esc(link.title)}: {_esc(link.url)}", highlight=False)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --- sop run: the terminal side of a run ------------------------------------------------------


CONTINUED = "↪ "  # starts the rest of a command line too long for the terminal


def wrap_command(command: str, width: int) -> str:
    """`command` with every line wider than `width` cut into pieces that fit, each piece after
    the first starting with CONTINUED: nothing is cut off, and at any width a wrapped line
    never reads as a line of its own (the terminal's own wrapping, and rich's, show none)."""
    from rich.cells import cell_len, chop_cells

    width = max(width, 2 * cell_len(CONTINUED))
    lines: list[str] = []
    for line in command.expandtabs(4).split("\n"):
        if cell_len(line) <= width:
            lines.append(line)
            continue
        first = chop_cells(line, width)[0]
        rest = chop_cells(line[len(first) :], width - cell_len(CONTINUED))
        lines += [first, *(CONTINUED + piece for piece in rest)]
    return "\n".join(lines)


def shortened(command: str, limit: int = 8000) -> str:
    """A huge rendered command (a large captured value) is shown by its head and its size."""
    if len(command) <= limit:
        return command
    return command[:limit] + f"\n... ({len(command) - limit:,} more characters)"


# each outcome's mark and colour, in step summaries and per-host lines
_MARKS = {
    "success": ("✔ ok", "green"),
    "done": ("✔ done", "green"),
    "unattended": ("○ unattended", "yellow"),  # a manual step a --yes run passed
    "skipped": ("⤼ skipped", "yellow"),
    "partial": ("◐ partial", "yellow"),  # succeeded on some hosts only
    "failure": ("✘ failed", "red"),
    "interrupted": ("✘ interrupted", "red"),
    "aborted": ("✘ aborted", "red"),
    "dry-run": ("· not run (dry run)", "dim"),
}


def _mark(outcome: str) -> tuple[str, str]:
    """An outcome's mark and colour (an unknown outcome shows as itself, uncoloured)."""
    return _MARKS.get(outcome, (outcome, "none"))


def _markdown(text: str) -> Markdown:
    from rich.markdown import Markdown  # with markdown-it: only for steps that have prose

    return Markdown(text)


def _about(lines: list[str], e: ev.RunStarted) -> RenderableType:
    """The header's text: the run's `lines`, then what the SOP says the incident is about (its
    context and impact, Markdown) and where to look (its links: dashboards, other runbooks)."""
    if not (e.context or e.impact or e.links):
        return "\n".join(lines)
    from rich.console import Group

    parts: list[RenderableType] = ["\n".join(lines)]
    for heading, text in (("Context", e.context), ("Impact", e.impact)):
        if text:
            parts += [f"\n[bold]{heading}[/bold]", _markdown(text)]
    if e.links:
        parts.append("\n[bold]Links[/bold]")
        parts += [f"  • {_esc(title)}: {_esc(url)}" for title, url in e.links]
    return Group(*parts)


class TerminalUI:
    """Renders a run's events. Called from several threads (one per host), and from the ticker
    that keeps a running step's progress line current (`sop.cli.progress`); one at a time.
    `ticking=False`: no ticker (tests call `tick` with a fake clock). `debug` (`--debug`):
    every event as the runner emits it (redacted) on stderr too, each on a line of its own:
    the progress line is taken away first, as before anything else is printed."""

    def __init__(
        self,
        out: Console,
        clock: Clock | None = None,
        *,
        ticking: bool = True,
        debug: bool = False,
    ) -> None:
        from sop import events as ev
        from sop.cli.progress import Progress
        from sop.events import SystemClock

        self.out = guarded(out)
        self._handlers: dict[type[ev.Event], Callable[[Any], None]] = {
            ev.RunStarted: self._run_started,
            ev.Preflight: self._preflight,
            ev.SectionStarted: self._section,
            ev.SectionSkipped: self._section_skipped,
            ev.SectionPassed: self._section_passed,
            ev.Decided: self._decided,
            ev.StepShown: self._shown,
            ev.StepStarted: self._started,
            ev.CommandStarted: self._command,
            ev.Output: self._output,
            ev.StepFinished: self._finished,
            ev.Deviation: self._deviation,
            ev.Answered: self._answered,
            ev.HostExcluded: self._excluded,
            ev.RollbackStarted: self._rollback,
            ev.Interrupted: self._interrupted,
            ev.Stopping: self._stopping,
            ev.SessionStarted: self._session_started,
            ev.SessionEnded: self._session_ended,
            ev.RunFinished: self._run_finished,
            ev.RunPaused: self._run_paused,
            ev.Recap: self._recap,
            ev.Warned: self._warned,
            ev.StatusUpdateDue: self._status_due,
            ev.StatusUpdate: self._status_update,
            ev.ApprovalRequested: self._approval_requested,
            ev.ApprovalAnswered: self._approval_answered,
            ev.ApprovalRejected: self._approval_rejected,
        }
        self._partial: dict[tuple[str, str], str] = {}
        self._headed: set[str] = set()
        self._lock = threading.Lock()
        self._at_line_start = True  # no half line of a host's output is on the terminal
        self._progress = Progress(
            lambda text: self.out.file.write(text),
            lambda: self.out.file.flush(),
            clock or SystemClock(),
            live=out.is_terminal and not out.is_dumb_terminal,
            width=lambda: self.out.width,
        )
        self._ticking = ticking
        self._ticker: Ticker | None = None
        self._debug = debug

    def tick(self) -> None:
        """Bring the progress line up to date with the clock and the terminal's width."""
        with self._lock:
            self._progress.show(self._at_line_start, measure=True)

    def close(self) -> None:
        """The run is over (or broke off): no progress line any more."""
        with self._lock:
            self._stop_ticker()
            self._progress.hide(flush=True)

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def emit(self, event: ev.Event) -> None:
        handler = self._handlers.get(type(event))
        with self._lock:
            if handler is not None:
                self._progress.hide()
                self._at_line_start = True  # what handlers print ends a line; `_output` says
                handler(visible_record(event))
            if self._debug:
                self._progress.hide(flush=True)  # on stdout: gone before stderr has the line
                self.out.file.flush()
                echo(f"debug: {event!r}", err=True)
                self._at_line_start = True
            self._progress.update(event)
            if not self._progress.active:
                self._stop_ticker()
            elif self._ticker is None and self._ticking:
                from sop.cli.progress import Ticker

                self._ticker = Ticker(self.tick)
            self._progress.show(self._at_line_start)

    def _run_started(self, e: ev.RunStarted) -> None:
        from rich.panel import Panel

        lines = [
            f"[bold]{_esc(e.sop_title)}[/bold]  ({_esc(e.sop_id)})",
            f"run {e.run_id}   trace {e.trace_id}   operator {_esc(e.operator)}",
        ]
        if e.incident:
            lines.append(f"incident {_esc(e.incident)}")
        lines.append(f"targets: {_esc(', '.join(e.targets))}")
        if e.status_every:
            severity = f" ({e.severity})" if e.severity else ""
            lines.append(f"status updates every {_minutes(e.status_every)} of run time{severity}")
        for note in e.inventory_notes:
            lines.append(f"[yellow]inventory: {_esc(note)}[/yellow]")
        for name, value in e.inputs.items():
            lines.append(f"  {name} = {_esc(value)}")
        title = "DRY RUN: nothing will run" if e.dry_run else "sop run"
        if e.drill:
            title = "FIRE DRILL" + (f" · scenario {e.scenario}" if e.scenario else "")
        self.out.print(
            Panel(
                _about(lines, e),
                title=title,
                expand=False,
                border_style="magenta" if e.drill else "none",
            )
        )

    def _preflight(self, e: ev.Preflight) -> None:
        """One line per host: its address and what connecting found; what an error says beyond
        its first line (how to trust a key) once below; the targets not checked yet."""
        again = f" (re-check {e.round - 1})" if e.round > 1 else ""
        self.out.print(f"\n[bold]Pre-flight{again}[/bold] [dim]{e.duration:.2f}s[/dim]")
        if e.results:
            rows = [[r.host, r.address or "-", r.reach, _detail(r)] for r in e.results]
            header, *lines = table(("host", "address", "result", "detail"), rows).split("\n")
            self.out.out(header, style="dim", highlight=False)
            styles = ["green" if r.reach == "ok" else "red" for r in e.results]
            for style, same in itertools.groupby(zip(styles, lines, strict=True), lambda p: p[0]):
                # one write per run of equally coloured lines, as in `_host_summary`
                self.out.out("\n".join(line for _, line in same), style=style, highlight=False)
            for r in e.results:
                more = r.error.partition("\n")[2].rstrip()
                if more:
                    self.out.out(textwrap.indent(more, "  "), highlight=False)
        for line in e.unchecked:
            self.out.out(f"not checked: {line}", style="yellow", highlight=False)
        failing = sum(r.reach != "ok" for r in e.results)
        if failing:
            self.out.print(f"[red]✘ {failing} of {len(e.results)} not ok[/red]")
        elif e.results:
            self.out.print(f"[green]✔ {len(e.results)} host(s) ok[/green]")

    def _section(self, e: ev.SectionStarted) -> None:
        again = f" (pass {e.round})" if e.round > 1 else ""
        self.out.rule(f"[bold]{_esc(e.title)}{again}[/bold]", align="left")
        if e.note:
            self.out.print(_markdown(e.note), style="yellow")
        if e.condition:
            self.out.print(f"[italic]{_esc(e.condition)}[/italic]")

    def _section_skipped(self, e: ev.SectionSkipped) -> None:
        self.out.print(f"[dim]⤼ {_esc(e.title)}: skipped, {_esc(e.reason)}[/dim]")

    def _section_passed(self, e: ev.SectionPassed) -> None:
        mark = {"again": "↻ again", "done": "✔ done", "limit": "⚠ limit"}.get(e.verdict, e.verdict)
        self.out.print(f"[bold]{mark}[/bold] {_esc(e.title)}: {_esc(e.reason)}")

    def _decided(self, e: ev.Decided) -> None:
        from sop.model import GOES_ON

        goto = ", ".join(e.goto) or GOES_ON
        self.out.print(f"  [dim]→ {_esc(e.choice)}: {_esc(goto)}[/dim]")

    def _shown(self, e: ev.StepShown) -> None:
        if e.step.key not in self._headed or e.prose or e.command:
            self._headed.add(e.step.key)
            self.out.print(f"\n[bold]Step {e.step.number} · {_esc(e.step.title)}[/bold]")
        if e.prose:
            self.out.print(_markdown(e.prose))
        if e.command:
            self._command_text(shortened(e.command).rstrip("\n"))
            if e.stdin is not None:
                self.out.print("  [dim]with stdin:[/dim]")
                self.out.print(
                    shortened(e.stdin).rstrip("\n"), markup=False, highlight=False, emoji=False
                )
            if e.hosts:
                self.out.print(
                    f"  [dim]on[/dim] {_esc(', '.join(e.hosts))}" + self._confirm_note(e)
                )
            if e.ok_exit != (0,):
                codes = " or ".join(str(code) for code in e.ok_exit)
                self.out.print(f"  [dim]exit {codes} counts as success[/dim]")
            if e.interactive:
                from sop.model import INTERACTIVE

                self.out.print(f"  [dim]interactive: {INTERACTIVE}[/dim]")
        for host, reason in e.excluded.items():
            self.out.print(f"  [yellow]{_esc(host)} excluded: {_esc(reason)}[/yellow]")
        _print_links(self.out, e.links)
        if e.note:
            self.out.print(_markdown(e.note), style="yellow")
        if e.plain:
            self.out.print(e.plain, style="yellow", markup=False, highlight=False)

    @staticmethod
    def _confirm_note(e: ev.StepShown) -> str:
        if e.confirm_word:
            return f"  [dim](confirm: typed: you will type[/dim] {_esc(e.confirm_word)}[dim])[/dim]"
        return f"  [dim](confirm: {e.confirm})[/dim]" if e.confirm != "auto" else ""

    def _command_text(self, command: str) -> None:
        """The command as the responder confirms it, long lines wrapped with a continuation
        mark: highlighted as shell on a colour terminal, else the same text without loading a lexer (pygments: 15 ms of `sop run --yes` in CI)."""
        command = wrap_command(command, self.out.width)
        if self.out.color_system is None:
            self.out.print(command, markup=False, highlight=False, emoji=False)
            return
        from rich.syntax import Syntax

        self.out.print(Syntax(command, "bash", theme="ansi_dark", background_color="default"))

    def _started(self, e: ev.StepStarted) -> None:
        attempt = f" (attempt {e.attempt})" if e.attempt > 1 else ""
        self.out.print(f"[dim]running on {len(e.hosts)} host(s){attempt}...[/dim]")

    def _command(self, e: ev.CommandStarted) -> None:
        if e.step.kind == "task":
            self.out.print(f"[dim]{_esc(e.host)} $ {_esc(e.command)}[/dim]")

    def _output(self, e: ev.Output) -> None:
        text, red = e.text, e.stream == "stderr"
        if not e.multi_host:
            self._host_text(text, red)
            self._at_line_start = text.endswith("\n")
            return
        key = (e.host, e.stream)
        buffered = self._partial.get(key, "") + text
        *lines, rest = buffered.split("\n")
        self._partial[key] = rest
        if lines:
            self._host_text("".join(f"[{e.host}] {line}\n" for line in lines), red)

    def _host_text(self, text: str, red: bool) -> None:
        """Hosts' output (made visible already, with `emit`), in one write. Uncoloured, it goes
        straight to the terminal: rich's rendering costs more per line than the line itself
        (64 hosts' output is most of what a run prints: bench/RESULTS.md)."""
        if red and self.out.color_system is not None and not self.out.no_color:
            self.out.out(text, end="", highlight=False, style="red")
            return
        self.out.file.write(text)
        self.out.file.flush()

    def _flush_partial(self) -> None:
        for (host, _), rest in self._partial.items():
            if rest:
                self._host_text(f"[{host}] {rest}\n", False)
        self._partial.clear()

    def _finished(self, e: ev.StepFinished) -> None:
        self._flush_partial()
        if len(e.results) > 1 or any(r.outcome != "success" for r in e.results):
            self._host_summary(e.results)
        reason = f": {_esc(e.reason)}" if e.reason else ""
        took = (
            f" in {e.duration:.2f}s"
            if e.outcome in ("success", "failure", "done") and e.duration
            else ""
        )
        mark, colour = _mark(e.outcome)
        self.out.print(f"[{colour}]{mark}[/{colour}]{took}{reason}")

    def _host_summary(self, results: Sequence[ev.HostFinished]) -> None:
        """One line per host, aligned as plain text and coloured by outcome (a rich Table takes
        a tenth of a second for 64 hosts: a tenth of the whole run). An error's first line goes
        in the table; what it says beyond (how to trust a host key) follows it, once."""
        rows = [
            [
                r.host,
                _mark(r.outcome)[0],
                "" if r.exit_code is None else str(r.exit_code),
                f"{r.duration:.2f}s",
                " ".join(r.error.partition("\n")[0].split()),
            ]
            for r in results
        ]
        header, *lines = table(("host", "result", "exit", "time", "error"), rows).split("\n")
        self.out.out(header, style="dim", highlight=False)
        styles = [_mark(r.outcome)[1] for r in results]
        for style, same in itertools.groupby(zip(styles, lines, strict=True), lambda p: p[0]):
            # one write per run of equally coloured lines: 64 hosts that all succeeded are one
            self.out.out("\n".join(line for _, line in same), style=style, highlight=False)
        for r in results:
            more = r.error.partition("\n")[2].rstrip()
            if more:
                self.out.out(textwrap.indent(more, "  "), highlight=False)

    def _deviation(self, e: ev.Deviation) -> None:
        if e.step.key not in self._headed:  # skipped unseen: --skip, --start-at
            self._headed.add(e.step.key)
            self.out.print(f"\n[bold]Step {e.step.number} · {_esc(e.step.title)}[/bold]")
        if e.kind == "edit":
            self.out.print(f"[yellow]deviation: command edited ({_esc(e.reason)})[/yellow]")

    def _status_due(self, e: ev.StatusUpdateDue) -> None:
        self._flush_partial()
        when = " sop asks for it when this step is done." if e.running else ""
        self.out.print(
            f"[bold yellow]⏰ Status update due[/bold yellow] (every {_minutes(e.every)} of "
            f"run time): tell the team where things stand.{when}"
        )

    def _status_update(self, e: ev.StatusUpdate) -> None:
        if e.given:
            self.out.print(f"[dim]status update recorded at {_clock(e.at)}[/dim]")
        else:
            self.out.print(
                f"[yellow]status update due at {_clock(e.due)}: none given ({e.how})[/yellow]"
            )

    def _excluded(self, e: ev.HostExcluded) -> None:
        self.out.print(
            f"[yellow]{_esc(e.host)} excluded for the rest of the run: {_esc(e.reason)}[/yellow]"
        )

    def _answered(self, e: ev.Answered) -> None:
        self.out.print(f"  [dim]{e.name} = {_esc(e.value)}[/dim]")

    def _rollback(self, e: ev.RollbackStarted) -> None:
        again = " (resumed: the steps done before stay done)" if e.resumed else ""
        self.out.rule(f"[bold red]Rollback{again}[/bold red]", align="left")

    def _interrupted(self, e: ev.Interrupted) -> None:
        self._flush_partial()
        self.out.print("[red]interrupted (Ctrl-C)[/red]")

    def _stopping(self, e: ev.Stopping) -> None:
        from sop import events as ev

        self._flush_partial()
        hosts = _esc(", ".join(e.hosts))
        if e.escalation == ev.Escalation.TERM:
            self.out.print(
                f"[red]Ctrl-C: sent TERM to the commands still running on {hosts}.[/red] "
                f"KILL in {e.grace:g}s, or at the next Ctrl-C."
            )
        elif e.escalation == ev.Escalation.KILL:
            self.out.print(
                f"[red]sent KILL to the commands still running on {hosts}.[/red] "
                f"Ctrl-C again to stop waiting ({hosts} then in doubt)."
            )
        else:
            self.out.print(
                f"[bold red]stopped waiting for {hosts}: in doubt[/bold red] (the command may "
                "still be running there). The run is paused: resume decides this step."
            )

    def _session_started(self, e: ev.SessionStarted) -> None:
        recorded = f" Its output is recorded (masked) in {e.recording}." if e.recording else ""
        self.out.print(
            f"[bold]Your terminal is the command's on {_esc(e.host)} until it exits.[/bold] "
            f"{_esc(e.detach)} detaches (ends it); Ctrl-C goes to the command.{_esc(recorded)}"
        )

    def _session_ended(self, e: ev.SessionEnded) -> None:
        how = {"exit": "the command exited", "ctrl-c": "Ctrl-C", "detached": "detached"}
        self.out.print(f"\n[dim]terminal back to sop ({how.get(e.ended, e.ended)})[/dim]")

    def _run_finished(self, e: ev.RunFinished) -> None:
        colour = "green" if e.outcome == "success" else "red"
        counts: dict[str, int] = {}
        for outcome in e.steps.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        steps = f" ({summary})" if summary else ""  # none: stopped before the first step
        self.out.print(
            f"\n[bold {colour}]Run {e.outcome}[/bold {colour}] after {e.duration:.1f}s{steps}"
        )
        if e.reason:
            self.out.print(f"[{colour}]{_esc(e.reason)}[/{colour}]")

    def _approval_requested(self, e: ev.ApprovalRequested) -> None:
        who = (
            f"someone else's task: the {e.task}'s go-ahead"
            if e.task
            else f"approval by the {e.role}"
            if e.role
            else "approval by someone other than you"
        )
        self.out.print(
            f"[bold yellow]⏸ Needs {_esc(who)}[/bold yellow] "
            f"[dim](what they approve: {e.binding[:16]})[/dim]"
        )

    def _approval_answered(self, e: ev.ApprovalAnswered) -> None:
        by = _esc(e.approver) + (f" as {_esc(e.role)}" if e.role else "")
        if e.simulated:
            self.out.print(f"[green]✔ approved[/green] [dim](simulated: {by})[/dim]")
        elif e.approved:
            self.out.print(f"[green]✔ approved by {by}[/green] [dim]{_when_at(e.given)}[/dim]")
        else:
            self.out.print(f"[red]✘ refused by {by}[/red]: {_esc(e.reason)}")

    def _approval_rejected(self, e: ev.ApprovalRejected) -> None:
        self.out.print(f"[yellow]⚠ answer not accepted ({_esc(e.file)}): {_esc(e.reason)}[/yellow]")

    def _run_paused(self, e: ev.RunPaused) -> None:
        self._flush_partial()
        self.out.print(
            f"\n[bold yellow]Run paused[/bold yellow] after {e.duration:.1f}s: {_esc(e.reason)}. "
            "Nothing is finished: done steps and answers are kept."
        )

    def _warned(self, e: ev.Warned) -> None:
        from sop.redact import shared

        self._flush_partial()
        echo(f"warning: {shared()(e.message)}", err=True)

    def _recap(self, e: ev.Recap) -> None:
        """What the run did before this resume, from its audit log."""
        out = self.out
        out.rule("[bold]Recap: so far[/bold]", align="left")
        out.print(f"started {_when(e.started)} by {_esc(e.operator)}")
        for step in e.steps:
            mark, colour = _mark(step.outcome)
            why = f": {_esc(step.reason)}" if step.reason else ""
            out.print(
                f"  [{colour}]{mark}[/{colour}]  step {step.number} · {_esc(step.title)}"
                f"  [dim]{_esc(step.operator)}, {_when(step.time)}[/dim]{why}"
            )
        if not e.steps:
            out.print("  no step has finished yet")
        for title, kinds in _RECAP_NOTES:
            notes = [n for n in e.notes if n.kind in kinds]
            if notes:
                out.print(f"[bold]{title}[/bold]")
            for n in notes:
                where = f"step {n.number} · " if n.number else ""
                style = "bold red" if n.kind == "in-doubt" else "none"
                out.print(
                    f"  [{style}]{where}{_esc(n.text)}[/{style}]"
                    f"  [dim]{_esc(n.operator)}, {_when(n.time)}[/dim]"
                )
        out.rule(style="dim")


# the recap's notes, grouped: (heading, the RecapNote kinds under it)
_RECAP_NOTES = (
    ("Deviations", ("deviation",)),
    ("Answers", ("answer",)),
    ("Approvals", ("approval",)),
    ("Excluded hosts", ("excluded",)),
    ("Rolling back", ("rollback",)),
    ("Pauses and handovers", ("paused", "handover")),
    ("In doubt (decided next)", ("in-doubt",)),
)


def _minutes(seconds: float) -> str:
    """`30m`, `1.5m`, `45s`: how often status updates come due."""
    return f"{seconds / 60:g}m" if seconds >= 60 else f"{seconds:g}s"


def _clock(at: float) -> str:
    """The local time of day, as a responder reads it on their screen."""
    import time

    return time.strftime("%H:%M:%S", time.localtime(at))


def _when(time: str) -> str:
    """An audit record's time as a recap shows it: `2026-11-28 14:06:12 UTC`."""
    return f"{time[:10]} {time[11:19]} UTC" if len(time) >= 19 else time


def _when_at(at: float) -> str:
    import datetime as dt

    return f"{dt.datetime.fromtimestamp(at, tz=dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _detail(result: ev.HostReached) -> str:
    """An error's first line without the host's name in front (its row names it)."""
    line = " ".join(result.error.partition("\n")[0].split())
    if line.startswith(f"{result.host}: "):
        return line[len(result.host) + 2 :]
    own = f"{result.host} ("
    if line.startswith(own) and not line.startswith(f"{own}jump host") and "): " in line:
        return line.partition("): ")[2]
    return line


def approval_request(out: Console, request: Request) -> None:
    """What a step that waits for an approval will do, exactly as it will run: the second
    person approves this (its binding is computed from what is printed here)."""
    who = f"the {request.role}" if request.role else "someone other than its operator"
    task = f" (the {request.task}'s task)" if request.task else ""
    out.print(
        f"[bold]Run {request.run_id}[/bold] · SOP {_esc(request.sop_id)} · operator "
        f"{_esc(request.operator)} · waiting since {_when(request.time)}"
    )
    out.print(
        f"[bold]Step {_esc(request.number)} · {_esc(request.title)}[/bold]{_esc(task)} needs "
        f"{_esc(who)}"
    )
    lines = []  # plain text: exactly what is approved
    if request.command:
        lines += ["command:", request.command.rstrip("\n")]
    if request.stdin is not None:
        lines += ["with stdin:", request.stdin.rstrip("\n")]
    if request.hosts:
        lines.append(f"on: {', '.join(request.hosts)}")
    lines += [f"  {name} = {value}" for name, value in request.inputs.items()]
    lines.append(f"binding {request.bound()}")
    for line in lines:
        out.out(visible(line), highlight=False)


def audit_footer(out: Console, run_dir: Path, head: str, outcome: str) -> None:
    out.print(f"[dim]audit log: {run_dir}/audit.jsonl[/dim]")
    out.print(
        f"head [bold]{head}[/bold]  (paste it into the incident ticket: "
        f"`sop audit verify {run_dir.name} --anchor {head}` proves the log since)"
    )
    if outcome == "paused":  # a finished run (aborted too) cannot be resumed
        out.print(f"resume with: [bold]sop resume {run_dir.name}[/bold]")


def drill_summary(out: Console, report: DrillReport, folder: Path) -> None:
    target = report.target_minutes
    verdict = (
        ""
        if target is None
        else (" within" if report.within_target else " OVER") + f" the {target} min target"
    )
    out.print(
        f"\n[bold magenta]Drill {report.outcome}[/bold magenta] in {report.total_seconds:.1f}s{verdict}; "
        f"{len(report.failures)} failure(s), {len(report.deviations)} deviation(s)"
    )
    for h in report.hesitations:
        out.print(f"  hesitated {h.seconds:.1f}s at step {h.step} {_esc(h.title)}")
    out.print(f"report: {folder}/report.md")
