"""The NATS transport against a real ``nats-server -js``: what the transport contract does not cover
(``test_nats_contract.py``): concurrent publishers, paged history, CloudEvents headers, failures."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import BusError, DefaultPolicy, GenesisBus, Guardian

pytestmark = pytest.mark.nats  # each test starts its own nats-server (see conftest.py)

TS = "2025-01-01T00:00:00.000Z"


def append(transport: Any, topic: str, payload: dict[str, Any], event_id: str) -> Any:
    return asyncio.run(transport.append(topic, payload, event_id=event_id, timestamp=TS,
                                        source="urn:test"))


def test_two_publishers_share_one_total_order(nats_server: Any, tmp_path: Path,
                                              kit: Any) -> None:
    first = kit.make_transport(nats_server.url, tmp_path / "a")
    second = kit.make_transport(nats_server.url, tmp_path / "b")
    seqs: dict[str, list[int]] = {"a": [], "b": []}

    def publish(name: str, transport: Any) -> None:
        async def run() -> None:
            for i in range(40):
                envelope = await transport.append("envsync.drift", {"by": name, "i": i},
                                                  event_id=f"{name}-{i}", timestamp=TS,
                                                  source=f"urn:{name}")
                seqs[name].append(envelope.seq)

        asyncio.run(run())

    try:
        threads = [threading.Thread(target=publish, args=("a", first)),
                   threading.Thread(target=publish, args=("b", second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for name in seqs:
            assert seqs[name] == sorted(seqs[name]) and len(set(seqs[name])) == 40
        assert sorted(seqs["a"] + seqs["b"]) == list(range(1, 81))  # no gap, no repeat
        history_a = [(e.seq, e.event_id) for e in first.history()]
        history_b = [(e.seq, e.event_id) for e in second.history()]
        assert history_a == history_b
        assert [seq for seq, _ in history_a] == list(range(1, 81))
        by_seq = dict(history_a)
        for name in seqs:  # each publisher's events are where its acks said
            assert [by_seq[s] for s in seqs[name]] == [f"{name}-{i}" for i in range(40)]
        assert first.last_seq() == second.last_seq() == 80
    finally:
        first.close()
        second.close()


def test_concurrent_publishes_each_get_their_own_acknowledgement(nats_server: Any, tmp_path: Path,
                                                                kit: Any) -> None:
    # Publishes made at the same time travel to the transport's loop together and are sent
    # without waiting in between; each still returns its own stored event or its own error.
    transport = kit.make_transport(nats_server.url, tmp_path)
    too_big = "x" * (2 * 1024 * 1024)  # over the server's max_payload: refused before sending

    async def publish(i: int, value: str = "") -> Any:
        return await transport.append("envsync.drift", {"i": i, "pad": value}, event_id=f"e-{i}",
                                      timestamp=TS, source="urn:test")

    async def burst() -> list[Any]:
        return await asyncio.gather(*(publish(i, too_big if i == 7 else "") for i in range(40)),
                                    publish(3), return_exceptions=True)

    try:
        first = append(transport, "envsync.init", {}, "first")
        results = asyncio.run(burst())
        failed = results[7]
        assert isinstance(failed, BusError) and nats_server.url in str(failed)
        stored = [r for i, r in enumerate(results[:40]) if i != 7]
        assert all(not isinstance(r, BaseException) for r in stored), results
        assert sorted(e.seq for e in stored) == list(range(first.seq + 1, first.seq + 40))
        assert [e.event_id for e in stored] == [f"e-{i}" for i in range(40) if i != 7]
        assert [e.payload["i"] for e in stored] == [i for i in range(40) if i != 7]
        again = results[40]  # the same event id twice in one burst: stored once
        assert again == next(e for e in stored if e.event_id == "e-3")
        assert transport.last_seq() == first.seq + 39
        assert transport.get(first.seq + 40) is None
    finally:
        transport.close()
    with pytest.raises(BusError, match="the transport is closed"):
        append(transport, "envsync.drift", {}, "after-close")


def test_a_deleted_stream_fails_the_publish_clearly(nats_server: Any, tmp_path: Path,
                                                    kit: Any) -> None:
    transport = kit.make_transport(nats_server.url, tmp_path, stream="GONE", subject_prefix="gone")
    try:
        assert append(transport, "envsync.init", {}, "before").seq == 1
        kit.delete_stream(nats_server.url, "GONE")
        with pytest.raises(BusError, match=r"no stream stored gone\.envsync\.drift \(was stream "
                                           r"GONE deleted\?\)"):
            append(transport, "envsync.drift", {}, "lost")
        # The next publish checks the stream again and creates it anew.
        assert append(transport, "envsync.drift", {}, "after").seq == 1
    finally:
        transport.close()


def test_history_stats_and_get_come_from_the_stream(nats_server: Any,
                                                    tmp_path: Path, kit: Any) -> None:
    transport = kit.make_transport(nats_server.url, tmp_path, stream="HIST",
                                   subject_prefix="hist")
    topics = ["envsync.init", "envsync.drift", "autonomy.heal.planned", "envsync.drift",
              "autonomy.alert", "envsync.commit"] * 30
    try:
        asyncio.run(transport.append_many(
            [(topic, {"i": i}, f"id-{i}", TS, "urn:test") for i, topic in enumerate(topics)]))
        everything = transport.history()
        assert [e.seq for e in everything] == list(range(1, 181))
        assert [e.payload["i"] for e in everything] == list(range(180))
        assert [e.seq for e in transport.history(limit=5)] == list(range(176, 181))
        drift = transport.history(topic="envsync.drift", limit=7)
        assert [e.topic for e in drift] == ["envsync.drift"] * 7
        assert drift[-1].seq == 178 and drift == transport.history(topic="envsync.drift")[-7:]
        assert len(transport.history(topic="autonomy.>")) == 60
        assert len(transport.history(topic="autonomy.**")) == 60
        assert len(transport.history(topic="*.alert")) == 30
        assert transport.history(topic="nothing.here") == []
        assert [e.seq for e in transport.history(after_seq=178)] == [179, 180]
        assert [e.seq for e in transport.history(topic="envsync.commit", after_seq=170)] == [174, 180]
        paged = list(transport.iter_history(after_seq=10, page_size=7))
        assert [e.seq for e in paged] == list(range(11, 181))
        assert transport.stats() == {"autonomy.alert": 30, "autonomy.heal.planned": 30,
                                     "envsync.commit": 30, "envsync.drift": 60,
                                     "envsync.init": 30}
        got = transport.get(2)
        assert got is not None and (got.topic, got.event_id, got.payload, got.timestamp,
                                    got.source) == ("envsync.drift", "id-1", {"i": 1}, TS,
                                                    "urn:test")
        assert transport.get(181) is None and transport.get(0) is None
    finally:
        transport.close()


def test_bus_on_nats_delivers_locally_and_reads_back(nats_server: Any,
                                                     tmp_path: Path, kit: Any) -> None:
    bus = GenesisBus(kit.make_transport(nats_server.url, tmp_path), Guardian.of(DefaultPolicy()),
                     source="urn:genesis:test")
    received: list[dict[str, Any]] = []
    bus.subscribe("envsync.*", received.append, name="local")

    async def run() -> list[Any]:
        return [await bus.publish("envsync.drift", {"missing": ["A"]}),
                await bus.publish("envsync.commit", {"ok": True}, event_id="fixed-id"),
                await bus.publish("envsync.commit", {"ok": True}, event_id="fixed-id")]

    try:
        results = asyncio.run(run())
        assert [r.status for r in results] == ["delivered"] * 3
        assert [r.seq for r in results] == [1, 2, 2]
        assert received[0]["missing"] == ["A"] and received[0]["_genesis_seq"] == 1
        assert received[0]["_genesis_topic"] == "envsync.drift"
        assert received[1]["_genesis_id"] == "fixed-id"
        history = bus.get_event_history(limit=10)
        assert [e["_genesis_seq"] for e in history] == [1, 2]
        assert history[0]["_genesis_timestamp"].endswith("Z")
        assert bus.stats() == {"envsync.commit": 1, "envsync.drift": 1}
        assert bus.last_seq() == 2
        cloud = bus.history(limit=1)[0].to_cloudevent()
        assert (cloud["id"], cloud["type"], cloud["source"]) == ("fixed-id", "envsync.commit",
                                                                "urn:genesis:test")
    finally:
        bus.close()


def test_messages_carry_cloudevents_headers(nats_server: Any, tmp_path: Path,
                                            kit: Any) -> None:
    import nats

    transport = kit.make_transport(nats_server.url, tmp_path)
    try:
        append(transport, "envsync.drift", {"k": "v"}, "abc123")
    finally:
        transport.close()

    async def read() -> Any:
        nc = await nats.connect(nats_server.url)
        try:
            return await nc.jetstream().get_msg("GENESIS", 1)
        finally:
            await nc.close()

    raw = asyncio.run(read())
    assert raw.subject == "genesis.envsync.drift"
    assert raw.data == b'{"k":"v"}'
    headers = raw.headers
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == "abc123"
    assert (headers["ce-type"], headers["ce-source"], headers["ce-time"],
            headers["ce-specversion"]) == ("envsync.drift", "urn:test", TS, "1.0")


def test_an_existing_stream_with_other_subjects_is_an_error(nats_server: Any,
                                                            tmp_path: Path, kit: Any) -> None:
    import nats

    async def create() -> None:
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().add_stream(name="GENESIS", subjects=["orders.>"])
        finally:
            await nc.close()

    asyncio.run(create())
    with pytest.raises(BusError) as caught:
        kit.make_transport(nats_server.url, tmp_path)
    message = str(caught.value)
    assert "stream GENESIS exists with subjects [orders.>], not genesis.>" in message
    assert nats_server.url in message


def test_publish_after_the_server_stops_raises_bus_error(nats_server: Any,
                                                         tmp_path: Path, kit: Any) -> None:
    transport = kit.make_transport(nats_server.url, tmp_path, request_timeout=1, connect_timeout=1)
    try:
        assert append(transport, "envsync.init", {}, "before").seq == 1
        nats_server.stop()
        with pytest.raises(BusError) as caught:
            append(transport, "envsync.drift", {"has_drift": True}, "after")
        assert "NATS" in str(caught.value) and nats_server.url in str(caught.value)
        with pytest.raises(BusError):
            transport.history()
        nats_server.start()  # same port and store: the next call connects again
        assert append(transport, "envsync.drift", {"has_drift": True}, "after").seq == 2
    finally:
        transport.close()


def test_no_server_is_a_bus_error(nats_binary: str, tmp_path: Path, kit: Any) -> None:
    url = f"nats://127.0.0.1:{kit.free_port()}"
    with pytest.raises(BusError, match=r"cannot connect to NATS at nats://127\.0\.0\.1:\d+"):
        kit.make_transport(url, tmp_path, connect_timeout=1)


def test_token_auth_works_and_the_token_never_shows(nats_binary: str, tmp_path: Path, kit: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    token = "canary-token-7f3a9c21"
    server = kit.NatsServer(nats_binary, tmp_path / "store", token=token).start()
    try:
        monkeypatch.setenv("TEST_NATS_TOKEN", token)
        transport = kit.make_transport(server.url, tmp_path, token_env="TEST_NATS_TOKEN")
        try:
            assert append(transport, "envsync.init", {}, "one").seq == 1
            assert token not in repr(transport)
        finally:
            transport.close()
        monkeypatch.setenv("TEST_NATS_TOKEN", "wrong-token-0000")
        with pytest.raises(BusError) as caught:
            kit.make_transport(server.url, tmp_path, token_env="TEST_NATS_TOKEN")
        assert "wrong-token" not in str(caught.value) and token not in str(caught.value)
        assert "authorization" in str(caught.value).lower()
    finally:
        server.stop()


def test_dead_letters_are_kept_in_the_state_dir(nats_server: Any, tmp_path: Path,
                                                kit: Any) -> None:
    bus = GenesisBus(kit.make_transport(nats_server.url, tmp_path / "state"),
                     Guardian.of(DefaultPolicy()))

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    bus.subscribe("envsync.drift", broken, name="broken")
    try:
        result = bus.publish_sync("envsync.drift", {"x": 1})
        assert [f.subscriber for f in result.failures] == ["broken"]
        [letter] = bus.dead_letters()
        assert (letter.subscriber, letter.seq, letter.topic) == ("broken", 1, "envsync.drift")
        assert (tmp_path / "state" / "nats-dead-letters.db").exists()
        bus.unsubscribe("broken")
        bus.subscribe("envsync.drift", lambda e: None, name="broken")
        report = bus.retry_dead_letters_sync()
        assert len(report.succeeded) == 1 and bus.dead_letters() == []
    finally:
        bus.close()
