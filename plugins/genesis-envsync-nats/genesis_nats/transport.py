"""``NatsTransport``: the Genesis bus's events in a NATS JetStream stream.

* ``append`` publishes to ``<prefix>.<topic>`` with the envelope as headers
  (see ``codec``) and returns once the stream acknowledged it; the stream
  sequence is ``_genesis_seq``.  ``Nats-Msg-Id`` = the event id, so a retried
  publish inside the duplicate window returns the stored event, not a copy.
  Appends made meanwhile (``gather`` of publishes, other threads) travel to the
  transport's loop together (``batch.LoopBatcher``) and are published there
  pipelined: each waits for its own acknowledgement, none waits for another's.
* ``history``/``stats``/``get``/``last_seq`` read the stream itself, so every
  process sees the same events in the same order.
* nats-py is async-only: the transport owns an event loop on a background
  thread (``loop.LoopThread``) and runs every NATS call there, whether the
  caller is async code on another loop or plain synchronous code.
* The connection opens on first use (or ``open()``).  A failed or
  unacknowledged publish raises ``BusError`` naming NATS and the URL; nothing
  is buffered or dropped silently.  After a lost connection the next call
  connects again (once, within ``connect_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from genesis_core.api import (
    BusError,
    DeadLetterStore,
    Envelope,
    Transport,
    encode_payload,
    validate_pattern,
    validate_topic,
)

from .acks import AckedPublisher
from .batch import LoopBatcher
from .codec import decode_msg, decode_raw, event_headers
from .connection import NatsUnavailable, connect, describe, ensure_stream, nats_error
from .loop import LoopThread
from .settings import NatsSettings

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from genesis_core.api import SqliteTransport, Table

log = logging.getLogger("genesis.nats")
T = TypeVar("T")
#: An event ready to publish: ``((subject, body, headers), the envelope it becomes)``.
_Prepared = tuple[tuple[str, bytes, dict[str, str]], Envelope]

DEAD_LETTER_DB = "nats-dead-letters.db"
PAGE_SIZE = 1000
_FETCH_MAX = 256


def open_dead_letters(state_dir: Path) -> SqliteTransport:
    """Return the local SQLite file whose ``dead_letters`` table keeps this host's dead letters.

    It is the embedded store's schema (only its dead-letter table is used):
    ``<state_dir>/nats-dead-letters.db``.  Close it when done.
    """
    from genesis_core.api import SqliteTransport

    return SqliteTransport(Path(state_dir) / DEAD_LETTER_DB)


class NatsTransport(Transport):
    """Events in a JetStream stream; see the module docstring."""

    name = "nats"
    #: Engines are run by ``genesis worker`` (durable consumers), not in every publishing process.
    distributed = True

    def __init__(self, settings: NatsSettings, state_dir: str | Path, *,
                 environ: Mapping[str, str] | None = None, client_name: str = "genesis") -> None:
        self.settings = settings
        self.state_dir = Path(state_dir)
        self._environ = environ
        self._client_name = client_name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._acks: AckedPublisher | None = None
        self._lock: asyncio.Lock | None = None
        self._stream_checked = False
        self._dead_letter_file: SqliteTransport | None = None
        self._closed = False
        self._loop = LoopThread(f"genesis-nats:{settings.stream}", f"NATS at {settings.url}")
        self._send_lock: asyncio.Lock | None = None
        self._appends: LoopBatcher[_Prepared, Envelope] = LoopBatcher(
            self._loop.loop, self._publish_batch, self._closed_error)

    def open(self) -> NatsTransport:
        """Connect now and check the stream (otherwise the first call does); return ``self``.

        Raises ``BusError`` (``NatsUnavailable`` when the server cannot be reached).
        """
        self._run(self._context())
        return self

    @classmethod
    def from_config(cls, table: Table, state_dir: Path) -> NatsTransport:
        """Return a transport for the ``[bus]`` table (raises ``ConfigError``); it connects on first use."""
        return cls(NatsSettings.from_table(table), state_dir)

    def __repr__(self) -> str:
        return f"NatsTransport({self.settings.url!r}, stream={self.settings.stream!r})"

    # ------------------------------------------------------------ plumbing
    @property
    def _sync_timeout(self) -> float:
        return self.settings.connect_deadline + 4 * self.settings.request_timeout + 1.0

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise BusError(f"NATS at {self.settings.url}: the transport is closed")
        return self._loop.run(coro, self._sync_timeout)

    def _closed_error(self) -> BusError:
        return BusError(f"NATS at {self.settings.url}: the transport is closed")

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise BusError(f"NATS at {self.settings.url}: the transport is closed")
        return await self._loop.call(coro)

    async def _context(self) -> JetStreamContext:
        """Return the JetStream context, connecting (and checking the stream) when needed."""
        nc = self._nc
        if nc is not None and nc.is_connected and self._stream_checked:
            assert self._js is not None
            return self._js
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            nc = self._nc
            if nc is None or not nc.is_connected:
                if nc is not None:
                    with contextlib.suppress(Exception):
                        await nc.close()
                self._nc = None
                self._stream_checked = False
                nc = await connect(self.settings, name=self._client_name, environ=self._environ)
                self._nc = nc
                self._js = nc.jetstream(timeout=self.settings.request_timeout)
                self._acks = await AckedPublisher(nc).start()
            assert self._js is not None
            if not self._stream_checked:
                try:
                    await ensure_stream(self._js, self.settings)
                except BusError:
                    raise
                except Exception as exc:
                    raise self._error("cannot open the stream", exc) from None
                self._stream_checked = True
            return self._js

    def _error(self, action: str, exc: BaseException) -> BusError:
        nc = self._nc
        if nc is None or not nc.is_connected:
            return NatsUnavailable(f"NATS at {self.settings.url}: {action}: connection lost "
                                   f"({describe(exc, self.settings)})")
        if isinstance(exc, (asyncio.TimeoutError, OSError)):
            return NatsUnavailable(str(nats_error(self.settings, action, exc)))
        return nats_error(self.settings, action, exc)

    # ------------------------------------------------------------ appending
    def _publish_failure(self, subject: str, exc: BaseException) -> BusError:
        from nats.js.errors import NoStreamResponseError

        if isinstance(exc, NoStreamResponseError):
            self._stream_checked = False
            return BusError(f"NATS at {self.settings.url}: no stream stored {subject} (was stream "
                            f"{self.settings.stream} deleted?)")
        if isinstance(exc, BusError):
            return exc
        return self._error(f"publish to {subject} was not acknowledged", exc)

    async def _publish_batch(self, batch: list[_Prepared]) -> list[Envelope | BaseException]:
        """Publish ``batch`` in order without waiting in between; return each event or its error.

        Runs on the transport's loop.  Every publish waits for its own
        acknowledgement (at most ``request_timeout`` for the batch); one that
        fails or times out fails alone.
        """
        try:
            await self._context()
        except Exception as exc:
            return [exc for _ in batch]
        acks_of = self._acks
        assert acks_of is not None
        timeout = self.settings.request_timeout
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        acks: list[asyncio.Future[Any] | BaseException] = []
        async with self._send_lock:  # batches go out one after the other, in the order they came
            try:
                async with asyncio.timeout(timeout):  # sending only blocks when the socket is full
                    for (subject, data, headers), _ in batch:
                        try:
                            acks.append(await acks_of.publish(subject, data, headers,
                                                              stream=self.settings.stream))
                        except Exception as exc:
                            acks.append(exc)
            except TimeoutError:
                pass
            acks.extend(TimeoutError(f"not sent within {timeout:g}s")
                        for _ in range(len(batch) - len(acks)))
        waiting = [ack for ack in acks if isinstance(ack, asyncio.Future)]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=timeout)
            for unanswered in late:
                unanswered.cancel()
        outcomes: list[Envelope | BaseException] = []
        for ((subject, _, _), fresh), ack in zip(batch, acks):
            if isinstance(ack, BaseException):
                outcomes.append(self._publish_failure(subject, ack))
            elif ack.cancelled():
                outcomes.append(self._publish_failure(subject, TimeoutError(
                    f"no acknowledgement within {timeout:g}s")))
            elif ack.exception() is not None:
                outcomes.append(self._publish_failure(subject, ack.exception()))  # type: ignore[arg-type]
            else:
                try:
                    outcomes.append(await self._stored_or(ack.result(), fresh))
                except Exception as exc:
                    outcomes.append(exc)
        return outcomes

    async def _stored_or(self, ack: Any, fresh: Envelope) -> Envelope:
        """Return ``fresh`` with the acknowledged seq, or the stored original for a duplicate."""
        if getattr(ack, "duplicate", False):
            stored = await self._get(int(ack.seq))
            if stored is not None and stored.event_id == fresh.event_id:
                return stored
        return Envelope(int(ack.seq), fresh.event_id, fresh.topic, fresh.timestamp,
                        fresh.payload, fresh.source)

    def _prepare(self, topic: str, payload: Mapping[str, Any], event_id: str, timestamp: str,
                 source: str) -> _Prepared:
        validate_topic(topic)
        text, decoded = encode_payload(topic, payload)
        headers = event_headers(topic, event_id, timestamp, source)
        item = (self.settings.subject(topic), text.encode("utf-8"), headers)
        return item, Envelope(0, event_id, topic, timestamp, decoded, source)

    async def append(self, topic: str, payload: Mapping[str, Any], *, event_id: str,
                     timestamp: str, source: str) -> Envelope:
        """Publish one event and return it once the stream acknowledged it (raises ``BusError``)."""
        prepared = self._prepare(topic, payload, event_id, timestamp, source)
        if self._closed:
            raise self._closed_error()
        return await self._appends.submit(prepared)

    async def append_many(self, events: Sequence[tuple[str, Mapping[str, Any], str, str, str]]
                          ) -> list[Envelope]:
        """Publish several events in order (pipelined); return them once all are acknowledged."""
        if not events:
            return []
        prepared = [self._prepare(topic, payload, event_id, timestamp, source)
                    for topic, payload, event_id, timestamp, source in events]
        if self._closed:
            raise self._closed_error()
        return await self._appends.submit_many(prepared)

    # ------------------------------------------------------------ reading
    def _decode(self, msg: Any) -> Envelope:
        return decode_msg(msg, self.settings.stream, self.settings.topic_of)

    async def _get(self, seq: int) -> Envelope | None:
        js = await self._context()
        from nats.js.errors import NotFoundError

        try:
            raw = await js.get_msg(self.settings.stream, seq)
        except NotFoundError:
            return None
        except Exception as exc:
            raise self._error(f"cannot read event #{seq}", exc) from None
        return decode_raw(raw, self.settings.stream, self.settings.topic_of)

    async def _state(self) -> Any:
        js = await self._context()
        try:
            return (await js.stream_info(self.settings.stream)).state
        except Exception as exc:
            raise self._error(f"cannot read stream {self.settings.stream}", exc) from None

    async def _read(self, start: int, end: int, subject: str, max_count: int | None = None
                    ) -> list[Envelope]:
        """Return stored events with ``start <= seq <= end`` on ``subject``, oldest first.

        Reads through a short-lived, unacknowledged pull consumer (one request
        per 256 events) that is deleted afterwards.
        """
        if start > end:
            return []
        js = await self._context()
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        name = f"genesis_read_{uuid.uuid4().hex}"
        config = ConsumerConfig(
            name=name, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start,
            ack_policy=AckPolicy.NONE, filter_subject=subject, mem_storage=True,
            inactive_threshold=max(10.0, 2 * self.settings.request_timeout))
        stream = self.settings.stream
        try:
            info = await js.add_consumer(stream, config)
            wanted = int(info.num_pending or 0)
            if max_count is not None:
                wanted = min(wanted, max_count)
            found: list[Envelope] = []
            if wanted == 0:
                return found
            sub = await js.pull_subscribe_bind(name, stream=stream)
            try:
                while len(found) < wanted:
                    msgs = await sub.fetch(min(wanted - len(found), _FETCH_MAX),
                                           timeout=self.settings.request_timeout)
                    for msg in msgs:
                        envelope = self._decode(msg)
                        if envelope.seq > end:
                            return found
                        found.append(envelope)
                return found
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        except BusError:
            raise
        except Exception as exc:
            raise self._error(f"cannot read stream {stream}", exc) from None
        finally:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)

    async def _newest(self, limit: int, subject: str, after_seq: int | None) -> list[Envelope]:
        """Return the newest ``limit`` events on ``subject`` after ``after_seq``, oldest first."""
        state = await self._state()
        if not state.messages:
            return []
        low = max(int(state.first_seq), (after_seq or 0) + 1)
        high = int(state.last_seq)
        window = max(limit, 64)
        found: list[Envelope] = []
        while high >= low:
            start = max(low, high - window + 1)
            found = await self._read(start, high, subject) + found
            if len(found) >= limit:
                break
            high = start - 1
            window *= 4
        return found[-limit:]

    async def _page(self, after_seq: int, subject: str, count: int) -> list[Envelope]:
        state = await self._state()
        if not state.messages:
            return []
        start = max(int(state.first_seq), after_seq + 1)
        return await self._read(start, int(state.last_seq), subject, count)

    # ------------------------------------------------------------ Transport API (sync side)
    def history(self, *, limit: int | None = None, topic: str | None = None,
                after_seq: int | None = None) -> list[Envelope]:
        """Return stored events oldest first; ``topic`` may be a pattern; ``limit`` keeps the newest."""
        if limit is not None and limit <= 0:
            return []
        subject = self.settings.subject_filter(topic)
        if limit is None:
            return list(self.iter_history(after_seq=after_seq or 0, topic=topic))
        return self._run(self._newest(limit, subject, after_seq))

    def iter_history(self, *, after_seq: int = 0, topic: str | None = None,
                     page_size: int = PAGE_SIZE) -> Iterator[Envelope]:
        """Yield stored events after ``after_seq`` oldest first, ``page_size`` per stream read."""
        if topic is not None:
            validate_pattern(topic)
        subject = self.settings.subject_filter(topic)
        last = after_seq
        while True:
            page = self._run(self._page(last, subject, page_size))
            yield from page
            if len(page) < page_size:
                return
            last = page[-1].seq

    def stats(self) -> dict[str, int]:
        """Return ``{topic: number of events the stream holds}`` (after its retention limits)."""
        async def run() -> dict[str, int]:
            js = await self._context()
            try:
                info = await js.stream_info(self.settings.stream,
                                            subjects_filter=self.settings.stream_subject)
            except Exception as exc:
                raise self._error(f"cannot read stream {self.settings.stream}", exc) from None
            subjects = info.state.subjects or {}
            counts: dict[str, int] = {}
            for subject, count in subjects.items():
                topic = self.settings.topic_of(subject)
                counts[topic] = counts.get(topic, 0) + int(count)
            return dict(sorted(counts.items()))

        return self._run(run())

    def last_seq(self) -> int:
        """Return the stream's last sequence (0 for a stream that never stored anything)."""
        return int(self._run(self._state()).last_seq or 0)

    def get(self, seq: int) -> Envelope | None:
        """Return the event with stream sequence ``seq``, or ``None``."""
        if not isinstance(seq, int) or seq < 1:
            return None
        return self._run(self._get(seq))

    def dead_letter_store(self) -> DeadLetterStore:
        """Return this host's dead-letter table (``<state_dir>/nats-dead-letters.db``)."""
        if self._dead_letter_file is None:
            self._dead_letter_file = open_dead_letters(self.state_dir)
        return self._dead_letter_file.dead_letter_store()

    # ------------------------------------------------------------ lifecycle
    async def _disconnect(self) -> None:
        nc, self._nc = self._nc, None
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(Exception):
            await nc.flush(timeout=self.settings.request_timeout)  # type: ignore[arg-type]  # nats-py says int; any number works
        with contextlib.suppress(Exception):
            await nc.close()

    def close(self) -> None:
        """Close the connection, stop the background loop and the dead-letter file (idempotent)."""
        if self._closed:
            return
        self._appends.close()
        try:
            self._loop.run(self._disconnect(), self._sync_timeout)
        except BusError as exc:
            log.debug("closing the NATS connection: %s", describe(exc))
        finally:
            self._closed = True
            self._loop.stop()
            if self._dead_letter_file is not None:
                self._dead_letter_file.close()


def from_config(table: Table, state_dir: Path) -> NatsTransport:
    """The ``nats`` transport factory: validate ``[bus]`` and return the transport."""
    return NatsTransport.from_config(table, state_dir)
