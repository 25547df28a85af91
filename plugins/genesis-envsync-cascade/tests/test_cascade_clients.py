"""Who may connect, and what happens to clients that are slow, silent or gone."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
from typing import Any
from urllib.parse import quote

import pytest
from cascade_testkit import (
    commit_payload,
    eventually,
    http_get,
    http_url,
    recv_json,
    run,
    serving,
    ws_url,
)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from genesis_cascade.auth import SUBPROTOCOL, encode_subprotocol_token

TOKEN = "Zq+9/k=x-CASCADE-TOKEN-canary"


def _commit(seq: int) -> dict[str, Any]:
    return {"_genesis_topic": "envsync.commit", "_genesis_seq": seq,
            "_genesis_timestamp": "2025-10-11T22:45:00.000Z", "_genesis_id": f"id{seq}"}


async def _raw_client(port: int, *, receive_buffer: int = 4096) -> tuple[asyncio.StreamReader,
                                                                        asyncio.StreamWriter]:
    """Open a WebSocket by hand and then stop reading from the socket (a client that never reads)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.transport.pause_reading()
    return reader, writer


def _server_log(caplog: pytest.LogCaptureFixture) -> str:
    """Return what the server side logged (the test's own client logs its headers at DEBUG)."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if r.name.startswith("genesis"))


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):  # the server may have reset it already
        await writer.wait_closed()


# -- authentication ------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["none", "wrong header", "wrong subprotocol", "wrong query",
                                 "basic scheme", "bearer subprotocol alone"])
def test_a_client_without_the_right_token_is_refused_at_the_handshake(
        bus: Any, how: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # even with debug logging on, no header reaches a server log
    async def scenario() -> InvalidStatus:
        async with serving(bus, token=TOKEN) as server:
            url, kwargs = ws_url(server), {}
            if how == "wrong header":
                kwargs = {"additional_headers": {"Authorization": "Bearer nope"}}
            elif how == "wrong subprotocol":
                kwargs = {"subprotocols": [SUBPROTOCOL, encode_subprotocol_token("nope")]}
            elif how == "wrong query":
                url += "?token=nope"
            elif how == "basic scheme":
                kwargs = {"additional_headers": {"Authorization": f"Basic {TOKEN}"}}
            elif how == "bearer subprotocol alone":  # the right token, without genesis.cascade.v1
                kwargs = {"subprotocols": [encode_subprotocol_token(TOKEN)]}
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, **kwargs):
                    pass
            assert server.client_count == 0
            return refused.value

    refused = run(scenario())
    response = refused.response
    assert response.status_code == 401
    logged = _server_log(caplog)
    assert "genesis_cascade.websockets" in logged  # the server did log (the rejection)
    assert "nope" not in logged and TOKEN not in logged
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.body.decode() and TOKEN not in str(response.headers)


@pytest.mark.parametrize("how", ["header", "subprotocol", "query"])
def test_a_client_with_the_token_connects_and_receives_updates(
        bus: Any, how: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[str | None, str, dict[str, Any]]:
        async with serving(bus, token=TOKEN) as server:
            url, kwargs = ws_url(server), {}
            if how == "header":
                kwargs = {"additional_headers": {"Authorization": f"Bearer {TOKEN}"}}
            elif how == "subprotocol":
                kwargs = {"subprotocols": [SUBPROTOCOL, encode_subprotocol_token(TOKEN)]}
            else:
                url += "?token=" + quote(TOKEN, safe="")
            async with connect(url, **kwargs) as ws:
                await recv_json(ws)
                await bus.publish("envsync.commit", commit_payload())
                return ws.subprotocol, str(ws.response.headers), await recv_json(ws)

    subprotocol, response_headers, update = run(scenario())
    assert update["type"] == "config_update"
    logged = _server_log(caplog)
    assert TOKEN not in logged and encode_subprotocol_token(TOKEN) not in logged
    assert TOKEN not in response_headers
    assert encode_subprotocol_token(TOKEN) not in response_headers  # the answer never echoes it
    if how == "subprotocol":
        assert subprotocol == SUBPROTOCOL


def test_status_page_needs_the_token_but_healthz_does_not(bus: Any) -> None:
    async def scenario() -> list[tuple[int, str]]:
        async with serving(bus, token=TOKEN) as server:
            results = []
            for path, headers in [("/", None), ("/status.json", {"Authorization": "Bearer nope"}),
                                  ("/?token=" + quote(TOKEN, safe=""), None),
                                  ("/status.json", {"Authorization": f"Bearer {TOKEN}"}),
                                  ("/healthz", None)]:
                status, _, body = await http_get(http_url(server, path), headers)
                results.append((status, body))
            return results

    results = run(scenario())
    assert [status for status, _ in results] == [401, 401, 200, 200, 200]
    assert all(TOKEN not in body for _, body in results)


def test_only_the_configured_origins_may_connect(bus: Any) -> None:
    async def scenario() -> tuple[int, str, str]:
        async with serving(bus, origins=("https://app.example", "")) as server:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws_url(server), origin="https://evil.example"):
                    pass
            async with connect(ws_url(server), origin="https://app.example") as browser, \
                    connect(ws_url(server)) as script:  # "" admits clients that send no Origin
                return (refused.value.response.status_code, (await recv_json(browser))["type"],
                        (await recv_json(script))["type"])

    assert run(scenario()) == (403, "hello", "hello")


# -- slow, silent and vanished clients -----------------------------------------------------

@pytest.mark.parametrize("limit", [{"client_queue": 4, "send_timeout": 30.0},
                                   {"client_queue": 100_000, "send_timeout": 0.2}],
                         ids=["outbox-full", "send-timed-out"])
def test_a_client_that_never_reads_is_dropped_without_holding_up_the_others(
        bus: Any, caplog: pytest.LogCaptureFixture, limit: dict[str, Any]) -> None:
    caplog.set_level(logging.INFO)

    # Small kernel buffers on both ends (accepted sockets inherit the listener's send buffer),
    # so the slow client's backlog reaches the server's queue after hundreds, not tens of
    # thousands, of updates.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    async def scenario() -> tuple[int, int, int, bytes]:
        async with serving(bus, sock=listener, **limit) as server, \
                connect(ws_url(server)) as fast:
            await recv_json(fast)
            slow_reader, slow_writer = await _raw_client(server.port)
            await eventually(lambda: server.client_count == 2, "the slow client is registered")
            seq = 0
            # Each update must reach the fast client at once while the slow one's buffers fill up.
            while server.client_count == 2:
                seq += 1
                assert seq < 100_000, "the slow client was never dropped"
                assert server.offer(_commit(seq))
                assert (await recv_json(fast))["seq"] == seq
            dropped_after = seq
            assert server.offer(_commit(seq + 1))
            after_drop = (await recv_json(fast))["seq"]
            # the server closed the slow connection: once it reads again it reaches the end
            slow_writer.transport.resume_reading()
            rest = await asyncio.wait_for(slow_reader.read(), 10)
            await _close(slow_writer)
            return dropped_after, after_drop, server.dropped_slow, rest

    dropped_after, after_drop, dropped, rest = run(scenario())
    assert dropped == 1
    assert after_drop == dropped_after + 1
    assert isinstance(rest, bytes)  # EOF reached: the connection was really closed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_silent_peer_is_removed_by_keepalive(bus: Any) -> None:
    async def scenario() -> int:
        async with serving(bus, ping_interval=0.1, ping_timeout=0.1) as server:
            _reader, writer = await _raw_client(server.port)
            await eventually(lambda: server.client_count == 1, "the client is registered")
            await eventually(lambda: server.client_count == 0, "keepalive drops the silent peer")
            await _close(writer)
            return server.client_count

    assert run(scenario()) == 0


def test_disconnected_clients_are_removed_without_errors(
        bus: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> tuple[list[int], dict[str, Any]]:
        counts = []
        async with serving(bus) as server:
            async with connect(ws_url(server)) as polite:
                await recv_json(polite)
                await eventually(lambda: server.client_count == 1, "the client is registered")
            await eventually(lambda: server.client_count == 0, "a closed client is removed")
            counts.append(server.client_count)
            _reader, rude = await _raw_client(server.port)
            await eventually(lambda: server.client_count == 1, "the raw client is registered")
            rude.transport.abort()  # no closing handshake at all
            await eventually(lambda: server.client_count == 0, "an aborted client is removed")
            counts.append(server.client_count)
            async with connect(ws_url(server)) as survivor:
                await recv_json(survivor)
                server.offer(_commit(7))
                return counts, await recv_json(survivor)

    counts, update = run(scenario())
    assert counts == [0, 0]
    assert update["seq"] == 7
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_server_refuses_clients_beyond_max_clients(bus: Any) -> None:
    async def scenario() -> int:
        async with serving(bus, max_clients=1) as server, connect(ws_url(server)) as first:
            await recv_json(first)
            with pytest.raises(InvalidStatus) as refused:
                async with connect(ws_url(server)):
                    pass
            return refused.value.response.status_code

    assert run(scenario()) == 503
