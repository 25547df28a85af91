"""Inclusion and consistency proofs checked by a third party with only the public key."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from truth_testlib import event

from genesis_truth.errors import LedgerError
from genesis_truth.ledger import Ledger
from genesis_truth.proofs import (
    explain_consistency_proof,
    explain_inclusion_proof,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from genesis_truth.signing import load_or_create_signer


@pytest.fixture
def ledger(state_dir: Path) -> Ledger:
    ledger = Ledger(state_dir, environ={})
    ledger.append_many([event(seq) for seq in range(100, 137)])  # 37 entries: not a power of two
    return ledger


def third_party(proof: dict) -> dict:
    """What crosses the trust boundary: JSON text, re-parsed on the other side."""
    return json.loads(json.dumps(proof))


def test_every_entry_has_a_proof_a_third_party_accepts(ledger: Ledger) -> None:
    public_pem = ledger.signer().public_pem
    public_hex = ledger.signer().public_hex
    for leaf, seq in enumerate(range(100, 137)):
        proof = third_party(ledger.prove(seq))
        assert proof["leaf_index"] == leaf and proof["tree_size"] == 37
        assert proof["entry"]["event_id"] == seq
        assert len(proof["audit_path"]) <= (37 - 1).bit_length()
        assert proof["checkpoint"]["size"] == 37
        assert proof["public_key"]["hex"] == public_hex
        assert verify_inclusion_proof(proof, public_pem)
        assert verify_inclusion_proof(proof, public_hex)


def test_proof_of_an_unknown_event_is_a_clear_error(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="event 5 is not in the ledger"):
        ledger.prove(5)


def _forgeries(proof: dict) -> dict[str, dict]:
    out = {}

    def variant(name: str, change) -> None:
        forged = copy.deepcopy(proof)
        change(forged)
        out[name] = forged

    variant("payload edited", lambda p: p["entry"]["payload"]["summary"].update(total_keys=1))
    variant("topic edited", lambda p: p["entry"].update(topic="envsync.drift"))
    variant("leaf index moved", lambda p: p.update(leaf_index=p["leaf_index"] + 1))
    variant("entry index moved", lambda p: p["entry"].update(leaf_index=p["entry"]["leaf_index"] + 1))
    variant("path node flipped", lambda p: p["audit_path"].__setitem__(
        0, format(int(p["audit_path"][0][:2], 16) ^ 1, "02x") + p["audit_path"][0][2:]))
    variant("path shortened", lambda p: p["audit_path"].pop())
    variant("path extended", lambda p: p["audit_path"].append(p["checkpoint"]["root"]))
    variant("root replaced", lambda p: p["checkpoint"].update(root="00" * 32))
    variant("size changed", lambda p: (p["checkpoint"].update(size=p["checkpoint"]["size"] + 1),
                                       p.update(tree_size=p["tree_size"] + 1)))
    variant("tree size differs", lambda p: p.update(tree_size=p["tree_size"] - 1))
    variant("leaf hash replaced", lambda p: p.update(leaf_hash="11" * 32))
    variant("checkpoint signature dropped", lambda p: p["checkpoint"].update(signature=""))
    variant("entry signature dropped", lambda p: p["entry"].update(signature="AAAA"))
    variant("not a proof", lambda p: p.update(type="something-else"))
    variant("path not hex", lambda p: p["audit_path"].__setitem__(0, "zz" * 32))
    return out


def test_forged_proofs_fail(ledger: Ledger) -> None:
    key = ledger.signer().public_pem
    proof = third_party(ledger.prove(117))
    for name, forged in _forgeries(proof).items():
        assert not verify_inclusion_proof(forged, key), name
        assert explain_inclusion_proof(forged, key)


def test_a_proof_re_signed_by_another_key_fails_under_the_real_key(ledger: Ledger, tmp_path: Path) -> None:
    """An attacker with their own key can make a self-consistent proof; the real key rejects it."""
    attacker = Ledger(tmp_path / "attacker", environ={})
    attacker.append_many([event(seq) for seq in range(100, 137)])
    forged = third_party(attacker.prove(117))
    forged["public_key"] = third_party(ledger.prove(117))["public_key"]  # claim the real key
    assert not verify_inclusion_proof(forged, ledger.signer().public_pem)
    reason = explain_inclusion_proof(forged, ledger.signer().public_pem)
    assert reason == "checkpoint signature does not verify with this public key"
    assert verify_inclusion_proof(forged, attacker.signer().public_hex)


def test_a_bad_public_key_argument_is_a_reason_not_a_crash(ledger: Ledger) -> None:
    proof = ledger.prove(100)
    assert not verify_inclusion_proof(proof, "not a key")
    assert not verify_inclusion_proof("not a proof", ledger.signer().public_hex)  # type: ignore[arg-type]


def test_proof_after_growth_is_against_the_newest_checkpoint(ledger: Ledger) -> None:
    old = ledger.prove(100)
    ledger.append(event(500))
    new = ledger.prove(100)
    assert (old["tree_size"], new["tree_size"]) == (37, 38)
    key = ledger.signer().public_hex
    assert verify_inclusion_proof(old, key) and verify_inclusion_proof(new, key)


def test_consistency_proof_from_a_kept_checkpoint(ledger: Ledger) -> None:
    kept = ledger.latest_checkpoint().to_json()
    ledger.append_many([event(seq) for seq in range(200, 211)])
    proof = third_party(ledger.consistency(kept["size"]))
    key = ledger.signer().public_pem
    assert proof["old_size"] == 37 and proof["checkpoint"]["size"] == 48
    assert verify_consistency_proof(proof, key, trusted=kept)
    assert verify_consistency_proof(proof, key)
    for size in (0, 1, 5, 32, 48):
        assert verify_consistency_proof(ledger.consistency(size), key)
    forged = copy.deepcopy(proof)
    forged["old_root"] = "22" * 32
    assert explain_consistency_proof(forged, key) == "the old tree is not a prefix of the checkpointed tree"
    wrong_kept = dict(kept, size=36)
    assert not verify_consistency_proof(proof, key, trusted=wrong_kept)
    with pytest.raises(LedgerError, match="outside"):
        ledger.consistency(49)


def test_proof_fails_for_another_ledgers_key(ledger: Ledger, tmp_path: Path) -> None:
    other = load_or_create_signer(tmp_path / "other", environ={})
    assert not verify_inclusion_proof(ledger.prove(101), other.public_pem)
