"""An in-process, non-durable transport for tests and benchmarks.

It behaves like the embedded store (JSON-only payloads, strictly increasing
sequence, idempotent on the event id, per-topic counts) but keeps everything
in memory, so nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dispatcher import copy_json, normalise_payload
from .envelope import Envelope, utc_now
from .topics import compile_pattern
from .transport import DeadLetter, DeadLetterStore, Transport

if TYPE_CHECKING:
    from ..config import Table

#: ``Envelope(...)`` at half the cost (the named tuple's ``__new__`` is a Python function).
_new_envelope = tuple.__new__


class MemoryDeadLetters(DeadLetterStore):
    """Dead letters in a dict, keyed by (subscriber, seq)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, int], DeadLetter] = {}
        self._next_id = 1

    async def record(self, subscriber: str, seq: int, topic: str, error: str) -> DeadLetter:
        """Store a failure or count one more attempt; return the row."""
        with self._lock:
            old = self._rows.get((subscriber, seq))
            if old is None:
                row = DeadLetter(self._next_id, subscriber, seq, topic, error, 1, utc_now())
                self._next_id += 1
            else:
                row = DeadLetter(old.id, subscriber, seq, topic, error, old.attempts + 1, utc_now())
            self._rows[(subscriber, seq)] = row
            return row

    async def remove(self, dead_letter_id: int) -> None:
        """Delete one dead letter."""
        with self._lock:
            for key, row in list(self._rows.items()):
                if row.id == dead_letter_id:
                    del self._rows[key]

    def entries(self, subscriber: str | None = None) -> list[DeadLetter]:
        """Return dead letters oldest first."""
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: r.id)
        return [r for r in rows if subscriber is None or r.subscriber == subscriber]


class MemoryTransport(Transport):
    """Events in a list; sequence numbers start at 1 and are never reused while the object lives."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Envelope] = []
        self._by_id: dict[str, Envelope] = {}
        self._seq = 0
        self._dead_letters = MemoryDeadLetters()

    @classmethod
    def from_config(cls, table: Table, state_dir: Path) -> MemoryTransport:
        """Return a new transport (``[bus]`` has no memory-specific keys)."""
        return cls()

    def _store(self, topic: str, payload: Mapping[str, Any], event_id: str, timestamp: str,
               source: str) -> Envelope:
        decoded = normalise_payload(topic, payload)
        lock = self._lock
        lock.acquire()  # not ``with``: on the publish path its __enter__/__exit__ cost twice as much
        try:
            seq = self._seq + 1
            envelope = _new_envelope(Envelope, (seq, event_id, topic, timestamp, decoded, source))
            existing = self._by_id.setdefault(event_id, envelope)
            if existing is not envelope:  # stored before: publishing is idempotent on the id
                return existing
            self._seq = seq
            self._events.append(envelope)
            return envelope
        finally:
            lock.release()

    #: Storing in memory never waits, so the bus stores without a coroutine.
    append_now = _store

    async def append(self, topic: str, payload: Mapping[str, Any], *, event_id: str,
                     timestamp: str, source: str) -> Envelope:
        """Store one event and return it with its sequence."""
        return self._store(topic, payload, event_id, timestamp, source)

    async def append_many(self, events: Sequence[tuple[str, Mapping[str, Any], str, str, str]]
                          ) -> list[Envelope]:
        """Store several events in order."""
        return [self._store(*event) for event in events]

    @staticmethod
    def _copy(envelope: Envelope) -> Envelope:
        return Envelope(envelope.seq, envelope.event_id, envelope.topic, envelope.timestamp,
                        copy_json(envelope.payload), envelope.source)

    def history(self, *, limit: int | None = None, topic: str | None = None,
                after_seq: int | None = None) -> list[Envelope]:
        """Return stored events oldest first; ``topic`` may be a pattern; ``limit`` keeps the newest."""
        with self._lock:
            events = list(self._events)
        if after_seq is not None:
            events = [e for e in events if e.seq > after_seq]
        if topic is not None:
            pattern = compile_pattern(topic)
            events = [e for e in events if pattern.matches(e.topic)]
        if limit is not None:
            events = events[-limit:] if limit > 0 else []
        return [self._copy(e) for e in events]

    def iter_history(self, *, after_seq: int = 0, topic: str | None = None,
                     page_size: int = 1000) -> Iterator[Envelope]:
        """Yield stored events oldest first."""
        yield from self.history(after_seq=after_seq, topic=topic)

    def last_seq(self) -> int:
        """Return the highest stored sequence (0 when empty)."""
        with self._lock:
            return self._seq

    def stats(self) -> dict[str, int]:
        """Return ``{topic: count}``."""
        with self._lock:
            topics = [envelope.topic for envelope in self._events]
        counts: dict[str, int] = {}
        for topic in topics:  # counted on demand: a publish keeps no tally
            counts[topic] = counts.get(topic, 0) + 1
        return dict(sorted(counts.items()))

    def get(self, seq: int) -> Envelope | None:
        """Return the event with sequence ``seq``, or ``None``."""
        with self._lock:
            index = seq - 1
            if 0 <= index < len(self._events) and self._events[index].seq == seq:
                return self._copy(self._events[index])
        return None

    def dead_letter_store(self) -> DeadLetterStore:
        """Return the in-memory dead-letter store."""
        return self._dead_letters
