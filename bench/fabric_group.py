"""The bare fabric baseline: a `ThreadingGroup` running one command on every host, `--steps`
times over the same connections. No host key checks, no audit, no output handling beyond
fabric's own: the floor sop builds on.

    python bench/fabric_group.py --port P --user U --key K [--steps 5] ADDRESS...
"""

from __future__ import annotations

import argparse

from fabric import ThreadingGroup

COMMAND = "hostname; echo ok"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("hosts", nargs="+")
    args = parser.parse_args()
    group = ThreadingGroup(
        *args.hosts,
        user=args.user,
        port=args.port,
        connect_kwargs={"key_filename": [args.key], "allow_agent": False, "look_for_keys": False},
    )
    try:
        for _ in range(args.steps):
            results = group.run(COMMAND, hide=True, in_stream=False)
            assert all(r.stdout.endswith("ok\n") for r in results.values())
    finally:
        group.close()


if __name__ == "__main__":
    main()
