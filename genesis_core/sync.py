"""The EnvSync pipeline: fetch every instance concurrently, reconcile, publish the result.

Topics, in order: ``envsync.init``; then ``envsync.drift`` or ``envsync.commit``;
or ``envsync.error`` when any instance could not be read (no drift is reported
for anyone then, and nothing may be written).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from . import first_party
from .bus.envelope import utc_now
from .bus.topics import CROSS_TOPIC, ERROR_TOPIC, INIT_TOPIC
from .errors import ConfigError, GenesisError, PlatformError, UsageError
from .platforms.model import FetchContext, InstanceConfig, PlatformAdapter, Snapshot
from .reconciliation import validate_instance_name

if TYPE_CHECKING:
    import httpx

    from .across import AcrossReport
    from .bus.core import GenesisBus
    from .config import Config
    from .plugins import PluginHost, PluginInfo
    from .reconciliation import DriftReport, ReconcileOptions
    from .secrets import SecretPolicy
    from .writerecords import WriteRecords

EXIT_PARITY, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
SYNC_KEYS = frozenset({"ignore", "same_everywhere"})


@attrs.frozen
class PlatformStatus:
    """How reading one instance went."""

    name: str
    kind: str
    ok: bool
    keys: int = 0
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the status as it appears in event payloads."""
        return {"kind": self.kind, "status": "ok" if self.ok else "error", "keys": self.keys,
                "seconds": round(self.seconds, 3), "error": self.error}


@attrs.frozen
class FetchResults:
    """Snapshots of the instances that could be read and the status of every instance."""

    snapshots: Mapping[str, Snapshot]
    statuses: Mapping[str, PlatformStatus]

    @property
    def failed(self) -> list[str]:
        """Return the names of the instances that could not be read."""
        return [name for name, status in self.statuses.items() if not status.ok]


@attrs.frozen
class SyncOutcome:
    """What a sync found and published; ``exit_code`` is 0 parity, 1 drift, 2 error."""

    exit_code: int
    results: FetchResults
    report: DriftReport | None
    payload: dict[str, Any]
    topic: str
    blocked_reason: str | None = None
    #: Engine handlers that failed on the result event (kept in the dead-letter store for retry).
    handler_failures: tuple[Any, ...] = ()
    #: With ``[environments]``: each environment's result, in config order (``payload`` is then the
    #: ``{"environments", "across", "has_drift", "verified_at"}`` document and ``report`` is ``None``).
    environments: tuple[EnvironmentResult, ...] = ()
    #: The comparison across environments, when it ran.
    across: AcrossReport | None = None
    #: ``(topic, reason)`` of every event the Guardian blocked.
    blocked: tuple[tuple[str, str], ...] = ()
    #: With ``[environments]``: the topic of the event each of ``handler_failures`` failed on.
    failure_topics: tuple[str, ...] = ()


def initiated_by(environ: Mapping[str, str] | None = None) -> str:
    """Return who started this sync: ``github_actions``, ``ci`` or ``cli``."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return "github_actions"
    if env.get("CI") not in (None, "", "0", "false"):
        return "ci"
    return "cli"


def build_adapters(config: Config, host: PluginHost, *, only: Iterable[str] | None = None
                   ) -> list[PlatformAdapter]:
    """Return one adapter per ``[platforms.NAME]`` (or just those in ``only``), in config order."""
    tables = config.platforms()
    if not tables:
        where = str(config.source) if config.source else "no genesis.toml found"
        raise ConfigError("no platforms configured: add [platforms.NAME] tables "
                          "(run `genesis init` to write a starter config)", file=where)
    names = list(tables)
    if only is not None:
        wanted = [n.strip() for n in only if n.strip()]
        if not wanted:
            raise UsageError("--only: name at least one platform")
        unknown = [n for n in wanted if n not in tables]
        if unknown:
            raise UsageError(f"--only: unknown platform {', '.join(unknown)} "
                             f"(configured: {', '.join(names)})")
        names = [n for n in names if n in wanted]
    kinds = host.platform_kinds()
    adapters = []
    for name in names:
        table = tables[name]
        try:
            validate_instance_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc), file=table.file, key=table.path) from None
        kind_name = table.str("kind", name)
        kind = kinds.get(kind_name)
        if kind is None:
            infos = host.plugin_infos()
            _show_traceback(kind_name, infos)
            raise table.error("kind", unknown_kind_message(kind_name, kinds, infos))
        for key in ("include", "exclude"):
            check_patterns(table, key)
        adapters.append(kind.factory(InstanceConfig(name, kind_name, table, config.project_dir)))
    return adapters


def _not_loaded(kind_name: str, infos: Sequence[PluginInfo]) -> list[PluginInfo]:
    """Return the plugins that could have provided ``kind_name`` but did not load.

    For a first-party kind, the broken or disabled plugins of its distribution
    (``first_party.KINDS``); for any other kind, every broken or disabled plugin, since
    nothing says which one would have registered it.
    """
    distribution = first_party.KINDS.get(kind_name)
    return [info for info in infos if (info.broken or info.disabled)
            and (distribution is None or info.distribution == distribution)]


def _show_traceback(kind_name: str, infos: Sequence[PluginInfo]) -> None:
    """Under ``GENESIS_DEBUG=1``, print the traceback of each plugin that failed and could provide ``kind_name``."""
    if not os.environ.get("GENESIS_DEBUG"):
        return
    import sys

    for info in _not_loaded(kind_name, infos):
        if info.traceback:
            sys.stderr.write(f"genesis: plugin {info.name} ({info.distribution}) failed to load:\n"
                             f"{info.traceback.rstrip()}\n")


def unknown_kind_message(kind_name: str, kinds: Mapping[str, Any], infos: Sequence[PluginInfo] = ()) -> str:
    """Return one line on a platform kind that is not registered.

    A first-party kind gets ``first_party.missing``: installed but broken, disabled, or which
    distribution to install.  Any other kind gets a near miss if there is one, else the kinds
    installed and the plugins that did not load.  ``infos`` are every plugin the host saw
    (``host.plugin_infos()``).
    """
    import difflib

    if kind_name in first_party.KINDS:
        return first_party.missing(f"platform kind {kind_name!r}", first_party.KINDS[kind_name], infos)
    installed = ", ".join(sorted(kinds)) or "none"
    close = difflib.get_close_matches(kind_name, [*kinds, *first_party.KINDS], n=1, cutoff=0.75)
    if close:
        return f"unknown platform kind {kind_name!r}: did you mean {close[0]!r}? (installed: {installed})"
    message = f"unknown platform kind {kind_name!r} (installed: {installed})"
    not_loaded = _not_loaded(kind_name, infos)
    if not_loaded:
        message += "; plugins that did not load: " + ", ".join(
            f"{info.name} ({info.distribution}): " + ("disabled" if info.disabled else f"{info.error}")
            for info in not_loaded) + "; see `genesis plugins`"
    return message


def check_patterns(table: Any, key: str) -> tuple[str, ...]:
    """Return the key patterns in ``table[key]``; a bad pattern is a ``ConfigError`` naming it."""
    from .patterns import patterns_setting

    return patterns_setting(table, key)


def usable_key(key: str) -> bool:
    """Return whether ``key`` can be shown and written safely: printable, no whitespace, not empty."""
    return bool(key) and key.isprintable() and not any(ch.isspace() for ch in key)


Progress = Callable[[str, PlatformStatus], None]


async def fetch_all(adapters: Iterable[PlatformAdapter], env: Mapping[str, str], *,
                    http_factory: Callable[[], httpx.AsyncClient] | None = None,
                    on_done: Progress | None = None) -> FetchResults:
    """Fetch every adapter concurrently over one shared HTTP client; never raise for one platform."""
    ctx = FetchContext(env=env, http_factory=http_factory)
    adapters = list(adapters)

    async def one(adapter: PlatformAdapter) -> tuple[Snapshot | None, PlatformStatus]:
        started = time.perf_counter()
        snapshot: Snapshot | None = None
        try:
            fetched = await adapter.fetch(ctx)
            if not isinstance(fetched, Snapshot):
                raise PlatformError(adapter.name, f"adapter returned {type(fetched).__name__}, not a Snapshot")
            unusable = sum(1 for key in fetched.variables if not usable_key(key))
            if unusable:  # such a name could rewrite another line of a file or a terminal
                raise PlatformError(adapter.name, f"{unusable} variable name(s) are empty or contain spaces or "
                                                  "control characters (not shown)")
        except PlatformError as exc:
            status = PlatformStatus(adapter.name, adapter.kind, False, 0,
                                    time.perf_counter() - started, exc.reason)
        except Exception as exc:  # an adapter bug is still this platform's failure, and only its
            status = PlatformStatus(adapter.name, adapter.kind, False, 0, time.perf_counter() - started,
                                    f"adapter failed unexpectedly ({type(exc).__name__}); "
                                    "run with GENESIS_DEBUG=1 for details")
            if os.environ.get("GENESIS_DEBUG"):
                raise
        else:
            snapshot = fetched
            status = PlatformStatus(adapter.name, adapter.kind, True, len(fetched),
                                    time.perf_counter() - started)
        if on_done is not None:
            on_done(adapter.name, status)
        return snapshot, status

    try:
        done = await asyncio.gather(*(one(a) for a in adapters))
    finally:
        await ctx.aclose()
    snapshots = {a.name: snap for a, (snap, _) in zip(adapters, done) if snap is not None}
    statuses = {a.name: status for a, (_, status) in zip(adapters, done)}
    return FetchResults(snapshots, statuses)


async def collect_snapshots(config: Config, host: PluginHost, *, only: Iterable[str] | None = None,
                            env: Mapping[str, str] | None = None) -> dict[str, Snapshot]:
    """Return every instance's snapshot; raise ``PlatformError`` naming the first that failed."""
    results = await fetch_all(build_adapters(config, host, only=only),
                              os.environ if env is None else env)
    for name in results.failed:
        raise PlatformError(name, results.statuses[name].error or "could not be read")
    return dict(results.snapshots)


def reconcile_options(config: Config, snapshots: Mapping[str, Snapshot], *,
                      secret_policy: SecretPolicy | None) -> ReconcileOptions:
    """Return ``ReconcileOptions`` from ``[sync]``, each instance's include/exclude and the platforms' secret marks
    (plus, with ``secret_policy``, the values expansion built from what it calls secret)."""
    from .platforms.expansion import built_from_secrets
    from .reconciliation import ReconcileOptions

    sync = config.section("sync")
    sync.check_known(SYNC_KEYS)
    tables = config.platforms()
    marks = {name: snap.secret_keys() for name, snap in snapshots.items()}
    if secret_policy is not None:
        marks = {name: keys | built_from_secrets(snapshots[name], secret_policy) for name, keys in marks.items()}
    return ReconcileOptions(
        secret_policy=secret_policy,
        platform_secret_keys=marks,
        include={name: check_patterns(tables[name], "include") for name in snapshots if name in tables},
        exclude={name: check_patterns(tables[name], "exclude") for name in snapshots if name in tables},
        ignore=check_patterns(sync, "ignore"),
    )


def _write_only(report: DriftReport, snapshots: Mapping[str, Snapshot], options: Any, *,
                records: WriteRecords | None, policy: SecretPolicy | None, reference: str | None,
                adapters: Mapping[str, PlatformAdapter]) -> DriftReport:
    """Return ``report`` with the write-record checks of its unreadable values applied (see ``writeonly``).

    Nothing to check without ``records``, or without the project's keyed ``policy`` (a record's
    fingerprint is made with its key)."""
    if records is None or policy is None:
        return report
    from .writeonly import STALE, UNVERIFIED, apply_checks, check_write_only

    found = records.lookup(snapshots)
    checks = check_write_only(snapshots, found, policy=policy, options=options,
                              targets={name: adapters[name].describe() for name in snapshots if name in adapters},
                              reference=reference, now=report.verified_at)
    changes: dict[tuple[str, str], str | None] = {}
    for check in checks:
        record = found.get((check.instance, check.key))
        if record is None:
            continue
        if check.status == STALE and record.stale_since is None:
            changes[(check.instance, check.key)] = check.since
        elif check.status not in (STALE, UNVERIFIED) and record.stale_since is not None:
            changes[(check.instance, check.key)] = None
    records.set_stale_since(changes)
    return apply_checks(report, checks, {name: snap.values() for name, snap in snapshots.items()}, options)


def add_expanded(payload: dict[str, Any], snapshots: Mapping[str, Snapshot], names: Iterable[str]) -> None:
    """Add ``expanded`` to ``payload`` when a value of ``names`` came from ``${VAR}`` expansion (names only).

    One ``{"instance", "key", "keys", "environment", "unset"}`` per such value; without any, the
    payload keeps the seed's shape.
    """
    expanded = [{"instance": name, "key": key, **expansion.to_dict()}
                for name in names if name in snapshots
                for key, expansion in snapshots[name].expansions().items()]
    if expanded:
        payload["expanded"] = expanded


@attrs.frozen
class EnvironmentResult:
    """What one environment's sync found and published (``payload`` carries its ``environment`` field)."""

    name: str
    instances: tuple[str, ...]
    report: DriftReport
    payload: dict[str, Any]

    @property
    def topic(self) -> str:
        """Return ``envsync.drift`` or ``envsync.commit``."""
        return self.report.topic



async def run_sync(config: Config, host: PluginHost, bus: GenesisBus, *, secret_policy: SecretPolicy | None,
                   only: Iterable[str] | None = None, env: Mapping[str, str] | None = None,
                   role: str | None = None, on_start: Callable[[list[PlatformAdapter]], None] | None = None,
                   on_done: Progress | None = None,
                   http_factory: Callable[[], httpx.AsyncClient] | None = None,
                   environments: Iterable[str] | None = None,
                   records: WriteRecords | None = None) -> SyncOutcome:
    """Run one sync and return its outcome; publishes ``envsync.*`` on ``bus``.

    With ``[environments]`` each environment is reconciled on its own (one ``envsync.drift``
    or ``envsync.commit`` each, with an ``environment`` field), then the environments are
    compared with each other (``envsync.cross_drift``) unless ``environments`` (``--env``) or
    ``only`` narrows the run.  ``records`` (the state directory's write records) lets unreadable
    values be checked against what Genesis wrote.
    """
    from .environments import environments_from_config

    env = os.environ if env is None else env
    envs = environments_from_config(config)
    selected = envs.select(None if environments is None else list(environments))
    adapters = build_adapters(config, host, only=only)
    if envs.configured and environments is not None:
        members = {name for environment in selected for name in environment.platforms}
        adapters = [a for a in adapters if a.name in members]
        if not adapters:
            raise UsageError("--env and --only leave no platform to compare")
    config.section("sync").check_known(SYNC_KEYS)
    if records is not None:
        records.check()
    names = [a.name for a in adapters]
    init = {"type": "sync_init", "source": names[0], "target": ",".join(names[1:]),
            "instances": names, "timestamp": utc_now(), "initiated_by": initiated_by(env)}
    if envs.configured:
        init["environments"] = [e.name for e in selected if any(n in e.platforms for n in names)]
    result = await bus.publish(INIT_TOPIC, init, role=role)
    if result.status != "delivered":
        raise GenesisError(f"the Guardian blocked envsync.init: {result.reason}")
    if on_start is not None:
        on_start(adapters)
    results = await fetch_all(adapters, env, http_factory=http_factory, on_done=on_done)
    statuses = {name: status.to_dict() for name, status in results.statuses.items()}
    by_name = {a.name: a for a in adapters}
    if results.failed:
        payload = {"type": "sync_error", "verified_at": utc_now(), "failed": results.failed,
                   "errors": {name: results.statuses[name].error for name in results.failed},
                   "instances": names, "platforms": statuses}
        if envs.configured:
            payload["environments"] = {name: envs.of(name) for name in results.failed}
        return await _publish_one(bus, ERROR_TOPIC, payload, None, results, role, EXIT_ERROR)
    if not envs.configured:
        from .environments import reference_for
        from .reconciliation import reconcile

        options = reconcile_options(config, results.snapshots, secret_policy=secret_policy)
        report = reconcile({n: s.values() for n, s in results.snapshots.items()}, options)
        report = _write_only(report, results.snapshots, options, records=records, policy=secret_policy,
                             reference=reference_for(config, None, names), adapters=by_name)
        payload = report.to_dict()
        payload["instances"] = names
        payload["platforms"] = statuses
        add_expanded(payload, results.snapshots, names)
        return await _publish_one(bus, report.topic, payload, report, results, role,
                                  EXIT_DRIFT if report.has_drift else EXIT_PARITY)
    groups = [(e, tuple(n for n in names if n in e.platforms)) for e in selected]
    groups = [(e, members) for e, members in groups if members]
    across_wanted = environments is None and only is None and len(groups) > 1
    return await _sync_environments(config, bus, groups, results, statuses, role=role, policy=secret_policy,
                                    records=records, adapters=by_name, same_everywhere=envs.same_everywhere,
                                    across_wanted=across_wanted)


async def _publish_one(bus: GenesisBus, topic: str, payload: dict[str, Any], report: DriftReport | None,
                       results: FetchResults, role: str | None, code: int) -> SyncOutcome:
    published = await bus.publish(topic, payload, role=role)
    blocked = published.reason if published.status != "delivered" else None
    if blocked is not None:
        code = EXIT_ERROR
    return SyncOutcome(code, results, report, payload, topic, blocked, tuple(published.failures),
                       blocked=((topic, blocked),) if blocked is not None else ())


async def _sync_environments(config: Config, bus: GenesisBus, groups: list[tuple[Any, tuple[str, ...]]],
                             results: FetchResults, statuses: Mapping[str, Any], *, role: str | None,
                             policy: SecretPolicy | None, records: WriteRecords | None,
                             adapters: Mapping[str, PlatformAdapter],
                             same_everywhere: tuple[str, ...], across_wanted: bool) -> SyncOutcome:
    """Reconcile and publish each environment, then (when wanted) compare them; return the outcome."""
    from .across import reconcile_across
    from .environments import reference_for
    from .reconciliation import reconcile

    now = utc_now()
    done: list[EnvironmentResult] = []
    for environment, members in groups:
        snapshots = {name: results.snapshots[name] for name in members}
        options = reconcile_options(config, snapshots, secret_policy=policy)
        report = reconcile({n: s.values() for n, s in snapshots.items()}, options, now=now)
        report = _write_only(report, snapshots, options, records=records, policy=policy,
                             reference=reference_for(config, environment, members), adapters=adapters)
        payload = {"environment": environment.name, **report.to_dict(), "instances": list(members),
                   "platforms": {name: statuses[name] for name in members}}
        add_expanded(payload, results.snapshots, members)
        done.append(EnvironmentResult(environment.name, members, report, payload))
    across = None
    if across_wanted:
        options = reconcile_options(config, results.snapshots, secret_policy=policy)
        across = reconcile_across(
            {e.name: {n: results.snapshots[n].values() for n in members} for e, members in groups},
            options, same_everywhere=same_everywhere, now=now,
            references={e.name: reference_for(config, e, members) for e, members in groups})
    events = [(item.topic, item.payload) for item in done]
    if across is not None:
        events.append((CROSS_TOPIC, across.payload()))
    blocked: list[tuple[str, str]] = []
    failures: list[Any] = []
    failure_topics: list[str] = []
    for topic, payload in events:
        published = await bus.publish(topic, payload, role=role)
        if published.status != "delivered":
            blocked.append((topic, published.reason))
        failures.extend(published.failures)
        failure_topics.extend(topic for _ in published.failures)
    has_drift = any(item.report.has_drift for item in done) or (across is not None and across.has_drift)
    document = {"environments": {item.name: {k: v for k, v in item.payload.items() if k != "environment"}
                                 for item in done},
                "across": across.to_dict() if across is not None else None,
                "has_drift": has_drift, "verified_at": now}
    code = EXIT_ERROR if blocked else EXIT_DRIFT if has_drift else EXIT_PARITY
    topic = "envsync.drift" if has_drift else "envsync.commit"
    return SyncOutcome(code, results, None, document, topic, blocked[0][1] if blocked else None, tuple(failures),
                       environments=tuple(done), across=across, blocked=tuple(blocked),
                       failure_topics=tuple(failure_topics))
