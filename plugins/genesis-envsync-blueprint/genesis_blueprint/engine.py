"""The Blueprint engine: checks every ``envsync.commit``/``envsync.drift`` against the schema.

Violations are published as ``blueprint.warning``.  The handler is idempotent
on the event id: ``state_dir/blueprint/processed.sqlite3`` records each event
once its check is done, so a retry, a redelivery or a restart never publishes
a second warning for the same event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from genesis_core.api import (
    Engine,
    EngineContext,
    ProcessedEvents,
    Subscription,
    event_identity,
)

from .rules import check_event, warning_payload
from .schema import Schema, load_schema

log = logging.getLogger("genesis.blueprint")

TOPICS = ("envsync.commit", "envsync.drift")
WARNING_TOPIC = "blueprint.warning"
ACTION = "checked"
_WARNING_IDS = uuid.UUID("6f1c2d0e-6b0a-4d59-9a51-3f0b8e2a7c11")


def warning_event_id(identity: str) -> str:
    """Return the id of the warning about event ``identity``: the same on every retry.

    The event store keeps one event per id, so a warning published again after
    a crash (before the event was recorded as checked) is not stored twice.
    """
    return uuid.uuid5(_WARNING_IDS, f"blueprint.warning:{identity}").hex


class BlueprintEngine:
    """One started Blueprint engine: its schema, its context and its processed-events record."""

    def __init__(self, ctx: EngineContext, schema: Schema) -> None:
        self.ctx = ctx
        self.schema = schema
        self.processed = ProcessedEvents(ctx.state_dir / "blueprint" / "processed.sqlite3")
        self._in_flight: set[str] = set()

    async def handle(self, event: dict[str, Any]) -> None:
        """Check one event; publish ``blueprint.warning`` once per event id when a rule is broken."""
        if self.schema.empty:
            return
        identity = event_identity(event)
        if identity is not None:
            # A second delivery of an event still being handled is dropped; no lock is held
            # across ``publish``, which delivers nested events at once (a lock could deadlock).
            if identity in self._in_flight or self.processed.done(identity, ACTION):
                return
            self._in_flight.add(identity)
        try:
            await self._check(event, identity)
        finally:
            if identity is not None:
                self._in_flight.discard(identity)

    async def _check(self, event: dict[str, Any], identity: str | None) -> None:
        result = check_event(self.schema, event)
        if result.violations:
            source = {"topic": event.get("_genesis_topic"), "seq": event.get("_genesis_seq"),
                      "event_id": event.get("_genesis_id")}
            payload = self.ctx.secret_policy.mask_payload(
                warning_payload(result, self.schema, source=source))
            published = await self.ctx.bus.publish(
                WARNING_TOPIC, payload,
                event_id=warning_event_id(identity) if identity is not None else None)
            status = getattr(published, "status", "delivered")
            if status != "delivered":
                # A Guardian denial is a decision, not a failure: retrying would not change it.
                log.warning("blueprint.warning for event %s was not published: %s",
                            identity, getattr(published, "reason", status))
        if identity is not None:
            seq = event.get("_genesis_seq")
            self.processed.mark(identity, ACTION, seq=seq if isinstance(seq, int) else None,
                                topic=str(event.get("_genesis_topic") or ""))


def subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
    """Return the engine's one subscription; raises ``ConfigError`` when the schema is invalid."""
    engine = BlueprintEngine(ctx, load_schema(ctx.full_config))
    return [Subscription(topics=TOPICS, handler=engine.handle, name="blueprint")]


def make_engine() -> Engine:
    """Return the ``blueprint`` engine as the core registers it."""
    return Engine(name="blueprint", subscriptions=subscriptions,
                  description="checks envsync results against a schema; publishes blueprint.warning")
