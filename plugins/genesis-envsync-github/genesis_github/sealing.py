"""libsodium sealed boxes, as GitHub expects for Actions secrets."""

from __future__ import annotations

import base64
import binascii


class SealingError(ValueError):
    """The public key is not a base64 Curve25519 key (never carries the value)."""


def decode_public_key(key_b64: str) -> bytes:
    """Return the 32 raw bytes of a base64 public key; raise ``SealingError`` otherwise."""
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SealingError("public key is not valid base64") from None
    if len(raw) != 32:
        raise SealingError(f"public key has {len(raw)} bytes, expected 32")
    return raw


def seal(key_b64: str, value: str) -> str:
    """Return ``value`` encrypted to the base64 public key, base64-encoded (a sealed box)."""
    from nacl.public import PublicKey, SealedBox

    box = SealedBox(PublicKey(decode_public_key(key_b64)))
    return base64.b64encode(box.encrypt(value.encode("utf-8"))).decode("ascii")
