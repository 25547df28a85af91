"""One heal run, shared by ``genesis heal`` and the engine: fetch everything, plan, apply, report.

Reading comes first and is all-or-nothing: when any configured instance cannot
be read the run stops before planning, so nothing is ever written on the
strength of a partial view.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .plan import HealPlan, ReferenceValues, make_plan, reference_values

if TYPE_CHECKING:
    import httpx

    from genesis_core.api import Config, FetchResults, PlatformAdapter, SecretPolicy

    from .apply import HealResult, WriteRecorder
    from .settings import AutonomySettings

PLANNED = "autonomy.heal.planned"
APPLY = "autonomy.heal.apply"
APPLIED = "autonomy.heal.applied"
FAILED = "autonomy.heal.failed"
ALERT = "autonomy.alert"


@attrs.frozen
class Prepared:
    """The result of reading every instance and, when all could be read, the plan."""

    fetched: FetchResults
    adapters: Mapping[str, PlatformAdapter]
    targets: tuple[str, ...]
    plan: HealPlan | None = None
    values: ReferenceValues | None = attrs.field(default=None, repr=False)

    @property
    def failed(self) -> dict[str, str]:
        """Return ``{instance: why}`` for every instance that could not be read."""
        return {name: self.fetched.statuses[name].error or "could not be read" for name in self.fetched.failed}


async def prepare(config: Config, host: Any, settings: AutonomySettings, policy: SecretPolicy,
                  env: Mapping[str, str], *, only: Iterable[str] | None = None,
                  http_factory: Callable[[], httpx.AsyncClient] | None = None) -> Prepared:
    """Fetch every configured instance; return the plan, or no plan when any read failed."""
    from genesis_core.api import build_adapters, fetch_all, reconcile_options

    reference = settings.require_reference()
    adapters = build_adapters(config, host)
    by_name = {adapter.name: adapter for adapter in adapters}
    targets = tuple(settings.target_names(list(by_name), only))
    fetched = await fetch_all(adapters, env, http_factory=http_factory)
    if fetched.failed:
        return Prepared(fetched, by_name, targets)
    snapshots = dict(fetched.snapshots)
    options = reconcile_options(config, snapshots, secret_policy=policy)
    plan = make_plan(
        snapshots, reference=reference, targets=targets, policy=policy,
        writable={name: bool(getattr(by_name[name], "supports_write", False)) for name in targets},
        options=options, overwrite_conflicts=settings.overwrite_conflicts,
        rules={name: settings.rules_for(name) for name in targets},
        effects={name: by_name[name].write_effect for name in targets},
        batch={name: bool(getattr(by_name[name], "supports_batch_write", False)) for name in targets},
    )
    return Prepared(fetched, by_name, targets, plan, reference_values(plan, snapshots[reference]))


async def apply(prepared: Prepared, env: Mapping[str, str], *,
                http_factory: Callable[[], httpx.AsyncClient] | None = None,
                on_write: WriteRecorder | None = None) -> HealResult:
    """Write the prepared plan and verify it; raise ``ValueError`` when there is no plan.

    ``on_write`` is called with each confirmed write as it happens.
    """
    from .apply import apply_plan

    if prepared.plan is None or prepared.values is None:
        raise ValueError("nothing to apply: some instances could not be read")
    return await apply_plan(prepared.plan, prepared.values, prepared.adapters, env, http_factory=http_factory,
                            on_write=on_write)


def new_heal_id() -> str:
    """Return a fresh id that ties a heal's planned/applied/failed events together."""
    return uuid.uuid4().hex


def planned_payload(plan: HealPlan, *, heal_id: str, trigger: str,
                    source_event: str | None = None) -> dict[str, Any]:
    """Return the ``autonomy.heal.planned`` (and ``autonomy.heal.apply``) payload: key names, no values."""
    payload: dict[str, Any] = {"heal_id": heal_id, "trigger": trigger, **plan.summary()}
    if source_event is not None:
        payload["source_event"] = source_event
    return payload


def result_payloads(plan: HealPlan, result: HealResult, *, heal_id: str, trigger: str,
                    source_event: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Return the events a heal's outcome publishes: ``applied`` for healed keys, ``failed`` for the rest."""
    base: dict[str, Any] = {"heal_id": heal_id, "trigger": trigger, "reference": plan.reference,
                            "counts": result.counts()}
    if source_event is not None:
        base["source_event"] = source_event
    events: list[tuple[str, dict[str, Any]]] = []
    if result.succeeded:
        events.append((APPLIED, {**base, "results": [r.to_dict() for r in result.succeeded]}))
    if result.failed:
        events.append((FAILED, {**base, "results": [r.to_dict() for r in result.failed]}))
    return events


async def publish(bus: Any, topic: str, payload: Mapping[str, Any], *, role: str | None,
                  policy: SecretPolicy) -> Any:
    """Publish ``payload`` masked by ``policy`` (a second line of defence: it never holds values)."""
    return await bus.publish(topic, policy.mask_payload(dict(payload)), role=role)
