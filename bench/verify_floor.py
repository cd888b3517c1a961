"""`sop audit verify` against its floor: json.loads + SHA-256 of each line (what any verifier of
a JSON Lines hash chain pays), timed interleaved in the same rounds, so the ratio holds on a
noisy machine even when the absolute records/s do not.

    python -m bench.verify_floor [--records 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from bench.audit_log import RUN_ID, write_valid_log
from bench.common import SOP, interleave
from sop.audit import chain
from sop.audit.verify import verify_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sop-bench-verify-", dir=Path.home()))
    try:
        key0 = os.urandom(32)
        log, key = work / "big.jsonl", work / f"{RUN_ID}.key"
        write_valid_log(log, args.records, key0)
        key.write_text(key0.hex() + "\n")

        def floor() -> None:
            prev = chain.GENESIS
            for raw in log.read_bytes().split(b"\n")[:-1]:
                record = json.loads(raw.decode())
                hashlib.sha256(prev.encode() + b"\n" + raw).hexdigest()
                prev = record["hash"]

        series = interleave(
            {
                "floor: json.loads + sha256 per line": floor,
                "verify_file library": lambda: verify_file(log, key0=key0),
                "sop audit verify CLI": [str(SOP), "audit", "verify", str(log), "--key", str(key)],
                "sop --help": [str(SOP), "--help"],
            },
            args.runs,
            warmup=1,
        )
        base = series["floor: json.loads + sha256 per line"].wall
        for name, s in series.items():
            print(
                f"{name:40s} {s.wall:6.3f} s {args.records / s.wall:10,.0f} rec/s {s.wall / base:5.2f}x floor"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
