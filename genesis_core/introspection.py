"""Read-only views of the process bus (the seed's ``introspection`` API)."""

from __future__ import annotations

from typing import Any

from .bus.process import get_bus


def get_event_stats() -> dict[str, int]:
    """Return ``{topic: number of events published}``, persisted across restarts."""
    return get_bus().stats()


def get_event_history(limit: int | None = 100, topic: str | None = None) -> list[dict[str, Any]]:
    """Return the newest ``limit`` events (delivered form), newest last; ``topic`` may be a pattern."""
    return get_bus().get_event_history(limit=limit, topic=topic)


def get_subscribers() -> list[dict[str, Any]]:
    """Return ``[{"name", "topics"}]`` for every current subscription of the process bus."""
    return [{"name": h.name, "topics": list(h.patterns)} for h in get_bus().subscribers()]


def get_dead_letters(subscriber: str | None = None) -> list[dict[str, Any]]:
    """Return the dead letters of the process bus as plain dicts, oldest first."""
    return [
        {"id": d.id, "subscriber": d.subscriber, "seq": d.seq, "topic": d.topic,
         "error": d.error, "attempts": d.attempts, "failed_at": d.failed_at}
        for d in get_bus().dead_letters(subscriber)
    ]
