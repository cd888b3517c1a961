"""What later steps see of a finished step: `steps.ID` in templates and `when:` expressions.

`steps.check_etcd.exit_code`, `steps.check_etcd.stdout`, `steps.check_etcd.hosts['web-1']`:
each finished step of the scope's SOP, by id, as plain data (a Jinja2 template reads a mapping's
keys as attributes). Output is masked before it is kept (a secret of the run shows as `********`), and
the last `KEPT_BYTES` of each stream are kept; `capture:` keeps a step's whole standard output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sop.events import Outcome
from sop.executors.base import HostResult
from sop.redact import Redactor

KEPT_BYTES = 64 * 1024  # of each stream of each host: enough to branch on, small to save
HOST_KEYS = ("outcome", "exit_code", "stdout", "stderr")
STEP_KEYS = (*HOST_KEYS, "hosts")


def step_result(
    outcome: Outcome, results: Sequence[HostResult], redactor: Redactor
) -> dict[str, Any]:
    """A finished step as templates see it. `exit_code` is its host's, or on several hosts the
    highest of theirs (None when no host gave one: unreachable, timed out, or no command ran);
    `stdout` and `stderr` are its host's ("" when no command ran), or on several hosts a
    mapping host -> output, as a capture is; `hosts` holds each host's own."""
    hosts = {
        r.host: {
            "outcome": str(r.outcome),
            "exit_code": r.exit_code,
            "stdout": _kept(redactor(r.stdout)),
            "stderr": _kept(redactor(r.stderr)),
        }
        for r in results
    }
    codes = [r.exit_code for r in results if r.exit_code is not None]
    return {
        "outcome": str(outcome),
        "exit_code": max(codes) if codes else None,
        "stdout": _streams(hosts, "stdout"),
        "stderr": _streams(hosts, "stderr"),
        "hosts": hosts,
    }


def _streams(hosts: Mapping[str, Mapping[str, Any]], stream: str) -> Any:
    """The only host's output ("" when no command ran), or a mapping host -> output."""
    if len(hosts) <= 1:
        return next((h[stream] for h in hosts.values()), "")
    return {name: h[stream] for name, h in hosts.items()}


def _kept(text: str) -> str:
    if len(text.encode()) <= KEPT_BYTES:
        return text
    return text.encode()[-KEPT_BYTES:].decode(errors="ignore")


def restore_step_results(saved: Any, step_ids: set[str]) -> dict[str, Any]:
    """Saved step results, checked to be the shape `step_result` makes, for steps of the SOP;
    ValueError says what is wrong."""
    if not isinstance(saved, Mapping):
        raise ValueError("the saved step results are not a mapping")
    out: dict[str, Any] = {}
    for step_id, result in saved.items():
        if step_id not in step_ids:
            raise ValueError(f"the saved step results name no step '{step_id}'")
        hosts = result.get("hosts") if isinstance(result, Mapping) else None
        if (
            not isinstance(result, Mapping)
            or set(result) != set(STEP_KEYS)
            or not isinstance(hosts, Mapping)
            or not all(_is_host(h) for h in hosts.values())
            or not _valid(result, hosts)
        ):
            raise ValueError(f"the saved result of step '{step_id}' is not one sop saves")
        out[step_id] = {**result, "hosts": {str(name): dict(h) for name, h in hosts.items()}}
    return out


def _is_host(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == set(HOST_KEYS)
        and isinstance(value["outcome"], str)
        and _is_code(value["exit_code"])
        and isinstance(value["stdout"], str)
        and isinstance(value["stderr"], str)
    )


def _is_code(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _valid(result: Mapping[str, Any], hosts: Mapping[str, Any]) -> bool:
    if not isinstance(result["outcome"], str) or not _is_code(result["exit_code"]):
        return False
    for stream in ("stdout", "stderr"):
        value = result[stream]
        if len(hosts) <= 1:
            if not isinstance(value, str):
                return False
        elif not (isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())):
            return False
    return True
