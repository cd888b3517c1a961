"""Commands that set a machine and a library up: init (a new SOP library), doctor (is this
machine ready to run SOPs?)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sop.cli import ui
from sop.cli.params import FILE, FOLDER, STATE_DIR, Settings, format_option, path_option

if TYPE_CHECKING:
    from pathlib import Path

    from sop.errors import ExitCode


@click.command()
@click.argument("folder", metavar="DIR", type=FOLDER, default=".")
def init(folder: Path) -> None:
    """Start an SOP library in DIR (default: here): runbooks/ with a demo SOP and its drill
    scenario, inventory.yaml and tasks.py, a pre-commit hook running `sop lint`, and the
    editor schema mapping (.vscode/). Never overwrites a file: those that exist are skipped."""
    import datetime as dt

    from sop.format.scaffold import scaffold_library

    made = scaffold_library(folder, dt.date.today())
    for path in made.written:
        ui.echo(f"created {folder / path}")
    for path in made.skipped:
        ui.echo(f"skipped {folder / path} (exists; left as it is)")
    there = "" if folder.resolve() == folder.cwd().resolve() else f"cd {folder} && "
    ui.echo(f"next: {there}sop lint && sop drill demo --yes && sop run demo", err=True)


@click.command()
@click.option(
    "--inventory",
    type=FILE,
    multiple=True,
    help="Inventory file (repeatable; a dynamic one is not run; default: as `sop run` finds it).",
)
@STATE_DIR
@path_option("--ssh-config", "ssh config file (default ~/.ssh/config).")
@path_option("--known-hosts", "known_hosts file to trust (default ~/.ssh/known_hosts).")
@format_option("text", "json")
@click.pass_obj
def doctor(
    settings: Settings,
    /,
    inventory: tuple[Path, ...],
    state_dir: Path | None,
    ssh_config: Path | None,
    known_hosts: Path | None,
    fmt: str,
) -> ExitCode:
    """Check that this machine can run SOPs: Python and library versions, that `sop` is this
    package (not another one of the same name), the effective configuration and where each value
    came from, the SSH files, the inventory, the state and audit key folders. One line per check: ok, warn or fail with what to do. Exit 1 on a
    fail."""
    import json

    from sop.checks.doctor import Setup, diagnose
    from sop.cli.config import described
    from sop.errors import ExitCode

    configuration, ignored = described(settings.config) if settings.config else ((), ())
    found = diagnose(Setup(inventory, state_dir, ssh_config, known_hosts, configuration, ignored))
    if fmt == "json":
        ui.echo(json.dumps(found.as_dict(), indent=2))
    else:
        for check in found.checks:
            ui.echo(f"{check.status.value:<4}  {check.name:<10}  {check.message}")
    return ExitCode.FAILED if found.failed else ExitCode.OK
