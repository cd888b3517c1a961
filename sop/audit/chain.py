"""The hash chain and the seals that make an audit log tamper-evident.

- Every record carries its sequence number `event.sequence`, `sop.prev` (the previous record's
  hash) and `event.hash`, the SHA-256 of `sop.prev` and the record's canonical JSON. Editing,
  deleting, reordering or duplicating a line breaks the chain. The canonical JSON is the record
  without `event.hash`, compact, keys sorted at every level except that `event` comes last; the
  writer stores it with `"hash"` appended as the last member of `event`, so a verifier hashes
  the stored bytes instead of parsing and re-serialising each record.
- Records of the first format (before ECS conformance, docs/audit.md) hold `seq`, `prev` and
  `hash` at the top level and are canonical with every key sorted, `hash` appended last: both
  forms verify, each by its own rule, so logs written before the change still do.
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
from typing import Any, NamedTuple

GENESIS = "0" * 64
SEAL_EVERY = 32
HASH_MEMBER = b',"hash":"'  # the last member of `event`, before the 64 hex digits and "}}
HASH_TAIL = len(HASH_MEMBER) + 64 + 3
V1_HASH_TAIL = len(HASH_MEMBER) + 64 + 2  # the first format: the last member of the record


class Link(NamedTuple):
    """A record's place in the chain, in either format."""

    seq: int
    prev: str
    hash: str


def link_of(record: dict[str, Any]) -> Link | None:
    """The chain members of a parsed record, None when it has none (not a record sop wrote)."""
    event = record.get("event")
    if "seq" in record or not isinstance(event, dict):  # the first format
        seq, digest, prev = record.get("seq"), record.get("hash"), record.get("prev")
    else:
        seq, digest = event.get("sequence"), event.get("hash")
        sop = record.get("sop")
        prev = sop.get("prev") if isinstance(sop, dict) else None
    if type(seq) is not int or not isinstance(digest, str):
        return None
    return Link(seq, prev if isinstance(prev, str) else "", digest)


def set_link(record: dict[str, Any], seq: int, prev: str) -> None:
    """Give a record its place after `prev`, without a hash (`stored_line` computes it)."""
    event = {k: v for k, v in record["event"].items() if k != "hash"}
    record["event"] = {**event, "sequence": seq}
    record["sop"] = {**record.get("sop", {}), "prev": prev}


def canonical(record: dict[str, Any]) -> str:
    """The record without its hash, as compact JSON: keys sorted, `event` last (see above)."""
    event = record.get("event")
    if "seq" in record or not isinstance(event, dict):  # the first format: every key sorted
        body = {k: v for k, v in record.items() if k != "hash"}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rest = json.dumps(
        {k: v for k, v in record.items() if k != "event"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    tail = json.dumps(
        {k: v for k, v in event.items() if k != "hash"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return f'{rest[:-1]}{"," if len(rest) > 2 else ""}"event":{tail}}}'


def link_hash(prev: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\n{canonical(record)}".encode()).hexdigest()


def stored_line(prev: str, record: dict[str, Any]) -> tuple[str, bytes]:
    """The hash of a record (without its hash) and the line the writer stores: the canonical
    JSON with `"hash"` appended as the last member of `event`, which comes last."""
    body = canonical(record).encode()
    digest = hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()
    return digest, body[:-2] + HASH_MEMBER + digest.encode() + b'"}}\n'


def stored_hash(prev: str, line: bytes) -> str | None:
    """The hash of a line in the writer's form, of either format (`line` without its newline),
    computed over its bytes; None when the line is in neither (then only `link_hash` can tell)."""
    if line[-HASH_TAIL:-67] == HASH_MEMBER and line[-3:] == b'"}}':
        body = line[:-HASH_TAIL] + b"}}"
    elif line[-V1_HASH_TAIL:-66] == HASH_MEMBER and line[-2:] == b'"}':
        body = line[:-V1_HASH_TAIL] + b"}"
    else:
        return None
    return hashlib.sha256(prev.encode() + b"\n" + body).hexdigest()


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
