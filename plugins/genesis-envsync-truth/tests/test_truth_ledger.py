"""The ledger: append, idempotence, restart, crash states, tamper detection."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from truth_testlib import CANARY, StandInPolicy, event

from genesis_truth.errors import LedgerError
from genesis_truth.ledger import CHECKPOINTS_FILE, LEDGER_FILE, Ledger
from genesis_truth.merkle import leaf_hash, root_of
from genesis_truth.signing import load_or_create_signer, signer_from_seed


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def make_ledger(state: Path, count: int, start: int = 1) -> Ledger:
    ledger = Ledger(state, environ={}, mask=StandInPolicy().mask_payload)
    for seq in range(start, start + count):
        ledger.append(event(seq, "envsync.drift" if seq % 3 == 0 else "envsync.commit"))
    return ledger


def test_append_writes_signed_entries_and_a_checkpoint_per_append(state_dir: Path) -> None:
    ledger = make_ledger(state_dir, 5)
    entries = list(ledger.entries())
    assert [e.event_id for e in entries] == [1, 2, 3, 4, 5]
    assert [e.leaf_index for e in entries] == [0, 1, 2, 3, 4]
    assert entries[2].topic == "envsync.drift"
    assert entries[0].timestamp == "2025-10-11T22:45:01.000Z"
    assert entries[0].payload["_genesis_seq"] == 1
    raw = lines(state_dir / LEDGER_FILE)
    assert len(raw) == 5
    first = json.loads(raw[0])
    assert set(first) == {"event_id", "leaf_index", "topic", "timestamp", "payload", "signature"}
    checkpoints = [json.loads(line) for line in lines(state_dir / CHECKPOINTS_FILE)]
    assert [c["size"] for c in checkpoints] == [0, 1, 2, 3, 4, 5]
    assert checkpoints[-1]["root"] == root_of([leaf_hash(line.rstrip(b"\n")) for line in raw]).hex()
    result = ledger.verify()
    assert result.ok, result.describe()
    assert (result.entries, result.checkpoint_size, result.unanchored) == (5, 5, 0)
    assert ledger.verify(all_checkpoints=True).ok


def test_payload_is_masked_before_writing(state_dir: Path) -> None:
    ledger = Ledger(state_dir, environ={}, mask=StandInPolicy().mask_payload)
    ledger.append(event(1, conflicts={"API_TOKEN": {"render": CANARY}}, note="visible"))
    text = (state_dir / LEDGER_FILE).read_text()
    assert CANARY not in text
    assert "<secret>" in text and "visible" in text


def test_same_event_id_is_recorded_once(state_dir: Path) -> None:
    ledger = make_ledger(state_dir, 3)
    again = ledger.append(event(2))
    assert (again.appended, again.leaf_index) == (False, 1)
    results = ledger.append_many([event(4), event(4), event(1), event(5)])
    assert [(r.event_id, r.leaf_index, r.appended) for r in results] == [
        (4, 3, True), (4, 3, False), (1, 0, False), (5, 4, True)]
    assert [e.event_id for e in ledger.entries()] == [1, 2, 3, 4, 5]
    assert ledger.verify().ok


def test_a_new_ledger_object_continues_after_restart(state_dir: Path) -> None:
    make_ledger(state_dir, 4)
    reopened = Ledger(state_dir, environ={})
    assert not reopened.append(event(3)).appended
    assert reopened.append(event(9)).leaf_index == 4
    assert reopened.verify().ok
    assert len(reopened) == 5


def test_an_older_event_retried_late_is_still_recorded_once(state_dir: Path) -> None:
    ledger = make_ledger(state_dir, 3)
    ledger.append(event(10))
    late = ledger.append(event(7))  # e.g. retried from the dead-letter store
    assert (late.appended, late.leaf_index) == (True, 4)
    assert not Ledger(state_dir, environ={}).append(event(7)).appended
    assert not ledger.append(event(10)).appended
    assert ledger.append(event(8)).appended
    assert ledger.verify().ok
    assert [e.event_id for e in ledger.entries()] == [1, 2, 3, 10, 7, 8]


def test_invalid_events_are_refused_with_a_clear_message(state_dir: Path) -> None:
    ledger = Ledger(state_dir, environ={})
    bad_seq = {"_genesis_topic": "envsync.commit", "token": CANARY}
    with pytest.raises(LedgerError, match="_genesis_seq") as info:
        ledger.append(bad_seq)
    assert CANARY not in str(info.value)
    with pytest.raises(LedgerError, match="topic"):
        ledger.append({"_genesis_seq": 3})
    with pytest.raises(LedgerError, match="_genesis_seq"):
        ledger.append({"_genesis_seq": True, "_genesis_topic": "a"})
    assert not (state_dir / LEDGER_FILE).exists()


def test_non_json_values_are_recorded_as_text(state_dir: Path) -> None:
    ledger = Ledger(state_dir, environ={})
    ledger.append({"_genesis_seq": 1, "_genesis_topic": "t", "nan": float("nan"), "path": Path("/x"),
                   "tuple": (1, 2), 5: "int key"})
    payload = next(iter(ledger.entries())).payload
    assert payload["nan"] == "nan" and payload["path"] == "/x" and payload["tuple"] == [1, 2]
    assert payload["5"] == "int key"
    assert ledger.verify().ok


def test_verify_without_any_key_fails_closed(state_dir: Path) -> None:
    result = Ledger(state_dir, environ={}).verify()
    assert not result.ok
    assert "no signing key" in result.reason
    assert not (state_dir / "truth" / "ed25519.key").exists()


def test_verify_with_another_public_key_fails(state_dir: Path, tmp_path: Path) -> None:
    ledger = make_ledger(state_dir, 3)
    other = load_or_create_signer(tmp_path / "other", environ={})
    result = ledger.verify(other.public_pem)
    assert not result.ok
    assert "signature" in result.reason
    assert ledger.verify(ledger.signer().public_hex).ok


def test_unreadable_ledger_fails_closed(state_dir: Path) -> None:
    ledger = make_ledger(state_dir, 2)
    (state_dir / LEDGER_FILE).write_bytes(b"\xff\xfe garbage\n")
    result = ledger.verify()
    assert not result.ok and result.first_bad == 1 and "JSON" in result.reason


def test_environment_key_signs_and_verifies(state_dir: Path) -> None:
    env = {"GENESIS_TRUTH_KEY": "11" * 32}
    ledger = Ledger(state_dir, environ=env)
    ledger.append(event(1))
    assert ledger.signer().public_hex == signer_from_seed(bytes.fromhex("11" * 32)).public_hex
    assert not (state_dir / "truth" / "ed25519.key").exists()
    assert Ledger(state_dir, environ=env).verify().ok
    assert not Ledger(state_dir, environ={}).verify().ok  # no local key file


def test_changed_key_refuses_to_extend(state_dir: Path) -> None:
    make_ledger(state_dir, 2)
    other = Ledger(state_dir, environ={"GENESIS_TRUTH_KEY": "22" * 32})
    with pytest.raises(LedgerError, match="not signed by the current key"):
        other.append(event(3))


# ---------------------------------------------------------------- tampering

_TEMPLATE: dict[str, bytes] = {}


def _template() -> dict[str, bytes]:
    """One small ledger built once; each example works on a copy."""
    if not _TEMPLATE:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            make_ledger(state, 7)
            for path in state.rglob("*"):
                if path.is_file():
                    _TEMPLATE[str(path.relative_to(state))] = path.read_bytes()
    return _TEMPLATE


def _materialise(target: Path) -> Ledger:
    for rel, data in _template().items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.chmod(target / "truth" / "ed25519.key", 0o600)
    return Ledger(target, environ={})


def test_template_ledger_verifies(tmp_path: Path) -> None:
    assert _materialise(tmp_path).verify().ok


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_in_the_ledger_is_detected(data: st.DataObject) -> None:
    original = _template()[LEDGER_FILE]
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    with tempfile.TemporaryDirectory() as tmp:
        ledger = _materialise(Path(tmp))
        changed = bytearray(original)
        changed[position] = value
        ledger.path.write_bytes(bytes(changed))
        result = ledger.verify()
        assert not result.ok
        line_of_change = original[:position].count(b"\n") + 1
        if result.first_bad is not None and result.file == LEDGER_FILE:
            assert result.first_bad <= line_of_change + 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_single_byte_change_in_the_checkpoints_is_detected(data: st.DataObject) -> None:
    original = _template()[CHECKPOINTS_FILE]
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    with tempfile.TemporaryDirectory() as tmp:
        ledger = _materialise(Path(tmp))
        changed = bytearray(original)
        changed[position] = value
        ledger.checkpoints_path.write_bytes(bytes(changed))
        assert not ledger.verify(all_checkpoints=True).ok


def _line_edits() -> st.SearchStrategy[tuple[str, int, int]]:
    return st.tuples(st.sampled_from(["delete", "duplicate", "swap", "move"]),
                     st.integers(0, 6), st.integers(0, 6))


@settings(max_examples=120, deadline=None)
@given(_line_edits())
def test_deleted_duplicated_or_reordered_lines_are_detected(edit: tuple[str, int, int]) -> None:
    kind, i, j = edit
    original = _template()[LEDGER_FILE].splitlines(keepends=True)
    edited = list(original)
    if kind == "delete":
        del edited[i]
    elif kind == "duplicate":
        edited.insert(j, original[i])
    elif kind == "swap":
        if i == j:
            j = (i + 1) % len(edited)
        edited[i], edited[j] = edited[j], edited[i]
    else:
        if i == j:
            j = (i + 2) % len(edited)
        edited.insert(j, edited.pop(i))
    assert edited != original
    with tempfile.TemporaryDirectory() as tmp:
        ledger = _materialise(Path(tmp))
        ledger.path.write_bytes(b"".join(edited))
        result = ledger.verify()
        assert not result.ok
        assert result.file == LEDGER_FILE
        assert result.first_bad is not None
        assert result.first_bad <= len(edited) + 1


def test_first_bad_names_line_and_event(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    raw = lines(ledger.path)
    obj = json.loads(raw[3])
    obj["payload"]["summary"]["total_keys"] = 44
    raw[3] = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    ledger.path.write_bytes(b"".join(raw))
    result = ledger.verify()
    assert (result.ok, result.first_bad, result.event_id) == (False, 4, 4)
    assert result.describe() == (f"ledger BAD at {LEDGER_FILE} line 4 (event 4): "
                                 "signature does not verify")


def test_truncation_is_detected_against_the_checkpoint(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    raw = lines(ledger.path)
    ledger.path.write_bytes(b"".join(raw[:5]))
    result = ledger.verify()
    assert not result.ok and result.first_bad == 6 and "deleted" in result.reason
    with pytest.raises(LedgerError, match="shorter"):
        ledger.append(event(100))


def test_truncation_with_rewound_checkpoints_needs_a_checkpoint_kept_elsewhere(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    kept = ledger.latest_checkpoint().to_json()  # exported by an auditor earlier
    ledger.path.write_bytes(b"".join(lines(ledger.path)[:5]))
    ledger.checkpoints_path.write_bytes(b"".join(lines(ledger.checkpoints_path)[:6]))
    assert ledger.verify().ok  # indistinguishable from a ledger that stopped at 5 entries...
    result = ledger.verify(trusted_checkpoints=[kept])
    assert not result.ok and "trusted checkpoint" in result.reason  # ...unless you kept one


@pytest.mark.parametrize("damage", ["delete both", "empty both", "delete the ledger",
                                    "empty the ledger", "delete the checkpoints and empty the ledger"])
def test_a_trusted_checkpoint_catches_a_deleted_or_emptied_ledger(tmp_path: Path, damage: str) -> None:
    """Issue 19 item 1: a kept checkpoint of size N fails any ledger shorter than N, even an empty one."""
    ledger = _materialise(tmp_path)
    kept = ledger.latest_checkpoint().to_json()
    assert kept["size"] == 7
    if damage in ("delete both", "delete the ledger"):
        ledger.path.unlink()
    if damage in ("delete both", "delete the checkpoints and empty the ledger"):
        ledger.checkpoints_path.unlink()
    if damage in ("empty both", "empty the ledger", "delete the checkpoints and empty the ledger"):
        ledger.path.write_bytes(b"")
    if damage == "empty both":
        ledger.checkpoints_path.write_bytes(b"")
    result = ledger.verify(trusted_checkpoints=[kept])
    assert not result.ok, result.describe()
    assert result.entries == 0
    assert "trusted checkpoint covers 7" in result.reason or "latest checkpoint covers 7" in result.reason


def test_a_trusted_checkpoint_of_size_zero_accepts_an_empty_ledger(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, environ={})
    ledger.signer()
    ledger.repair()  # writes the checkpoint of the empty ledger
    kept = ledger.latest_checkpoint().to_json()
    assert kept["size"] == 0
    assert ledger.verify(trusted_checkpoints=[kept]).ok


@pytest.mark.parametrize("line", range(7))
def test_a_deleted_checkpoint_line_is_caught(tmp_path: Path, line: int) -> None:
    """Issue 19 item 1: every checkpoint names the line before it, so no line can vanish unnoticed."""
    ledger = _materialise(tmp_path)
    raw = lines(ledger.checkpoints_path)
    assert len(raw) == 8  # the empty ledger's checkpoint, then one per append
    del raw[line]
    ledger.checkpoints_path.write_bytes(b"".join(raw))
    result = ledger.verify(all_checkpoints=True)
    assert not result.ok, result.describe()
    assert result.file == CHECKPOINTS_FILE and result.first_bad == line + 1
    assert "deleted" in result.reason
    assert not ledger.verify().ok  # the chain is checked without --all-checkpoints too


def test_checkpoints_written_before_prev_existed_are_still_read(state_dir: Path) -> None:
    from genesis_truth.records import signed_bytes
    from genesis_truth.signing import canonical_bytes

    ledger = make_ledger(state_dir, 3)
    signer = ledger.signer()
    legacy = []
    for line in lines(ledger.checkpoints_path):  # as an older Genesis wrote them: no prev
        obj = {k: v for k, v in json.loads(line).items() if k not in ("prev", "signature")}
        obj["signature"] = signer.sign_b64(signed_bytes(obj))
        legacy.append(canonical_bytes(obj) + b"\n")
    ledger.checkpoints_path.write_bytes(b"".join(legacy))
    assert ledger.verify(all_checkpoints=True).ok
    ledger.append(event(10))
    ledger.append(event(11))
    assert "prev" in json.loads(lines(ledger.checkpoints_path)[-2])
    assert ledger.verify(all_checkpoints=True).ok
    raw = lines(ledger.checkpoints_path)
    del raw[-2]  # a linked line: caught
    ledger.checkpoints_path.write_bytes(b"".join(raw))
    assert "does not follow" in ledger.verify().reason


def test_forged_trusted_checkpoint_is_rejected(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    kept = ledger.latest_checkpoint().to_json()
    kept["size"] = 3
    assert "trusted checkpoint signature" in ledger.verify(trusted_checkpoints=[kept]).reason


def test_missing_checkpoints_file_fails_closed(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    ledger.checkpoints_path.unlink()
    result = ledger.verify()
    assert not result.ok and "no checkpoint" in result.reason
    with pytest.raises(LedgerError, match="no checkpoint"):
        ledger.append(event(50))
    repaired = ledger.repair()  # an explicit, human decision
    assert repaired.checkpoint is not None and repaired.checkpoint.size == 7
    assert ledger.verify().ok


def test_append_refuses_to_extend_a_tampered_ledger_after_index_loss(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    raw = lines(ledger.path)
    raw[2] = raw[2].replace(b'"total_keys":45', b'"total_keys":46')
    ledger.path.write_bytes(b"".join(raw))
    shutil.rmtree(tmp_path / "truth" / "index")
    with pytest.raises(LedgerError, match=r"truth_ledger.json:3: signature does not verify"):
        ledger.append(event(70))
    assert len(lines(ledger.path)) == 7


def test_same_length_tampering_is_not_laundered_into_a_new_checkpoint(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    raw = lines(ledger.path)
    raw[1] = raw[1].replace(b'"total_keys":45', b'"total_keys":46')
    ledger.path.write_bytes(b"".join(raw))
    ledger.append(event(71))  # the index still holds the original leaf hashes
    result = ledger.verify()
    assert not result.ok and result.first_bad == 2


# ---------------------------------------------------------------- crash states

def test_torn_last_line_is_reported_then_moved_aside_by_the_next_append(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    whole = ledger.path.read_bytes()
    ledger.path.write_bytes(whole + b'{"event_id":8,"leaf_ind')  # kill -9 mid-write
    result = ledger.verify()
    assert not result.ok and result.first_bad == 8 and "incomplete last line" in result.reason
    assert ledger.append(event(8)).leaf_index == 7
    assert ledger.verify().ok
    torn = list((tmp_path / "truth" / "torn").iterdir())
    assert len(torn) == 1 and torn[0].read_bytes() == b'{"event_id":8,"leaf_ind'


def test_repair_moves_torn_lines_of_both_files(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    with ledger.path.open("ab") as fh:
        fh.write(b'{"event_')
    with ledger.checkpoints_path.open("ab") as fh:
        fh.write(b'{"root":"ab')
    assert not ledger.verify().ok
    result = ledger.repair()
    assert result.torn_bytes == {LEDGER_FILE: 8, CHECKPOINTS_FILE: 11}
    assert result.checkpoint is None
    assert ledger.verify().ok


def test_entries_after_the_last_checkpoint_are_valid_and_get_checkpointed(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    # The state a kill -9 leaves between writing entries and writing their checkpoint.
    ledger.checkpoints_path.write_bytes(b"".join(lines(ledger.checkpoints_path)[:-2]))
    shutil.rmtree(tmp_path / "truth" / "index")
    result = ledger.verify()
    assert result.ok and result.unanchored == 2 and result.checkpoint_size == 5
    assert "after the latest checkpoint" in result.describe()
    assert not ledger.append(event(7)).appended  # redelivered: already there, and now covered
    result = ledger.verify()
    assert result.ok and result.unanchored == 0 and result.checkpoint_size == 7


def test_ledger_lines_written_but_not_indexed_are_absorbed(tmp_path: Path) -> None:
    state = tmp_path / "a"
    ledger = make_ledger(state, 3)
    meta_before = (state / "truth" / "index" / "meta.json").read_bytes()
    ledger.append(event(4))
    # roll the index back to before the last append, as if killed after the ledger write
    (state / "truth" / "index" / "meta.json").write_bytes(meta_before)
    ledger.checkpoints_path.write_bytes(b"".join(lines(ledger.checkpoints_path)[:-1]))
    assert Ledger(state, environ={}).append(event(5)).leaf_index == 4
    assert Ledger(state, environ={}).verify().ok
    assert [e.event_id for e in ledger.entries()] == [1, 2, 3, 4, 5]


def test_corrupted_index_is_rebuilt_from_the_ledger(tmp_path: Path) -> None:
    ledger = _materialise(tmp_path)
    level0 = tmp_path / "truth" / "index" / "level-00.bin"
    data = bytearray(level0.read_bytes())
    data[40] ^= 0xFF
    level0.write_bytes(bytes(data))
    ledger.append(event(8))
    assert ledger.verify(all_checkpoints=True).ok
    proof = ledger.prove(2)
    assert proof["leaf_index"] == 1


def _append_worker(state: str, seqs: list[int]) -> None:
    ledger = Ledger(Path(state), environ={})
    for seq in seqs:
        ledger.append(event(seq))


def test_concurrent_appends_from_several_processes(state_dir: Path) -> None:
    load_or_create_signer(state_dir, environ={})
    ctx = multiprocessing.get_context("fork")
    # overlapping ranges: every seq is delivered to two processes
    plans = [list(range(1, 31)), list(range(16, 46)), list(range(31, 61)), list(range(1, 61, 7))]
    procs = [ctx.Process(target=_append_worker, args=(str(state_dir), plan)) for plan in plans]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    ledger = Ledger(state_dir, environ={})
    ids = [e.event_id for e in ledger.entries()]
    assert sorted(ids) == list(range(1, 61))
    result = ledger.verify(all_checkpoints=True)
    assert result.ok and result.entries == 60


# ---------------------------------------------------------------- kill -9

_WORKER = """
import sys
from genesis_truth.ledger import Ledger
ledger = Ledger(sys.argv[1], environ={})
seq = int(sys.argv[2])
while True:
    if seq % 4 == 0:
        ledger.append_many([{"_genesis_seq": seq, "_genesis_topic": "envsync.commit"},
                            {"_genesis_seq": seq + 1, "_genesis_topic": "envsync.drift"}])
        print(seq, seq + 1, flush=True)
        seq += 2
    else:
        ledger.append({"_genesis_seq": seq, "_genesis_topic": "envsync.commit", "pad": "x" * (seq % 300)})
        print(seq, flush=True)
        seq += 1
"""


def test_kill_9_during_appends_loses_nothing_acknowledged(tmp_path: Path) -> None:
    import random
    import signal
    import subprocess
    import sys
    import time

    worker = tmp_path / "worker.py"
    worker.write_text(_WORKER)
    state = tmp_path / "state"
    load_or_create_signer(state, environ={})
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    next_seq = 1
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(worker), str(state), str(next_seq)],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.3, 0.7))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        recorded = [int(word) for word in out.split()]
        acknowledged.update(recorded)
        next_seq = max(recorded, default=next_seq - 1) + 1  # the in-flight event is delivered again
        result = Ledger(state, environ={}).verify()
        # A torn last line is possible in principle (a write cut at a page boundary); it is
        # reported, and the next append moves it aside.  Anything else is a failure.
        assert result.ok or "incomplete last line" in result.reason, result.describe()
    ledger = Ledger(state, environ={})
    ledger.append({"_genesis_seq": 10**6, "_genesis_topic": "envsync.commit"})
    ids = [entry.event_id for entry in ledger.entries()]
    assert len(ids) == len(set(ids))
    assert acknowledged <= set(ids)
    result = ledger.verify(all_checkpoints=True)
    assert result.ok and result.unanchored == 0, result.describe()


def test_a_lost_key_is_an_error_not_a_new_key(state_dir: Path) -> None:
    make_ledger(state_dir, 2)
    (state_dir / "truth" / "ed25519.key").unlink()
    fresh = Ledger(state_dir, environ={})
    with pytest.raises(LedgerError, match="restore it"):
        fresh.append(event(3))
    with pytest.raises(LedgerError, match="restore it"):
        fresh.signer()
    assert not (state_dir / "truth" / "ed25519.key").exists()
    assert "no signing key" in fresh.verify().reason
