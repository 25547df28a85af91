"""The two record kinds the ledger writes (entries and checkpoints): shape, signing, parsing.

An entry line is the canonical JSON of
``{"event_id", "leaf_index", "payload", "signature", "timestamp", "topic"}``;
a checkpoint line the canonical JSON of ``{"prev", "root", "signature",
"size", "timestamp"}``, where ``prev`` is the SHA-256 of the checkpoint line
before it (``NO_PREVIOUS`` for the first), so no line can be deleted from the
middle of the file unnoticed (checkpoints written before ``prev`` existed have
no such field and are still read).  Each signature is Ed25519 over the
canonical JSON of the record without its ``signature`` key.  A line that is not exactly the
canonical form of what it parses to is rejected, so every byte is covered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .signing import Signer, canonical_bytes, verify_signature

ENTRY_FIELDS = frozenset({"event_id", "leaf_index", "payload", "signature", "timestamp", "topic"})
LEGACY_CHECKPOINT_FIELDS = frozenset({"root", "signature", "size", "timestamp"})
CHECKPOINT_FIELDS = LEGACY_CHECKPOINT_FIELDS | {"prev"}
#: The ``prev`` of the first line of the checkpoints file.
NO_PREVIOUS = "0" * 64
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
    """A signed statement: the first ``size`` entries have Merkle root ``root``.

    ``prev`` is the SHA-256 of the checkpoint line before this one (``None``
    for a checkpoint written before the field existed).
    """

    size: int
    root: str
    timestamp: str
    signature: str
    prev: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the stored JSON form."""
        obj = {"size": self.size, "root": self.root, "timestamp": self.timestamp,
               "signature": self.signature}
        if self.prev is not None:
            obj["prev"] = self.prev
        return obj

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Checkpoint:
        """Return the checkpoint of an already validated JSON object."""
        return cls(obj["size"], obj["root"], obj["timestamp"], obj["signature"], obj.get("prev"))


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
    if set(obj) not in (CHECKPOINT_FIELDS, LEGACY_CHECKPOINT_FIELDS):
        return "malformed checkpoint (expected exactly prev, root, signature, size, timestamp)"
    if "prev" in obj and (not isinstance(obj["prev"], str) or not _ROOT.match(obj["prev"])):
        return "prev is not 64 lowercase hex digits"
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


def line_hash(line: bytes | None) -> str:
    """Return the ``prev`` that a checkpoint written after ``line`` (``None``: no line) holds."""
    return NO_PREVIOUS if line is None else hashlib.sha256(line).hexdigest()


def make_checkpoint(signer: Signer, *, size: int, root: str, timestamp: str,
                    prev: str = NO_PREVIOUS) -> dict[str, Any]:
    """Return a signed checkpoint object that follows the checkpoint line whose hash is ``prev``."""
    checkpoint: dict[str, Any] = {"prev": prev, "size": size, "root": root, "timestamp": timestamp}
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
