"""Self-contained inclusion and consistency proofs, and their third-party verification.

A verifier needs only the ledger's public key and the proof JSON: the proof
carries the entry, its leaf index, the audit path and the signed checkpoint
(tree size and root) it is relative to.  Nothing here reads the ledger files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import KeyProblem
from .merkle import leaf_hash, verify_consistency, verify_inclusion
from .records import checkpoint_problem, entry_problem, signature_ok
from .signing import canonical_bytes, parse_public_key, public_pem, public_raw

INCLUSION_TYPE = "genesis-truth/inclusion-proof"
CONSISTENCY_TYPE = "genesis-truth/consistency-proof"
PROOF_VERSION = 1
HASH_ALGORITHM = "RFC6962-SHA256"
SIGNATURE_ALGORITHM = "Ed25519"


def _public_key_json(key: Ed25519PublicKey) -> dict[str, str]:
    return {"hex": public_raw(key).hex(), "pem": public_pem(key)}


def build_inclusion_proof(entry: Mapping[str, Any], leaf_index: int, checkpoint: Mapping[str, Any],
                          audit_path: Sequence[bytes], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Return the JSON inclusion proof of ``entry`` in the tree of ``checkpoint``."""
    return {
        "type": INCLUSION_TYPE,
        "version": PROOF_VERSION,
        "hash_algorithm": HASH_ALGORITHM,
        "signature_algorithm": SIGNATURE_ALGORITHM,
        "entry": dict(entry),
        "leaf_index": leaf_index,
        "leaf_hash": leaf_hash(canonical_bytes(entry)).hex(),
        "tree_size": checkpoint["size"],
        "audit_path": [node.hex() for node in audit_path],
        "checkpoint": dict(checkpoint),
        "public_key": _public_key_json(public_key),
    }


def build_consistency_proof(old_size: int, old_root: bytes, checkpoint: Mapping[str, Any],
                            proof: Sequence[bytes], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Return the JSON proof that the tree ``(old_size, old_root)`` is a prefix of ``checkpoint``."""
    return {
        "type": CONSISTENCY_TYPE,
        "version": PROOF_VERSION,
        "hash_algorithm": HASH_ALGORITHM,
        "signature_algorithm": SIGNATURE_ALGORITHM,
        "old_size": old_size,
        "old_root": old_root.hex(),
        "checkpoint": dict(checkpoint),
        "proof": [node.hex() for node in proof],
        "public_key": _public_key_json(public_key),
    }


def _hashes(values: object) -> list[bytes] | None:
    if not isinstance(values, list):
        return None
    out = []
    for value in values:
        if not isinstance(value, str) or len(value) != 64:
            return None
        try:
            out.append(bytes.fromhex(value))
        except ValueError:
            return None
    return out


def _key(public_key: str | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    return parse_public_key(public_key)


def _checkpoint_reason(checkpoint: object, key: Ed25519PublicKey) -> str | None:
    problem = checkpoint_problem(checkpoint)
    if problem:
        return f"checkpoint: {problem}"
    assert isinstance(checkpoint, dict)
    if not signature_ok(key, checkpoint):
        return "checkpoint signature does not verify with this public key"
    return None


def _open(proof: object, public_key: str | bytes | Ed25519PublicKey, kind: str
          ) -> str | tuple[Ed25519PublicKey, dict[str, Any], dict[str, Any]]:
    """Return ``(key, checkpoint, proof)`` when ``proof`` is a ``kind`` object with a valid signed
    checkpoint, else why not."""
    try:
        key = _key(public_key)
    except KeyProblem as exc:
        return str(exc)
    if not isinstance(proof, dict) or proof.get("type") != kind:
        return f"not a {kind} object"
    if proof.get("version") != PROOF_VERSION:
        return f"unsupported proof version {proof.get('version')!r}"
    checkpoint = proof.get("checkpoint")
    reason = _checkpoint_reason(checkpoint, key)
    if reason:
        return reason
    assert isinstance(checkpoint, dict)
    return key, checkpoint, proof


def explain_inclusion_proof(proof: object, public_key: str | bytes | Ed25519PublicKey) -> str | None:
    """Return why ``proof`` is not a valid inclusion proof under ``public_key``, or ``None`` if it is.

    The public key embedded in the proof is ignored: trust comes only from the
    key the caller supplies.
    """
    opened = _open(proof, public_key, INCLUSION_TYPE)
    if isinstance(opened, str):
        return opened
    key, checkpoint, fields = opened
    size, index = fields.get("tree_size"), fields.get("leaf_index")
    if size != checkpoint["size"]:
        return "tree_size differs from the checkpoint size"
    if not isinstance(index, int) or isinstance(index, bool):
        return "leaf_index is not an integer"
    entry = fields.get("entry")
    problem = entry_problem(entry)
    if problem:
        return f"entry: {problem}"
    assert isinstance(entry, dict)
    if entry["leaf_index"] != index:
        return "the entry's leaf_index differs from the proof's"
    if not signature_ok(key, entry):
        return "entry signature does not verify with this public key"
    leaf = leaf_hash(canonical_bytes(entry))
    if fields.get("leaf_hash") != leaf.hex():
        return "leaf_hash does not match the entry"
    path = _hashes(fields.get("audit_path"))
    if path is None:
        return "audit_path is not a list of 64-hex-digit hashes"
    if not verify_inclusion(index, size, leaf, path, bytes.fromhex(checkpoint["root"])):
        return "audit path does not lead to the checkpoint root"
    return None


def explain_consistency_proof(proof: object, public_key: str | bytes | Ed25519PublicKey, *,
                              trusted: Mapping[str, Any] | None = None) -> str | None:
    """Return why ``proof`` does not show an append-only extension, or ``None`` if it does.

    ``trusted`` is a checkpoint the caller kept earlier; when given, the
    proof's old tree must be exactly that checkpoint's (size, root).
    """
    opened = _open(proof, public_key, CONSISTENCY_TYPE)
    if isinstance(opened, str):
        return opened
    key, checkpoint, fields = opened
    old_size, old_root = fields.get("old_size"), _hashes([fields.get("old_root")])
    if not isinstance(old_size, int) or isinstance(old_size, bool) or old_root is None:
        return "old_size/old_root are malformed"
    if trusted is not None:
        reason = _checkpoint_reason(dict(trusted), key)
        if reason:
            return f"trusted {reason}"
        if trusted["size"] != old_size or trusted["root"] != fields.get("old_root"):
            return "the proof starts from a different tree than the trusted checkpoint"
    path = _hashes(fields.get("proof"))
    if path is None:
        return "proof is not a list of 64-hex-digit hashes"
    if not verify_consistency(old_size, checkpoint["size"], old_root[0],
                              bytes.fromhex(checkpoint["root"]), path):
        return "the old tree is not a prefix of the checkpointed tree"
    return None


def verify_inclusion_proof(proof: dict[str, Any], public_key_pem_or_hex: str | bytes) -> bool:
    """Return whether ``proof`` proves its entry is in the checkpointed ledger of that key."""
    return explain_inclusion_proof(proof, public_key_pem_or_hex) is None


def verify_consistency_proof(proof: dict[str, Any], public_key_pem_or_hex: str | bytes, *,
                             trusted: Mapping[str, Any] | None = None) -> bool:
    """Return whether ``proof`` proves the ledger only grew since its old tree."""
    return explain_consistency_proof(proof, public_key_pem_or_hex, trusted=trusted) is None
