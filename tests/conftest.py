from __future__ import annotations

import signal
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sop.errors import SopError, SopFileError
from sop.format.loader import load_sop

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
sop: 1
id: minimal
title: Minimal
owner: team
reviewed: 2026-11-01
steps:
  - id: hello
    run: echo hello
"""


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_at_a_terminal() -> Iterator[None]:
    """Every sop a test starts gets Ctrl-C as at a terminal. Started as a background job
    (`make test &` in a non-interactive shell), the suite inherits SIGINT ignored, every child
    with it, and Python leaves an ignored SIGINT ignored: the Ctrl-C tests would test that."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`sop list` caches what it shows under $XDG_CACHE_HOME: never the user's own cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        patch.delenv("SOP_NO_CACHE", raising=False)
        yield


@pytest.fixture(autouse=True, scope="session")
def _own_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs made in-process keep their verification keys in a folder of the tests, never in
    the user's ~/.config/sop/audit-keys."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOP_AUDIT_KEYS", str(tmp_path_factory.mktemp("audit-keys")))
        yield


@pytest.fixture(autouse=True, scope="session")
def _resume_plans_agree() -> Iterator[None]:
    """Every resume a test makes in-process is planned both ways: the plan (or the refusal)
    from the records resume types must be the one from typing every record."""
    from sop.run import resume

    fast = resume.plan_resume

    def both(run_dir: Path) -> resume.ResumePlan:
        try:
            whole: resume.ResumePlan | SopError = resume._plan_parsed(run_dir)
        except SopError as exc:
            whole = exc
        try:
            plan = fast(run_dir)
        except SopError as exc:
            assert isinstance(whole, SopError), f"only the sparse plan refused: {exc}"
            assert (type(exc), str(exc)) == (type(whole), str(whole))
            raise
        assert plan == whole
        return plan

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resume, "plan_resume", both)
        yield


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, so error messages name files relative to it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOP_PATH", raising=False)
    return tmp_path


@pytest.fixture
def write(in_tmp: Path) -> Callable[..., Path]:
    def write(text: str | bytes, name: str = "sop.yaml") -> Path:
        path = in_tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text))
        return Path(name)

    return write


@pytest.fixture
def problems_of(write: Callable[..., Path]) -> Callable[..., list[str]]:
    """Load a text as an SOP; the problems as strings (empty when it loads)."""

    def problems_of(text: str | bytes, name: str = "sop.yaml") -> list[str]:
        path = write(text, name)
        try:
            load_sop(path)
        except SopFileError as exc:
            return [str(p) for p in exc.problems]
        return []

    return problems_of
