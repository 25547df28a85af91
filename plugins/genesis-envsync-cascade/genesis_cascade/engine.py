"""The ``cascade`` engine: hands ``envsync.commit`` events to this process's running server.

A Genesis process loads every engine, so ``genesis sync`` loads this one too.
The engine therefore never starts a server itself: its handler passes the event
to the server that ``genesis serve`` activated in *this* process, and does
nothing when there is none.  A server in another process still learns of the
event, because it follows the persisted event store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from genesis_core.api import Engine, EngineContext, Subscription

ENGINE_NAME = "cascade"
COMMIT_TOPIC = "envsync.commit"


class EventSink(Protocol):
    """What a running server offers the engine: ``submit(event)`` (thread-safe, never raises)."""

    def submit(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for broadcast."""


_lock = threading.Lock()
_active: EventSink | None = None


def activate(sink: EventSink) -> None:
    """Make ``sink`` the server that receives this process's commit events."""
    global _active
    with _lock:
        _active = sink


def deactivate(sink: EventSink) -> None:
    """Forget ``sink`` if it is the active server (a later server is left alone)."""
    global _active
    with _lock:
        if _active is sink:
            _active = None


def active_sink() -> EventSink | None:
    """Return the server active in this process, or ``None``."""
    with _lock:
        return _active


async def on_commit(event: dict[str, Any]) -> None:
    """Pass ``event`` to the active server; without one, do nothing (returns ``None``)."""
    sink = active_sink()
    if sink is not None:
        sink.submit(event)


def _subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
    from .settings import settings_from_table

    settings_from_table(ctx.config)  # a typo in [engines.cascade] fails when the bus starts
    return [Subscription((COMMIT_TOPIC,), on_commit, name="broadcast", timeout=5.0)]


def make_engine() -> Engine:
    """Return the ``cascade`` engine."""
    return Engine(
        ENGINE_NAME,
        subscriptions=_subscriptions,
        description="Push config_update to WebSocket clients on envsync.commit (genesis serve)",
    )
