"""A real webhook for notification tests: `http.server` on 127.0.0.1 in a thread, answering
each POST as its script says (a status code, or `HANG` to never answer), keeping every body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = -1  # keep the connection open and never answer


class Webhook:
    def __init__(self, server: ThreadingHTTPServer, script: list[int]) -> None:
        self.server = server
        self.script = script  # the status of each POST in turn; the last one repeats
        self.bodies: list[bytes] = []
        self.released = threading.Event()  # ends the hanging handlers at the end

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/services/T000/B000/token-in-the-path"

    @property
    def received(self) -> list[Any]:
        return [json.loads(body) for body in self.bodies]


@contextmanager
def webhook(*script: int) -> Iterator[Webhook]:
    """A running webhook answering 200 unless `script` says otherwise."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.bodies.append(body)
            steps = hook.script or [200]
            status = steps[min(len(hook.bodies), len(steps)) - 1]
            if status == HANG:
                hook.released.wait(30)
                return
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook = Webhook(server, list(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.released.set()
        server.shutdown()
        server.server_close()
