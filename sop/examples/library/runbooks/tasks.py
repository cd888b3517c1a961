"""invoke tasks for the SOPs in this folder.

An SOP names this file (`tasks: tasks.py`) and calls a task from a step:

    - task: disk_report
      args: {path: /var}

The task receives an invoke Context (a step `on: local`) or a fabric Connection (a step on
hosts) as `c`, so the same code runs on the responder's machine or on every host of the step.
Whatever it returns is shown as the step's output. String arguments that hold `{{ value }}`
arrive shell-quoted; quote anything else you put into a command with `shlex.quote`.
"""

from __future__ import annotations

import shlex

from invoke import task


@task
def disk_report(c, path="/"):
    """How full the filesystem holding PATH is."""
    return c.run(f"df -hP {shlex.quote(str(path))}", hide=True).stdout.strip()
