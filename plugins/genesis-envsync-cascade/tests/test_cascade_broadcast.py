"""What clients receive: config_update on commits (in-process and from other processes), never
on drift, never twice, never a payload value; and what the status page shows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cascade_testkit import (
    CANARY,
    commit_payload,
    drift_payload,
    eventually,
    http_get,
    http_url,
    publish_in_subprocess,
    recv_json,
    run,
    serving,
    ws_url,
)
from websockets.asyncio.client import connect


def _stored(bus: Any, topic: str) -> dict[str, Any]:
    return bus.get_event_history(limit=1, topic=topic)[-1]


def test_commit_on_the_bus_reaches_the_client_as_config_update(bus: Any) -> None:

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        async with serving(bus) as server, connect(ws_url(server)) as ws:
            hello = await recv_json(ws)
            await bus.publish("envsync.commit", commit_payload())
            raw = await ws.recv()
            return hello, json.loads(raw), [raw]

    hello, update, frames = run(scenario())
    stored = _stored(bus, "envsync.commit")
    assert CANARY in json.dumps(stored)  # the event the server saw did carry the canary
    assert hello == {"type": "hello", "seq": None, "timestamp": None}
    assert update == {"type": "config_update", "timestamp": stored["_genesis_timestamp"],
                      "seq": stored["_genesis_seq"]}
    assert all(CANARY not in frame for frame in frames)


def test_drift_is_not_broadcast(bus: Any) -> None:

    async def scenario() -> tuple[dict[str, Any], int, int]:
        async with serving(bus) as server, connect(ws_url(server)) as ws:
            await recv_json(ws)  # hello
            await bus.publish("envsync.drift", drift_payload())
            polled = await server.poll_once()  # the store path must ignore drift as well
            await bus.publish("envsync.commit", commit_payload())
            # the first message after hello is the commit: the drift produced nothing
            return await recv_json(ws), polled, server.broadcasts

    first, polled, broadcasts = run(scenario())
    assert first["type"] == "config_update"
    assert first["seq"] == _stored(bus, "envsync.commit")["_genesis_seq"]
    assert polled == 0
    assert broadcasts == 1


def test_every_connected_client_receives_the_update(bus: Any) -> None:

    async def scenario() -> list[dict[str, Any]]:
        async with serving(bus) as server, connect(ws_url(server)) as one, \
                connect(ws_url(server, "/")) as two:
            await recv_json(one)
            await recv_json(two)
            await bus.publish("envsync.commit", commit_payload())
            return [await recv_json(one), await recv_json(two)]

    got = run(scenario())
    seq = _stored(bus, "envsync.commit")["_genesis_seq"]
    assert [message["seq"] for message in got] == [seq, seq]
    assert all(message["type"] == "config_update" for message in got)


def test_commit_published_by_another_process_reaches_the_client(bus: Any, state_dir: Path) -> None:
    async def scenario() -> dict[str, Any]:
        async with serving(bus, poll_interval=0.05) as server, connect(ws_url(server)) as ws:
            await recv_json(ws)
            await asyncio.to_thread(publish_in_subprocess, state_dir, "envsync.commit",
                                    commit_payload())
            return await recv_json(ws)

    update = run(scenario())
    stored = _stored(bus, "envsync.commit")  # written by the other process, read back here
    assert update == {"type": "config_update", "timestamp": stored["_genesis_timestamp"],
                      "seq": stored["_genesis_seq"]}


def test_the_same_seq_is_never_broadcast_twice_even_across_a_restart(bus: Any) -> None:

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], list[int]]:
        frames: list[dict[str, Any]] = []
        async with serving(bus, poll_interval=0.05) as first, connect(ws_url(first)) as ws:
            await recv_json(ws)
            await bus.publish("envsync.commit", commit_payload())
            frames.append(await recv_json(ws))
            seen = _stored(bus, "envsync.commit")
            # the subscription and the store poller both see it; a retry delivers it again
            first.submit(seen)
            await first.poll_once()
        async with serving(bus, poll_interval=0.05) as second, connect(ws_url(second)) as ws:
            hello = await recv_json(ws)
            again = [second.offer(seen), await second.poll_once()]
            second.submit(seen)
            await bus.publish("envsync.commit", commit_payload(summary={"total_keys": 46}))
            frames.append(await recv_json(ws))
            await second.poll_once()
            await eventually(lambda: second.broadcasts >= 1, "the second server's broadcast")
            broadcasts = [first.broadcasts, second.broadcasts]
        return frames, hello, [*again, *broadcasts]

    frames, hello, counters = run(scenario())
    seqs = [frame["seq"] for frame in frames]
    assert all(frame["type"] == "config_update" for frame in frames)
    assert len(set(seqs)) == 2 and seqs[0] < seqs[1]
    assert hello["type"] == "hello" and hello["seq"] == seqs[0]  # the restart knows, but does not resend
    assert counters == [False, 0, 1, 1]


def test_status_page_shows_the_latest_sync_without_any_value(bus: Any) -> None:

    async def scenario() -> tuple[tuple[int, dict[str, str], str], tuple[int, dict[str, str], str],
                                  tuple[int, dict[str, str], str], tuple[int, dict[str, str], str]]:
        async with serving(bus) as server:
            empty = await http_get(http_url(server))
            await bus.publish("envsync.commit", commit_payload())
            await bus.publish("envsync.drift", drift_payload())
            page = await http_get(http_url(server))
            document = await http_get(http_url(server, "/status.json"))
            health = await http_get(http_url(server, "/healthz"))
            return empty, page, document, health

    empty, (status, headers, body), (json_status, _, json_body), health = run(scenario())
    drift = _stored(bus, "envsync.drift")
    commit = _stored(bus, "envsync.commit")
    assert CANARY in json.dumps(drift) and CANARY in json.dumps(commit)  # there was something to leak
    assert "no sync recorded yet" in empty[2]
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'data-state="drift"' in body
    assert drift["_genesis_timestamp"] in body and commit["_genesis_timestamp"] in body
    assert "<th>drift count</th><td>5</td>" in body
    assert "<th>missing in github</th><td>3</td>" in body
    assert "<th>conflicts</th><td>1</td>" in body
    assert "new WebSocket" in body  # it updates itself live
    assert CANARY not in body and CANARY.lower() not in body
    assert "VAR_A" not in body and "DEBUG" not in body  # no key names either
    assert json_status == 200 and CANARY not in json_body and CANARY.lower() not in json_body
    document = json.loads(json_body)
    assert document["latest"]["status"] == "drift"
    assert document["latest"]["seq"] == drift["_genesis_seq"]
    assert document["last_commit"] == {"seq": commit["_genesis_seq"],
                                       "timestamp": commit["_genesis_timestamp"]}
    assert health[0] == 200 and health[2] == "ok"


def test_parity_page_after_a_commit(bus: Any) -> None:
    async def scenario() -> str:
        async with serving(bus) as server:
            await bus.publish("envsync.drift", drift_payload())
            await bus.publish("envsync.commit", commit_payload())
            return (await http_get(http_url(server)))[2]

    body = run(scenario())
    assert 'data-state="parity"' in body
    assert "<th>netlify count</th><td>43</td>" in body
    assert CANARY not in body


def test_engine_without_a_server_does_nothing_and_unknown_paths_are_404(bus: Any) -> None:
    async def scenario() -> tuple[Any, int]:
        # No server is active in this process: the engine's handler must neither fail nor start one.
        result = await bus.publish("envsync.commit", commit_payload())
        async with serving(bus) as server:
            return result, (await http_get(http_url(server, "/nope")))[0]

    result, status = run(scenario())
    assert result.ok and "cascade:broadcast" in result.delivered
    assert status == 404


def test_config_update_names_the_environment_of_the_commit(bus: Any) -> None:

    async def scenario() -> list[dict[str, Any]]:
        async with serving(bus) as server, connect(ws_url(server)) as ws:
            await recv_json(ws)  # hello
            await bus.publish("envsync.commit", commit_payload(environment="staging"))
            await bus.publish("envsync.commit", commit_payload(environment="<script>"))
            return [await recv_json(ws), await recv_json(ws)]

    staging, odd = run(scenario())
    assert staging["type"] == "config_update" and staging["environment"] == "staging"
    assert "environment" not in odd  # not an environment name: never copied into a frame
