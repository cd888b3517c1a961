"""Running a dynamic inventory: the program the operator named with `--inventory`, asked for
`--list`, without a shell. Only a real run calls this (`run/launch.py`); lint, render, drills
and dry runs never run an inventory program."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sop.errors import SopError
from sop.text import visible

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 60.0  # seconds a dynamic inventory has to print its hosts
MAX_OUTPUT = 16 << 20


class DynamicInventoryError(SopError):
    """A dynamic inventory that failed, hung or printed too much."""


def list_dynamic_inventory(path: Path, timeout: float = TIMEOUT) -> str:
    """What `PATH --list` prints on stdout; its stderr's last lines name a failure."""
    import subprocess  # here: a simulated drill's guard must be on before it is imported

    try:
        done = subprocess.run(
            [str(path.absolute()), "--list"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DynamicInventoryError(
            f"dynamic inventory {path} --list did not finish within {timeout:g}s"
        ) from None
    except OSError as exc:
        raise DynamicInventoryError(f"dynamic inventory {path}: {exc.strerror}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        said = ": " + visible(" / ".join(tail)) if tail else ""
        raise DynamicInventoryError(
            f"dynamic inventory {path} --list exited with {done.returncode}{said}"
        )
    if len(done.stdout) > MAX_OUTPUT:
        raise DynamicInventoryError(f"dynamic inventory {path} --list printed over 16 MiB")
    return done.stdout.decode("utf-8", "replace")
