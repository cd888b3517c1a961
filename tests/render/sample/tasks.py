"""Tasks for the sample SOP. Importing this file would fail: renders must read it, not run it."""

from __future__ import annotations

from invoke import task

raise RuntimeError("the tasks file was imported")


@task
def restart_service(c, mode="graceful", wait=30):
    """Restart the API with systemd and wait until it answers its health check."""
    c.run(f"systemctl restart api --{mode}")
