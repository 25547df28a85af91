"""Properties of seq and ordering for any sequence of topics and payloads (hypothesis)."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.envelope import RESERVED_KEYS, SEQ_KEY
from genesis_core.bus.memory import MemoryTransport
from genesis_core.bus.store import open_store

topics = st.sampled_from(["envsync.drift", "envsync.commit", "truth.entry", "autonomy.heal.planned"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**60, 2**60),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
keys = st.text(max_size=10).filter(lambda k: k not in RESERVED_KEYS)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
payloads = st.dictionaries(keys, json_values, max_size=5)
events = st.lists(st.tuples(topics, payloads), min_size=1, max_size=25)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check_publish_order(bus: GenesisBus, published: list[tuple[str, dict[str, Any]]],
                        concurrent: bool) -> None:
    seen: list[int] = []
    bus.subscribe(">", lambda e: seen.append(e[SEQ_KEY]), name="all")
    before = bus.last_seq()

    async def publish() -> list[Any]:
        if concurrent:
            return list(await asyncio.gather(*(bus.publish(t, p) for t, p in published)))
        return [await bus.publish(t, p) for t, p in published]

    results = asyncio.run(publish())
    seqs = [r.seq for r in results]
    assert all(b > a for a, b in zip(seqs, seqs[1:]))  # strictly increasing in publish order
    assert seqs[0] > before
    assert seen == seqs  # each subscriber sees publish order
    history = bus.history(after_seq=before)
    assert [e.seq for e in history] == seqs
    assert [(e.topic, dict(e.payload)) for e in history] == published
    assert bus.stats() == dict(Counter(t for t, _ in published))


@SETTINGS
@given(events, st.booleans())
def test_sqlite_seq_and_history_follow_publish_order(published: list[tuple[str, dict[str, Any]]],
                                                      concurrent: bool) -> None:
    with tempfile.TemporaryDirectory() as state:
        bus = GenesisBus(open_store(Path(state), durability="normal"),
                         Guardian.of(DefaultPolicy()))
        try:
            check_publish_order(bus, published, concurrent)
        finally:
            bus.close()


@SETTINGS
@given(events, st.booleans())
def test_memory_seq_and_history_follow_publish_order(published: list[tuple[str, dict[str, Any]]],
                                                      concurrent: bool) -> None:
    bus = GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))
    check_publish_order(bus, published, concurrent)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=8))
def test_seq_keeps_increasing_across_reopen(batches: list[int]) -> None:
    with tempfile.TemporaryDirectory() as state:
        all_seqs: list[int] = []
        for size in batches:  # each batch is a fresh "process" on the same store
            bus = GenesisBus(open_store(Path(state), durability="normal"),
                             Guardian.of(DefaultPolicy()))
            all_seqs += [bus.publish_sync("a.b", {"n": n}).seq for n in range(size)]
            bus.close()
        assert all(b > a for a, b in zip(all_seqs, all_seqs[1:]))
