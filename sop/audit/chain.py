"""The hash chain and the seals that make an audit log tamper-evident.

- Every record carries `seq`, `prev` (the previous record's hash) and `hash`, the SHA-256 of
  `prev` and the record's canonical JSON. Editing, deleting, reordering or duplicating a line
  breaks the chain. The writer stores that canonical JSON itself, with `hash` appended last, so
  a verifier hashes the stored bytes instead of parsing and re-serialising each record.
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
HASH_MEMBER = b',"hash":"'  # the last member of a stored line, before the 64 hex digits and "}
HASH_TAIL = len(HASH_MEMBER) + 64 + 2


def canonical(record: dict[str, Any]) -> str:
    """The record without its `hash`, as compact JSON with sorted keys."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\n{canonical(record)}".encode()).hexdigest()


def stored_line(prev: str, record: dict[str, Any]) -> tuple[str, bytes]:
    """The hash of a record (without its `hash`) and the line the writer stores: the canonical
    JSON with `"hash"` appended as its last member."""
    body = canonical(record).encode()
    digest = hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()
    return digest, body[:-1] + HASH_MEMBER + digest.encode() + b'"}\n'


def stored_hash(prev: str, line: bytes) -> str | None:
    """The hash of a line in the writer's form (`line` without its newline), computed over its
    bytes; None when the line is not in that form (then only `link_hash` can tell)."""
    if line[-HASH_TAIL:-66] != HASH_MEMBER or line[-2:] != b'"}':
        return None
    return hashlib.sha256(prev.encode() + b"\n" + line[:-HASH_TAIL] + b"}").hexdigest()


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


class KeyCursor:
    """key[n] for increasing n, evolving forward from the last one asked for (a log's seals come
    in order), so checking every seal of a log costs one `evolve` per seal, not one per seal
    before it."""

    def __init__(self, key0: bytes) -> None:
        self.key0 = key0
        self.n = 0
        self.key = key0

    def nth(self, n: int) -> bytes:
        if n < self.n:
            self.n, self.key = 0, self.key0
        while self.n < n:
            self.key = evolve(self.key)
            self.n += 1
        return self.key
