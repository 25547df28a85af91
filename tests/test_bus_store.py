"""The embedded SQLite store: persistence, sequence, export, tail, dead letters, bad files."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.envelope import Envelope
from genesis_core.bus.store import SqliteTransport, open_store
from genesis_core.config import Table
from genesis_core.errors import BusError, ConfigError


def make_bus(state: Path, **kwargs: Any) -> GenesisBus:
    return GenesisBus(open_store(state, durability=kwargs.pop("durability", "full")),
                      Guardian.of(DefaultPolicy()), **kwargs)


def test_history_stats_and_seq_survive_a_restart(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    first = [bus.publish_sync("envsync.drift", {"i": i}).seq for i in range(3)]
    bus.publish_sync("envsync.commit", {})
    bus.close()

    bus = make_bus(tmp_path)
    assert bus.stats() == {"envsync.commit": 1, "envsync.drift": 3}
    assert [e["i"] for e in bus.get_event_history(limit=10, topic="envsync.drift")] == [0, 1, 2]
    later = bus.publish_sync("envsync.drift", {"i": 3}).seq
    assert later == max(first) + 2 == bus.last_seq()  # the commit event took one
    assert bus.stats()["envsync.drift"] == 4
    bus.close()


def test_seq_is_never_reused_even_after_rows_are_deleted(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    seqs = [bus.publish_sync("a.b", {}).seq for _ in range(3)]
    bus.close()
    with sqlite3.connect(tmp_path / "events.db") as conn:
        conn.execute("DELETE FROM events WHERE seq >= ?", (seqs[1],))
    conn.close()
    bus = make_bus(tmp_path)
    assert bus.publish_sync("a.b", {}).seq == seqs[-1] + 1
    bus.close()


def test_store_uses_wal_and_the_configured_durability(tmp_path: Path) -> None:
    full = SqliteTransport(tmp_path / "full.db")
    normal = SqliteTransport(tmp_path / "normal.db", durability="normal")
    assert full._read("PRAGMA synchronous")[0][0] == 2  # FULL
    assert normal._read("PRAGMA synchronous")[0][0] == 1  # NORMAL
    with sqlite3.connect(tmp_path / "full.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    full.close()
    normal.close()
    with pytest.raises(BusError, match="durability"):
        SqliteTransport(tmp_path / "x.db", durability="sometimes")


def test_from_config_reads_bus_table(tmp_path: Path) -> None:
    table = Table({"durability": "normal", "busy_timeout": 2}, "genesis.toml", "bus")
    store = SqliteTransport.from_config(table, tmp_path / "state")
    assert store.durability == "normal" and store.busy_timeout == 2.0
    assert store.path == tmp_path / "state" / "events.db"
    store.close()
    with pytest.raises(ConfigError) as err:
        SqliteTransport.from_config(Table({"durability": "fast"}, "genesis.toml", "bus"), tmp_path)
    assert "genesis.toml" in str(err.value) and "bus.durability" in str(err.value)


def test_concurrent_publishes_share_commits_and_get_unique_seqs(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)

    async def burst() -> list[Any]:
        return await asyncio.gather(*(bus.publish("b.x", {"i": i}) for i in range(300)))

    results = asyncio.run(burst())
    seqs = [r.seq for r in results]
    assert seqs == list(range(seqs[0], seqs[0] + 300))  # gather order == enqueue order
    assert [e.payload["i"] for e in bus.history()] == list(range(300))
    bus.close()


def test_export_jsonl_round_trip(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    bus.publish_sync("envsync.drift", {"missing": ["A"], "nested": {"x": 1.5}})
    bus.publish_sync("truth.entry", {"text": "üñï"})
    bus.publish_sync("envsync.commit", {})
    target = tmp_path / "export.jsonl"

    assert bus.export_jsonl(target) == 3
    lines = target.read_text(encoding="utf-8").splitlines()
    restored = [Envelope.from_record(json.loads(line)) for line in lines]
    assert restored == bus.history()

    buffer = io.StringIO()
    assert bus.export_jsonl(buffer, topic="envsync.*") == 2
    topics = [json.loads(line)["topic"] for line in buffer.getvalue().splitlines()]
    assert topics == ["envsync.drift", "envsync.commit"]
    bus.close()


def test_iter_history_pages_through_everything(tmp_path: Path) -> None:
    store = open_store(tmp_path)

    async def fill() -> None:
        await store.append_many([("p.q", {"i": i}, f"id-{i}", "2025-01-01T00:00:00.000Z", "s")
                                 for i in range(25)])

    asyncio.run(fill())
    got = list(store.iter_history(after_seq=3, page_size=4))
    assert [e.payload["i"] for e in got] == list(range(3, 25))
    assert list(store.iter_history(topic="none.*")) == []
    store.close()


def test_tail_yields_old_and_new_events(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    for i in range(3):
        bus.publish_sync("t.x", {"i": i})
    assert [e.payload["i"] for e in bus.tail(after_seq=0, poll_interval=0.01, idle_timeout=0.05)] \
        == [0, 1, 2]

    stop = threading.Event()
    seen: list[int] = []
    follower = bus.tail(poll_interval=0.01, stop=stop, topic="t.*")  # from this call on

    def follow() -> None:
        for envelope in follower:
            seen.append(envelope.payload["i"])
            if len(seen) == 2:
                stop.set()

    other = make_bus(tmp_path)  # another writer on the same state dir
    other.publish_sync("u.x", {"i": 99})
    other.publish_sync("t.x", {"i": 3})
    reader = threading.Thread(target=follow)
    reader.start()
    other.publish_sync("t.x", {"i": 4})
    reader.join(10)
    stop.set()
    assert seen == [3, 4]
    other.close()
    bus.close()


def test_atail_follows_new_events(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    bus.publish_sync("t.x", {"i": 0})

    async def scenario() -> list[int]:
        follower = bus.atail(poll_interval=0.01)
        await bus.publish("t.x", {"i": 1})
        first = await asyncio.wait_for(follower.__anext__(), 5)
        await bus.publish("t.x", {"i": 2})
        second = await asyncio.wait_for(follower.__anext__(), 5)
        await follower.aclose()
        return [first.payload["i"], second.payload["i"]]

    assert asyncio.run(scenario()) == [1, 2]
    bus.close()


def test_dead_letters_are_persisted(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    bus.subscribe("d.x", lambda e: 1 / 0, name="divider")
    result = bus.publish_sync("d.x", {})
    bus.close()

    bus = make_bus(tmp_path)
    letters = bus.dead_letters()
    assert [(d.subscriber, d.seq, d.attempts) for d in letters] == [("divider", result.seq, 1)]
    assert letters[0].error == "ZeroDivisionError: division by zero"
    got: list[int] = []
    bus.subscribe("d.x", lambda e: got.append(e["_genesis_seq"]), name="divider")
    report = bus.retry_dead_letters_sync()
    assert [d.seq for d in report.succeeded] == [result.seq] and got == [result.seq]
    assert bus.dead_letters() == []
    bus.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "events.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BusError) as err:
        open_store(tmp_path)
    assert str(tmp_path / "events.db") in str(err.value)
    assert "\n" not in str(err.value)


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    bus = make_bus(tmp_path)
    bus.publish_sync("a.b", {})
    bus.close()
    bus.close()  # idempotent
    with pytest.raises(BusError, match="closed"):
        bus.publish_sync("a.b", {})
    with pytest.raises(BusError, match="closed"):
        bus.stats()
