"""Publish/subscribe behaviour: delivery, copies, isolation, timeouts, dead letters, reentrancy."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.envelope import ID_KEY, SEQ_KEY, TIMESTAMP_KEY, TOPIC_KEY
from genesis_core.bus.memory import MemoryTransport
from genesis_core.bus.store import SqliteTransport
from genesis_core.errors import BusError

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def memory_bus(**kwargs: Any) -> GenesisBus:
    return GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()), **kwargs)


def sqlite_bus(path: Path, **kwargs: Any) -> GenesisBus:
    return GenesisBus(SqliteTransport(path / "events.db"), Guardian.of(DefaultPolicy()), **kwargs)


def run(coro: Any, timeout: float = 20.0) -> Any:
    """Run ``coro`` to completion; a deadlock fails the test instead of hanging it."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture(params=["memory", "sqlite"])
def bus(request: pytest.FixtureRequest, tmp_path: Path):
    made = memory_bus() if request.param == "memory" else sqlite_bus(tmp_path)
    yield made
    made.close()


# ------------------------------------------------------------------ delivery

def test_publish_delivers_payload_with_genesis_keys(bus: GenesisBus) -> None:
    exact: list[dict[str, Any]] = []
    wild: list[dict[str, Any]] = []
    bus.subscribe("envsync.drift", exact.append, name="exact")
    bus.subscribe("envsync.*", wild.append, name="wild")
    bus.subscribe("truth.*", lambda e: pytest.fail("wrong topic delivered"), name="other")

    result = run(bus.publish("envsync.drift", {"has_drift": True, "missing_in_github": ["X"]}))

    assert result.status == "delivered" and result.ok
    assert result.delivered == ("exact", "wild")
    assert result.failures == ()
    event = exact[0]
    assert event["has_drift"] is True and event["missing_in_github"] == ["X"]
    assert event[TOPIC_KEY] == "envsync.drift"
    assert event[SEQ_KEY] == result.envelope.seq == result.seq
    assert event[ID_KEY] == result.envelope.event_id
    assert RFC3339_Z.match(event[TIMESTAMP_KEY])
    parsed = dt.datetime.fromisoformat(event[TIMESTAMP_KEY])
    assert parsed.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 60
    assert wild == exact


def test_sync_and_async_handlers_both_finish_before_publish_returns(bus: GenesisBus) -> None:
    seen: list[str] = []

    def sync_handler(event: dict[str, Any]) -> None:
        seen.append("sync")

    async def async_handler(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)
        seen.append("async")

    class CallableObject:
        async def __call__(self, event: dict[str, Any]) -> None:
            await asyncio.sleep(0)
            seen.append("callable")

    bus.subscribe("a.b", sync_handler)
    bus.subscribe("a.b", async_handler)
    bus.subscribe("a.b", CallableObject(), name="obj")
    bus.subscribe("a.b", lambda e: async_handler(e), name="returns-coroutine")

    result = run(bus.publish("a.b", {}))

    assert sorted(seen) == ["async", "async", "callable", "sync"]
    assert len(result.delivered) == 4


def test_each_handler_gets_its_own_copy(bus: GenesisBus) -> None:
    received: list[dict[str, Any]] = []

    def vandal(event: dict[str, Any]) -> None:
        event["nested"]["list"].append("vandal")
        event["nested"]["new"] = 1
        event["top"] = "changed"
        received.append(event)

    for name in ("v1", "v2", "v3"):
        bus.subscribe("x.y", vandal, name=name)
    payload = {"top": "original", "nested": {"list": [1, 2]}}

    run(bus.publish("x.y", payload))
    payload["nested"]["list"].append("caller-later")  # the caller's object is not shared either

    assert [e["nested"]["list"] for e in received] == [[1, 2, "vandal"]] * 3
    assert len({id(e) for e in received}) == 3
    assert len({id(e["nested"]) for e in received}) == 3
    stored = bus.get_event_history(limit=1)[0]
    assert stored["top"] == "original" and stored["nested"] == {"list": [1, 2]}


def test_reserved_keys_are_stripped_when_an_event_is_republished(bus: GenesisBus) -> None:
    first = run(bus.publish("a.one", {"k": 1}))
    received = bus.get_event_history(limit=1)[0]
    second = run(bus.publish("a.two", received))
    assert dict(second.envelope.payload) == {"k": 1}
    assert second.seq > first.seq


def test_invalid_input_is_rejected_and_nothing_is_stored(bus: GenesisBus) -> None:
    with pytest.raises(BusError, match="invalid topic"):
        run(bus.publish("envsync.*", {}))
    with pytest.raises(BusError, match="JSON object"):
        run(bus.publish("a.b", ["not", "a", "dict"]))  # type: ignore[arg-type]
    with pytest.raises(BusError, match="not JSON-serialisable"):
        run(bus.publish("a.b", {"when": dt.datetime.now()}))
    with pytest.raises(BusError):
        run(bus.publish("a.b", {"x": float("nan")}))
    with pytest.raises(BusError):
        bus.subscribe("a..b", print)
    assert bus.stats() == {}


def test_json_normalisation_matches_what_history_returns(bus: GenesisBus) -> None:
    live: list[dict[str, Any]] = []
    bus.subscribe("a.b", live.append)
    run(bus.publish("a.b", {"tuple": (1, 2), 3: "int key", "text": "é\ud800"}))
    assert live[0]["tuple"] == [1, 2] and live[0]["3"] == "int key"
    assert bus.get_event_history(limit=1) == live


def test_event_id_makes_publish_idempotent(bus: GenesisBus) -> None:
    first = run(bus.publish("a.b", {"n": 1}, event_id="fixed-id"))
    again = run(bus.publish("a.b", {"n": 1}, event_id="fixed-id"))
    assert again.seq == first.seq
    assert bus.stats() == {"a.b": 1}


# ------------------------------------------------------------------ isolation, timeouts, dead letters

def test_failing_and_slow_handlers_never_stop_the_others(tmp_path: Path) -> None:
    bus = sqlite_bus(tmp_path, handler_timeout=5.0)
    got: list[int] = []

    def boom(event: dict[str, Any]) -> None:
        raise ValueError("handler exploded\nsecond line is dropped")

    async def slow(event: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    def sleepy_thread(event: dict[str, Any]) -> None:
        time.sleep(1.5)

    bus.subscribe("job.*", boom, name="boom")
    bus.subscribe("job.*", slow, name="slow", timeout=0.2)
    bus.subscribe("job.*", sleepy_thread, name="sleepy", timeout=0.2)
    bus.subscribe("job.*", lambda e: got.append(e[SEQ_KEY]), name="good")

    result = run(bus.publish("job.run", {"n": 1}))

    assert result.status == "delivered" and not result.ok
    assert result.delivered == ("good",)
    assert got == [result.seq]
    failures = {f.subscriber: f for f in result.failures}
    assert failures["boom"].error == "ValueError: handler exploded"
    assert not failures["boom"].timed_out
    assert failures["slow"].timed_out and failures["sleepy"].timed_out
    letters = {d.subscriber: d for d in bus.dead_letters()}
    assert set(letters) == {"boom", "slow", "sleepy"}
    assert all(d.seq == result.seq and d.attempts == 1 and d.topic == "job.run"
               for d in letters.values())
    assert "timed out" in letters["slow"].error
    bus.close()


def test_retry_dead_letters_redelivers_and_is_bounded(tmp_path: Path) -> None:
    bus = sqlite_bus(tmp_path, max_attempts=3)
    healthy = {"now": False}
    delivered: list[int] = []

    def flaky(event: dict[str, Any]) -> None:
        if not healthy["now"]:
            raise RuntimeError("not yet")
        delivered.append(event[SEQ_KEY])

    bus.subscribe("work.*", flaky, name="flaky")
    first = run(bus.publish("work.a", {}))
    second = run(bus.publish("work.b", {}))
    assert [d.seq for d in bus.dead_letters("flaky")] == [first.seq, second.seq]

    report = bus.retry_dead_letters_sync("flaky")  # still failing: one more attempt each
    assert report.attempted == 2 and not report.succeeded
    assert [d.attempts for d in bus.dead_letters()] == [2, 2]

    report = bus.retry_dead_letters_sync()
    assert [d.attempts for d in report.failed] == [3, 3]

    healthy["now"] = True
    report = bus.retry_dead_letters_sync()  # reached max_attempts: kept, not retried
    assert report.attempted == 0
    assert [reason for _, reason in report.skipped] == ["gave up after 3 attempts"] * 2
    assert str(report).splitlines()[0] == "retried 0: 0 succeeded, 0 failed, 2 skipped"
    assert f"skipped flaky #{first.seq}: gave up after 3 attempts" in str(report)
    assert delivered == []
    bus.close()

    bus = sqlite_bus(tmp_path, max_attempts=5)  # a restart with a higher bound
    bus.subscribe("work.*", flaky, name="flaky")
    report = run(bus.retry_dead_letters())
    assert [d.seq for d in report.succeeded] == [first.seq, second.seq]
    assert delivered == [first.seq, second.seq]
    assert bus.dead_letters() == []
    bus.close()


def test_retry_skips_letters_without_a_current_subscriber(bus: GenesisBus) -> None:
    handle = bus.subscribe("a.b", lambda e: 1 / 0, name="gone")
    run(bus.publish("a.b", {}))
    bus.unsubscribe(handle)
    report = bus.retry_dead_letters_sync()
    assert report.attempted == 0
    assert report.skipped[0][1] == "no current subscriber named 'gone'"
    assert len(bus.dead_letters()) == 1


def test_handler_raising_cancelled_error_is_a_failure_not_a_crash(bus: GenesisBus) -> None:
    async def cancels(event: dict[str, Any]) -> None:
        raise asyncio.CancelledError()

    bus.subscribe("a.b", cancels, name="cancels")
    bus.subscribe("a.b", lambda e: None, name="fine")
    result = run(bus.publish("a.b", {}))
    assert result.delivered == ("fine",)
    assert result.failures[0].subscriber == "cancels"


# ------------------------------------------------------------------ reentrancy

def test_async_handler_may_publish_without_deadlock(bus: GenesisBus) -> None:
    inner_results = []
    reactions: list[dict[str, Any]] = []

    async def react(event: dict[str, Any]) -> None:
        inner_results.append(await bus.publish("autonomy.heal.planned", {"for": event[SEQ_KEY]}))

    bus.subscribe("envsync.drift", react, name="react")
    bus.subscribe("autonomy.>", reactions.append, name="watch")
    bus.subscribe(">", lambda e: None, name="everything")

    outer = run(bus.publish("envsync.drift", {}))

    assert outer.delivered == ("react", "everything")
    assert inner_results[0].status == "delivered"
    assert inner_results[0].delivered == ("watch", "everything")
    assert reactions[0]["for"] == outer.seq
    assert inner_results[0].seq > outer.seq


def test_handler_publishing_to_itself_recurses_depth_first(bus: GenesisBus) -> None:
    order: list[int] = []

    async def countdown(event: dict[str, Any]) -> None:
        order.append(event["n"])
        if event["n"] > 0:
            await bus.publish("count.down", {"n": event["n"] - 1})

    bus.subscribe("count.down", countdown, name="countdown")
    run(bus.publish("count.down", {"n": 3}))
    assert order == [3, 2, 1, 0]


def test_sync_inline_handler_publish_sync_is_scheduled(bus: GenesisBus) -> None:
    results = []
    later: list[dict[str, Any]] = []

    def inline(event: dict[str, Any]) -> None:
        results.append(bus.publish_sync("follow.up", {"after": event[SEQ_KEY]}))

    bus.subscribe("start.now", inline, name="inline")
    bus.subscribe("follow.up", later.append, name="later")

    async def scenario() -> Any:
        outer = await bus.publish("start.now", {})
        assert results[0].status == "scheduled" and results[0].envelope is None
        await bus.drain()
        return outer, await results[0].pending

    outer, inner = run(scenario())
    assert inner.status == "delivered"
    assert later[0]["after"] == outer.seq


def test_threaded_sync_handler_publish_sync_gets_the_real_result(bus: GenesisBus) -> None:
    results = []
    later: list[dict[str, Any]] = []
    threads: list[str] = []

    def threaded(event: dict[str, Any]) -> None:
        threads.append(threading.current_thread().name)
        results.append(bus.publish_sync("follow.up", {"after": event[SEQ_KEY]}))

    bus.subscribe("start.now", threaded, name="threaded", thread=True)
    bus.subscribe("follow.up", later.append, name="later")
    bus.subscribe(">", lambda e: None, name="all")

    outer = run(bus.publish("start.now", {}))

    assert outer.ok
    assert threads[0] != threading.main_thread().name
    assert results[0].status == "delivered" and results[0].delivered == ("later", "all")
    assert later[0]["after"] == outer.seq


def test_publish_sync_without_a_loop_runs_async_handlers(bus: GenesisBus) -> None:
    seen: list[int] = []

    async def handler(event: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        seen.append(event[SEQ_KEY])

    bus.subscribe("a.b", handler)
    first = bus.publish_sync("a.b", {})
    second = bus.publish_sync("a.b", {})
    assert first.status == second.status == "delivered"
    assert seen == [first.seq, second.seq]

    from_thread = []
    worker = threading.Thread(target=lambda: from_thread.append(bus.publish_sync("a.b", {})))
    worker.start()
    worker.join(10)
    assert from_thread[0].status == "delivered" and seen[-1] == from_thread[0].seq


# ------------------------------------------------------------------ ordering

def test_concurrent_publishes_reach_each_subscriber_in_seq_order(tmp_path: Path) -> None:
    bus = sqlite_bus(tmp_path)
    rng = random.Random(7)
    seen: dict[str, list[int]] = {"slow": [], "fast": [], "sync": []}

    async def slow(event: dict[str, Any]) -> None:
        await asyncio.sleep(rng.random() / 200)
        seen["slow"].append(event[SEQ_KEY])

    async def fast(event: dict[str, Any]) -> None:
        seen["fast"].append(event[SEQ_KEY])

    bus.subscribe("o.*", slow, name="slow")
    bus.subscribe("o.*", fast, name="fast")
    bus.subscribe("o.>", lambda e: seen["sync"].append(e[SEQ_KEY]), name="sync")

    async def burst() -> list[Any]:
        return await asyncio.gather(*(bus.publish(f"o.t{i % 3}", {"i": i}) for i in range(60)))

    results = run(burst())
    seqs = [r.seq for r in results]
    assert len(set(seqs)) == 60
    for name, got in seen.items():
        assert got == sorted(seqs), name
    bus.close()


def test_a_cancelled_publish_frees_its_turns(bus: GenesisBus) -> None:
    async def slow(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.1)

    bus.subscribe("t.x", slow, name="slow")
    bus.subscribe("t.x", lambda e: None, name="second")

    async def scenario() -> Any:
        first = asyncio.create_task(bus.publish("t.x", {"n": 1}))
        await asyncio.sleep(0.02)  # first is inside the slow handler
        waiting = asyncio.create_task(bus.publish("t.x", {"n": 2}))
        await asyncio.sleep(0.02)  # it waits for its turn with "slow"; "second" is not reached
        waiting.cancel()
        await first
        return await bus.publish("t.x", {"n": 3})

    third = run(scenario(), timeout=10)
    assert third.delivered == ("slow", "second")


def test_publish_many_keeps_order_and_gates_each_event(bus: GenesisBus) -> None:
    seen: list[str] = []
    bus.subscribe(">", lambda e: seen.append(e[TOPIC_KEY]), name="all")
    results = run(bus.publish_many([("a.one", {"n": 1}), ("genesis.fake", {"n": 2}),
                                    ("a.two", {"n": 3})]))
    assert [r.status for r in results] == ["delivered", "blocked", "delivered"]
    assert [r.seq for r in results] == sorted(r.seq for r in results)
    assert seen == ["a.one", "genesis.blocked", "a.two"]
    assert results[1].envelope.payload["topic"] == "genesis.fake"


# ------------------------------------------------------------------ subscribe / unsubscribe

def test_unsubscribe_by_handle_handler_and_name(bus: GenesisBus) -> None:
    got: list[str] = []

    def a(event: dict[str, Any]) -> None:
        got.append("a")

    def b(event: dict[str, Any]) -> None:
        got.append("b")

    handle = bus.subscribe("u.x", a)
    bus.subscribe(["u.x", "u.*"], b, name="b-handler")  # two patterns, delivered once
    bus.subscribe("u.x", lambda e: got.append("c"), name="c")

    run(bus.publish("u.x", {}))
    assert got == ["a", "b", "c"]

    assert bus.unsubscribe(handle) == 1
    assert bus.unsubscribe(b) == 1
    assert bus.unsubscribe("c") == 1
    assert bus.unsubscribe("c") == 0
    got.clear()
    result = run(bus.publish("u.x", {}))
    assert got == [] and result.delivered == ()
    assert bus.subscribers() == []


def test_subscriber_names_are_unique(bus: GenesisBus) -> None:
    def handler(event: dict[str, Any]) -> None:
        pass

    first = bus.subscribe("a.b", handler)
    second = bus.subscribe("a.c", handler)
    assert second.name == first.name + "#2"
    bus.subscribe("a.b", handler, name="fixed")
    with pytest.raises(BusError, match="already exists"):
        bus.subscribe("a.b", handler, name="fixed")
    with pytest.raises(BusError, match="positive"):
        bus.subscribe("a.b", handler, name="t", timeout=0)


# ------------------------------------------------------------------ views

def test_cloudevents_view(tmp_path: Path) -> None:
    bus = sqlite_bus(tmp_path, source="urn:genesis:test")
    result = run(bus.publish("envsync.commit", {"has_drift": False}))
    envelope = bus.history(limit=1)[0]
    assert envelope == result.envelope
    cloud = envelope.to_cloudevent()
    assert cloud["specversion"] == "1.0"
    assert cloud["id"] == result.envelope.event_id
    assert cloud["source"] == "urn:genesis:test"
    assert cloud["type"] == "envsync.commit"
    assert cloud["time"] == result.envelope.timestamp and RFC3339_Z.match(cloud["time"])
    assert int(cloud["sequence"]) == result.seq
    assert cloud["data"] == {"has_drift": False}
    bus.close()


def test_history_limit_and_topic_pattern(bus: GenesisBus) -> None:
    for i in range(5):
        run(bus.publish("envsync.drift" if i % 2 else "truth.entry", {"i": i}))
    everything = bus.get_event_history(limit=None)
    assert [e["i"] for e in everything] == [0, 1, 2, 3, 4]
    assert [e["i"] for e in bus.get_event_history(limit=2)] == [3, 4]
    assert [e["i"] for e in bus.get_event_history(limit=10, topic="envsync.*")] == [1, 3]
    assert [e["i"] for e in bus.get_event_history(limit=1, topic="truth.entry")] == [4]
    assert bus.get_event_history(limit=10, topic="nothing.*") == []
    assert bus.stats() == {"envsync.drift": 2, "truth.entry": 3}
    assert [e.seq for e in bus.history(after_seq=everything[2][SEQ_KEY])] == [
        everything[3][SEQ_KEY], everything[4][SEQ_KEY]]
    assert [e.to_event() for e in bus.history(limit=2)] == everything[-2:]


def test_normalise_payload_matches_a_json_round_trip() -> None:
    import json as _json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from genesis_core.bus.dispatcher import normalise_payload
    from genesis_core.errors import BusError

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
        max_leaves=20)

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(st.text(max_size=5), json_values, max_size=5))
    def same(payload: dict) -> None:
        assert normalise_payload("t", payload) == _json.loads(_json.dumps(payload))

    same()
    for bad in ({"x": float("nan")}, {"x": object()}, {1: "int key"}, {"x": "\ud800"}):
        try:
            result = normalise_payload("t", bad)
        except BusError:
            continue
        assert result == _json.loads(_json.dumps(bad, ensure_ascii=True))  # what the encoder accepts
