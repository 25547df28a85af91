"""The bus's fast path and its hand-offs: inline delivery, the async remainder, ids, records.

``publish`` delivers to inline handlers without a coroutine and hands the rest
of an event to an async remainder as soon as a subscriber needs an await (an
async or threaded handler, a turn to wait for, a returned coroutine) or a
failure must be recorded.  These tests cross every hand-off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

import pytest

from genesis_core.bus import DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.core import _synchronous_append
from genesis_core.bus.dispatcher import event_template, handler_chain
from genesis_core.bus.envelope import SEQ_KEY, Envelope, fast_event_id, fast_utc_now
from genesis_core.bus.guardian import Decision
from genesis_core.bus.memory import MemoryTransport

UUID4_HEX = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def run(coro: Any, timeout: float = 20.0) -> Any:
    """Run ``coro``; a deadlock fails the test instead of hanging it."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture
def bus() -> GenesisBus:
    made = GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))
    yield made
    made.close()


def test_mixed_inline_and_async_subscribers_keep_seq_order_under_concurrency(bus: GenesisBus) -> None:
    seen: dict[str, list[int]] = {"first": [], "middle": [], "last": []}
    events: list[dict[str, Any]] = []

    def first(event: dict[str, Any]) -> None:
        seen["first"].append(event[SEQ_KEY])
        events.append(event)

    async def middle(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.001 * (event["i"] % 3))
        seen["middle"].append(event[SEQ_KEY])
        events.append(event)

    def last(event: dict[str, Any]) -> None:
        seen["last"].append(event[SEQ_KEY])
        events.append(event)

    bus.subscribe("o.x", first, name="first")
    bus.subscribe("o.x", middle, name="middle")
    bus.subscribe("o.x", last, name="last")

    async def burst() -> list[Any]:
        return await asyncio.gather(*(bus.publish("o.x", {"i": i}) for i in range(40)))

    results = run(burst())
    seqs = sorted(r.seq for r in results)
    assert all(r.delivered == ("first", "middle", "last") for r in results)
    for name, got in seen.items():
        assert got == seqs, name
    assert len({id(e) for e in events}) == 120  # a copy per subscriber per event


def test_an_inline_failure_is_recorded_and_the_later_subscribers_still_run(bus: GenesisBus) -> None:
    calls: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        calls.append("broken")
        raise ValueError("no good")

    bus.subscribe("f.x", broken, name="broken")
    bus.subscribe("f.x", lambda e: calls.append("second"), name="second")
    bus.subscribe("f.x", lambda e: calls.append("third"), name="third")

    first = run(bus.publish("f.x", {"n": 1}))
    again = run(bus.publish("f.x", {"n": 2}))  # turns were released: no deadlock

    assert first.delivered == ("second", "third") and again.delivered == ("second", "third")
    assert [f.subscriber for f in first.failures] == ["broken"]
    assert "ValueError: no good" in first.failures[0].error
    assert calls == ["broken", "second", "third"] * 2
    assert [(d.subscriber, d.seq) for d in bus.dead_letters()] == [("broken", first.seq),
                                                                  ("broken", again.seq)]


def test_a_sync_handler_returning_a_coroutine_is_awaited_before_the_next_subscriber(
        bus: GenesisBus) -> None:
    order: list[str] = []

    async def later(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)
        order.append(f"coroutine {event['n']}")

    def returns_a_coroutine(event: dict[str, Any]) -> Any:
        order.append(f"sync {event['n']}")
        return later(event)

    bus.subscribe("c.x", returns_a_coroutine, name="returns")
    bus.subscribe("c.x", lambda e: order.append(f"next {e['n']}"), name="next")

    result = run(bus.publish("c.x", {"n": 1}))

    assert result.delivered == ("returns", "next")
    assert order == ["sync 1", "coroutine 1", "next 1"]


def test_unsubscribing_a_later_subscriber_from_a_handler_skips_it(bus: GenesisBus) -> None:
    got: list[str] = []

    def first(event: dict[str, Any]) -> None:
        got.append("first")
        bus.unsubscribe("third")

    bus.subscribe("u.x", first, name="first")
    bus.subscribe("u.x", lambda e: got.append("second"), name="second")
    bus.subscribe("u.x", lambda e: got.append("third"), name="third")

    result = run(bus.publish("u.x", {}))
    after = run(bus.publish("u.x", {}))

    assert result.delivered == ("first", "second")
    assert after.delivered == ("first", "second")
    assert got == ["first", "second", "first", "second"]


class _RecordsPublisher:
    """A permission hook that allows everything and remembers who published what."""

    name = "records-publisher"

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def genesis_check_permission(self, topic: str, event: Mapping[str, Any],
                                 context: Mapping[str, Any]) -> Decision:
        self.seen.append((topic, context.get("publisher")))
        return Decision.allow(self.name)


def test_each_inline_handler_runs_under_its_own_name_and_the_callers_chain_comes_back() -> None:
    spy = _RecordsPublisher()
    bus = GenesisBus(MemoryTransport(), Guardian.of(spy))
    chains: list[tuple[str, ...]] = []

    def handler(name: str) -> Any:
        def handle(event: dict[str, Any]) -> None:
            chains.append(handler_chain.get())
            bus.publish_sync(f"nested.{name}", {})  # scheduled as a task in this handler's context
        return handle

    for name in ("a", "b", "c"):
        bus.subscribe("top.x", handler(name), name=name)

    async def scenario() -> tuple[str, ...]:
        await bus.publish("top.x", {})
        await bus.drain()
        return handler_chain.get()

    after = run(scenario())
    bus.close()

    assert chains == [("a",), ("b",), ("c",)]
    assert after == ()
    assert sorted(spy.seen) == [("nested.a", "a"), ("nested.b", "b"), ("nested.c", "c"),
                                ("top.x", None)]


class _Interrupt(BaseException):
    """Not an ``Exception``: handlers' isolation does not catch it, like KeyboardInterrupt."""


def test_an_interrupt_inside_an_inline_handler_propagates_and_frees_every_turn(bus: GenesisBus) -> None:
    state = {"interrupt": True}
    got: list[int] = []

    def sometimes_interrupts(event: dict[str, Any]) -> None:
        if state["interrupt"]:
            raise _Interrupt

    bus.subscribe("i.x", lambda e: got.append(1), name="before")
    bus.subscribe("i.x", sometimes_interrupts, name="interrupts")
    bus.subscribe("i.x", lambda e: got.append(3), name="after")

    with pytest.raises(_Interrupt):
        run(bus.publish("i.x", {}))
    state["interrupt"] = False
    result = run(bus.publish("i.x", {}), timeout=5)  # would time out if a turn were still held

    assert result.delivered == ("before", "interrupts", "after")
    assert got == [1, 1, 3]
    assert handler_chain.get() == ()


def test_a_transport_that_overrides_append_sees_every_publish() -> None:
    class CountingTransport(MemoryTransport):
        def __init__(self) -> None:
            super().__init__()
            self.appends = 0

        async def append(self, topic: str, payload: Mapping[str, Any], *, event_id: str,
                         timestamp: str, source: str) -> Envelope:
            self.appends += 1
            return await super().append(topic, payload, event_id=event_id, timestamp=timestamp,
                                        source=source)

    counting = CountingTransport()
    bus = GenesisBus(counting, Guardian.of(DefaultPolicy()))
    run(bus.publish("t.x", {"n": 1}))
    run(bus.publish("t.x", {"n": 2}))
    bus.close()

    assert counting.appends == 2
    assert _synchronous_append(counting) is None
    plain = MemoryTransport()
    assert _synchronous_append(plain) is not None


def test_event_template_copies_nested_payloads_deeply_and_flat_ones_cheaply() -> None:
    nested = Envelope(1, "id", "t.x", "ts", {"a": {"b": [1, 2]}, "c": "d"})
    flat = Envelope(2, "id2", "t.x", "ts", {"a": 1, "c": "d"})

    event, copy = event_template(nested)
    other = copy(event)
    other["a"]["b"].append(3)
    assert event["a"]["b"] == [1, 2] and nested.payload["a"]["b"] == [1, 2]

    event, copy = event_template(flat)
    assert copy is dict.copy
    assert event == {"a": 1, "c": "d", "_genesis_topic": "t.x", "_genesis_seq": 2,
                     "_genesis_timestamp": "ts", "_genesis_id": "id2"}
    assert flat.payload == {"a": 1, "c": "d"}  # the stored payload never gets the _genesis_* keys


def test_publish_results_and_envelopes_are_immutable(bus: GenesisBus) -> None:
    result = run(bus.publish("r.x", {"n": 1}))
    with pytest.raises(AttributeError):
        result.status = "forged"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.envelope.seq = 99  # type: ignore[misc, union-attr]
    assert result.ok and result.seq == result.envelope.seq  # type: ignore[union-attr]
    assert "pending" not in repr(result)


def test_event_ids_are_unique_random_uuid4s() -> None:
    ids = [fast_event_id() for _ in range(5000)]  # crosses many refills of the id batch
    assert len(set(ids)) == len(ids)
    assert all(UUID4_HEX.match(i) for i in ids), [i for i in ids if not UUID4_HEX.match(i)][:3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_never_repeats_the_parents_event_ids() -> None:
    fast_event_id()  # the parent holds a batch of ids it has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, ",".join(fast_event_id() for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {fast_event_id() for _ in range(20)}
    assert len(child) == 20
    assert not child & parent


def test_fast_utc_now_is_rfc3339_milliseconds_and_current() -> None:
    stamp = fast_utc_now()
    assert RFC3339_Z.match(stamp)
    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) < 2
