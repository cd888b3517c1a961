"""Alert webhook payloads (Alertmanager v4, PagerDuty v3) read into plain `Alert` records, and how
an alert name matches the names an SOP answers (`alerts:`: case ignored, globs allowed).

A payload comes from outside: its values are hostile. They only ever fill inputs, which are
validated like any input; they are never templates."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sop.errors import SopError
from sop.files import MIB, FileReadError, read_regular_file

# where an input may come from in an alert (`from_alert:`); `name` and `status` stand alone
ALERT_MAPS = ("labels", "annotations", "commonLabels", "commonAnnotations", "groupLabels")
FROM_ALERT = rf"(?:(?:{'|'.join(ALERT_MAPS)})\.[A-Za-z_][A-Za-z0-9_.:-]*|name|status)"
MAX_PAYLOAD_BYTES = MIB


class AlertError(SopError):
    """An alert payload that cannot be read, or that names no alert sop can use."""


class Alert(NamedTuple):
    """One alert of a payload: its name, whether it fires, and its values by `from_alert` path
    (`labels.instance`, `annotations.summary`, `commonLabels.job`, `name`, `status`)."""

    name: str
    firing: bool
    fields: Mapping[str, str]

    def value(self, name: str) -> str | None:
        """The label, else the annotation, called `name`."""
        return self.fields.get(f"labels.{name}", self.fields.get(f"annotations.{name}"))


def alert_matches(name: str, pattern: str) -> bool:
    """Does alert `name` match an SOP's `alerts:` entry? Case is ignored; `*`, `?` and `[...]`
    are globs (`KubePod*`)."""
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def read_alert_payload(path: Path) -> tuple[Alert, ...]:
    """The alerts of an Alertmanager (version 4) or PagerDuty (v3 incident event) webhook
    payload in a JSON file, firing ones first, in the payload's order."""
    import json

    shown = str(path)
    try:
        data = read_regular_file(path, MAX_PAYLOAD_BYTES, shown, "alert payloads")
        payload = json.loads(data.decode("utf-8"))
    except FileReadError as exc:
        raise AlertError(f"--alert {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlertError(f"--alert {shown}: not a JSON document: {exc}") from None
    if isinstance(payload, dict) and isinstance(payload.get("alerts"), list):
        alerts = _alertmanager(payload, shown)
    elif isinstance(payload, dict) and isinstance(payload.get("event"), dict):
        alerts = _pagerduty(payload["event"], shown)
    else:
        raise AlertError(
            f"--alert {shown}: neither an Alertmanager webhook payload (`alerts`) nor a "
            "PagerDuty v3 webhook (`event`)"
        )
    if not alerts:
        raise AlertError(f"--alert {shown}: the payload holds no alert")
    return tuple(sorted(alerts, key=lambda a: not a.firing))


def _alertmanager(payload: Mapping[str, Any], shown: str) -> list[Alert]:
    version = payload.get("version")
    if version not in (None, "4"):
        raise AlertError(f"--alert {shown}: Alertmanager payload version {version!r}; sop reads 4")
    shared = {
        f"{key}.{name}": value
        for key in ("commonLabels", "commonAnnotations", "groupLabels")
        for name, value in _strings(payload.get(key)).items()
    }
    alerts = []
    for item in payload["alerts"]:
        if not isinstance(item, dict):
            raise AlertError(f"--alert {shown}: an entry of `alerts` is not a mapping")
        labels = _strings(item.get("labels"))
        fields = {
            **shared,
            **{f"labels.{k}": v for k, v in labels.items()},
            **{f"annotations.{k}": v for k, v in _strings(item.get("annotations")).items()},
        }
        status = str(item.get("status", payload.get("status", "firing")))
        name = labels.get("alertname", "")
        alerts.append(Alert(name, status == "firing", {**fields, "name": name, "status": status}))
    return alerts


# the fields of a PagerDuty incident that are references: their `summary` is the value
_PD_REFERENCES = ("service", "priority", "escalation_policy")


def _pagerduty(event: Mapping[str, Any], shown: str) -> list[Alert]:
    data = event.get("data")
    if event.get("resource_type") != "incident" or not isinstance(data, dict):
        kind = event.get("event_type", "?")
        raise AlertError(f"--alert {shown}: a PagerDuty '{kind}' event is not about an incident")
    labels = _strings(data)
    for key in _PD_REFERENCES:
        reference = data.get(key)
        if isinstance(reference, dict) and isinstance(reference.get("summary"), str):
            labels[key] = reference["summary"]
    labels["event_type"] = str(event.get("event_type", ""))
    name = labels.get("title", "")
    status = labels.get("status", "triggered")
    fields = {f"labels.{k}": v for k, v in labels.items()}
    return [Alert(name, status != "resolved", {**fields, "name": name, "status": status})]


def _strings(mapping: object) -> dict[str, str]:
    """The text, number and boolean values of a JSON object, as text (others are left out)."""
    if not isinstance(mapping, dict):
        return {}
    out = {}
    for key, value in mapping.items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[str(key)] = str(value)
    return out
