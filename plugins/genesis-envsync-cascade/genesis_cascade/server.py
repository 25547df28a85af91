"""The Cascade WebSocket server: tells every connected frontend when the config changed.

One server per ``genesis serve`` process.  It learns of ``envsync.commit``
events two ways and broadcasts each sequence number at most once:

* in-process, from the ``cascade`` engine's bus subscription (``submit``);
* from the persisted event store, which it polls so commits published by other
  processes (a ``genesis sync`` in another terminal, CI) reach clients too.

Each client has a bounded queue and its own writer task; a client whose queue
fills up or whose send does not finish in ``send_timeout`` is dropped, so one
slow reader never holds up the others.  The same port answers plain HTTP GETs:
``/`` (status page), ``/status.json`` and ``/healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import inspect
import json
import logging
import secrets
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin, Subprotocol

from . import engine
from .auth import SUBPROTOCOL, TokenGate
from .settings import CascadeSettings
from .status import (
    COMMIT_TOPIC,
    DRIFT_TOPIC,
    render_page,
    safe_environment,
    safe_seq,
    safe_timestamp,
    status_document,
)

if TYPE_CHECKING:
    from websockets.asyncio.server import Server

log = logging.getLogger("genesis_cascade")
WS_PATHS = ("/", "/ws")
POLL_BATCH = 100
SLOW_CLIENT_CLOSE_CODE = 1013  # "try again later": the frontend reconnects with backoff
MAX_INBOUND_MESSAGE = 4096


class _NoTracebacks(logging.Filter):
    """Keep websockets' log records to one line: a traceback could quote request headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _wire_logger() -> logging.Logger:
    """Return the logger handed to websockets: never DEBUG (that level dumps headers)."""
    logger = logging.getLogger("genesis_cascade.websockets")
    if logger.level == logging.NOTSET or logger.level < logging.INFO:
        logger.setLevel(logging.INFO)
    if not any(isinstance(f, _NoTracebacks) for f in logger.filters):
        logger.addFilter(_NoTracebacks())
    return logger


@attrs.define(eq=False)
class _Client:
    """One connected frontend: its connection, bounded outbox and writer task."""

    ws: ServerConnection
    outbox: asyncio.Queue[str]
    writer: asyncio.Task[None] | None = None


def _response(status: http.HTTPStatus, body: bytes, content_type: str,
              extra: Mapping[str, str] | None = None) -> Response:
    import email.utils

    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ])
    for key, value in (extra or {}).items():
        headers[key] = value
    return Response(status.value, status.phrase, headers, body)


def _text(status: http.HTTPStatus, text: str, extra: Mapping[str, str] | None = None) -> Response:
    return _response(status, text.encode("utf-8"), "text/plain; charset=utf-8", extra)


def _is_upgrade(request: Request) -> bool:
    return any("websocket" in value.lower() for value in request.headers.get_all("Upgrade"))


def _select_subprotocol(_connection: ServerConnection,
                        offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Answer with ``genesis.cascade.v1`` when offered; never with the bearer sub-protocol."""
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None


class CascadeServer:
    """Broadcasts ``config_update`` to WebSocket clients; ``async with`` starts and stops it."""

    def __init__(self, settings: CascadeSettings, *, bus: Any, token: str | None = None,
                 sock: socket.socket | None = None) -> None:
        """``sock``: an already listening socket to serve on (socket activation); it replaces
        ``settings.host``/``port``."""
        self.settings = settings
        self._sock = sock
        self._bus = bus
        self._gate = TokenGate(token)
        self._clients: set[_Client] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self._last_seq: int | None = None
        self._last_timestamp: str | None = None
        self._server: Server | None = None
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.broadcasts = 0
        self.dropped_slow = 0

    def __repr__(self) -> str:
        return (f"CascadeServer(host={self.settings.host!r}, port={self.port}, "
                f"clients={len(self._clients)}, auth={self._gate.required})")

    # -- what tests and the command read --------------------------------------------------
    @property
    def port(self) -> int | None:
        """Return the port actually bound (useful with port 0), or ``None`` before start."""
        if self._server is None:
            return None
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return None

    @property
    def client_count(self) -> int:
        """Return how many clients are connected and not dropped."""
        return len(self._clients)

    @property
    def last_seq(self) -> int | None:
        """Return the newest commit sequence broadcast (or found in the store at start)."""
        return self._last_seq

    # -- lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> CascadeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind, start following the event store and take over the engine's events."""
        self._loop = asyncio.get_running_loop()
        newest = await self._history(limit=1, topic=COMMIT_TOPIC)
        if newest:
            # Commits already stored are not news: a restarted server must not resend them.
            self._last_seq = safe_seq(newest[-1].get("_genesis_seq"))
            self._last_timestamp = safe_timestamp(newest[-1].get("_genesis_timestamp"))
        settings = self.settings
        where: dict[str, Any] = ({"sock": self._sock} if self._sock is not None
                                 else {"host": settings.host, "port": settings.port})
        self._server = await serve(
            self._handle,
            # "" in ``origins`` stands for "no Origin header" (non-browser clients)
            origins=([Origin(o) if o else None for o in settings.origins]
                     if settings.origins is not None else None),
            select_subprotocol=_select_subprotocol,
            process_request=self._process_request,
            compression=None,  # tiny messages; deflate would cost memory per client
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout,
            max_size=MAX_INBOUND_MESSAGE,
            max_queue=4,
            logger=_wire_logger(),
            **where,
        )
        engine.activate(self)
        self._poller = asyncio.create_task(self._follow_store(), name="cascade-poller")

    async def stop(self) -> None:
        """Stop following the store, close every connection (1001) and unbind."""
        engine.deactivate(self)
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for client in list(self._clients):
            self._forget(client)
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    # -- events in ---------------------------------------------------------------------
    def submit(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for broadcast from any thread (what the engine handler calls)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.offer(event)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: nobody to tell
            loop.call_soon_threadsafe(self.offer, dict(event))

    def offer(self, event: Mapping[str, Any]) -> bool:
        """Broadcast ``event`` if it is a commit newer than the last one; return whether it was.

        Must run on the server's loop.  Idempotent: a sequence number at or below the last
        one broadcast (a retry, the poller seeing an event the subscription already
        delivered, an older event arriving late) is ignored.
        """
        if event.get("_genesis_topic") != COMMIT_TOPIC:
            return False
        seq = safe_seq(event.get("_genesis_seq"))
        if seq is None or (self._last_seq is not None and seq <= self._last_seq):
            return False
        self._last_seq = seq
        self._last_timestamp = safe_timestamp(event.get("_genesis_timestamp"))
        update: dict[str, Any] = {"type": "config_update", "timestamp": self._last_timestamp, "seq": seq}
        environment = safe_environment(event.get("environment"))
        if environment is not None:  # with [environments], each environment's parity is its own update
            update["environment"] = environment
        message = json.dumps(update)
        for client in list(self._clients):
            try:
                client.outbox.put_nowait(message)
            except asyncio.QueueFull:
                self._drop(client, "client too slow")
        self.broadcasts += 1
        return True

    async def poll_once(self) -> int:
        """Read new commits from the event store and broadcast them; return how many."""
        return sum(1 for event in await self._commits_after(self._last_seq) if self.offer(event))

    async def _commits_after(self, seq: int | None) -> list[dict[str, Any]]:
        """Return up to ``POLL_BATCH`` stored commits newer than ``seq``, oldest first."""
        history = getattr(self._bus, "history", None)
        if history is None:  # a bus with only the seed's API: filter the newest ones
            events = await self._history(limit=POLL_BATCH, topic=COMMIT_TOPIC)
            return [e for e in events if seq is None or (safe_seq(e.get("_genesis_seq")) or -1) > seq]
        envelopes = history(limit=POLL_BATCH, topic=COMMIT_TOPIC, after_seq=seq)
        if inspect.isawaitable(envelopes):
            envelopes = await envelopes
        return [envelope.to_event() for envelope in envelopes]

    async def _history(self, *, limit: int, topic: str) -> list[dict[str, Any]]:
        result = self._bus.get_event_history(limit=limit, topic=topic)
        if inspect.isawaitable(result):
            result = await result
        return list(result)

    async def _follow_store(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a locked or busy store: say so once, keep serving
                if not failing:
                    log.warning("cascade: reading the event store failed (%s); retrying",
                                type(exc).__name__)
                failing = True
            else:
                if failing:
                    log.warning("cascade: reading the event store works again")
                failing = False

    # -- clients ----------------------------------------------------------------------
    def _hello(self) -> str:
        return json.dumps({"type": "hello", "seq": self._last_seq,
                           "timestamp": self._last_timestamp})

    async def _handle(self, ws: ServerConnection) -> None:
        client = _Client(ws, asyncio.Queue(maxsize=self.settings.client_queue))
        self._clients.add(client)
        client.writer = asyncio.create_task(self._write(client, self._hello()),
                                            name="cascade-writer")
        try:
            async for _message in ws:
                pass  # clients have nothing to say; inbound frames are read and ignored
        except ConnectionClosed:
            pass
        finally:
            self._forget(client)
            await asyncio.gather(client.writer, return_exceptions=True)

    async def _write(self, client: _Client, hello: str) -> None:
        message = hello  # first the hello, then whatever the outbox holds
        while True:
            try:
                await asyncio.wait_for(client.ws.send(message), self.settings.send_timeout)
            except TimeoutError:
                self._drop(client, "send timed out")
                return
            except ConnectionClosed:
                return
            message = await client.outbox.get()

    def _forget(self, client: _Client) -> None:
        self._clients.discard(client)
        writer = client.writer
        if writer is not None and writer is not asyncio.current_task() and not writer.done():
            writer.cancel()

    def _drop(self, client: _Client, reason: str) -> None:
        if client not in self._clients:
            return
        self._forget(client)
        self.dropped_slow += 1
        log.info("cascade: dropped a client (%s)", reason)
        closer = asyncio.create_task(self._close(client.ws, reason), name="cascade-drop")
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)

    @staticmethod
    async def _close(ws: ServerConnection, reason: str) -> None:
        try:
            await ws.close(SLOW_CLIENT_CLOSE_CODE, reason)  # aborts after close_timeout
        except Exception:  # the client is gone either way; nothing to report
            ws.transport.abort()

    # -- HTTP ------------------------------------------------------------------------
    async def _status(self) -> dict[str, Any]:
        commits = await self._history(limit=1, topic=COMMIT_TOPIC)
        drifts = await self._history(limit=1, topic=DRIFT_TOPIC)
        return status_document(commits[-1] if commits else None, drifts[-1] if drifts else None,
                               clients=len(self._clients), last_broadcast_seq=self._last_seq)

    def _unauthorized(self) -> Response:
        return _text(http.HTTPStatus.UNAUTHORIZED, "a bearer token is required\n",
                     {"WWW-Authenticate": 'Bearer realm="genesis-cascade"'})

    async def _process_request(self, connection: ServerConnection,
                               request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return _text(http.HTTPStatus.OK, "ok")
        if _is_upgrade(request) and path in WS_PATHS:
            if not self._gate.allows(request.path, request.headers):
                return self._unauthorized()
            if len(self._clients) >= self.settings.max_clients:
                return _text(http.HTTPStatus.SERVICE_UNAVAILABLE, "too many clients\n")
            return None  # go on with the WebSocket handshake
        if path not in ("/", "/status.json"):
            return _text(http.HTTPStatus.NOT_FOUND, "not found\n")
        if not self._gate.allows(request.path, request.headers):
            return self._unauthorized()
        document = await self._status()
        if path == "/status.json":
            body = json.dumps(document, sort_keys=True).encode("utf-8")
            return _response(http.HTTPStatus.OK, body, "application/json")
        nonce = secrets.token_urlsafe(16)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'")
        page = render_page(document, nonce=nonce).encode("utf-8")
        return _response(http.HTTPStatus.OK, page, "text/html; charset=utf-8",
                         {"Content-Security-Policy": csp})
