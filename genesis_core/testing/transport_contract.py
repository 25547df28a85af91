"""The transport contract: one test suite every bus transport must pass.

A transport author writes a :class:`TransportHarness` (how to open a transport
on a fresh store, and what it can do) and a test class that subclasses
:class:`TransportContract` and provides a ``harness`` fixture::

    class TestAcmeTransport(TransportContract):
        @pytest.fixture
        def harness(self, tmp_path):
            harness = AcmeHarness(tmp_path)
            yield harness
            harness.close()

The suite checks what the bus relies on: appends get strictly increasing
sequences in order, a payload comes back unchanged, an event id is stored once
(a retried publish is not duplicated), history keeps the newest with a limit
and filters by topic pattern and sequence, ``get`` and ``stats`` agree with
history, a durable store keeps its events and sequence when reopened, several
transports on one shared store see one order, dead letters round-trip, and a
``GenesisBus`` on the transport delivers in order.  Capabilities (``durable``,
``shared``) are class attributes; a test a harness cannot run is skipped with
the reason.  It needs pytest: ``pip install 'genesis-envsync[testing]'``.
"""

from __future__ import annotations

import abc
import asyncio
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "genesis_core.testing.transport_contract needs pytest: pip install 'genesis-envsync[testing]'"
    ) from exc

from ..bus.envelope import Envelope

if TYPE_CHECKING:
    from ..bus.transport import Transport, TransportKind

__all__ = ["TransportContract", "TransportHarness"]

TIMESTAMP = "2025-01-01T00:00:00.000Z"
SOURCE = "urn:genesis:contract"


class TransportHarness(abc.ABC):
    """What a transport author provides so the contract suite can drive their transport."""

    #: The name the transport is registered under (``[bus] transport``).
    name: str
    #: Events survive closing the transport: one opened again on the same store sees them.
    durable: ClassVar[bool] = True
    #: Several transports opened by the harness share one store and one order (several processes).
    shared: ClassVar[bool] = True
    #: The plugin (module or object) that registers ``name``; ``None`` asks the installed plugins.
    plugin: ClassVar[object | None] = None

    @abc.abstractmethod
    def open(self) -> Transport:
        """Return a new transport on the harness's store (the same store every call, empty at first)."""

    def close(self) -> None:  # noqa: B027 - optional: a harness with nothing to release keeps this
        """Release what the harness started (a server, files); called once after the test."""

    def factory_table(self) -> Mapping[str, Any] | None:
        """Return the ``[bus]`` table that makes the registered factory open this store, or ``None`` to skip."""
        return None

    def state_dir(self) -> Path | None:
        """Return the state directory the registered factory gets (``None``: a temporary one)."""
        return None

    def registered_kind(self) -> TransportKind:
        """Return the :class:`TransportKind` that ``plugin`` (or the installed plugins) registers as ``name``."""
        from ..plugins import build_plugin_host

        if self.plugin is None:
            host = build_plugin_host()
        else:
            host = build_plugin_host(entry_points=False, plugins=(("harness-plugin", self.plugin),))
        kinds = host.transports()
        if self.name not in kinds:
            pytest.fail(f"no plugin registers the transport {self.name!r} (registered: {', '.join(sorted(kinds))})")
        return kinds[self.name]


def _id() -> str:
    return secrets.token_hex(16)


def _append(transport: Transport, topic: str, payload: Mapping[str, Any], event_id: str | None = None
            ) -> Envelope:
    return asyncio.run(transport.append(topic, payload, event_id=event_id or _id(), timestamp=TIMESTAMP,
                                        source=SOURCE))


def _same(a: Envelope, b: Envelope) -> bool:
    return (a.seq, a.event_id, a.topic, a.timestamp, dict(a.payload), a.source) == (
        b.seq, b.event_id, b.topic, b.timestamp, dict(b.payload), b.source)


class TransportContract:
    """The contract suite. Subclass it as ``class TestMyTransport(TransportContract)`` and provide a
    ``harness`` fixture that yields a :class:`TransportHarness` (and closes it afterwards)."""

    @pytest.fixture
    def opened(self, harness: TransportHarness) -> Iterator[list[Transport]]:
        """Return the list of transports a test opened; each is closed afterwards."""
        transports: list[Transport] = []
        yield transports
        for transport in transports:
            transport.close()

    @pytest.fixture
    def transport(self, harness: TransportHarness, opened: list[Transport]) -> Transport:
        """Return a transport on the harness's fresh store."""
        transport = harness.open()
        opened.append(transport)
        return transport

    # -- order ----------------------------------------------------------------------------
    def test_appends_get_strictly_increasing_sequences_in_order(self, transport: Transport) -> None:
        stored = [_append(transport, f"contract.t{i % 3}", {"i": i}) for i in range(12)]
        seqs = [envelope.seq for envelope in stored]
        assert seqs[0] >= 1 and all(b > a for a, b in zip(seqs, seqs[1:])), f"sequences not increasing: {seqs}"
        history = transport.history()
        assert [e.seq for e in history] == seqs, "history must hold the events oldest first"
        assert all(_same(h, s) for h, s in zip(history, stored)), "history differs from what append returned"
        assert [e.payload["i"] for e in history] == list(range(12))

    def test_append_many_stores_in_order(self, transport: Transport) -> None:
        first = _append(transport, "contract.before", {})
        rows = [("contract.batch", {"n": n}, _id(), TIMESTAMP, SOURCE) for n in range(5)]
        stored = asyncio.run(transport.append_many(rows))
        assert [e.event_id for e in stored] == [row[2] for row in rows]
        seqs = [first.seq, *(e.seq for e in stored)]
        assert all(b > a for a, b in zip(seqs, seqs[1:])), f"sequences not increasing: {seqs}"
        assert [e.payload for e in transport.history(topic="contract.batch")] == [{"n": n} for n in range(5)]

    def test_a_payload_round_trips_unchanged(self, transport: Transport) -> None:
        payload = {"text": "h\u00e9llo \u2713 \U0001f680", "empty": "", "none": None, "yes": True, "no": False,
                   "int": -7, "big": 2**53, "float": 1.5, "list": [1, "two", [3], {"four": 4}],
                   "nested": {"a": {"b": ["c"]}}, "newlines": "one\ntwo\r\n", "quotes": "'\"`"}
        stored = _append(transport, "contract.payload", payload)
        assert dict(stored.payload) == payload
        got = transport.get(stored.seq)
        assert got is not None and dict(got.payload) == payload
        assert (got.topic, got.event_id, got.timestamp, got.source) == (
            "contract.payload", stored.event_id, TIMESTAMP, SOURCE)

    # -- idempotence ----------------------------------------------------------------------
    def test_an_event_id_is_stored_once(self, transport: Transport) -> None:
        original = _append(transport, "contract.once", {"attempt": 1}, "contract-event-1")
        retried = _append(transport, "contract.once", {"attempt": 2}, "contract-event-1")
        assert _same(retried, original), "a retried append must return the event stored the first time"
        other = _append(transport, "contract.once", {"attempt": 1}, "contract-event-2")
        assert other.seq > original.seq
        batch = asyncio.run(transport.append_many([
            ("contract.once", {"attempt": 3}, "contract-event-1", TIMESTAMP, SOURCE),
            ("contract.once", {"attempt": 1}, "contract-event-3", TIMESTAMP, SOURCE)]))
        assert _same(batch[0], original), "append_many must not store an event id twice either"
        assert [e.event_id for e in transport.history()] == [
            "contract-event-1", "contract-event-2", "contract-event-3"]
        assert transport.stats() == {"contract.once": 3}

    # -- reading ----------------------------------------------------------------------------
    def test_history_limits_and_filters(self, transport: Transport) -> None:
        topics = ["envsync.drift", "envsync.commit", "truth.recorded", "envsync.drift", "a.b.c"]
        stored = [_append(transport, topic, {"i": i}) for i, topic in enumerate(topics)]
        assert [e.seq for e in transport.history(limit=2)] == [stored[3].seq, stored[4].seq]
        assert transport.history(limit=0) == []
        assert [e.seq for e in transport.history(topic="envsync.drift")] == [stored[0].seq, stored[3].seq]
        assert [e.topic for e in transport.history(topic="envsync.*")] == [
            "envsync.drift", "envsync.commit", "envsync.drift"]
        assert [e.topic for e in transport.history(topic="a.>")] == ["a.b.c"]
        assert [e.seq for e in transport.history(after_seq=stored[2].seq)] == [stored[3].seq, stored[4].seq]
        assert [e.seq for e in transport.history(topic="envsync.*", after_seq=stored[1].seq, limit=1)] == [
            stored[3].seq]

    def test_get_returns_the_event_or_none(self, transport: Transport) -> None:
        stored = [_append(transport, "contract.get", {"i": i}) for i in range(3)]
        for envelope in stored:
            got = transport.get(envelope.seq)
            assert got is not None and _same(got, envelope)
        assert transport.get(stored[-1].seq + 1000) is None

    def test_stats_count_events_per_topic(self, transport: Transport) -> None:
        assert transport.stats() == {}
        for topic in ("x.one", "x.two", "x.one", "x.one"):
            _append(transport, topic, {})
        assert transport.stats() == {"x.one": 3, "x.two": 1}

    def test_last_seq_is_the_newest_sequence(self, transport: Transport) -> None:
        last_seq = getattr(transport, "last_seq", None)
        if last_seq is None:
            pytest.skip("the transport has no last_seq() (the bus reads history(limit=1) instead)")
        assert last_seq() == 0
        newest = [_append(transport, "contract.last", {}) for _ in range(3)][-1]
        assert last_seq() == newest.seq

    # -- durability and sharing ---------------------------------------------------------------
    def test_events_and_sequence_survive_reopening(self, harness: TransportHarness,
                                                   opened: list[Transport]) -> None:
        if not harness.durable:
            pytest.skip(f"the {harness.name} transport is not durable (harness.durable is False)")
        first = harness.open()
        opened.append(first)
        stored = [_append(first, "contract.durable", {"i": i}) for i in range(3)]
        first.close()
        again = harness.open()
        opened.append(again)
        assert [e.seq for e in again.history()] == [e.seq for e in stored]
        after = _append(again, "contract.durable", {"i": 3})
        assert after.seq > stored[-1].seq, "a reopened store must never reuse a sequence"
        retried = _append(again, "contract.durable", {"i": 99}, stored[0].event_id)
        assert _same(retried, stored[0]), "an event id stored before reopening is still stored once"

    def test_transports_on_one_store_share_one_order(self, harness: TransportHarness,
                                                     opened: list[Transport]) -> None:
        if not harness.shared:
            pytest.skip(f"the {harness.name} transport's store is private to one object (harness.shared is False)")
        one, two = harness.open(), harness.open()
        opened += [one, two]
        stored = [_append(one if i % 2 == 0 else two, "contract.shared", {"i": i}) for i in range(8)]
        seqs = [e.seq for e in stored]
        assert all(b > a for a, b in zip(seqs, seqs[1:])), f"one store, one order: {seqs}"
        for transport in (one, two):
            assert [e.seq for e in transport.history()] == seqs
        duplicate = _append(two, "contract.shared", {"i": -1}, stored[0].event_id)
        assert _same(duplicate, stored[0]), "an event id stored through one transport is stored once for all"

    # -- dead letters -----------------------------------------------------------------------
    def test_dead_letters_round_trip(self, transport: Transport) -> None:
        store = transport.dead_letter_store()
        if store is None:
            pytest.skip("the transport keeps no dead letters (the bus keeps them in memory)")
        event = _append(transport, "contract.failed", {})

        async def run() -> None:
            first = await store.record("engine:handler", event.seq, event.topic, "RuntimeError: boom")
            assert (first.subscriber, first.seq, first.topic, first.attempts) == (
                "engine:handler", event.seq, "contract.failed", 1)
            again = await store.record("engine:handler", event.seq, event.topic, "RuntimeError: again")
            assert (again.id, again.attempts, again.error) == (first.id, 2, "RuntimeError: again")
            other = await store.record("engine:other", event.seq, event.topic, "ValueError: x")
            assert [d.subscriber for d in store.entries()] == ["engine:handler", "engine:other"]
            assert [d.id for d in store.entries("engine:other")] == [other.id]
            await store.remove(first.id)
            assert [d.id for d in store.entries()] == [other.id]

        asyncio.run(run())

    # -- with the bus -----------------------------------------------------------------------
    def test_a_bus_on_the_transport_delivers_in_order_and_once(self, transport: Transport) -> None:
        from ..bus.core import GenesisBus
        from ..bus.guardian import DefaultPolicy, Guardian

        bus = GenesisBus(transport, Guardian.of(DefaultPolicy()))
        seen: list[int] = []
        bus.subscribe("contract.bus.*", lambda event: seen.append(event["n"]), name="contract:order")

        async def run() -> list[Any]:
            results = [await bus.publish(f"contract.bus.t{n % 2}", {"n": n}) for n in range(6)]
            first = results[0].envelope
            assert first is not None
            results.append(await bus.publish("contract.bus.t0", {"n": 0}, event_id=first.event_id))
            return results

        results = asyncio.run(run())
        assert all(result.ok for result in results)
        assert seen[:6] == list(range(6))
        assert results[-1].seq == results[0].seq
        assert [e.payload["n"] for e in bus.history(topic="contract.bus.*")] == list(range(6))
        assert bus.stats() == {"contract.bus.t0": 3, "contract.bus.t1": 3}

    # -- lifecycle and registration ---------------------------------------------------------
    def test_close_is_idempotent(self, harness: TransportHarness) -> None:
        transport = harness.open()
        _append(transport, "contract.close", {})
        transport.close()
        transport.close()

    def test_registered_kind_builds_this_transport(self, harness: TransportHarness, transport: Transport,
                                                   tmp_path: Path) -> None:
        table = harness.factory_table()
        if table is None:
            pytest.skip("the harness gives no [bus] table for the registered factory (factory_table() is None)")
        from ..config import Table

        kind = harness.registered_kind()
        built = kind.factory(Table(dict(table), "genesis.toml", "bus"), harness.state_dir() or tmp_path)
        try:
            assert type(built) is type(transport), (
                f"the registered factory builds a {type(built).__name__}, the harness a {type(transport).__name__}")
            assert getattr(built, "name", harness.name) == harness.name
        finally:
            built.close()
