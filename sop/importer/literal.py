"""Source text that must read as itself in an SOP, whose text fields are Jinja2 templates:
`{{`, `{%` and `{#` of a Go template or an alert's `{{ $labels.instance }}` are wrapped in
`{% raw %}` ... `{% endraw %}`, line by line, so they are shown and run as written."""

from __future__ import annotations

import re

_OPENER = re.compile(r"\{[{%#]")
_CLOSER = re.compile(r"[}%#]\}")
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")


def literal(text: str) -> str:
    """`text` with every Jinja2 delimiter made literal."""
    if _OPENER.search(text) is None:
        return text
    return "\n".join(_literal_line(line) for line in text.split("\n"))


def _literal_line(line: str) -> str:
    opener = _OPENER.search(line)
    if opener is None:
        return line
    if _ENDRAW.search(line):  # cannot stand inside a raw block: each brace on its own
        return re.sub(r"[{}]", lambda m: "{{ '" + m.group(0) + "' }}", line)
    closers = list(_CLOSER.finditer(line, opener.end()))
    end = closers[-1].end() if closers else len(line)
    if _OPENER.search(line, end):  # an opener after the last closer: raw to the line's end
        end = len(line)
    return (
        f"{line[: opener.start()]}{{% raw %}}{line[opener.start() : end]}{{% endraw %}}{line[end:]}"
    )
