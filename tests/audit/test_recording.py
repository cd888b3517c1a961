"""A session's recording (sop/audit/recording.py): asciicast v2, masked as it streams, private,
never over an existing file, with the SHA-256 of what it wrote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sop.audit.recording import CastRecording
from sop.redact import Redactor

SECRET = "s3cr3t-token-value"


def test_a_secret_split_between_reads_never_reaches_the_file(tmp_path: Path) -> None:
    recording = CastRecording.create(
        tmp_path, "session-1-x-h1", (120, 30), Redactor([SECRET]), title="t", at=1_700_000_000.5
    )
    for chunk in (b"token s3cr3t-", b"token-value\r\nna", "ïve\r\n".encode()[:2]):
        recording.output(chunk)
    recording.output("ïve\r\n".encode()[2:])
    recording.resize(100, 20)
    recorded = recording.close()

    path = tmp_path / "session-1-x-h1.cast"
    data = path.read_bytes()
    assert (recorded.name, recorded.sha256, recorded.size) == (
        path.name,
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert path.stat().st_mode & 0o777 == 0o600
    header, *events = (json.loads(line) for line in data.decode().splitlines())
    assert header == {
        "version": 2,
        "width": 120,
        "height": 30,
        "timestamp": 1_700_000_000,
        "title": "t",
        "env": header["env"],
    }
    assert "".join(e[2] for e in events if e[1] == "o") == "token ********\r\nnaïve\r\n"
    assert [e[1:] for e in events if e[1] == "r"] == [["r", "100x20"]]
    assert SECRET.encode() not in data


def test_a_recording_in_a_shared_folder_is_the_groups(tmp_path: Path) -> None:
    tmp_path.chmod(0o2770)
    recording = CastRecording.create(tmp_path, "s", (80, 24), Redactor(), title="", at=0)
    recording.close()
    assert (tmp_path / "s.cast").stat().st_mode & 0o777 == 0o660


def test_a_second_recording_of_a_step_gets_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "s.cast").symlink_to(tmp_path / "elsewhere")
    second = CastRecording.create(tmp_path, "s", (80, 24), Redactor(), title="", at=0)
    assert second.close().name == "s-2.cast"
    assert not (tmp_path / "elsewhere").exists()
