"""The hash chain and the seals that make an audit log tamper-evident.

- Every record carries `seq`, `prev` (the previous record's hash) and `hash`, the SHA-256 of
  `prev` and the record's canonical JSON. Editing, deleting, reordering or duplicating a line
  breaks the chain.
- Someone who edits a line and recomputes every hash after it is caught by the anchor (the head
  `SEQ:HASH` printed at the end of a run, pasted into the incident ticket) and by seals: every
  SEAL_EVERY records, and at the end, a record holds an HMAC of the chain head under a per-run
  key that evolves after each seal (key[n+1] = SHA-256(key[n])). The writer forgets old keys, so
  whoever reads the current key later cannot forge earlier seals; only the verification key
  (key[0], kept outside the state directory) checks them all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64
SEAL_EVERY = 32


def canonical(record: dict[str, Any]) -> str:
    """The record without its `hash`, as compact JSON with sorted keys."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\n{canonical(record)}".encode()).hexdigest()


def evolve(key: bytes) -> bytes:
    return hashlib.sha256(b"sop-seal-evolve\0" + key).digest()


def seal_mac(key: bytes, head: str) -> str:
    return hmac.new(key, head.encode(), hashlib.sha256).hexdigest()


def key_id(key0: bytes) -> str:
    """Names a verification key without revealing it."""
    return hashlib.sha256(b"sop-seal-id\0" + key0).hexdigest()[:16]


def nth_key(key0: bytes, n: int) -> bytes:
    key = key0
    for _ in range(n):
        key = evolve(key)
    return key
