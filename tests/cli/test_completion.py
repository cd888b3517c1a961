"""Shell completion of SOP ids and run ids, as a shell asks for it: click's completion
variables, in a process of its own, which must not load a heavy library (every Tab runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import HEAVY
from tests.conftest import MINIMAL

CODE = (
    "import sys\nfrom sop.cli import cli\n"
    "try:\n    cli.main(prog_name='sop')\nexcept SystemExit:\n    pass\n"
    f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def complete(cwd: Path, words: str, shell: str = "bash", **env: str) -> list[str]:
    """What the shell gets for the last word of `words`."""
    proc = subprocess.run(
        [sys.executable, "-c", CODE],
        env={
            **os.environ,
            "_SOP_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
            **env,
        },
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]"  # no heavy library loaded
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def library(write: Callable[..., Path], in_tmp: Path) -> Path:
    write(MINIMAL.replace("id: minimal", "id: disk-full"), "runbooks/disk.yaml")
    write(
        MINIMAL.replace("id: minimal", "id: dns-down").replace("Minimal", "DNS is down"),
        "runbooks/net/dns.yaml",
    )
    write(MINIMAL.replace("id: minimal", "id: web-slow"), "runbooks/web.yaml")
    write("sop: [\n", "runbooks/broken.yaml")  # no id to offer, and no error
    return in_tmp


def test_sop_ids_complete_from_the_library(library: Path) -> None:
    assert complete(library, "sop show d") == ["plain,disk-full", "plain,dns-down"]
    assert complete(library, "sop run --dry-run w") == ["plain,web-slow"]
    assert complete(library, "sop drill ") == [
        "plain,disk-full",
        "plain,dns-down",
        "plain,web-slow",
    ]
    # zsh shows each id's title beside it
    assert complete(library, "sop show dn", "zsh") == ["plain", "dns-down", "DNS is down"]
    assert complete(library, "sop show runbooks/d") == ["file,runbooks/d"]


def test_sop_ids_complete_from_sop_path(library: Path) -> None:
    (library / "runbooks").rename(library / "lib")
    assert complete(library, "sop show d") == []
    assert complete(library, "sop show d", SOP_PATH="lib") == ["plain,disk-full", "plain,dns-down"]


def test_run_ids_complete_from_the_state_dir_newest_first(library: Path) -> None:
    runs = library / "state" / "runs"
    for run_id in ("20261201T100000-aaaa", "20261202T100000-bbbb", "20261101T100000-cccc"):
        (runs / run_id).mkdir(parents=True)
    (runs / "20261203T100000-file").write_text("not a run folder")
    env = {"SOP_STATE_DIR": str(library / "state")}
    assert complete(library, "sop resume 202612", **env) == [
        "plain,20261202T100000-bbbb",
        "plain,20261201T100000-aaaa",
    ]
    assert complete(library, "sop audit verify 2026110", **env) == ["plain,20261101T100000-cccc"]
    assert complete(library, f"sop audit verify --state-dir {library / 'state'} 2026110") == [
        "plain,20261101T100000-cccc"
    ]
    assert complete(library, "sop audit verify ./x", **env) == ["file,./x"]
    assert complete(library, "sop resume 2", SOP_STATE_DIR=str(library / "none")) == []
