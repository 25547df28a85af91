"""The interface a bus transport implements, and how one is registered.

A transport stores events durably and hands out their sequence numbers; the
bus itself does the Guardian check and delivers to local handlers.  The
embedded SQLite transport is the default; ``genesis-nats`` registers another.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import attrs

if TYPE_CHECKING:
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


class Transport(abc.ABC):
    """Durable event storage with a global, strictly increasing sequence."""

    name: str = "abstract"

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

    def close(self) -> None:
        """Release files and connections (idempotent)."""


@attrs.frozen
class TransportKind:
    """A registered transport: ``factory(table, state_dir)`` builds it from ``[bus]``."""

    name: str
    factory: Callable[[Table, Path], Transport]
    description: str = ""
