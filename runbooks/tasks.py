"""invoke tasks used by the SOPs in this folder.

Each task receives a Context (local steps) or a fabric Connection (remote steps) as `c`, so the
same task runs on the responder's machine or on every host of a step.
"""

from invoke import task


@task
def rotate_logs(c, keep=3):
    """Force a logrotate run and keep only the newest `keep` rotated files per log."""
    c.run("logrotate --force /etc/logrotate.conf", warn=True)
    c.run(
        "find /var/log -type f -regex '.*\\.[0-9]+\\(\\.gz\\)?$' -printf '%T@ %p\\n' "
        f"| sort -rn | awk 'NR>{int(keep) * 20} {{print $2}}' | xargs -r rm -f --"
    )
