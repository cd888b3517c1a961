"""`sop import`: a Markdown runbook turned into an SOP (sections into fields and headings, prose
into prose steps, shell and console blocks into run steps with their placeholders as inputs).

Reads text only; nothing of the runbook is ever run. Uses the core (`text`) and markdown-it-py
(in `markdown.py`)."""

from __future__ import annotations

from sop.importer.build import Imported, ImportNote, id_from_name, import_file, import_markdown

__all__ = ["ImportNote", "Imported", "id_from_name", "import_file", "import_markdown"]
