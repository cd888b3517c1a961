"""The audit trail: the write-ahead writer against raw appends, and `sop audit verify` throughput.

Writer: blocks of 400-byte records, interleaved, on the same file system:
- raw: `os.write` + `os.fsync` per record (the floor the writer cannot beat);
- raw, one fsync per 100 records (what batching would buy; not allowed for sop's write-ahead);
- sop: `AuditLog.append` (hash chain, a seal every 32 records written with the record it
  follows, fsync each, the head kept beside the key after each seal).

Verify: a log of `verify_records` records written by sop's own writer (its fsync skipped while
generating, which changes nothing in the file), then `sop audit verify FILE --key KEY` end to
end (a whole process) and `verify_file` in this process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SOP, Section, Target, fmt, interleave, run_once
from sop.audit import chain
from sop.audit.log import AuditLog, SealState

RECORD_BYTES = 400
RUN_ID = "20261128T141132-9a9007c8"


def fields(n: int) -> dict[str, Any]:
    """A host-finished record much like a real one."""
    return {
        "event": {"action": "host-finished", "outcome": "success", "duration": 41_000_000},
        "host": {"name": f"web-{n % 64:02d}"},
        "sop": {"step": {"id": "rotate", "number": 4, "attempt": 1}, "exit_code": 0},
        "process": {"command_line": "gzip -f app.log && ls -1 app.log.* | tail -n +3"},
    }


def common() -> dict[str, Any]:
    return {
        "event": {"kind": "event"},
        "trace": {"id": "448fb7622e254e248c537d2da9f3843b"},
        "user": {"name": "bench"},
        "sop": {"run_id": RUN_ID, "id": "bench", "sha256": "0" * 64},
    }


def sop_log(path: Path, key0: bytes, escrow: Path | None = None) -> AuditLog:
    """sop's writer; with `escrow`, keeping the head there after each seal, as a run does."""
    seal = SealState(chain.key_id(key0), 0, key0)
    return AuditLog(path, common(), seal=seal, escrow=escrow)


def raw_writer(path: Path, per_sync: int) -> tuple[Any, Any]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    line = (b"x" * (RECORD_BYTES - 1)) + b"\n"
    count = [0]

    def append() -> None:
        os.write(fd, line)
        count[0] += 1
        if count[0] % per_sync == 0:
            os.fsync(fd)

    return append, lambda: os.close(fd)


def write_valid_log(path: Path, records: int, key0: bytes) -> None:
    """`records` records by AuditLog itself, without fsync (generation only)."""
    real_fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        log = sop_log(path, key0)
        now = time.time()
        while log.head.seq + 1 < records - 1:
            log.append(now, fields(log.head.seq))
        log.close(now)
    finally:
        os.fsync = real_fsync


def bench(runs: int, block: int = 1000, verify_records: int = 100_000) -> Section:
    work = Path(tempfile.mkdtemp(prefix="sop-bench-audit-", dir=Path.home()))
    try:
        return _bench(work, runs, block, verify_records)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(work: Path, runs: int, block: int, verify_records: int) -> Section:
    key0 = os.urandom(32)
    sample = (sop_log(work / "probe.jsonl", key0), time.time())
    sample[0].append(sample[1], fields(1))
    record_bytes = len((work / "probe.jsonl").read_bytes().splitlines()[-1])

    raw1, close1 = raw_writer(work / "raw1.jsonl", 1)
    raw100, close100 = raw_writer(work / "raw100.jsonl", 100)
    log = sop_log(work / "sop.jsonl", key0, escrow=work / f"{RUN_ID}.head")
    now = time.time()

    def blocks(append: Any) -> Any:
        return lambda: [append() for _ in range(block)]

    series = interleave(
        {
            "raw write + fsync per record": blocks(raw1),
            "raw write, fsync per 100": blocks(raw100),
            "sop AuditLog.append": blocks(lambda: log.append(now, fields(log.head.seq))),
        },
        runs,
        warmup=1,
    )
    close1()
    close100()
    log.close(now)
    rates = {name: block / s.wall for name, s in series.items()}
    chain_us = _chain_cost()

    big = work / "big.jsonl"
    write_valid_log(big, verify_records, key0)
    key_file = work / f"{RUN_ID}.key"  # a key file is named after its run
    key_file.write_text(key0.hex() + "\n")
    from sop.audit.verify import verify_file

    result = verify_file(big, key0=key0)
    assert result.ok and result.records == verify_records, result.findings[:3]
    verify = interleave(
        {
            "cli": [str(SOP), "audit", "verify", str(big), "--key", str(key_file)],
            "library": lambda: verify_file(big, key0=key0),
        },
        runs,
        warmup=1,
    )
    cli_rate = verify_records / verify["cli"].wall
    lib_rate = verify_records / verify["library"].wall
    floor = run_once([str(SOP), "--help"]).wall
    write_ratio = rates["sop AuditLog.append"] / rates["raw write + fsync per record"]
    rows = [
        [name, f"{rate:,.0f}", fmt(rate / rates["raw write + fsync per record"])]
        for name, rate in rates.items()
    ]
    rows += [
        [f"`sop audit verify` CLI, {verify_records:,} records", f"{cli_rate:,.0f}", ""],
        [f"`verify_file` library, {verify_records:,} records", f"{lib_rate:,.0f}", ""],
    ]
    return Section(
        "Audit trail",
        ["what", "records/s (median)", "vs raw fsync"],
        rows,
        [
            f"{runs} interleaved blocks of {block} records each; sop's records are {record_bytes} bytes "
            f"(raw ones {RECORD_BYTES}). Hash-chaining alone costs {chain_us:.1f} us/record.",
            f"Verify: {verify['cli'].wall:.2f} s end to end ({verify['library'].wall:.2f} s in "
            f"`verify_file`; `sop --help` alone takes {floor:.2f} s), seals checked with the key.",
        ],
        [
            Target(
                "audit",
                "`AuditLog.append` / raw fsync-per-record rate",
                write_ratio,
                0.5,
                at_most=False,
            ),
            Target(
                "audit",
                f"`sop audit verify` CLI, records/s ({verify_records:,})",
                cli_rate,
                150_000,
                at_most=False,
                unit="/s",
            ),
        ],
    )


def _chain_cost(n: int = 20_000) -> float:
    records = [dict(common(), seq=i, prev=chain.GENESIS, **fields(i)) for i in range(n)]
    start = time.perf_counter()
    for record in records:
        chain.link_hash(chain.GENESIS, record)
    return (time.perf_counter() - start) / n * 1e6
