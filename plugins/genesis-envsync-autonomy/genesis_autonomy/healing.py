"""One heal run, shared by ``genesis heal`` and the engine: fetch everything, plan, apply, report.

Reading comes first and is all-or-nothing: when any configured instance cannot
be read the run stops before planning, so nothing is ever written on the
strength of a partial view.

With ``[environments]`` each environment is healed from its own ``reference``
and never from another environment, except ``same_everywhere`` keys when the
person asks for it (``genesis heal --across``): those then come from one source
environment's reference only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import UsageError

from .plan import HealPlan, ReferenceValues, Skipped, make_plan, reference_values

if TYPE_CHECKING:
    import httpx

    from genesis_core.api import (
        Config,
        FetchResults,
        KeyPatterns,
        PlatformAdapter,
        SecretPolicy,
        Snapshot,
        WriteRecords,
    )

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
    #: The environment this plan heals (``[environments.NAME]``), if any.
    environment: str | None = None
    #: The policy the plan was made with (it fingerprints what is written, for the write records).
    policy: SecretPolicy | None = attrs.field(default=None, repr=False)

    @property
    def failed(self) -> dict[str, str]:
        """Return ``{instance: why}`` for every instance that could not be read."""
        return {name: self.fetched.statuses[name].error or "could not be read" for name in self.fetched.failed}


@attrs.frozen
class HealGroup:
    """One heal: an environment (or all instances without environments), its reference and its targets."""

    environment: str | None
    reference: str
    targets: tuple[str, ...]
    instances: tuple[str, ...]


def heal_groups(config: Config, settings: AutonomySettings, instances: Sequence[str], *,
                environments: Iterable[str] | None = None, only: Iterable[str] | None = None) -> list[HealGroup]:
    """Return what to heal: one group per selected environment (each from its own reference), or one
    group of every instance from ``[engines.autonomy] reference`` without ``[environments]``.

    Raises ``ConfigError`` for an environment without a reference and ``UsageError`` for a bad
    ``--env``/``--only``.
    """
    from genesis_core.api import environments_from_config, reference_for

    envs = environments_from_config(config)
    if not envs.configured:
        if environments is not None:
            envs.select(environments)  # raises: no environments are configured
        reference = settings.require_reference()
        return [HealGroup(None, reference, tuple(settings.target_names(instances, only)), tuple(instances))]
    wanted = None if only is None else [n.strip() for n in only if n.strip()]
    groups = []
    for environment in envs.select(None if environments is None else list(environments)):
        source = reference_for(config, environment, environment.platforms)
        if source is None:
            table = config.section("environments").table(environment.name)
            raise table.error("reference", "is required to heal this environment: the instance whose values the "
                                           "others copy (or [engines.autonomy] reference, when it is one of them)")
        chosen = [n for n in environment.platforms
                  if n != source and (settings.targets is None or n in settings.targets)]
        if wanted is not None:
            if source in wanted:
                raise UsageError(f"--only: {source} is the reference of environment {environment.name}; "
                                 "it is read, never written")
            chosen = [n for n in chosen if n in wanted]
            if not chosen:
                continue
        groups.append(HealGroup(environment.name, source, tuple(chosen), environment.platforms))
    if wanted is not None:
        targets = {n for group in groups for n in group.targets}
        unknown = [n for n in wanted if n not in instances]
        if unknown:
            raise UsageError(f"--only: unknown platform {', '.join(unknown)} (configured: {', '.join(instances)})")
        outside = [n for n in wanted if n not in targets]
        if outside:
            raise UsageError(f"--only: {', '.join(outside)} is not a heal target of the environments healed")
    return groups


async def prepare_all(config: Config, host: Any, settings: AutonomySettings, policy: SecretPolicy,
                      env: Mapping[str, str], *, environments: Iterable[str] | None = None,
                      only: Iterable[str] | None = None, across: str | None = None, adopt: bool = False,
                      records: WriteRecords | None = None,
                      http_factory: Callable[[], httpx.AsyncClient] | None = None) -> list[Prepared]:
    """Fetch every instance the heal needs; return one plan per environment (and the across plan).

    When any instance cannot be read the list holds one :class:`Prepared` without a plan:
    nothing is ever written on the strength of a partial view.  ``across`` names the
    environment ``same_everywhere`` keys are copied from (``genesis heal --across``);
    ``adopt`` writes once every write-only value that has no write record.
    """
    from genesis_core.api import build_adapters, fetch_all

    adapters = build_adapters(config, host)
    by_name = {adapter.name: adapter for adapter in adapters}
    groups = heal_groups(config, settings, list(by_name), environments=environments, only=only)
    across_group = _across_group(config, settings, groups, across, only) if across is not None else None
    needed = [n for n in by_name if any(n in g.instances for g in groups)
              or (across_group is not None and n in across_group.instances)]
    fetched = await fetch_all([by_name[n] for n in needed], env, http_factory=http_factory)
    if fetched.failed:
        return [Prepared(fetched, by_name, ())]
    prepared = [_prepare_group(config, group, fetched, by_name, settings, policy, records=records, adopt=adopt)
                for group in groups]
    if across_group is not None:
        shared = _shared_keys(config)
        prepared = [_without_shared(item, shared) for item in prepared]
        prepared.append(_prepare_across(config, across_group, fetched, by_name, settings, policy, shared))
    return prepared


async def prepare(config: Config, host: Any, settings: AutonomySettings, policy: SecretPolicy,
                  env: Mapping[str, str], *, only: Iterable[str] | None = None, environment: str | None = None,
                  records: WriteRecords | None = None,
                  http_factory: Callable[[], httpx.AsyncClient] | None = None) -> Prepared:
    """Fetch every instance of one heal (``environment``'s, or all without environments); return its plan."""
    prepared = await prepare_all(config, host, settings, policy, env, only=only, records=records,
                                 environments=None if environment is None else [environment],
                                 http_factory=http_factory)
    if len(prepared) != 1:
        raise UsageError("several environments are configured: name the one to heal")
    return prepared[0]


def _prepare_group(config: Config, group: HealGroup, fetched: FetchResults, adapters: Mapping[str, PlatformAdapter],
                   settings: AutonomySettings, policy: SecretPolicy, *, records: WriteRecords | None,
                   adopt: bool) -> Prepared:
    from genesis_core.api import check_write_only, reconcile_options, utc_now

    snapshots = {name: fetched.snapshots[name] for name in group.instances}
    options = reconcile_options(config, snapshots, secret_policy=policy)
    write_only: dict[str, dict[str, Any]] = {}
    if records is not None:
        checks = check_write_only(snapshots, records.lookup(group.targets), policy=policy, options=options,
                                  targets={n: adapters[n].describe() for n in group.targets},
                                  reference=group.reference, now=utc_now())
        for check in checks:
            if check.instance in group.targets:
                write_only.setdefault(check.instance, {})[check.key] = check
    plan = _make(snapshots, group.reference, group.targets, adapters, settings, policy, options,
                 overwrite=settings.overwrite_conflicts, write_only=write_only, adopt=adopt)
    plan = attrs.evolve(plan, environment=group.environment)
    return Prepared(fetched, adapters, group.targets, plan, reference_values(plan, snapshots[group.reference]),
                    environment=group.environment, policy=policy)


def _make(snapshots: Mapping[str, Snapshot], reference: str, targets: Sequence[str],
          adapters: Mapping[str, PlatformAdapter], settings: AutonomySettings, policy: SecretPolicy, options: Any, *,
          overwrite: bool, write_only: Mapping[str, Any] | None = None, adopt: bool = False) -> HealPlan:
    return make_plan(
        snapshots, reference=reference, targets=targets, policy=policy,
        writable={name: adapters[name].supports_write for name in targets},
        options=options, overwrite_conflicts=overwrite,
        rules={name: settings.rules_for(name) for name in targets},
        effects={name: adapters[name].write_effect for name in targets},
        batch={name: adapters[name].supports_batch_write for name in targets},
        write_only=write_only, adopt=adopt,
        secret_kinds={name: adapters[name].has_secret_kind for name in targets},
    )


# -- across environments (genesis heal --across) -------------------------------------------------

def _shared_keys(config: Config) -> KeyPatterns:
    from genesis_core.api import compile_patterns, environments_from_config

    shared = compile_patterns(environments_from_config(config).same_everywhere)
    if shared is None:
        raise UsageError("--across: [sync] same_everywhere lists no key patterns, so no value may be copied "
                         "from one environment to another")
    return shared


def _across_group(config: Config, settings: AutonomySettings, groups: list[HealGroup], source: str,
                  only: Iterable[str] | None) -> HealGroup:
    """Return the across heal: from ``source``'s reference to every instance of the other environments healed."""
    from genesis_core.api import environments_from_config, reference_for

    envs = environments_from_config(config)
    if not envs.configured:
        raise UsageError("--across: no environments are configured")
    name = source or envs.names[0]
    environment = envs.select([name])[0]
    reference = reference_for(config, environment, environment.platforms)
    if reference is None:
        raise config.section("environments").table(name).error(
            "reference", "is required to copy its same_everywhere values to other environments (--across)")
    wanted = None if only is None else {n.strip() for n in only}
    targets = tuple(n for group in groups if group.environment != name for n in group.instances
                    if (settings.targets is None or n in settings.targets) and (wanted is None or n in wanted))
    return HealGroup(f"across from {name}", reference, targets, (reference, *targets))


def _filtered(snapshot: Snapshot, shared: KeyPatterns) -> Snapshot:
    from genesis_core.api import Snapshot as _Snapshot

    return _Snapshot(snapshot.platform, snapshot.kind,
                     {key: var for key, var in snapshot.variables.items() if shared.match(key)})


def _prepare_across(config: Config, group: HealGroup, fetched: FetchResults, adapters: Mapping[str, PlatformAdapter],
                    settings: AutonomySettings, policy: SecretPolicy, shared: KeyPatterns) -> Prepared:
    from genesis_core.api import reconcile_options

    snapshots = {name: _filtered(fetched.snapshots[name], shared) for name in group.instances}
    options = reconcile_options(config, snapshots, secret_policy=policy)
    plan = _make(snapshots, group.reference, group.targets, adapters, settings, policy, options, overwrite=True)
    plan = attrs.evolve(plan, across_from=(group.environment or "").removeprefix("across from "))
    return Prepared(fetched, adapters, group.targets, plan, reference_values(plan, snapshots[group.reference]),
                    policy=policy)


def _without_shared(prepared: Prepared, shared: KeyPatterns) -> Prepared:
    """Return ``prepared`` without writes of ``same_everywhere`` keys: with ``--across`` those come from the
    source environment only, never from this environment's own reference."""
    if prepared.plan is None:
        return prepared
    targets = []
    for target in prepared.plan.targets:
        kept = tuple(w for w in target.writes if not shared.match(w.key))
        moved = tuple(Skipped(w.key, "a same_everywhere key: healed across environments (--across)")
                      for w in target.writes if shared.match(w.key))
        targets.append(attrs.evolve(target, writes=kept,
                                    left_alone=tuple(sorted(target.left_alone + moved, key=lambda s: s.key))))
    return attrs.evolve(prepared, plan=attrs.evolve(prepared.plan, targets=tuple(targets)))


async def apply(prepared: Prepared, env: Mapping[str, str], *, records: WriteRecords | None = None,
                http_factory: Callable[[], httpx.AsyncClient] | None = None,
                on_write: WriteRecorder | None = None) -> HealResult:
    """Write the prepared plan and verify it (recording write-only values when ``records`` is given);
    raise ``ValueError`` when there is no plan.

    ``on_write`` is called with each confirmed write as it happens.
    """
    from .apply import apply_plan

    if prepared.plan is None or prepared.values is None:
        raise ValueError("nothing to apply: some instances could not be read")
    return await apply_plan(prepared.plan, prepared.values, prepared.adapters, env, http_factory=http_factory,
                            on_write=on_write, records=records, policy=prepared.policy)


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
    base: dict[str, Any] = {"heal_id": heal_id, "trigger": trigger, **plan.environment_fields(),
                            "reference": plan.reference, "counts": result.counts()}
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
