"""An interactive session's recording: its output as asciicast v2 (`asciinema play FILE`) in
the run's folder, masked, with the SHA-256 the audit log holds.

The file is a header line (JSON: version 2, the terminal's size, the start time, a title)
followed by one line per event, `[seconds since the start, "o", text]` for output and
`[seconds, "r", "COLSxROWS"]` for a window size change. Input ("i" events) is never recorded:
what the responder types goes to the command only. Output passes the run's redactor on its way
into the file (streamed: a secret split between two reads is still masked), so a secret value
the command prints never reaches the file; the responder's own terminal shows the real output.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import IO

from sop.audit.sharing import PRIVATE_FILE, SHARED_FILE
from sop.records import dataclass
from sop.redact import Redactor

CAST_VERSION = 2
SUFFIX = ".cast"


@dataclass(frozen=True)
class Recorded:
    name: str  # the file's name in the run's folder
    sha256: str
    size: int


class CastRecording:
    """Records one session: `output` and `resize` as they happen, `close` at its end."""

    def __init__(self, file: IO[bytes], name: str, redactor: Redactor) -> None:
        self._file = file
        self.name = name
        self._hash = hashlib.sha256()
        self._size = 0
        self._masker = redactor.stream()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._started = time.monotonic()

    @classmethod
    def create(
        cls,
        folder: Path,
        stem: str,
        size: tuple[int, int],
        redactor: Redactor,
        *,
        title: str,
        at: float,
    ) -> CastRecording:
        """A new file `STEM.cast` in `folder` (`STEM-2.cast`, ... when it exists: a retried
        step), never through a link someone put there, shared as the folder is (the user's
        only, or its group's in a shared state directory: `sharing.py`), whatever the umask."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        mode = SHARED_FILE if folder.stat().st_mode & stat.S_IWGRP else PRIVATE_FILE
        number = 1
        while True:
            name = stem + (f"-{number}" if number > 1 else "") + SUFFIX
            try:
                fd = os.open(folder / name, flags, mode)
                break
            except FileExistsError:
                number += 1
        os.fchmod(fd, mode)
        recording = cls(os.fdopen(fd, "wb"), name, redactor)
        columns, rows = size
        header = {
            "version": CAST_VERSION,
            "width": columns,
            "height": rows,
            "timestamp": int(at),
            "title": redactor(title),
            "env": {"TERM": os.environ.get("TERM", "")},
        }
        recording._line(header)
        return recording

    def output(self, data: bytes) -> None:
        masked = self._masker.feed(self._decoder.decode(data))
        if masked:
            self._event("o", masked)

    def resize(self, columns: int, rows: int) -> None:
        self._event("r", f"{columns}x{rows}")

    def close(self) -> Recorded:
        """Write what the masker held back, and the file to disk."""
        try:
            tail = self._masker.feed(self._decoder.decode(b"", final=True)) + self._masker.flush()
            if tail:
                self._event("o", tail)
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
        return Recorded(self.name, self._hash.hexdigest(), self._size)

    def _event(self, kind: str, data: str) -> None:
        self._line([round(time.monotonic() - self._started, 6), kind, data])

    def _line(self, value: object) -> None:
        line = (json.dumps(value, ensure_ascii=False) + "\n").encode()
        self._file.write(line)
        self._hash.update(line)
        self._size += len(line)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a recording as it is on disk."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
