"""Attacks on sop itself; see docs/threat-model.md."""

from __future__ import annotations
