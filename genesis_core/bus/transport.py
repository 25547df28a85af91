"""The interface a bus transport implements, and how one is registered.

A transport stores events durably and hands out their sequence numbers; the
bus itself does the Guardian check and delivers to local handlers.  The
embedded SQLite transport is the default; ``genesis-envsync-nats`` registers another.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Table
    from .envelope import Envelope


@attrs.frozen
class DeadLetter:
    """An event a handler failed on, kept for retry."""

    id: int
    subscriber: str
    seq: int
    topic: str
    error: str
    attempts: int
    failed_at: str


class DeadLetterStore(abc.ABC):
    """Where the bus keeps events a handler failed on, one row per (subscriber, seq)."""

    @abc.abstractmethod
    async def record(self, subscriber: str, seq: int, topic: str, error: str) -> DeadLetter:
        """Store a failure (or count one more attempt for an existing one) and return the row."""

    @abc.abstractmethod
    async def remove(self, dead_letter_id: int) -> None:
        """Delete one dead letter (after a successful retry)."""

    @abc.abstractmethod
    def entries(self, subscriber: str | None = None) -> list[DeadLetter]:
        """Return the dead letters, oldest first, optionally for one subscriber."""


class Transport(abc.ABC):
    """Durable event storage with a global, strictly increasing sequence."""

    name: str = "abstract"

    #: ``append_now(topic, payload, event_id, timestamp, source) -> Envelope``: what ``append``
    #: does, for a transport that stores without waiting (the in-memory one).  When the class that
    #: defines ``append`` also defines this, the bus calls it instead of awaiting ``append``.
    append_now: Callable[[str, Mapping[str, Any], str, str, str], Envelope] | None = None

    async def append_many(self, events: Sequence[tuple[str, Mapping[str, Any], str, str, str]]
                          ) -> list[Envelope]:
        """Store ``(topic, payload, event_id, timestamp, source)`` tuples in order; return them.

        Transports that can store a batch in one commit override this.
        """
        return [await self.append(topic, payload, event_id=event_id, timestamp=timestamp,
                                  source=source)
                for topic, payload, event_id, timestamp, source in events]

    def dead_letter_store(self) -> DeadLetterStore | None:
        """Return the transport's dead-letter store, or ``None`` to let the bus keep them in memory."""
        return None

    @abc.abstractmethod
    async def append(self, topic: str, payload: Mapping[str, Any], *, event_id: str,
                     timestamp: str, source: str) -> Envelope:
        """Store one event and return it with its sequence; return only once it is durable."""

    @abc.abstractmethod
    def history(self, *, limit: int | None = None, topic: str | None = None,
                after_seq: int | None = None) -> list[Envelope]:
        """Return stored events oldest first; ``limit`` keeps the newest ``limit`` of them."""

    @abc.abstractmethod
    def stats(self) -> dict[str, int]:
        """Return ``{topic: number of stored events}``."""

    @abc.abstractmethod
    def get(self, seq: int) -> Envelope | None:
        """Return the event with sequence ``seq``, or ``None``."""

    def close(self) -> None:  # noqa: B027 - optional: a transport with nothing to release keeps this
        """Release files and connections (idempotent)."""


@attrs.frozen
class TransportKind:
    """A registered transport: ``factory(table, state_dir)`` builds it from ``[bus]``."""

    name: str
    factory: Callable[[Table, Path], Transport]
    description: str = ""
