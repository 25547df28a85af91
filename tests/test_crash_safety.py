"""Crash safety: ``kill -9`` at random moments of a publish burst and of ledger appends, 50 times each.

A child process publishes (or appends to the Truth ledger) in a loop and
writes one line per *acknowledged* event to stdout (``os.write`` of a whole
line, so a line is either there or not).  The parent SIGKILLs it at a random
moment: during start-up, after a random delay, or after a random number of
acknowledgements.  Then the parent reopens the files and checks:

* event store: SQLite integrity, every acknowledged event stored exactly once
  under its acknowledged ``seq``, ``seq`` unique and strictly increasing, a
  restart never reuses a ``seq``, per-topic counters agree with the rows, and
  the product's own reader returns the same history;
* ledger: ``Ledger.verify()`` passes (a torn last line, the one state the
  Truth docs say verify reports as bad, is accepted only if the documented
  recovery, ``genesis ledger repair`` or the next append, fixes it), every
  acknowledged event id is recorded exactly once, redelivered ids are not
  recorded twice.

Every iteration uses its own seed (``MASTER_SEED + i``) for the kill plan and
the child's choices; a failure message names the seed and the plan.
``CRASH_SEED=<seed>`` runs just that iteration's plan, on a fresh state dir
(the exact kill moment still depends on timing).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ITERATIONS = 50
MASTER_SEED = 9_071_966
TOPIC = "robust.burst"

PUBLISHER = r"""
import asyncio, os, random, sys
from genesis_core.bus import GenesisBus
from genesis_core.bus.guardian import DefaultPolicy, Guardian
from genesis_core.bus.store import open_store

state_dir, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
bus = GenesisBus(open_store(state_dir), Guardian.of(DefaultPolicy()))

def ack(envelope, worker, n):
    os.write(1, f"ACK {envelope.seq} {envelope.event_id} {worker} {n}\n".encode())

async def publisher(worker):
    n = 0
    while True:
        if rng.random() < 0.3:
            batch = []
            for _ in range(rng.randint(2, 8)):
                n += 1
                batch.append(("TOPIC", {"seed": seed, "worker": worker, "n": n}))
            results = await bus.publish_many(batch)
            for result, (_, payload) in zip(results, batch):
                ack(result.envelope, worker, payload["n"])
        else:
            n += 1
            result = await bus.publish("TOPIC", {"seed": seed, "worker": worker, "n": n})
            ack(result.envelope, worker, n)

async def main():
    os.write(1, b"READY\n")
    await asyncio.gather(*(publisher(w) for w in range(rng.randint(1, 6))))

asyncio.run(main())
""".replace("TOPIC", TOPIC)

APPENDER = r"""
import os, random, sys
from genesis_truth.ledger import Ledger

state_dir, seed, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
ledger = Ledger(state_dir)
os.write(1, b"READY\n")

def event(event_id):
    return {"_genesis_seq": event_id, "_genesis_topic": "envsync.drift",
            "_genesis_timestamp": "2025-10-11T22:43:00.000Z", "has_drift": True, "seed": seed}

next_id = first
while True:
    if rng.random() < 0.3:
        ids = list(range(next_id, next_id + rng.randint(2, 6)))
        results = ledger.append_many([event(i) for i in ids])
    else:
        ids = [next_id]
        results = [ledger.append(event(next_id))]
    for result in results:
        os.write(1, f"ACK {result.event_id} {int(result.appended)} {result.leaf_index}\n".encode())
    next_id = ids[-1] + 1
"""


def iteration_seeds() -> list[int]:
    """Return the seeds to run: ``CRASH_SEED`` alone when set (to replay one failure), else 50."""
    replay = os.environ.get("CRASH_SEED")
    if replay:
        return [int(replay)]
    return [MASTER_SEED + i for i in range(ITERATIONS)]


@attrs.define
class Killed:
    """What one killed child said before it died."""

    lines: list[str]
    stderr: str
    returncode: int
    plan: str


def run_and_kill(args: list[str], rng: random.Random, workdir: Path, *, max_delay: float = 0.25,
                 max_acks: int = 400) -> Killed:
    """Start ``python -c args...``, SIGKILL it at a random moment, return its complete stdout lines.

    The moment: during start-up (15 %), ``0..max_delay`` seconds after the child is ready (40 %),
    or after ``0..max_acks`` acknowledgements (45 %).
    """
    stderr_path = workdir / "child-stderr.txt"
    with stderr_path.open("wb") as stderr_file:
        proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=stderr_file,
                                cwd=workdir, bufsize=0)
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            pending = b""
            while True:
                chunk = proc.stdout.read(65536)
                if not chunk:
                    return  # an unterminated last piece was never fully written: not an acknowledgement
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    text = raw.decode()
                    if text == "READY":
                        ready.set()
                    lines.append(text)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        mode = rng.random()
        deadline = time.monotonic() + 30
        if mode < 0.15:  # during start-up: imports, opening the store, recovery of the last crash
            plan = "early"
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            assert ready.wait(30), f"the child never became ready: {stderr_path.read_text()[-2000:]}"
            if mode < 0.55:
                delay = rng.uniform(0.0, max_delay)
                plan = f"{delay:.3f}s after ready"
                time.sleep(delay)
            else:
                wanted = rng.randint(0, max_acks)
                plan = f"after {wanted} acknowledgements"
                while sum(1 for line in lines if line.startswith("ACK")) < wanted:
                    assert proc.poll() is None, f"the child died: {stderr_path.read_text()[-2000:]}"
                    assert time.monotonic() < deadline, "the child stalled"
                    time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        reader.join(30)
    return Killed(lines, stderr_path.read_text(errors="replace"), proc.returncode, plan)


def acknowledgements(killed: Killed) -> list[list[str]]:
    return [line.split()[1:] for line in killed.lines if line.startswith("ACK ")]


def check_child_was_killed(killed: Killed, seed: int) -> None:
    assert killed.returncode == -signal.SIGKILL, (
        f"seed {seed}: the child ended on its own ({killed.returncode}) before the kill ({killed.plan}):\n"
        f"{killed.stderr[-3000:]}")


# -- the event store --------------------------------------------------------------------------------------

@pytest.fixture
def bus_state(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "bus-state"
    state.mkdir()
    yield state


def read_store(state: Path) -> tuple[list[tuple[int, str, str]], dict[str, int], str, int]:
    """Return ``(rows (seq, event_id, payload), topic counts, integrity, sqlite_sequence)``, read with plain sqlite3."""
    conn = sqlite3.connect(state / "events.db")
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute("SELECT seq, event_id, payload FROM events ORDER BY rowid").fetchall()
        counts = dict(conn.execute("SELECT topic, count FROM topic_counts").fetchall())
        found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    finally:
        conn.close()
    return rows, counts, integrity, (found[0] if found else 0)


def test_kill_9_during_a_publish_burst_loses_no_acknowledged_event(bus_state: Path, tmp_path: Path) -> None:
    import json

    from genesis_core.bus.store import open_store

    acked_total = 0
    max_seq_before = 0
    for seed in iteration_seeds():
        rng = random.Random(seed)
        killed = run_and_kill(["-c", PUBLISHER, str(bus_state), str(seed)], rng, tmp_path)
        check_child_was_killed(killed, seed)
        where = f"seed {seed} (killed {killed.plan})"
        acks = acknowledgements(killed)
        if not (bus_state / "events.db").exists():
            assert not acks, f"{where}: events acknowledged but no store file"
            continue
        rows, counts, integrity, sequence = read_store(bus_state)
        assert integrity == "ok", f"{where}: {integrity}"
        seqs = [seq for seq, _, _ in rows]
        assert seqs == sorted(set(seqs)), f"{where}: seq not strictly increasing / duplicated"
        ids = [event_id for _, event_id, _ in rows]
        assert len(ids) == len(set(ids)), f"{where}: an event id is stored twice"
        assert sequence >= (seqs[-1] if seqs else 0), f"{where}: sqlite_sequence behind the stored seq"
        by_id = {event_id: (seq, payload) for seq, event_id, payload in rows}
        logical = [(p["seed"], p["worker"], p["n"]) for p in (json.loads(payload) for _, _, payload in rows)]
        assert len(logical) == len(set(logical)), f"{where}: one publish stored twice"
        per_worker: dict[str, list[int]] = {}
        for seq_text, event_id, worker, n in acks:
            assert event_id in by_id, f"{where}: acknowledged event seq {seq_text} ({event_id}) is lost"
            stored_seq, payload = by_id[event_id]
            assert stored_seq == int(seq_text), f"{where}: {event_id} acknowledged as {seq_text}, stored {stored_seq}"
            assert json.loads(payload) == {"seed": seed, "worker": int(worker), "n": int(n)}
            assert stored_seq > max_seq_before, f"{where}: seq {stored_seq} reused after a restart"
            per_worker.setdefault(worker, []).append(stored_seq)
        for worker, worker_seqs in per_worker.items():
            assert worker_seqs == sorted(worker_seqs), f"{where}: worker {worker} saw its seqs go backwards"
        assert counts.get(TOPIC, 0) == len(rows), f"{where}: topic counter {counts} != {len(rows)} rows"
        acked_total += len(acks)
        max_seq_before = max(max_seq_before, seqs[-1] if seqs else 0)

    # The product's own reader (after the last crash) sees exactly the same history.
    store = open_store(bus_state)
    try:
        history = store.history()
        assert [e.seq for e in history] == [seq for seq, _, _ in read_store(bus_state)[0]]
    finally:
        store.close()
    if len(iteration_seeds()) == ITERATIONS:
        assert acked_total > ITERATIONS, f"only {acked_total} events were acknowledged in all: the kills came too early"
    print(f"publish crash iterations: {acked_total} events acknowledged, {max_seq_before} stored")


# -- the Truth ledger --------------------------------------------------------------------------------------

def ledger_ids(state: Path) -> list[int]:
    from genesis_truth.ledger import Ledger

    entries = list(Ledger(state).entries())
    assert [e.leaf_index for e in entries] == list(range(len(entries)))
    return [e.event_id for e in entries]


TORN = "incomplete last line"
RECOVERIES = ("cli repair", "next append")


def redelivery(event_id: int) -> dict[str, Any]:
    """Return an already recorded event as the bus would deliver it again."""
    return {"_genesis_seq": event_id, "_genesis_topic": "envsync.drift",
            "_genesis_timestamp": "2025-10-11T22:43:00.000Z", "has_drift": True}


def recover_torn_tail(state: Path, how: str, run_cli: Any, recorded_id: int | None) -> None:
    """Run the documented recovery of a torn last line: ``genesis ledger repair`` or the next append."""
    from genesis_truth.ledger import Ledger

    if how == "cli repair" or recorded_id is None:
        code, out, err = run_cli("ledger", "repair")
        assert code == 0, f"genesis ledger repair: {out}{err}"
    else:  # the next append: a redelivered event, which must not be recorded twice
        assert Ledger(state).append(redelivery(recorded_id)).appended is False


@pytest.mark.parametrize("how", RECOVERIES)
def test_a_torn_last_line_is_fixed_by_the_documented_recovery(how: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, run_cli: Any) -> None:
    """A cut mid-line (what a power cut can leave, SIGKILL cannot) fails verify until recovered."""
    from genesis_truth.ledger import LEDGER_FILE, Ledger

    state = tmp_path / "ledger-state"
    monkeypatch.setenv("GENESIS_HOME", str(state))
    ledger = Ledger(state)
    for event_id in range(1, 6):
        ledger.append(redelivery(event_id))
    # Step 1 of an append (the entry's write) cut part-way: no newline, no index update, no checkpoint.
    with (state / LEDGER_FILE).open("ab") as ledger_file:
        ledger_file.write(b'{"event_id":6,"leaf_index":5,"payload":{"_genesis_seq":6,"_gen')
    torn = Ledger(state).verify()
    assert not torn.ok and TORN in torn.reason, torn.describe()
    recover_torn_tail(state, how, run_cli, 3)
    assert Ledger(state).verify().ok
    kept = b"".join(p.read_bytes() for p in (state / "truth" / "torn").iterdir())
    assert b'"event_id":6,"leaf_index":5' in kept, "the torn bytes were not kept in truth/torn/"
    assert ledger_ids(state) == [1, 2, 3, 4, 5]  # the torn event was never acknowledged: delivered again later
    assert Ledger(state).append(redelivery(6)).appended is True
    assert Ledger(state).verify().ok and ledger_ids(state) == [1, 2, 3, 4, 5, 6]


def test_kill_9_during_ledger_appends_keeps_it_verifiable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          run_cli: Any) -> None:
    from genesis_truth.ledger import Ledger

    state = tmp_path / "ledger-state"
    state.mkdir()
    monkeypatch.setenv("GENESIS_HOME", str(state))  # `genesis ledger repair` works on this state dir
    monkeypatch.delenv("GENESIS_TRUTH_KEY", raising=False)
    acked: set[int] = set()
    next_first = 1
    repairs = {"cli repair": 0, "next append": 0}
    unanchored_states = 0
    for i, seed in enumerate(iteration_seeds()):
        rng = random.Random(seed)
        overlap = min(rng.randint(0, 3), next_first - 1)  # redeliver a few recorded ids, as a bus retry does
        first = next_first - overlap
        # Fewer appends per run than publishes: verify reads the whole ledger after every kill.
        killed = run_and_kill(["-c", APPENDER, str(state), str(seed), str(first)], rng, tmp_path,
                              max_delay=0.08, max_acks=80)
        check_child_was_killed(killed, seed)
        where = f"seed {seed} (killed {killed.plan})"
        acks = [(int(event_id), appended == "1") for event_id, appended, _leaf in acknowledgements(killed)]
        for event_id, appended in acks:
            if event_id in acked:
                assert not appended, f"{where}: redelivered event {event_id} was recorded again"
        if not (state / "truth_ledger.json").exists() and not acks:
            continue  # killed before the first append
        result = Ledger(state).verify()
        if not result.ok:  # the one state the docs allow verify to flag: a torn last line
            assert TORN in result.reason, f"{where}: {result.describe()}"
            how = RECOVERIES[i % 2]
            recover_torn_tail(state, how, run_cli, max(acked, default=None))
            repairs[how] += 1
            result = Ledger(state).verify()
        assert result.ok, f"{where}: {result.describe()}"
        unanchored_states += bool(result.unanchored)
        acked.update(event_id for event_id, _ in acks)
        ids = ledger_ids(state)
        assert len(ids) == len(set(ids)), f"{where}: an event id is recorded twice"
        missing = acked - set(ids)
        assert not missing, f"{where}: acknowledged event ids lost: {sorted(missing)[:10]}"
        next_first = max(ids, default=0) + 1

    code, out, err = run_cli("ledger", "verify")
    assert code == 0, out + err
    if len(iteration_seeds()) == ITERATIONS:
        assert len(acked) > ITERATIONS, f"only {len(acked)} appends were acknowledged: the kills came too early"
    print(f"ledger crash iterations: {len(acked)} ids acknowledged, recoveries {repairs}, "
          f"{unanchored_states} kill(s) left entries after the latest checkpoint")
