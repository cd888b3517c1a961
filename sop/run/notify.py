"""Notifications: the team hears of a run where it already talks. A sink that turns the run's
news (started, a step failed, an approval needed, a status update, paused, finished) into
messages for each `[[notify]]` of the
trusted configuration, a webhook (Slack-compatible `{"text": ...}` or sop's plain JSON) or a
command (the JSON on its stdin, no shell).

Delivery never blocks or fails the run: `emit` only queues (a bounded queue; a message that
does not fit is dropped and counted), one background thread delivers, each attempt within the
notifier's timeout, retried with a doubling backoff. Each delivery's end is recorded in the
audit log as a `Notified` event (delivered or not, attempts, the error), naming the target by
its label, never a webhook's URL. At the end of the run `close` waits a bounded time for what
is queued, then records the rest as not delivered. The events a sink gets are already masked
(services.py), so a message carries no secret; urllib is imported only to send one."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sop import __version__
from sop import events as ev
from sop.audit.records import timestamp
from sop.events import Clock, Outcome
from sop.model import Notifier

QUEUE_SIZE = 100
DRAIN = 10.0  # seconds `close` waits at most for deliveries still queued or under way
BACKOFF = 1.0  # seconds before the first retry; doubled before each next one
RESPONSE_BYTES = 64 * 1024  # of a webhook's answer read (and dropped)
ERROR_CHARS = 300  # of a command's stderr kept in the record


class DeliveryError(Exception):
    """One attempt failed; the message says how, without the URL."""


Item = tuple[Notifier, str, dict[str, Any]]


class Notifications:
    """A run's sink for its `notifiers`; `record` takes each delivery's `Notified` event back
    into the run (the runner's `emit`, from the delivering thread)."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        clock: Clock,
        record: Callable[[ev.Event], None],
        *,
        drain: float = DRAIN,
        backoff: float = BACKOFF,
    ) -> None:
        self.notifiers = tuple(notifiers)
        self.clock = clock
        self.record = record
        self.drain = drain
        self.backoff = backoff
        self.run: dict[str, Any] = {}
        self.dropped: list[Item] = []
        self._queue: queue.Queue[Item | None] = queue.Queue(QUEUE_SIZE)
        self._current: Item | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # held while recording; `closed` after close recorded
        self._closed = False
        self._thread: threading.Thread | None = None  # started by the first message

    # -- the sink (the runner's thread, under its lock: never waits) -------------------------

    def emit(self, event: ev.Event) -> None:
        found = news(event, self.run)
        if found is None:
            return
        notice, payload = found
        for notifier in self.notifiers:
            if notice in notifier.events:
                item = (notifier, notice, payload)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._work, name="sop-notify", daemon=True
                    )
                    self._thread.start()
                try:
                    self._queue.put_nowait(item)
                except queue.Full:
                    self.dropped.append(item)

    # -- delivery (the background thread) ----------------------------------------------------

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            self._current = item
            started = self.clock.monotonic()
            attempts, error = self._attempts(item[0], item[2])
            self._done(item, attempts, error, self.clock.monotonic() - started)
            self._current = None

    def _attempts(self, notifier: Notifier, payload: dict[str, Any]) -> tuple[int, str]:
        """Try, and retry with backoff: (attempts made, "" or the last error)."""
        error = ""
        for attempt in range(1, notifier.retries + 2):
            try:
                deliver(notifier, payload)
                return attempt, ""
            except DeliveryError as exc:
                error = str(exc)
            if attempt > notifier.retries or self._stop.wait(self.backoff * 2 ** (attempt - 1)):
                return attempt, error
        return notifier.retries + 1, error

    def _done(self, item: Item, attempts: int, error: str, duration: float) -> None:
        with self._lock:
            if self._closed:  # close() has recorded it as not delivered
                return
            self.record(
                ev.Notified(
                    self.clock.now(), item[1], item[0].label, not error, attempts, duration, error
                )
            )

    # -- the end of the run -------------------------------------------------------------------

    def close(self) -> None:
        """Wait up to `drain` seconds for the queued deliveries, then record what is left
        (queued, under way, or dropped from a full queue) as not delivered."""
        if self._thread is not None:
            deadline = time.monotonic() + self.drain
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=self.drain)
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        with self._lock:
            self._closed = True
            left = [self._current] if self._current is not None else []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left.append(item)
            now = self.clock.now()
            for item in left:
                why = f"sop exited before it was delivered (waited {self.drain:g} s)"
                self.record(ev.Notified(now, item[1], item[0].label, False, 0, 0.0, why))
            for item in self.dropped:
                why = f"dropped: more than {QUEUE_SIZE} notifications were waiting"
                self.record(ev.Notified(now, item[1], item[0].label, False, 0, 0.0, why))


def news(event: ev.Event, run: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The notice an event is (run-started, step-failed, approval-needed, status-update,
    run-paused, run-finished) and its message, or None. `run` keeps what run-started said for the later ones."""
    if isinstance(event, ev.RunStarted):
        run.update(
            run_id=event.run_id,
            sop={"id": event.sop_id, "title": event.sop_title},
            operator=event.operator,
            incident=event.incident or "",
        )
        what = "resumed" if event.resumed else "started"
        inputs = ", ".join(f"{k}={v}" for k, v in event.inputs.items())
        text = f"{event.operator} {what} {_sop(run)}" + (f" with {inputs}" if inputs else "")
        return _message("run-started", run, text, {"inputs": dict(event.inputs)}, event.at)
    if isinstance(event, ev.StepFinished) and event.outcome == Outcome.FAILURE:
        step = event.step
        failed = [r for r in event.results if r.outcome == Outcome.FAILURE]
        text = f"step {step.number} ({step.title}) of {_sop(run)} failed" + (
            " on " + ", ".join(_how(r) for r in failed) if failed else ""
        )
        if event.reason:
            text += f": {event.reason}"
        fields = {
            "step": {"id": step.id, "number": step.number, "title": step.title},
            "hosts": [{"host": r.host, "exit_code": r.exit_code, "error": r.error} for r in failed],
            "reason": event.reason,
        }
        return _message("step-failed", run, text, fields, event.at)
    if isinstance(event, ev.StatusUpdate) and event.given:
        text = f"status update on {_sop(run)}: {event.text}"
        fields = {"status": {"text": event.text, "severity": event.severity}}
        return _message("status-update", run, text, fields, event.at)
    if isinstance(event, ev.ApprovalRequested):
        step = event.step
        who = f"the {event.role}" if event.role else "someone other than the operator"
        text = (
            f"step {step.number} ({step.title}) of {_sop(run)} waits for {who}: "
            f"sop approve {run['run_id']} {step.id}"
        )
        fields = {
            "step": {"id": step.id, "number": step.number, "title": step.title},
            "role": event.role,
            "hosts": list(event.hosts),
        }
        return _message("approval-needed", run, text, fields, event.at)
    if isinstance(event, ev.RunPaused):
        text = f"{_sop(run)} paused: {event.reason}"
        return _message("run-paused", run, text, {"reason": event.reason}, event.at)
    if isinstance(event, ev.RunFinished):
        text = f"{_sop(run)} finished: {event.outcome}" + (
            f" ({event.reason})" if event.reason else ""
        )
        fields = {"outcome": str(event.outcome), "reason": event.reason}
        return _message("run-finished", run, text, fields, event.at)
    return None


def _how(result: ev.HostFinished) -> str:
    """`web1 (exit 3)`, or `web1 (its error)`: never its output, which stays in the log."""
    if result.error:
        return f"{result.host} ({result.error})"
    return (
        f"{result.host} (exit {result.exit_code})" if result.exit_code is not None else result.host
    )


def _sop(run: dict[str, Any]) -> str:
    incident = f" for {run['incident']}" if run.get("incident") else ""
    return f"{run['sop']['id']} (run {run['run_id']}{incident})"


def _message(
    notice: str, run: dict[str, Any], text: str, fields: dict[str, Any], at: float
) -> tuple[str, dict[str, Any]]:
    return notice, {
        "event": notice,
        "@timestamp": timestamp(at),
        "text": f"sop: {text}",
        **run,
        **fields,
    }


def deliver(notifier: Notifier, payload: dict[str, Any]) -> None:
    """One attempt; raises `DeliveryError`."""
    if notifier.url:
        body = {"text": payload["text"]} if notifier.format == "slack" else payload
        _post(notifier.url, json.dumps(body).encode(), notifier.timeout)
    else:
        _run(notifier.command, json.dumps(payload).encode(), notifier.timeout)


def _post(url: str, data: bytes, timeout: float) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"sop/{__version__}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(str(exc.reason)) from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise DeliveryError(exc.strerror or str(exc)) from None


def _run(command: Sequence[str], data: bytes, timeout: float) -> None:
    try:
        done = subprocess.run(
            list(command), input=data, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"{command[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise DeliveryError(f"{command[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()[-ERROR_CHARS:]
        raise DeliveryError(
            f"{command[0]} exited with {done.returncode}" + (f": {stderr}" if stderr else "")
        )
