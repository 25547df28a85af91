"""The Truth engine: records selected bus events in the signed ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genesis_core.api import Engine, EngineContext, Subscription

#: With ``[environments]`` each environment's commit/drift carries its ``environment``, and the comparison
#: across environments is its own event (``envsync.cross_drift``).
DEFAULT_TOPICS = ("envsync.commit", "envsync.drift", "envsync.cross_drift", "autonomy.heal.applied",
                  "autonomy.heal.failed")
#: ``required = true/false`` is read by the core and never reaches the engine; any other value does,
#: and is refused here.
KNOWN_KEYS = frozenset({"enabled", "required", "topics", "fsync", "timeout"})
DESCRIPTION = "Signed, Merkle-anchored audit ledger of sync, drift and heal events"


class TruthRecorder:
    """Appends each delivered event to the ledger; an already recorded ``_genesis_seq`` is skipped."""

    def __init__(self, state_dir: Path, secret_policy: Any = None, *, fsync: bool = True) -> None:
        from .ledger import Ledger  # cryptography loads only when an engine starts

        mask = getattr(secret_policy, "mask_payload", None)
        self.ledger = Ledger(state_dir, mask=mask, fsync=fsync)

    def record(self, event: dict[str, Any]) -> bool:
        """Record ``event``; return whether it was new (``False`` for a redelivery)."""
        return self.ledger.append(event).appended

    async def handle(self, event: dict[str, Any]) -> bool:
        """Bus handler: runs the blocking append (lock, fsync) off the event loop."""
        return await asyncio.to_thread(self.record, event)


def subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
    """Return the Truth subscription configured by ``[engines.truth]``.

    Keys: ``topics`` (patterns), ``fsync`` (bool), ``timeout`` (seconds);
    the core itself reads ``enabled`` and ``required``.
    """
    table = ctx.config
    table.check_known(KNOWN_KEYS)
    table.bool("required", True)  # only a value that is not true/false gets here: a ConfigError
    topics = table.str_list("topics", DEFAULT_TOPICS)
    if not topics:
        raise table.error("topics", "must list at least one topic pattern")
    from genesis_core.api import BusError, validate_pattern

    for i, pattern in enumerate(topics):
        try:
            validate_pattern(pattern)
        except BusError as exc:
            raise table.error(f"topics[{i}]", str(exc)) from None
    fsync = table.bool("fsync", True)
    timeout = table.float("timeout", None, minimum=0.001, maximum=3600)
    recorder = TruthRecorder(ctx.state_dir, ctx.secret_policy, fsync=fsync)
    return [Subscription(topics=tuple(topics), handler=recorder.handle, name="truth.record",
                         timeout=timeout)]


def make_engine() -> Engine:
    """Return the registered Truth engine."""
    return Engine(name="truth", subscriptions=subscriptions, description=DESCRIPTION, required_by_default=True)
