"""The Steward engine: on every ``envsync.drift``, write reports, the step summary and the webhook.

With ``[environments]`` there is one ``envsync.drift`` per drifting environment (its report
names the environment) and an ``envsync.cross_drift`` for the comparison across
environments, reported the same way when it found a difference.

Each step happens once per event id, recorded in
``state_dir/steward/processed.sqlite3``: a retry or a restart rewrites
nothing and never POSTs the same event twice.  Report files go to
``state_dir/reports/drift-<seq>.{md,json,html}`` with ``latest.*`` copies.
A failing step summary or webhook is logged (and the webhook failure
published as ``steward.webhook_failed``); it never fails the handler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from genesis_core.api import (
    CROSS_TOPIC,
    DRIFT_TOPIC,
    Engine,
    EngineContext,
    ProcessedEvents,
    Subscription,
    build_view,
    event_identity,
    render_markdown,
    report_document,
)
from genesis_core.api import RESERVED_KEYS as RESERVED

from .reports import append_step_summary, write_reports
from .settings import StewardSettings, load_settings

log = logging.getLogger("genesis.steward")

TOPICS = (DRIFT_TOPIC, CROSS_TOPIC)
FAILED_TOPIC = "steward.webhook_failed"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def mask_event(event: dict[str, Any], policy: Any) -> dict[str, Any]:
    """Return ``event`` with its payload passed through the secret policy (``_genesis_*`` kept as is)."""
    body = {k: v for k, v in event.items() if k not in RESERVED}
    masked = dict(policy.mask_payload(body))
    masked.update({k: event[k] for k in RESERVED if k in event})
    return masked


class StewardEngine:
    """One started Steward engine: settings, report directory and processed-events record."""

    def __init__(self, ctx: EngineContext, settings: StewardSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.reports_dir = ctx.state_dir / "reports"
        self.processed = ProcessedEvents(ctx.state_dir / "steward" / "processed.sqlite3")
        self._in_flight: set[str] = set()

    def _done(self, identity: str | None, action: str) -> bool:
        return identity is not None and self.processed.done(identity, action)

    def _mark(self, identity: str | None, action: str, event: dict[str, Any]) -> None:
        if identity is not None:
            seq = event.get("_genesis_seq")
            self.processed.mark(identity, action, seq=seq if isinstance(seq, int) else None,
                                topic=str(event.get("_genesis_topic") or ""))

    async def handle(self, event: dict[str, Any]) -> None:
        """Report one drift event; every step at most once per event id."""
        identity = event_identity(event)
        if identity is not None:
            if identity in self._in_flight:
                return  # the same event is being handled right now (a nested redelivery)
            self._in_flight.add(identity)
        try:
            await self._report(event, identity)
        finally:
            if identity is not None:
                self._in_flight.discard(identity)

    async def _report(self, event: dict[str, Any], identity: str | None) -> None:
        view = build_view(mask_event(event, self.ctx.secret_policy))
        if view.across and not view.has_drift:
            return  # environments agree: like a commit, nothing to report
        if not self._done(identity, "report"):
            write_reports(view, self.reports_dir)
            self._mark(identity, "report", event)
        summary_path = os.environ.get(STEP_SUMMARY_ENV)
        if self.settings.step_summary and summary_path and not self._done(identity, "step_summary"):
            try:
                append_step_summary(render_markdown(view), summary_path)
            except OSError as exc:
                log.warning("cannot append to $%s: %s", STEP_SUMMARY_ENV, exc.strerror or exc)
            else:
                self._mark(identity, "step_summary", event)
        if self.settings.webhook is not None and not self._done(identity, "webhook"):
            await self._send_webhook(view, identity, event)

    async def _send_webhook(self, view: Any, identity: str | None, event: dict[str, Any]) -> None:
        from .webhook import deliver, encode_body

        assert self.settings.webhook is not None
        document = report_document(view)
        document["markdown"] = render_markdown(view)
        delivery = await deliver(self.settings.webhook, encode_body(document), event_id=identity)
        if delivery.ok:
            self._mark(identity, "webhook", event)
            return
        log.warning("steward webhook %s failed for event %s: %s", delivery.target or "(unset)",
                    view.label, delivery.error)
        payload = {"type": "webhook_failed", "target": delivery.target, "attempts": delivery.attempts,
                   "status": delivery.status, "error": delivery.error,
                   "source": {"topic": view.topic, "seq": view.seq, "event_id": view.event_id}}
        try:
            await self.ctx.bus.publish(FAILED_TOPIC, self.ctx.secret_policy.mask_payload(payload))
        except Exception as exc:  # reporting a failure must not become a second failure
            log.warning("cannot publish %s: %s", FAILED_TOPIC, type(exc).__name__)


def _handler_timeout(settings: StewardSettings) -> float | None:
    hook = settings.webhook
    if hook is None:
        return None
    waits = sum(min(hook.max_backoff, hook.backoff * 2.0 ** n) for n in range(hook.attempts))
    return hook.attempts * hook.timeout + waits + 30.0


def subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
    """Return the engine's subscription; raises ``ConfigError`` when ``[engines.steward]`` is invalid."""
    settings = load_settings(ctx.config)
    engine = StewardEngine(ctx, settings)
    return [Subscription(topics=TOPICS, handler=engine.handle, name="steward",
                         timeout=_handler_timeout(settings))]


def make_engine() -> Engine:
    """Return the ``steward`` engine as the core registers it."""
    return Engine(name="steward", subscriptions=subscriptions,
                  description="writes drift reports (md, json, html), step summaries and webhooks")
