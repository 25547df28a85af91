"""Ed25519 keys and signatures over canonical JSON bytes.

The private key comes from ``GENESIS_TRUTH_KEY`` (hex or base64 of the 32-byte
seed, or a PEM private key) or from ``<state_dir>/truth/ed25519.key``, which is
generated on first use with mode 0600.  Nothing here ever puts key material in
a message, a repr or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .errors import KeyProblem

KEY_ENV = "GENESIS_TRUTH_KEY"
KEY_DIR = "truth"
KEY_FILE = "ed25519.key"
SEED_SIZE = 32
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def canonical_bytes(obj: Any) -> bytes:
    """Return the canonical UTF-8 JSON of ``obj``: sorted keys, no spaces, no ASCII escaping."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def json_safe(value: Any) -> Any:
    """Return ``value`` as plain JSON data (str keys, lists, finite numbers, valid UTF-8).

    Anything else becomes its ``str()``, so one odd value cannot make an event
    unrecordable forever.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, Mapping):
        return {json_safe(key if isinstance(key, str) else str(key)): json_safe(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return json_safe(str(value))


def b64encode(data: bytes) -> str:
    """Return standard base64 (with padding) as text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes | None:
    """Return the bytes of strict standard base64 ``text``, or ``None`` when it is not that."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


class Signer:
    """An Ed25519 private key that signs bytes; its repr shows only the key id."""

    __slots__ = ("_private", "public_key", "source")

    def __init__(self, private_key: Ed25519PrivateKey, source: str) -> None:
        self._private = private_key
        self.public_key = private_key.public_key()
        self.source = source

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        return self._private.sign(data)

    def sign_b64(self, data: bytes) -> str:
        """Return the signature of ``data`` as base64 text."""
        return b64encode(self.sign(data))

    @property
    def public_raw(self) -> bytes:
        """Return the 32 raw public key bytes."""
        return public_raw(self.public_key)

    @property
    def public_hex(self) -> str:
        """Return the raw public key as 64 hex digits."""
        return self.public_raw.hex()

    @property
    def public_pem(self) -> str:
        """Return the public key as a SubjectPublicKeyInfo PEM."""
        return public_pem(self.public_key)

    @property
    def key_id(self) -> str:
        """Return a short fingerprint of the public key (first 16 hex of its SHA-256)."""
        return key_id(self.public_key)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, source={self.source!r})"


def public_raw(key: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of ``key``."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    """Return ``key`` as a SubjectPublicKeyInfo PEM."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """Return the first 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(public_raw(key)).hexdigest()[:16]


def signer_from_seed(seed: bytes, source: str = "seed") -> Signer:
    """Return a signer for a 32-byte Ed25519 seed (RFC 8032 "secret key")."""
    if len(seed) != SEED_SIZE:
        raise KeyProblem(f"{source}: an Ed25519 seed is {SEED_SIZE} bytes, got {len(seed)}")
    return Signer(Ed25519PrivateKey.from_private_bytes(seed), source)


def parse_private_key(text: str, source: str) -> Signer:
    """Return a signer from PEM, hex seed or base64 seed text; errors never echo the text."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError):
            raise KeyProblem(f"{source}: not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyProblem(f"{source}: the PEM key is not an Ed25519 key")
        return Signer(key, source)
    if len(text) == 2 * SEED_SIZE and _HEX.match(text):
        return signer_from_seed(bytes.fromhex(text), source)
    for decode in (b64decode, _b64url_decode):
        seed = decode(text)
        if seed is not None and len(seed) == SEED_SIZE:
            return signer_from_seed(seed, source)
    raise KeyProblem(f"{source}: expected a 32-byte Ed25519 seed as hex or base64, or a PEM private key")


def _b64url_decode(text: str) -> bytes | None:
    try:
        padded = text + "=" * (-len(text) % 4)
        if not re.fullmatch(r"[A-Za-z0-9_-]+=*", padded):
            return None
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None


def parse_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Return a public key from a PEM, 64 hex digits or base64 of the 32 raw bytes."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise KeyProblem("public key: not text (expected PEM, hex or base64)") from None
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            if "PRIVATE KEY" in text:
                raise KeyProblem("public key: this is a private key; pass the exported public key") from None
            raise KeyProblem("public key: not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyProblem("public key: the PEM key is not an Ed25519 key")
        return key
    raw: bytes | None = None
    raw = bytes.fromhex(text) if len(text) == 2 * SEED_SIZE and _HEX.match(text) else b64decode(text)
    if raw is None or len(raw) != SEED_SIZE:
        raise KeyProblem("public key: expected a PEM public key, 64 hex digits or base64 of 32 bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise KeyProblem("public key: not a valid Ed25519 public key") from None


def verify_signature(key: Ed25519PublicKey, data: bytes, signature_b64: object) -> bool:
    """Return whether ``signature_b64`` (base64 text) is ``key``'s signature of ``data``."""
    if not isinstance(signature_b64, str):
        return False
    signature = b64decode(signature_b64)
    if signature is None or len(signature) != 64 or b64encode(signature) != signature_b64:
        return False  # only the one canonical base64 spelling of a signature is accepted
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def key_path(state_dir: Path) -> Path:
    """Return where the generated private key lives under ``state_dir``."""
    return Path(state_dir) / KEY_DIR / KEY_FILE


def load_signer(state_dir: Path, environ: Mapping[str, str] | None = None) -> Signer | None:
    """Return the configured signer (environment first, then key file), or ``None`` if neither exists."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV)
    if value is not None and value.strip():
        return parse_private_key(value, KEY_ENV)
    path = key_path(state_dir)
    try:
        text = _read_key_file(path)
    except FileNotFoundError:
        return None
    return parse_private_key(text, str(path))


def load_or_create_signer(state_dir: Path, environ: Mapping[str, str] | None = None) -> Signer:
    """Return the configured signer, generating the key file on first use."""
    signer = load_signer(state_dir, environ)
    if signer is not None:
        return signer
    path = key_path(state_dir)
    _create_key_file(path)
    return parse_private_key(_read_key_file(path), str(path))


#: The largest key file read (a PEM private key is about 120 bytes).
KEY_FILE_LIMIT = 64 * 1024


def _private_mode(path: Path) -> Any:
    def check(info: os.stat_result) -> None:
        mode = info.st_mode & 0o777
        if os.name == "posix" and mode & 0o077:
            raise KeyProblem(f"{path}: key file is accessible by other users (mode {mode:04o}); "
                             f"run chmod 600 on it")
    return check


def _read_key_file(path: Path) -> str:
    """Return the key file's text: a regular file (no symlink, FIFO or device), private, at most 64 KiB.

    Raises ``FileNotFoundError`` when it does not exist.
    """
    from genesis_core.api import FileProblem, read_bytes

    try:
        data = read_bytes(path, limit=KEY_FILE_LIMIT, what="key file", follow_symlinks=False,
                          check=_private_mode(path))
    except FileProblem as exc:
        if exc.missing:
            raise FileNotFoundError(str(path)) from None
        raise KeyProblem(str(exc)) from None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyProblem(f"{path}: not a PEM key file") from None


def _create_key_file(path: Path) -> None:
    """Write a fresh PKCS#8 PEM key to ``path`` (mode 0600) unless one appears first.

    The key is written to a private temporary file created with
    ``O_CREAT | O_EXCL`` and then hard-linked into place, so a concurrent
    process either wins the link or reads the complete winner; nobody ever
    sees a half-written key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        view = memoryview(pem)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created the key first; use theirs
    except OSError:
        # No hard links here (some network or FUSE file systems): fall back to an
        # exclusive create of the final name, still never overwriting a key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            try:
                view = memoryview(pem)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
