"""A Markdown runbook -> the document of an SOP.

Sections map to the SOP's fields by their heading: Meaning, Overview and the like to `context`,
Impact to `impact`, Links and References to `links`; every other section becomes a heading of
`steps`. Prose becomes prose steps, each fenced shell or console block run steps (its
placeholders inputs), and what the importer cannot decide for the author (a TODO, a command that
opens a session or an editor, a console block without prompts) becomes a step or a note the
author sees, never a silently wrong step.
"""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from urllib.parse import urljoin

from sop.errors import Location
from sop.files import MIB, FileReadError, read_regular_file
from sop.importer import shell
from sop.importer.literal import literal
from sop.importer.markdown import Block, Kind, read_outline
from sop.importer.yamltext import Commented, Mapping, Sequence, Value, dump
from sop.records import dataclass

CONTEXT = frozenset(
    [
        "meaning",
        "overview",
        "description",
        "summary",
        "background",
        "about",
        "details",
        "symptoms",
        "problem",
        "alert",
        "what",
        "it",
        "means",
        "explanation",
        "context",
    ]
)
IMPACT = frozenset({"impact", "user impact", "business impact", "customer impact", "severity"})
LINKS = frozenset(
    {
        "links",
        "references",
        "see also",
        "resources",
        "related",
        "further reading",
        "related links",
        "useful links",
        "documentation",
        "dashboards",
        "reference",
    }
)
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<(https?://[^>\s]+)>")
_BARE_URL = re.compile(r"(?<![(<\[])\bhttps?://[^\s)>\]]+")
_URL_OK = re.compile(r"(https?://|/|\./|\.\./|#)\S*")
_ALERT_NAME = re.compile(r"[A-Za-z][a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+")


@dataclass(frozen=True)
class ImportNote:
    """Something the author must look at: a TODO, a step sop cannot run for them..."""

    line: int  # in the Markdown source
    message: str


@dataclass(frozen=True)
class Imported:
    sop_id: str
    text: str  # the SOP's YAML
    notes: tuple[ImportNote, ...]


def id_from_name(name: str) -> str:
    """A file name as an SOP id: `KubePodCrashLooping.md` -> `kube-pod-crash-looping`."""
    stem = re.sub(r"\.(md|markdown)$", "", name, flags=re.IGNORECASE)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", stem)
    return re.sub(r"[^a-z0-9_]+", "-", words.lower()).strip("-_") or "imported"


MAX_SOURCE_BYTES = MIB


def import_file(path: Path, *, origin: str | None = None, sop_id: str | None = None) -> Imported:
    """The SOP of the Markdown file at `path` (a regular file of at most 1 MiB, UTF-8); its
    id defaults to one made from the file's name, its origin to the path."""
    data = read_regular_file(path, MAX_SOURCE_BYTES, what="Markdown runbooks")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileReadError(Location(str(path)), f"not valid UTF-8: {exc.reason}") from None
    return import_markdown(
        source, origin=origin or str(path), sop_id=sop_id or id_from_name(path.name)
    )


def import_markdown(source: str, *, origin: str, sop_id: str) -> Imported:
    """The SOP of the Markdown runbook `source`; `origin` (its URL or path) is named in the
    SOP for attribution, and resolves its relative links."""
    builder = _Builder(origin)
    text = builder.clean(source, 1)
    builder.read(text)
    document = builder.document(sop_id)
    header = (
        f"Imported by `sop import` from {origin}",
        "Review every step before you trust it: the commands are the source's, their inputs",
        "are templates now, and lines starting `sop import:` need a decision.",
    )
    return Imported(sop_id, dump(document, header), tuple(builder.notes))


@dataclass
class _Section:
    role: str  # context, impact, links, steps
    name: str
    level: int


@dataclass
class _Builder:
    origin: str
    notes: list[ImportNote] = field(default_factory=list)
    title: str = ""
    context: list[str] = field(default_factory=list)
    impact: list[str] = field(default_factory=list)
    links: list[Mapping] = field(default_factory=list)
    steps: Sequence = field(default_factory=list)
    inputs: dict[str, Mapping] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # shell variable -> input/capture
    prose: list[str] = field(default_factory=list)
    prose_line: int = 0
    session_line: int = 0  # where a session the next commands are typed in was opened

    def note(self, line: int, message: str) -> str:
        self.notes.append(ImportNote(line, message))
        return f"sop import: {message} (source line {line})"

    def clean(self, text: str, line: int) -> str:
        """Line ends as `\\n`; a character that could hide text (a control, a bidi override)
        shown as its marker, since sop refuses SOP files that hold one."""
        from sop.text import may_be_unsafe, visible

        text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
        if may_be_unsafe(text) and visible(text) != text:
            self.note(line, "characters that could hide text are shown as markers, e.g. <U+200B>")
            text = visible(text)
        return text

    # -- sections ----------------------------------------------------------------------------

    def read(self, text: str) -> None:
        outline = read_outline(text)
        blocks = list(outline.blocks)
        first_heading = next((b for b in blocks if b.kind is Kind.HEADING), None)
        if first_heading is not None and first_heading.level == 1:
            self.title = _plain(first_heading.text)
            blocks.remove(first_heading)
        self.title = self.title or outline.front_title
        section = _Section("context", "", 0)
        if not any(b.kind is Kind.HEADING and _role(_plain(b.text)) is None for b in blocks):
            section.role = "steps"  # no section of steps: what comes before the others is one
        for block in blocks:
            if block.kind is Kind.HEADING:
                section = self.heading(block, section)
            elif section.role == "steps":
                self.step_block(block)
            elif section.role == "links":
                self.link_block(block)
            else:
                self.context_block(block, section)
        self.flush_prose()

    def heading(self, block: Block, section: _Section) -> _Section:
        self.session_line = 0  # a new section: its commands are the responder's own again
        name = _plain(block.text)
        role = _role(name)
        if role is None and section.level and block.level > section.level:
            if section.role == "steps":  # a sub-section: a heading of its own
                self.flush_prose()
                self.steps.append({"heading": literal(f"{section.name}: {name}")})
            elif section.role in ("context", "impact"):
                self.part(section.role).append(f"{'#' * min(block.level + 1, 6)} {block.text}\n")
            return section
        self.flush_prose()
        section = _Section(role or "steps", name, block.level)
        if section.role == "steps":
            self.steps.append({"heading": literal(name)})
        elif section.role == "context":
            self.part(section.role).append(f"### {block.text}\n")
        return section

    def part(self, role: str) -> list[str]:
        return self.impact if role == "impact" else self.context

    def context_block(self, block: Block, section: _Section) -> None:
        self.part(section.role).append(_as_markdown(block))

    def link_block(self, block: Block) -> None:
        if block.kind is not Kind.PROSE:
            return
        for title, url in _links(block.text):
            self.add_link(title, url, block.line)

    def add_link(self, title: str, url: str, line: int) -> None:
        if not re.match(r"[a-z][a-z0-9+.-]*:|/|#", url, re.IGNORECASE):
            url = urljoin(self.origin, url) if _URL_OK.match(self.origin) else f"./{url}"
        if not _URL_OK.fullmatch(url):
            self.note(line, f"link {url} left out: `links` take http(s) URLs and relative paths")
            return
        entry: Mapping = {"title": literal(_plain(title) or url), "url": url}
        if entry not in self.links:
            self.links.append(entry)

    # -- steps -------------------------------------------------------------------------------

    def step_block(self, block: Block) -> None:
        if block.kind is Kind.PROSE and len(parts := _split_todo(block)) > 1:
            for part in parts:
                self.step_block(part)
        elif block.kind is Kind.PROSE and shell.is_todo(block.text):
            self.todo(block)
        elif block.kind is Kind.CODE and block.language in shell.SHELL_LANGUAGES:
            if shell.is_todo(block.text):
                self.todo(block)
            else:
                self.commands(block)
        else:
            if not self.prose:
                self.prose_line = block.line
            self.prose.append(_as_markdown(block))

    def flush_prose(self) -> None:
        if self.prose:
            self.steps.append({"prose": literal("\n".join(self.prose))})
            self.prose = []

    def todo(self, block: Block) -> None:
        self.flush_prose()
        comment = self.note(block.line, "the source says TODO here: write this step")
        text = block.text.strip().lstrip("# ")
        if not text.upper().startswith(("TODO", "TBD", "FIXME")):
            text = "TODO: " + text
        self.steps.append(Commented((comment,), {"prose": literal(text + "\n")}))

    def commands(self, block: Block) -> None:
        self.flush_prose()
        console = shell.is_console(block.language, block.text)
        commands = shell.split_console(block.text) if console else shell.split_script(block.text)
        if console and not commands:
            comment = self.note(
                block.line,
                "a console block without `$ ` prompts: which lines are commands? Kept as text",
            )
            self.steps.append(Commented((comment,), {"prose": literal(_as_markdown(block))}))
            return
        if not any(_code(c.text).strip() for c in commands):  # comments only
            self.prose_line = block.line
            self.prose.append(_as_markdown(block))
            return
        if self.session_line:
            self.session(block, commands, "session")
            return
        for n, command in enumerate(commands):
            kind = shell.interaction(_code(command.text))
            if kind is not None:
                self.run_commands(block, commands[:n], console)
                self.session(block, commands[n:], kind)
                return
        self.run_commands(block, commands, console)

    def run_commands(self, block: Block, commands: list[shell.Command], console: bool) -> None:
        """A console block's commands each as a step; a shell block's as one step (a `run`
        for one command, a `script` for more), but lone assignments as inputs or captures."""
        if not commands:
            return
        if console or all(shell.as_assignment(_code(c.text)) for c in commands if _code(c.text)):
            for command in commands:
                if _code(command.text).strip():
                    self.command(block, command, local=set())
            return
        self.script(block, "\n".join(c.text for c in commands))

    def command(self, block: Block, command: shell.Command, local: set[str]) -> None:
        """One console command (or a lone assignment of a shell block) as a step or an input."""
        title, code = _title_and_code(command.text)
        assignment = shell.as_assignment(code)
        if assignment is not None:
            self.assign(block, assignment)
            return
        templated = self.template(code, local)
        step: Mapping = {"run": templated.text}
        if title:
            step = {"title": literal(title), **step}
        if command.output:
            step["drill"] = {"stdout": command.output}
        self.steps.append(step)

    def assign(self, block: Block, assignment: shell.Assignment) -> None:
        name = shell.input_name(assignment.name)
        if assignment.command:
            templated = self.template(assignment.command, set())
            self.steps.append(
                {"title": f"Find {assignment.name}", "run": templated.text, "capture": name}
            )
        elif (help_text := shell.placeholder_help(assignment.value)) is not None:
            self.declare(name, {"help": literal(help_text), "required": True})
        else:
            self.declare(
                name, {"help": f"${assignment.name} of the source", "default": assignment.value}
            )
        self.variables[assignment.name] = name

    def script(self, block: Block, text: str) -> None:
        local = shell.assigned_names(text)
        commands = [c for c in shell.split_script(text) if _code(c.text)]
        if len(commands) == 1:
            self.command(block, commands[0], local)
            return
        templated = self.template(text.strip("\n") + "\n", local)
        self.steps.append({"script": templated.text, "strict": False})

    def session(self, block: Block, commands: list[shell.Command], kind: str) -> None:
        """A command that opens an editor or a session (a shell on a node, in a container),
        and what is typed in it, until `exit` or the next heading: for the responder to do,
        shown with the inputs filled in. sop runs none of it."""
        lines = []
        for command in commands:
            templated = self.template(command.text, set(), for_text=True)
            lines.append(f"$ {templated.text}" if len(commands) > 1 else templated.text)
        fence = _fence("\n".join(lines) + "\n", "console" if len(commands) > 1 else "shell")
        first = _code(commands[0].text).strip().splitlines()[0]
        if self.session_line:
            comment = self.note(
                block.line,
                f"commands for the session opened at source line {self.session_line}: "
                "left for the responder to type there",
            )
            prose = f"In the session opened before, run:\n\n{fence}"
        elif kind == "editor":
            comment = self.note(block.line, f"`{first}` opens an editor: left for the responder")
            prose = f"In a terminal, run (it opens an editor):\n\n{fence}"
        else:
            comment = self.note(
                block.line,
                f"`{first}` opens a session: it and the commands typed in it are left for the "
                "responder",
            )
            prose = f"In a terminal, run (it opens a session; type the rest in it):\n\n{fence}"
            self.session_line = block.line
        if any(shell.is_exit(_code(c.text)) for c in commands):
            self.session_line = 0
        self.steps.append(Commented((comment,), {"prose": prose}))

    def template(self, text: str, local: set[str], for_text: bool = False) -> shell.Templated:
        templated = shell.template_command(text, self.variables, local, for_text=for_text)
        for name, word in templated.inputs.items():
            if name not in self.variables.values():
                help_text = word[1:-1] if word.startswith("<") else f"{word} of the source"
                self.declare(name, {"help": literal(help_text), "required": True})
        return templated

    def declare(self, name: str, spec: Mapping) -> None:
        self.inputs.setdefault(name, spec)

    # -- the document ------------------------------------------------------------------------

    def document(self, sop_id: str) -> Mapping:
        self.flush_prose()
        title = self.title or sop_id
        document: Mapping = {"sop": 1, "id": sop_id, "title": literal(title)}
        document["tags"] = ["imported"]
        if _ALERT_NAME.fullmatch(title):
            document["alerts"] = [title]
        if self.inputs:
            document["inputs"] = dict(self.inputs.items())
        if context := "\n".join(self.context).strip():
            document["context"] = literal(context + "\n")
        if impact := "\n".join(self.impact).strip():
            document["impact"] = literal(impact + "\n")
        links: Sequence = list(self.links)
        if _URL_OK.match(self.origin):
            links.insert(0, {"title": "Source runbook", "url": self.origin})
        if links:
            document["links"] = links
        steps = _without_empty_headings([s for s in self.steps if s != {}])
        if not any(_is_step(s) for s in steps):
            comment = self.note(1, "the source has no procedure: write the steps")
            steps.append(Commented((comment,), {"prose": "TODO: write the steps of this SOP.\n"}))
        document["steps"] = steps
        return document


_TODO_PARAGRAPH = re.compile(
    r"(?:^|\n\n)((?:TODO|TBD|FIXME)\b[^\n]*(?:\n(?!\n)[^\n]*)*)(?=\n\n|\n?\Z)"
)


def _split_todo(block: Block) -> list[Block]:
    """Prose with a paragraph that is a TODO note: the prose before it, the note, the rest."""
    match = _TODO_PARAGRAPH.search(block.text)
    if match is None or match.group(1).strip() == block.text.strip():
        return [block]
    before, note, after = block.text[: match.start(1)], match.group(1), block.text[match.end(1) :]
    line = block.line + before.count("\n")
    parts = [
        Block(Kind.PROSE, before.strip("\n") + "\n", block.line),
        Block(Kind.PROSE, note + "\n", line),
        Block(Kind.PROSE, after.strip("\n") + "\n", line + note.count("\n") + 1),
    ]
    return [p for p in parts if p.text.strip()]


def _without_empty_headings(items: Sequence) -> Sequence:
    """A heading with no step before the next heading (a section whose sub-sections carry its
    name: "Mitigation: Restart") or the end would be shown nowhere: it goes."""
    kept: Sequence = []
    for i, item in enumerate(items):
        following = items[i + 1] if i + 1 < len(items) else None
        if _is_step(item) or (following is not None and _is_step(following)):
            kept.append(item)
    return kept


def _is_step(item: Value) -> bool:
    value = item.value if isinstance(item, Commented) else item
    return isinstance(value, dict) and "heading" not in value


def _role(name: str) -> str | None:
    key = re.sub(r"[^a-z ]+", "", name.lower()).strip()
    if key in CONTEXT:
        return "context"
    if key in IMPACT:
        return "impact"
    if key in LINKS:
        return "links"
    return None


def _plain(text: str) -> str:
    """Heading or link text without Markdown's emphasis and code marks."""
    return re.sub(r"[*_`]+", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)).strip()


def _links(text: str) -> list[tuple[str, str]]:
    found = [(m.group(1) or "", m.group(2) or m.group(3)) for m in _LINK.finditer(text)]
    rest = _LINK.sub("", text)
    found += [(url, url) for url in _BARE_URL.findall(rest)]
    return found


def _fence(text: str, language: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text}{ticks}\n"


def _as_markdown(block: Block) -> str:
    if block.kind is Kind.CODE:
        return _fence(block.text, block.language)
    if block.kind is Kind.HEADING:
        return f"{'#' * block.level} {block.text}\n"
    return block.text


def _code(text: str) -> str:
    """A command's text without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _title_and_code(text: str) -> tuple[str, str]:
    """Comment lines before a command make its title."""
    lines = text.splitlines()
    comments = []
    while lines and (lines[0].lstrip().startswith("#") or not lines[0].strip()):
        comment = lines.pop(0).strip().lstrip("#").strip()
        if comment:
            comments.append(comment)
    return " ".join(comments), "\n".join(line.rstrip() for line in lines).strip("\n")
