"""`sop run --dry-run` walks every SOP of runbooks/ to its end: the required inputs take their
`drill:` values, questions nobody answers and captured outputs flow through as placeholders
(into a called SOP's inputs and targets too), and nothing is checked as if they were values."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sop.cli import cli
from sop.format.discovery import load_library
from tests.conftest import REPO

LIBRARY = load_library([REPO / "runbooks"])


def dry_run(sop_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["run", str(sop_path), "--dry-run", *args]
    )
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("sop_id", sorted(s.id for s in LIBRARY.sops))
def test_every_sop_of_the_library_dry_runs_to_its_end(sop_id: str) -> None:
    sop = next(s for s in LIBRARY.sops if s.id == sop_id)
    needed = [i for i in sop.inputs if i.required and i.default is None and not i.secret]
    assert all(i.drill is not None for i in needed), "a required input needs a drill value"
    code, out = dry_run(sop.path, *(f"-i{i.name}={i.drill}" for i in needed))
    assert code == 0, out[-3000:]
    assert "Run success after" in out and "(dry run)" in out


def test_an_unanswered_question_reaches_the_called_sop_as_a_placeholder() -> None:
    code, out = dry_run(REPO / "runbooks" / "postgres-disk-space.yaml", "-ihost=db-1")
    assert code == 0, out[-3000:]
    assert "Step 18 · Rebuild <answer:replica>" in out
    assert "  on <answer:replica>  (confirm: " in out  # the called SOP's `on: {{ replica }}`
    # a real run checks the same text as a value: it is no placeholder there
    code, out = dry_run(
        REPO / "runbooks" / "postgres-rebuild-standby.yaml", "-ireplica=<answer:replica>"
    )
    assert code == 1
    assert "input 'replica': '<answer:replica>' does not match ^[a-z0-9.-]+$" in out


def test_a_dry_run_marks_the_steps_that_take_the_terminal() -> None:
    """linux-perf-60s: `top` is `interactive: true`, `uptime` is not; the walk says which."""
    code, out = dry_run(REPO / "runbooks" / "linux-perf-60s.yaml", "-ihost=web-1")
    assert code == 0, out[-3000:]
    steps = {block.split("\n", 1)[0]: block for block in out.split("\nStep ")[1:]}
    top = next(
        block for title, block in steps.items() if title.endswith("top: anything wildly different?")
    )
    assert "  on web-1  (confirm: never)\n  interactive: takes your terminal\n" in top
    marked = [
        title for title, block in steps.items() if "interactive: takes your terminal" in block
    ]
    sop = next(s for s in LIBRARY.sops if s.id == "linux-perf-60s")
    assert len(marked) == sum(1 for step in sop.steps if step.interactive) >= 1
