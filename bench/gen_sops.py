"""Generate N valid SOP files (and their inventory) for the lint and render benchmarks.

    python -m bench.gen_sops OUT_DIR [--count 1000]

Every template text differs from file to file (a cache of parsed templates must not flatter
sop). Each SOP looks like a real runbook of the repository: metadata, three inputs, context and
impact prose, headings, run steps with templated commands, a prose step with a question,
retries, a rollback: about 80 lines. Same seed, same files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

PHASES = ["identify", "protect", "detect", "respond", "recover"]
SERVICES = ["nginx", "haproxy", "postgresql", "redis", "sshd", "app", "worker", "cron"]
INVENTORY = """\
defaults:
  user: ops
hosts:
  web-1: {address: web-1.example.internal}
  web-2: {address: web-2.example.internal}
  db-1: {address: db-1.example.internal, port: 2222}
groups:
  web: [web-1, web-2]
  all: [web, db-1]
"""


def sop_text(n: int, rng: random.Random, today: str) -> str:
    service = rng.choice(SERVICES)
    steps = []
    for k in range(rng.randint(4, 8)):
        steps.append(
            f"""  - id: check-{k}
    title: Check {service} part {k} on {{{{ host }}}}
    run: systemctl status {{{{ service }}}} --no-pager -l --lines={{{{ lines }}}} | grep -c 'active {n}.{k}' || true
    confirm: never
"""
        )
    return f"""sop: 1
id: bench-{n:04d}
title: Bench SOP {n}, {service} misbehaves
summary: >-
  Generated for the lint and render benchmarks: {service} on one host, diagnosed, restarted,
  verified. Number {n}.
owner: team-{rng.choice(["sre", "web", "db", "sec"])}
severity: sev{rng.randint(1, 4)}
phase: {rng.choice(PHASES)}
tags: [bench, {service}, linux]
alerts: [Bench{n}Alert]
reviewed: {today}
target_minutes: {rng.randint(5, 60)}
inputs:
  host: {{help: Host that alerted, required: true, pattern: '^[a-z0-9.-]+$', drill: web-1}}
  service: {{help: systemd unit, default: {service}, pattern: '^[A-Za-z0-9@_.:-]+$'}}
  lines:
    help: How many journal lines to show
    type: integer
    default: 20
    choices: [10, 20, 50]
on: web
context: |
  ### Meaning
  `{{{{ service }}}}` on `{{{{ host }}}}` is failing its health check. This is generated text
  that reads like a runbook's context: **what** the alert means, *why* it fires, and a
  [link](https://example.com/{n}) to the dashboard.
impact: Requests to {service} on one host fail until it is restarted.
links:
  - title: Dashboard
    url: https://grafana.example.com/d/{n}
steps:
  - heading: Diagnosis
{"".join(steps)}  - id: decide
    title: Decide
    prose: |
      Read the output above. Is the service **degraded** or **dead**?
    ask:
      state: {{help: Service state, choices: [degraded, dead], default: degraded}}
  - heading: Mitigation
  - id: restart
    title: Restart {{{{ service }}}}
    run: sudo -n systemctl restart {{{{ service }}}}  # bench {n}
    timeout: 2m
  - heading: Verification
  - id: active
    title: The unit is active
    run: systemctl is-active {{{{ service }}}} && echo {n}
    retries: 5
    delay: 3s
rollback:
  - id: stop
    title: Stop it again
    run: sudo -n systemctl stop {{{{ service }}}}  # bench {n}
"""


def generate(out: Path, count: int = 1000, seed: int = 4711) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "inventory.yaml").write_text(INVENTORY)
    rng = random.Random(seed)
    today = dt.date.today().isoformat()
    paths = []
    for n in range(count):
        path = out / f"bench-{n:04d}.yaml"
        path.write_text(sop_text(n, rng, today))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    print(f"{len(generate(args.out, args.count))} SOPs in {args.out}")


if __name__ == "__main__":
    main()
