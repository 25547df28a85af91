"""``Dispatcher``: handlers outside any bus, delivered to as the bus delivers (``genesis worker``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genesis_core.api import BusError, Dispatcher, MemoryTransport
from genesis_core.bus.envelope import ID_KEY, SEQ_KEY, TOPIC_KEY, fast_event_id, fast_utc_now
from genesis_core.secrets import SecretPolicy

CANARY = "sk_live_CANARYdispatch0042"


async def _stored(transport: MemoryTransport, topic: str, payload: dict[str, Any]) -> Any:
    return await transport.append(topic, payload, event_id=fast_event_id(), timestamp=fast_utc_now(),
                                  source="test")


def test_deliver_calls_each_matching_handler_with_its_own_copy_and_returns_failures() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def mutating(event: dict[str, Any]) -> None:
        seen.append(("mutating", dict(event)))
        event["nested"]["keys"].append("X")

    async def failing(event: dict[str, Any]) -> None:
        raise RuntimeError("no luck")

    def slow(event: dict[str, Any]) -> None:
        import time

        time.sleep(5)

    def last(event: dict[str, Any]) -> None:
        seen.append(("last", event))

    async def scenario() -> None:
        transport = MemoryTransport()
        dispatcher = Dispatcher(handler_timeout=5.0)
        dispatcher.subscribe("envsync.*", mutating, "e:mutating")
        dispatcher.subscribe("envsync.drift", failing, "e:failing")
        dispatcher.subscribe("envsync.drift", slow, "e:slow", timeout=0.2)
        dispatcher.subscribe("other.topic", last, "e:other")
        dispatcher.subscribe(["envsync.>"], last, "e:last")
        assert dispatcher.patterns == ("envsync.*", "envsync.drift", "other.topic", "envsync.>")
        assert dispatcher.matching("envsync.drift") == ("e:mutating", "e:failing", "e:slow", "e:last")
        envelope = await _stored(transport, "envsync.drift", {"nested": {"keys": ["A"]}})
        delivery = await dispatcher.deliver(envelope)
        assert delivery.delivered == ("e:mutating", "e:last")
        assert [(f.subscriber, f.error, f.timed_out) for f in delivery.failures] == [
            ("e:failing", "RuntimeError: no luck", False), ("e:slow", "timed out after 0.2s", True)]
        got = dict(seen)
        assert got["last"]["nested"] == {"keys": ["A"]}  # the mutating handler had its own copy
        assert got["last"][TOPIC_KEY] == "envsync.drift" and got["last"][SEQ_KEY] == envelope.seq
        assert got["last"][ID_KEY] == envelope.event_id
        assert envelope.payload == {"nested": {"keys": ["A"]}}
        assert transport.dead_letter_store() is None or transport.dead_letter_store().entries() == []
        assert await dispatcher.deliver(await _stored(transport, "nobody.listens", {})) == type(delivery)()

    asyncio.run(scenario())


def test_names_are_unique_and_patterns_checked() -> None:
    dispatcher = Dispatcher()

    def handler(event: dict[str, Any]) -> None:
        return None

    first = dispatcher.subscribe("a.b", handler)
    second = dispatcher.subscribe("a.b", handler)
    assert second.name == f"{first.name}#2"
    dispatcher.subscribe("a.c", handler, "named")
    with pytest.raises(BusError, match="'named' already exists"):
        dispatcher.subscribe("a.d", handler, "named")
    with pytest.raises(BusError):
        dispatcher.subscribe("bad topic!", handler, "other")
    assert [h.name for h in dispatcher.subscribers()] == [first.name, second.name, "named"]


def test_retry_dead_letters_only_touches_its_own_handlers_and_masks_errors() -> None:
    calls: list[int] = []
    policy = SecretPolicy(fingerprint_key=b"d" * 32)

    def flaky(event: dict[str, Any]) -> None:
        calls.append(event[SEQ_KEY])
        if len(calls) > 1:
            raise ValueError(f"still failing with {CANARY}")

    async def scenario() -> None:
        transport = MemoryTransport()
        store = transport.dead_letter_store()
        if store is None:
            from genesis_core.bus.memory import MemoryDeadLetters

            store = MemoryDeadLetters()
        first = await _stored(transport, "envsync.drift", {"n": 1})
        second = await _stored(transport, "envsync.drift", {"n": 2})
        await store.record("e:flaky", first.seq, first.topic, "boom")
        await store.record("e:flaky", second.seq, second.topic, "boom")
        await store.record("e:flaky", 999, "envsync.drift", "boom")
        await store.record("someone:else", first.seq, first.topic, "boom")
        dispatcher = Dispatcher()
        dispatcher.subscribe("envsync.drift", flaky, "e:flaky")
        report = await dispatcher.retry_dead_letters(store, transport, max_attempts=5,
                                                     secret_policy=policy)
        assert [letter.seq for letter in report.succeeded] == [first.seq]
        assert [letter.seq for letter in report.failed] == [second.seq]
        assert CANARY not in report.failed[0].error
        assert [(letter.seq, why) for letter, why in report.skipped] == [(999, "event #999 is no longer stored")]
        left = {(letter.subscriber, letter.seq) for letter in store.entries()}
        assert left == {("e:flaky", second.seq), ("e:flaky", 999), ("someone:else", first.seq)}

    asyncio.run(scenario())
