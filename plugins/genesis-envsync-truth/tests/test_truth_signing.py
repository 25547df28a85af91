"""Ed25519 signing, canonical bytes and key handling."""

from __future__ import annotations

import base64
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from genesis_truth.errors import KeyProblem
from genesis_truth.signing import (
    KEY_ENV,
    canonical_bytes,
    key_path,
    load_or_create_signer,
    load_signer,
    parse_public_key,
    signer_from_seed,
    verify_signature,
)

# RFC 8032 §7.1, TEST 1 and TEST 2 (Ed25519): secret key (seed), public key, message, signature.
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    signer = signer_from_seed(bytes.fromhex(seed))
    assert signer.public_hex == public
    assert signer.sign(bytes.fromhex(message)).hex() == signature
    sig_b64 = base64.b64encode(bytes.fromhex(signature)).decode()
    key = parse_public_key(public)
    assert verify_signature(key, bytes.fromhex(message), sig_b64)
    assert not verify_signature(key, bytes.fromhex(message) + b"x", sig_b64)
    tampered = bytearray(bytes.fromhex(signature))
    tampered[5] ^= 1
    assert not verify_signature(key, bytes.fromhex(message), base64.b64encode(bytes(tampered)).decode())


def test_only_canonical_base64_signatures_verify() -> None:
    signer = signer_from_seed(bytes.fromhex(RFC8032[0][0]))
    sig = signer.sign_b64(b"data")
    assert verify_signature(signer.public_key, b"data", sig)
    # The last base64 digit before '==' carries 4 unused bits: a different spelling of the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig[-3])
    variant = sig[:-3] + alphabet[last ^ 1] + "=="
    assert base64.b64decode(variant) == base64.b64decode(sig)
    assert not verify_signature(signer.public_key, b"data", variant)
    assert not verify_signature(signer.public_key, b"data", 12)
    assert not verify_signature(signer.public_key, b"data", "not base64!")


def test_canonical_bytes() -> None:
    assert canonical_bytes({"b": 1, "a": [1.5, "é", None, True]}) == \
        '{"a":[1.5,"é",null,true],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_bytes({"x": float("nan")})


def test_key_generated_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    assert load_signer(tmp_path, environ={}) is None
    signer = load_or_create_signer(tmp_path, environ={})
    path = key_path(tmp_path)
    assert path == tmp_path / "truth" / "ed25519.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    again = load_or_create_signer(tmp_path, environ={})
    assert again.public_hex == signer.public_hex
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path, environ={})
    os.chmod(key_path(tmp_path), 0o644)
    with pytest.raises(KeyProblem, match="chmod 600"):
        load_signer(tmp_path, environ={})


def _create_key(directory: str, queue: multiprocessing.Queue) -> None:
    queue.put(load_or_create_signer(Path(directory), environ={}).public_hex)


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_create_key, args=(str(tmp_path), queue)) for _ in range(6)]
    for proc in procs:
        proc.start()
    keys = {queue.get(timeout=30) for _ in procs}
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert len(keys) == 1
    assert keys == {load_signer(tmp_path, environ={}).public_hex}


@pytest.mark.parametrize("encoding", ["hex", "base64", "base64url", "pem"])
def test_key_from_environment(tmp_path: Path, encoding: str) -> None:
    seed = bytes.fromhex(RFC8032[1][0])
    value = {
        "hex": seed.hex(),
        "base64": base64.b64encode(seed).decode(),
        "base64url": base64.urlsafe_b64encode(seed).decode().rstrip("="),
        "pem": Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(),
    }[encoding]
    signer = load_or_create_signer(tmp_path, environ={KEY_ENV: value})
    assert signer.public_hex == RFC8032[1][1]
    assert signer.source == KEY_ENV
    assert not key_path(tmp_path).exists()  # an environment key is never written to disk


def test_bad_environment_key_is_a_clear_error_without_the_value(tmp_path: Path) -> None:
    value = "zz-not-a-key-canary-4411"
    with pytest.raises(KeyProblem) as info:
        load_signer(tmp_path, environ={KEY_ENV: value})
    assert KEY_ENV in str(info.value)
    assert value not in str(info.value)
    with pytest.raises(KeyProblem):
        load_signer(tmp_path, environ={KEY_ENV: base64.b64encode(b"short").decode()})


def test_repr_and_public_exports_hold_no_private_material(tmp_path: Path) -> None:
    seed_hex = RFC8032[0][0]
    signer = signer_from_seed(bytes.fromhex(seed_hex))
    for text in (repr(signer), signer.public_pem, signer.public_hex, str(signer.key_id)):
        assert seed_hex not in text
        assert base64.b64encode(bytes.fromhex(seed_hex)).decode() not in text
    assert parse_public_key(signer.public_pem).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() == RFC8032[0][1]


def test_parse_public_key_rejects_private_keys_and_junk() -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(KeyProblem, match="private key"):
        parse_public_key(pem)
    with pytest.raises(KeyProblem):
        parse_public_key("abc")
