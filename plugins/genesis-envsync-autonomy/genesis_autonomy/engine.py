"""The Autonomy engine: watches ``envsync.drift``, raises alerts, and heals when allowed.

For every ``envsync.drift`` event (once per ``_genesis_id``, recorded in
``state_dir/autonomy/processed.sqlite3``):

1. while the circuit breaker is open nothing happens (no heal, no further alert);
2. thresholds: too many drifted keys, or drift too often in the window (counted
   from the persisted bus history) publish ``autonomy.alert`` and trip the breaker;
3. nothing more happens unless ``auto_heal = true``;
4. the event must show every instance as read; then every instance is read again,
   and any failure refuses the heal (``autonomy.heal.failed`` with status ``refused``);
5. the plan is published as ``autonomy.heal.planned``; then the engine asks the
   Guardian by publishing ``autonomy.heal.apply`` (the plan summary) with its role
   and writes only when that event is delivered; a denial is stored by the bus as a
   ``genesis.blocked`` notice, which is the audit trail of a refused heal;
6. each confirmed write goes out as ``autonomy.heal.write`` as it happens (so a heal
   killed half-way leaves a record of what it wrote: ``interrupted.py``); results go out
   as ``autonomy.heal.applied`` / ``autonomy.heal.failed``; failed heals count towards
   ``max_consecutive_failures``.

With ``[environments]`` each ``envsync.drift`` names its environment, and only that
environment is read and healed, from its own reference: the engine never copies a
value from one environment to another (``genesis heal --across`` does, when a person
asks).  Write-only values it writes are recorded (``genesis_core.writerecords``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from genesis_core.api import (
    Engine,
    EngineContext,
    ProcessedEvents,
    Subscription,
    event_identity,
)

from .healing import (
    ALERT,
    APPLY,
    FAILED,
    PLANNED,
    apply,
    new_heal_id,
    planned_payload,
    prepare,
    publish,
    result_payloads,
)
from .interrupted import running, write_recorder
from .settings import AutonomySettings, settings_from_config
from .thresholds import (
    Alert,
    CircuitBreaker,
    Clock,
    assess,
    count_recent,
    drift_timestamps,
)

log = logging.getLogger("genesis.autonomy")

TOPIC = "envsync.drift"
HEAL_ACTION = "auto-heal"
HISTORY_LIMIT = 10_000

# What handling one event led to (recorded next to its id).
ALERTED = "alerted"
SUSPENDED = "suspended"
OBSERVED = "observed"          # auto_heal is off
REFUSED = "refused"            # an instance could not be read
NOTHING = "nothing_to_heal"
DENIED = "denied"              # the Guardian did not deliver autonomy.heal.apply
HEALED = "healed"
HEAL_FAILED = "heal_failed"


class AutonomyEngine:
    """One started engine: its settings, breaker and handled-events record."""

    def __init__(self, ctx: EngineContext, settings: AutonomySettings, *, clock: Clock = time.time,
                 host_factory: Callable[[], Any] | None = None,
                 env: Mapping[str, str] | None = None,
                 http_factory: Callable[[], Any] | None = None) -> None:
        self.ctx = ctx
        self.settings = settings
        self.clock = clock
        self.breaker = CircuitBreaker(ctx.state_dir, settings.thresholds, clock=clock)
        self.handled = ProcessedEvents(ctx.state_dir / "autonomy" / "processed.sqlite3")
        self._host_factory = host_factory
        self._env = env
        self._http_factory = http_factory
        self._in_flight: set[str] = set()

    # -- helpers
    def _host(self) -> Any:
        if self._host_factory is not None:
            return self._host_factory()
        from genesis_core.api import get_plugin_host

        return get_plugin_host()

    async def _publish(self, topic: str, payload: Mapping[str, Any]) -> Any:
        published = await publish(self.ctx.bus, topic, payload, role=self.settings.role,
                                  policy=self.ctx.secret_policy)
        if published.status != "delivered":
            log.warning("%s was not published: %s", topic, published.reason)
        return published

    async def _alert(self, alert: Alert, source_event: str | None) -> None:
        state = self.breaker.trip(alert)
        payload = {**alert.to_dict(), "suspended_until": state.until, "source_event": source_event}
        await self._publish(ALERT, payload)

    # -- the handler
    async def handle(self, event: dict[str, Any]) -> str | None:
        """Handle one ``envsync.drift`` event; return what it led to (``None`` for a repeat)."""
        event_id = event_identity(event)
        if event_id is not None:
            if event_id in self._in_flight or self.handled.done(event_id, HEAL_ACTION):
                return None
            self._in_flight.add(event_id)
        try:
            outcome = await self._handle(event, event_id)
            if event_id is not None:
                seq = event.get("_genesis_seq")
                self.handled.mark(event_id, HEAL_ACTION, seq=seq if isinstance(seq, int) else None, note=outcome)
            return outcome
        finally:
            if event_id is not None:
                self._in_flight.discard(event_id)

    async def _handle(self, event: Mapping[str, Any], event_id: str | None) -> str:
        summary = event.get("summary")
        drift_count = summary.get("drift_count", 0) if isinstance(summary, Mapping) else 0
        drift_count = drift_count if isinstance(drift_count, int) and not isinstance(drift_count, bool) else 0
        state = self.breaker.state()
        if state.open:
            log.info("automatic healing is suspended (%s); event %s not healed", state.reason, event_id)
            return SUSPENDED
        thresholds = self.settings.thresholds
        occurrences = count_recent(drift_timestamps(self.ctx.bus, limit=HISTORY_LIMIT), now=self.clock(),
                                   window=thresholds.window_seconds, since=state.reset_at)
        alert = assess(drift_count, occurrences, thresholds)
        if alert is not None:
            await self._alert(alert, event_id)
            return ALERTED
        if not self.settings.auto_heal:
            return OBSERVED
        unread = _unread_instances(event)
        if unread:
            await self._refuse(event_id, dict.fromkeys(unread, "could not be read when the drift was detected"))
            return REFUSED
        environment = event.get("environment")
        return await self._heal(event_id, drift_count, occurrences,
                                environment=environment if isinstance(environment, str) else None)

    async def _refuse(self, event_id: str | None, failed: Mapping[str, str], *, environment: str | None = None,
                      reason: str | None = None) -> None:
        log.warning("automatic heal refused: %s", reason or f"{', '.join(failed)} could not be read")
        payload: dict[str, Any] = {"heal_id": new_heal_id(), "trigger": "auto", "status": "refused",
                                   "reference": self.settings.reference, "source_event": event_id,
                                   "failed_reads": dict(failed), "results": []}
        if environment is not None:
            payload["environment"] = environment
        if reason is not None:
            payload["reason"] = reason
        await self._publish(FAILED, payload)

    async def _heal(self, event_id: str | None, drift_count: int, occurrences: int, *,
                    environment: str | None = None) -> str:
        from genesis_core.api import GenesisError, WriteRecords

        config = self.ctx.full_config
        env = os.environ if self._env is None else self._env
        try:
            prepared = await prepare(config, self._host(), self.settings, self.ctx.secret_policy, env,
                                     environment=environment, records=WriteRecords(self.ctx.state_dir),
                                     http_factory=self._http_factory)
        except GenesisError as exc:  # the event's environment is not (or no longer) configured
            await self._refuse(event_id, {}, environment=environment, reason=str(exc))
            return REFUSED
        if prepared.plan is None:
            await self._refuse(event_id, prepared.failed, environment=environment)
            return REFUSED
        plan = prepared.plan
        if not plan.has_writes:
            return NOTHING
        # The event's numbers are only a trigger: the threshold is checked again on what would
        # really be written, so a stale, replayed or forged event cannot unlock a large heal.
        alert = assess(plan.write_count, 0, self.settings.thresholds)
        if alert is not None:
            await self._alert(alert, event_id)
            return ALERTED
        heal_id = new_heal_id()
        payload = planned_payload(plan, heal_id=heal_id, trigger="auto", source_event=event_id)
        await self._publish(PLANNED, payload)
        gate = await self._publish(APPLY, payload)
        if gate.status != "delivered":
            return DENIED
        assert prepared.values is not None
        recorder = write_recorder(self.ctx.bus, plan, prepared.values, heal_id=heal_id, trigger="auto",
                                  role=self.settings.role, policy=self.ctx.secret_policy, source_event=event_id)
        with running(self.ctx.state_dir, heal_id):  # until the results are published: not "interrupted"
            result = await apply(prepared, env, records=WriteRecords(self.ctx.state_dir),
                                 http_factory=self._http_factory, on_write=recorder)
            for topic, body in result_payloads(plan, result, heal_id=heal_id, trigger="auto",
                                               source_event=event_id):
                await self._publish(topic, body)
        if result.ok:
            self.breaker.record_success()
            return HEALED
        _state, limit_reached = self.breaker.record_failure()
        if limit_reached:
            failures = self.settings.thresholds.max_consecutive_failures
            await self._alert(Alert("consecutive_failures", f"{failures} heals failed in a row",
                                    drift_count, occurrences, self.settings.thresholds.window_seconds), event_id)
        return HEAL_FAILED


def _unread_instances(event: Mapping[str, Any]) -> list[str]:
    """Return the instances the event's ``platforms`` table does not show as read."""
    platforms = event.get("platforms")
    if not isinstance(platforms, Mapping):
        return []
    return sorted(name for name, status in platforms.items()
                  if not isinstance(status, Mapping) or status.get("status") != "ok")


def subscriptions(ctx: EngineContext, *, clock: Clock = time.time, **options: Any) -> Iterable[Subscription]:
    """Return the engine's subscription; raises ``ConfigError`` for a bad ``[engines.autonomy]``."""
    settings = settings_from_config(ctx.full_config)
    if settings.auto_heal:
        from .healing import heal_groups

        heal_groups(ctx.full_config, settings, list(ctx.full_config.platforms()))  # every reference is known
    engine = AutonomyEngine(ctx, settings, clock=clock, **options)
    return [Subscription(topics=(TOPIC,), handler=engine.handle, name="heal", timeout=settings.timeout)]


def make_engine() -> Engine:
    """Return the ``autonomy`` engine as the core registers it."""
    return Engine(name="autonomy", subscriptions=subscriptions,
                  description="alerts on excessive drift; heals envsync.drift when auto_heal = true "
                              "and the Guardian allows it")
