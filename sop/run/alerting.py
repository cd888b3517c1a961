"""`sop run --alert PAYLOAD`: which SOP answers the alert, and which alert of the payload fills
its inputs (`run/inputs.py: alert_inputs`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sop.errors import SopFileError
from sop.format.alerts import Alert, AlertError, alert_matches, read_alert_payload
from sop.format.discovery import find_sop
from sop.format.loader import load_sop
from sop.format.sopfiles import search_dirs, sop_files
from sop.model import Sop


def answers(patterns: Sequence[str], alert: Alert) -> bool:
    return any(alert_matches(alert.name, p) for p in patterns)


def choose_alert(sop_ref: str | None, payload: Path) -> tuple[str, Alert]:
    """The SOP to run (`sop_ref`, else the one SOP of the library that answers the payload's
    firing alerts) and the alert whose values fill its inputs: the first firing alert it
    answers, else (an SOP given by name) the first firing alert. Stops when no alert fires, or
    when the firing alerts lead to no SOP or to several."""
    alerts = read_alert_payload(payload)
    firing = [a for a in alerts if a.firing]
    if not firing:
        names = ", ".join(sorted({a.name for a in alerts}))
        raise AlertError(f"--alert {payload}: no alert fires (resolved: {names})")
    if sop_ref is not None:
        patterns = load_sop(find_sop(sop_ref)).alerts
        return sop_ref, next((a for a in firing if answers(patterns, a)), firing[0])
    library = _library()
    led: dict[str, list[str]] = {}  # alert name -> ids of the SOPs that answer it
    paths: dict[str, Path] = {}
    for alert in firing:
        for sop in library:
            if answers(sop.alerts, alert):
                led.setdefault(alert.name, []).append(sop.id)
                paths[sop.id] = sop.path
    chosen = sorted({sop_id for ids in led.values() for sop_id in ids})
    if not chosen:
        names = ", ".join(dict.fromkeys(a.name for a in firing))
        where = ", ".join(str(d) for d in search_dirs())
        raise AlertError(
            f"no SOP in {where} answers the firing alert(s) {names}; an SOP lists the alerts it "
            "answers under `alerts:` (or give the SOP: sop run SOP --alert FILE)"
        )
    if len(chosen) > 1:
        which = "; ".join(f"{name} -> {', '.join(sorted(ids))}" for name, ids in led.items())
        raise AlertError(
            f"the firing alerts lead to {len(chosen)} SOPs ({which}); give the one to run: "
            f"sop run SOP --alert {payload}"
        )
    alert = next(a for a in firing if a.name in led)
    return str(paths[chosen[0]]), alert


def _library() -> list[Sop]:
    """Every SOP of the search folders that loads, read from its file (never from the `sop
    list` cache, which only feeds a listing: threat model T15)."""
    found = []
    for path in sop_files(search_dirs()):
        try:
            found.append(load_sop(path))
        except SopFileError:
            continue
    return found
