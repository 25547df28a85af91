"""A streaming pull on a durable consumer: one open pull request, messages queued as they arrive.

nats-py's ``fetch`` asks the server anew for every batch and waits for each
message of it with a task and a timer of its own.  While events are published
as fast as a worker handles them, every fetch returns one or two, so most of a
worker's time went to asking.  :class:`Puller` keeps one pull request for up
to ``batch`` messages open for ``expires`` seconds (the JetStream API's
``CONSUMER.MSG.NEXT``); the server sends each message as soon as the stream
has it, and the worker takes everything that arrived since it last looked.
A new request goes out when the open one is used up or has expired, so the
worker never holds more than ``batch`` messages it has not settled.

Status messages on the inbox end a request: 408 (expired), 404 (nothing
pending) and 409 (the server gave up on it); 100 is an idle heartbeat.  Any
other status is an error.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import Any

#: Statuses that end a pull request without it being an error (as nats-py's fetch treats them).
_ENDS_REQUEST = frozenset({"404", "408", "409"})
_HEARTBEAT = "100"
_STATUS = "Status"
_DESCRIPTION = "Description"


class PullError(Exception):
    """The server answered a pull request with an error status (``str`` says which)."""


class Puller:
    """Pulls ``durable`` on ``stream`` over ``nc``; see the module docstring.

    Call :meth:`start` once, then :meth:`take` repeatedly; :meth:`drain`
    returns what is still delivered once no more is wanted, then :meth:`stop`.
    """

    def __init__(self, nc: Any, stream: str, durable: str, *, batch: int, expires: float,
                 api_prefix: str = "$JS.API") -> None:
        self._nc = nc
        self._subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._batch = batch
        self._expires = expires
        self._inbox = ""
        self._sub: Any = None
        self._arrived: collections.deque[Any] = collections.deque()
        self._wake = asyncio.Event()
        self._open = 0  # messages the open request may still bring (0: no request open)
        self._deadline = 0.0  # when the open request has certainly ended, on the monotonic clock
        self._error: PullError | None = None

    async def start(self) -> None:
        """Subscribe to a fresh inbox for the server's deliveries."""
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._arrive)

    async def _arrive(self, msg: Any) -> None:
        headers = msg.headers
        status = headers.get(_STATUS) if headers and not msg.data else None
        if status is None:
            self._arrived.append(msg)
            if self._open > 0:
                self._open -= 1
        elif status == _HEARTBEAT:
            return
        elif status in _ENDS_REQUEST:
            self._open = 0
        else:
            self._error = PullError(f"pull request answered {status} "
                                    f"{headers.get(_DESCRIPTION, '')}".strip())
        self._wake.set()

    def held(self) -> tuple[Any, ...]:
        """Return the messages delivered but not taken yet."""
        return tuple(self._arrived)

    @property
    def request_open(self) -> bool:
        """Return whether a pull request may still bring messages."""
        if self._open and time.monotonic() >= self._deadline:
            self._open = 0  # its end never arrived (a lost status message): it has expired anyway
        return self._open > 0

    async def _request(self) -> None:
        body = json.dumps({"batch": self._batch, "expires": int(self._expires * 1e9)}).encode()
        self._open = self._batch
        self._deadline = time.monotonic() + self._expires + 1.0
        await self._nc.publish(self._subject, body, reply=self._inbox)

    async def take(self, timeout: float) -> list[Any]:
        """Return every message delivered since the last call, waiting up to ``timeout`` for one.

        Asks for more first when no request is open.  Returns ``[]`` when nothing
        came; raises :class:`PullError` when the server refused a request.
        """
        if self._error is not None:
            raise self._error
        if not self._arrived:
            if not self.request_open:
                await self._request()
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if self._error is not None:
                raise self._error
        msgs = list(self._arrived)
        self._arrived.clear()
        return msgs

    async def drain(self) -> list[Any]:
        """Return what was delivered and what the open request still brings (until it ends)."""
        while self.request_open and self._error is None:
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, self._deadline - time.monotonic())):
                    await self._wake.wait()
            except TimeoutError:
                break
        msgs = list(self._arrived)
        self._arrived.clear()
        return msgs

    async def stop(self) -> None:
        """Unsubscribe the inbox."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # shutting down: the connection may be closed already, nothing to undo
                pass
