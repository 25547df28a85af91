"""Real processes on one state dir: restart, two concurrent writers, kill -9 during a burst."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.store import open_store

PRELUDE = """
import asyncio, json, os, sys, time
from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.store import open_store
state, durability = sys.argv[1], sys.argv[2]
bus = GenesisBus(open_store(state, durability=durability), Guardian.of(DefaultPolicy()))
"""

RESTART_CHILD = PRELUDE + """
async def main():
    for i in range(int(sys.argv[3])):
        await bus.publish(sys.argv[4], {"i": i})
asyncio.run(main())
print(json.dumps({"stats": bus.stats(),
                  "seqs": [e["_genesis_seq"] for e in bus.get_event_history(limit=None)]}))
bus.close()
"""

WRITER_CHILD = PRELUDE + """
count, go = int(sys.argv[3]), sys.argv[4]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
async def main():
    seqs, i = [], 0
    while i < count:
        if i % 3 == 0:
            batch = await asyncio.gather(*(bus.publish("w.x", {"pid": os.getpid(), "i": i + k})
                                           for k in range(5)))
            seqs += [r.seq for r in batch]
            i += 5
        else:
            seqs.append((await bus.publish("w.x", {"pid": os.getpid(), "i": i})).seq)
            i += 1
    return seqs
print(json.dumps(asyncio.run(main())))
bus.close()
"""

BURST_CHILD = PRELUDE + """
async def main():
    i = 0
    print("ready", flush=True)
    while True:
        if i % 2:
            results = await asyncio.gather(*(bus.publish("burst.x", {"i": i, "j": j})
                                             for j in range(8)))
        else:
            results = [await bus.publish("burst.x", {"i": i})]
        for r in results:  # only what publish reported as stored
            sys.stdout.write(f"{r.seq} {r.envelope.event_id}\\n")
        sys.stdout.flush()
        i += 1
asyncio.run(main())
"""

REPORTED = re.compile(r"^(\d+) ([0-9a-f]{32})\n$")


def child(code: str, state: Path, *args: str, durability: str = "full") -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, str(state), durability, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def test_history_and_stats_survive_a_process_restart(tmp_path: Path) -> None:
    first = json.loads(finish(child(RESTART_CHILD, tmp_path, "3", "envsync.drift")))
    second = json.loads(finish(child(RESTART_CHILD, tmp_path, "2", "envsync.commit")))
    assert first["stats"] == {"envsync.drift": 3}
    assert second["stats"] == {"envsync.drift": 3, "envsync.commit": 2}
    assert second["seqs"][:3] == first["seqs"]
    assert second["seqs"] == sorted(set(second["seqs"])) and len(second["seqs"]) == 5


def test_two_processes_publishing_into_one_state_dir(tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [child(WRITER_CHILD, tmp_path, "300", str(go), durability=mode)
             for mode in ("full", "normal")]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    per_process = [json.loads(finish(proc).strip().splitlines()[-1]) for proc in procs]

    for seqs in per_process:
        assert len(seqs) == 300
        assert seqs == sorted(seqs) and len(set(seqs)) == 300  # strictly increasing per process
    union = per_process[0] + per_process[1]
    assert len(set(union)) == 600  # no seq handed out twice
    bus = GenesisBus(open_store(tmp_path), Guardian.of(DefaultPolicy()))
    stored = bus.history()
    assert [e.seq for e in stored] == sorted(union)
    assert bus.stats() == {"w.x": 600}
    by_pid: dict[int, list[int]] = {}
    for envelope in stored:
        by_pid.setdefault(envelope.payload["pid"], []).append(envelope.payload["i"])
    assert sorted(by_pid.values()) == [list(range(300))] * 2  # each process's order kept
    bus.close()


@pytest.mark.parametrize("round_", range(6))
def test_kill_9_during_a_burst_loses_nothing_reported(tmp_path: Path, round_: int) -> None:
    durability = "full" if round_ % 2 == 0 else "normal"
    rng = random.Random(round_)
    proc = child(BURST_CHILD, tmp_path, durability=durability)
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                ready.set()
            else:
                lines.append(line)

    reader = threading.Thread(target=read)
    reader.start()
    assert ready.wait(30), proc.stderr.read() if proc.stderr else ""
    time.sleep(rng.uniform(0.05, 0.4))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    reader.join(30)
    assert proc.returncode == -signal.SIGKILL

    reported = {}
    for line in lines:
        match = REPORTED.match(line)
        if match:  # a line cut short by the kill was never fully reported
            reported[int(match.group(1))] = match.group(2)
    assert len(reported) > 10

    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT seq, event_id FROM events ORDER BY seq").fetchall()
    conn.close()
    stored = dict(rows)
    assert len(stored) == len(rows)
    assert len(set(stored.values())) == len(rows)  # each event id once
    for seq, event_id in reported.items():
        assert stored.get(seq) == event_id, f"reported event {seq} missing after kill -9"

    bus = GenesisBus(open_store(tmp_path), Guardian.of(DefaultPolicy()))  # the store still opens
    after = bus.publish_sync("burst.after", {})
    assert after.seq > max(stored)
    assert bus.stats()["burst.x"] == len(stored)
    bus.close()
