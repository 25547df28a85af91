"""Publish to JetStream without waiting in between, and match each acknowledgement to its publish.

JetStream acknowledges a publish by answering on its reply subject.  nats-py's
``publish`` waits for that answer before it returns (one round trip per event)
and its ``publish_async`` reads the operating system's random source and takes
a semaphore for every message.  :class:`AckedPublisher` gives each publish a
reply subject under one inbox of its own (``<inbox>.<counter>``), subscribed
once per connection, and resolves the publish's future when the stream's
answer arrives: a ``PubAck`` (stream, seq, duplicate), the stream's error, or
``NoStreamResponseError`` when no stream took the subject.  Waiting, and
giving up after a timeout, is the caller's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

_STATUS = "Status"
_NO_RESPONDERS = "503"
EXPECTED_STREAM = "Nats-Expected-Stream"


class AckedPublisher:
    """Publishes on ``nc`` with a reply subject per message; see the module docstring."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Any = None
        self._counter = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Any]] = {}

    async def start(self) -> AckedPublisher:
        """Subscribe to this publisher's reply subjects; return ``self``."""
        inbox = self._nc.new_inbox()
        self._prefix = f"{inbox}."
        self._sub = await self._nc.subscribe(f"{inbox}.*", cb=self._answer)
        return self

    async def publish(self, subject: str, data: bytes, headers: dict[str, str], *,
                      stream: str) -> asyncio.Future[Any]:
        """Send one message that only ``stream`` may store; return the future of its ``PubAck``."""
        token = str(next(self._counter))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        headers[EXPECTED_STREAM] = stream
        try:
            await self._nc.publish(subject, data, reply=self._prefix + token, headers=headers)
        except BaseException:
            del self._waiting[token]
            raise
        future.add_done_callback(lambda _done: self._waiting.pop(token, None))
        return future

    async def _answer(self, msg: Any) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix):], None)
        if future is None or future.done():  # given up on, or answered already
            return
        from nats.js.api import PubAck
        from nats.js.errors import APIError, NoStreamResponseError

        if msg.headers and msg.headers.get(_STATUS) == _NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        try:
            answer = json.loads(msg.data)
            if not isinstance(answer, dict):
                raise ValueError("the acknowledgement is not a JSON object")
            if "error" in answer:
                future.set_exception(APIError.from_error(answer["error"]))
            else:
                future.set_result(PubAck.from_response(answer))
        except Exception as exc:
            future.set_exception(exc)

    async def stop(self) -> None:
        """Unsubscribe; publishes still waiting never get their answer (their callers time out)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except Exception:  # shutting down: the connection may be closed already, nothing to undo
                pass
