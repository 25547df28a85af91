"""The two record kinds the ledger writes (entries and checkpoints): shape, signing, parsing.

An entry line is the canonical JSON of
``{"event_id", "leaf_index", "payload", "signature", "timestamp", "topic"}``;
a checkpoint line the canonical JSON of ``{"root", "signature", "size",
"timestamp"}``.  Each signature is Ed25519 over the canonical JSON of the
record without its ``signature`` key.  A line that is not exactly the
canonical form of what it parses to is rejected, so every byte is covered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .signing import Signer, canonical_bytes, verify_signature

ENTRY_FIELDS = frozenset({"event_id", "leaf_index", "payload", "signature", "timestamp", "topic"})
CHECKPOINT_FIELDS = frozenset({"root", "signature", "size", "timestamp"})
_ROOT = re.compile(r"^[0-9a-f]{64}$")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@attrs.frozen
class Entry:
    """One recorded event as stored in the ledger."""

    event_id: int
    leaf_index: int
    topic: str
    timestamp: str
    payload: Mapping[str, Any]
    signature: str

    def to_json(self) -> dict[str, Any]:
        """Return the stored JSON form."""
        return {"event_id": self.event_id, "leaf_index": self.leaf_index, "topic": self.topic,
                "timestamp": self.timestamp, "payload": self.payload, "signature": self.signature}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Entry:
        """Return the entry of an already validated JSON object."""
        return cls(obj["event_id"], obj["leaf_index"], obj["topic"], obj["timestamp"],
                   obj["payload"], obj["signature"])


@attrs.frozen
class Checkpoint:
    """A signed statement: the first ``size`` entries have Merkle root ``root``."""

    size: int
    root: str
    timestamp: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        """Return the stored JSON form."""
        return {"size": self.size, "root": self.root, "timestamp": self.timestamp,
                "signature": self.signature}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Checkpoint:
        """Return the checkpoint of an already validated JSON object."""
        return cls(obj["size"], obj["root"], obj["timestamp"], obj["signature"])


def entry_problem(obj: object) -> str | None:
    """Return what is wrong with the shape of an entry object, or ``None``."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if set(obj) != ENTRY_FIELDS:
        missing = sorted(ENTRY_FIELDS - set(obj))
        extra = sorted(set(obj) - ENTRY_FIELDS)
        return "malformed entry (" + "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unexpected {', '.join(extra)}" if extra else "") if part) + ")"
    if not _is_count(obj["event_id"]):
        return "event_id is not a non-negative integer"
    if not _is_count(obj["leaf_index"]):
        return "leaf_index is not a non-negative integer"
    for key in ("topic", "timestamp", "signature"):
        if not isinstance(obj[key], str):
            return f"{key} is not a string"
    if not isinstance(obj["payload"], dict):
        return "payload is not a JSON object"
    return None


def checkpoint_problem(obj: object) -> str | None:
    """Return what is wrong with the shape of a checkpoint object, or ``None``."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if set(obj) != CHECKPOINT_FIELDS:
        return "malformed checkpoint (expected exactly root, signature, size, timestamp)"
    if not _is_count(obj["size"]):
        return "size is not a non-negative integer"
    if not isinstance(obj["root"], str) or not _ROOT.match(obj["root"]):
        return "root is not 64 lowercase hex digits"
    if not isinstance(obj["timestamp"], str) or not isinstance(obj["signature"], str):
        return "timestamp and signature must be strings"
    return None


def signed_bytes(obj: Mapping[str, Any]) -> bytes:
    """Return the bytes a record's signature covers: canonical JSON without ``signature``."""
    return canonical_bytes({k: v for k, v in obj.items() if k != "signature"})


def signature_ok(key: Ed25519PublicKey, obj: Mapping[str, Any]) -> bool:
    """Return whether ``obj["signature"]`` is ``key``'s signature of the rest of ``obj``."""
    return verify_signature(key, signed_bytes(obj), obj.get("signature"))


def make_entry(signer: Signer, *, event_id: int, leaf_index: int, topic: str, timestamp: str,
               payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a signed entry object."""
    entry: dict[str, Any] = {"event_id": event_id, "leaf_index": leaf_index, "topic": topic,
                             "timestamp": timestamp, "payload": payload}
    entry["signature"] = signer.sign_b64(signed_bytes(entry))
    return entry


def make_checkpoint(signer: Signer, *, size: int, root: str, timestamp: str) -> dict[str, Any]:
    """Return a signed checkpoint object."""
    checkpoint: dict[str, Any] = {"size": size, "root": root, "timestamp": timestamp}
    checkpoint["signature"] = signer.sign_b64(signed_bytes(checkpoint))
    return checkpoint


def parse_line(line: bytes, kind: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(object, None)`` for a valid canonical ``kind`` line, else ``(None, problem)``.

    ``kind`` is ``"entry"`` or ``"checkpoint"``; ``line`` excludes the newline.
    """
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not valid JSON"
    problem = entry_problem(obj) if kind == "entry" else checkpoint_problem(obj)
    if problem:
        return None, problem
    try:
        canonical = canonical_bytes(obj)
    except (ValueError, TypeError):
        return None, "not canonical JSON"
    if canonical != line:
        return None, "not in canonical form (the line was edited)"
    return obj, None
