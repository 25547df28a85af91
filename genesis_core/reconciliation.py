"""Compare the variables of several platform instances: the pure heart of ``genesis sync``.

``reconcile({"render": {...}, "github": {...}})`` returns a :class:`DriftReport`
whose ``to_dict()`` is the ``envsync.drift`` / ``envsync.commit`` payload of
the seed's event flow.  A value of ``None`` means "present but unreadable".
The function does no I/O; it reads the clock only when ``now`` is not given.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .secrets import MASKED_UNREADABLE, SecretPolicy, compile_patterns

__all__ = ["DriftReport", "ReconcileOptions", "reconcile", "validate_instance_name"]

INSTANCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_INSTANCE_NAMES = frozenset({"drift"})  # summary.<name>_count would clash with drift_count


def validate_instance_name(name: object) -> str:
    """Return ``name`` if it can appear in ``missing_in_<name>``; raise ``ValueError`` otherwise."""
    if not isinstance(name, str) or INSTANCE_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid platform instance name {name!r}: use a letter followed by "
                         "letters, digits or underscores (it becomes missing_in_<name>)")
    if name in RESERVED_INSTANCE_NAMES:
        raise ValueError(f"invalid platform instance name {name!r}: reserved "
                         f"({name}_count is a summary field)")
    return name


def _pattern_tuple(value: Iterable[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _pattern_map(value: Mapping[str, Iterable[str] | str]) -> dict[str, tuple[str, ...]]:
    return {name: _pattern_tuple(patterns) for name, patterns in dict(value).items()}


def _secret_key_map(value: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {name: frozenset(keys) for name, keys in dict(value).items()}


def _check_pattern_map(_instance: Any, attribute: Any, value: Mapping[str, tuple[str, ...]]) -> None:
    for name, patterns in value.items():
        try:
            compile_patterns(patterns)
        except ValueError as exc:
            raise ValueError(f"{attribute.name}[{name!r}]: {exc}") from None


def _check_patterns(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    try:
        compile_patterns(value)
    except ValueError as exc:
        raise ValueError(f"{attribute.name}: {exc}") from None


@attrs.frozen
class ReconcileOptions:
    """How to compare: secret policy, platform secret marks and key scoping.

    Patterns are fnmatch-style globs over whole key names, case-sensitive
    (``VITE_*``); ``re:`` starts a regular expression.  ``include[name]``,
    when non-empty, limits that instance's scope to matching keys;
    ``exclude[name]`` removes matching keys from it; ``ignore`` removes keys
    from every instance.  Names in ``include``/``exclude`` that are not being
    reconciled are ignored.
    """

    secret_policy: SecretPolicy | None = None
    platform_secret_keys: Mapping[str, frozenset[str]] = attrs.field(factory=dict,
                                                                     converter=_secret_key_map)
    include: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_pattern_map,
                                                         validator=_check_pattern_map)
    exclude: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_pattern_map,
                                                         validator=_check_pattern_map)
    ignore: tuple[str, ...] = attrs.field(default=(), converter=_pattern_tuple,
                                          validator=_check_patterns)


@attrs.frozen
class DriftReport:
    """The result of one reconciliation; ``to_dict()`` is the bus payload."""

    verified_at: str
    instances: tuple[str, ...]
    missing: Mapping[str, tuple[str, ...]]
    conflicts: Mapping[str, Mapping[str, str]]
    counts: Mapping[str, int]
    total_keys: int
    has_drift: bool
    drift_count: int

    @property
    def topic(self) -> str:
        """Return ``envsync.drift`` when there is drift, else ``envsync.commit``."""
        return "envsync.drift" if self.has_drift else "envsync.commit"

    def to_dict(self) -> dict[str, Any]:
        """Return the seed payload: verified_at, has_drift, missing_in_<name>..., conflicts, summary."""
        payload: dict[str, Any] = {"verified_at": self.verified_at, "has_drift": self.has_drift}
        for name in self.instances:
            payload[f"missing_in_{name}"] = list(self.missing.get(name, ()))
        payload["conflicts"] = {key: dict(shown) for key, shown in self.conflicts.items()}
        summary: dict[str, Any] = {"total_keys": self.total_keys}
        for name in self.instances:
            summary[f"{name}_count"] = self.counts.get(name, 0)
        summary["drift_count"] = self.drift_count
        payload["summary"] = summary
        return payload


@functools.lru_cache(maxsize=1)
def _process_policy() -> SecretPolicy:
    """Return a default policy keyed with random bytes, the same for the whole process."""
    return SecretPolicy(fingerprint_key=os.urandom(32))


def _out_of_scope(names: tuple[str, ...], keys: set[str], options: ReconcileOptions) -> dict[str, set[str]]:
    """Return ``{name: keys outside that instance's scope}`` for instances with include/exclude."""
    out: dict[str, set[str]] = {}
    seen: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = {}
    for name in names:
        rules = (options.include.get(name, ()), options.exclude.get(name, ()))
        if rules not in seen:
            include, exclude = compile_patterns(rules[0]), compile_patterns(rules[1])
            outside: set[str] = set()
            if include is not None:
                outside = keys.difference(filter(include.match, keys))
            if exclude is not None:
                outside.update(filter(exclude.match, keys))
            seen[rules] = outside
        if seen[rules]:
            out[name] = seen[rules]
    return out


def _conflict_candidates(snapshots: Mapping[str, Mapping[str, str | None]],
                         names: tuple[str, ...]) -> set[str]:
    """Return keys that may hold two different readable values (a superset of the conflicts).

    A reference dict holds one value per key, preferring instances with fewer
    unreadable values; a key is a candidate when some instance's readable
    value differs from its reference value.  If two readable values differ,
    at least one differs from the reference, so no conflict is missed.  The
    comparison runs in C (``map``/``compress``), not in a per-key Python loop.
    """
    by_readability = sorted(names, key=lambda n: list(snapshots[n].values()).count(None), reverse=True)
    reference: dict[str, str | None] = {}
    for name in by_readability:
        reference.update(snapshots[name])
    reference_value = reference.__getitem__
    candidates: set[str] = set()
    for name in names:
        snapshot = snapshots[name]
        keys = list(snapshot)
        values = list(snapshot.values())
        differs = map(operator.ne, values, map(reference_value, keys))
        readable = map(operator.is_not, values, itertools.repeat(None))
        candidates.update(itertools.compress(keys, map(operator.and_, differs, readable)))
    return candidates


def reconcile(snapshots: Mapping[str, Mapping[str, str | None]], options: ReconcileOptions | None = None,
              *, now: str | None = None) -> DriftReport:
    """Return the drift between ``{instance: {key: value_or_None}}`` snapshots.

    ``missing_in_X`` lists keys another instance has that X lacks, within X's
    scope.  A conflict is an in-scope key whose readable values differ; every
    instance holding the key in scope is shown: ``<secret>`` when unreadable,
    a keyed fingerprint when the key is secret, else the value.  A key is
    secret for all instances at once when its name, any readable value or any
    platform's mark on a readable value makes it so.  Raises ``ValueError``
    for an instance name that cannot appear in ``missing_in_<name>``.
    """
    options = options or ReconcileOptions()
    policy = options.secret_policy or _process_policy()
    for name in snapshots:
        validate_instance_name(name)
    names = tuple(sorted(snapshots))
    key_views = {name: snapshots[name].keys() for name in names}
    raw_union: set[str] = set().union(*key_views.values())

    ignore = compile_patterns(options.ignore)
    ignored: set[str] = set(filter(ignore.match, raw_union)) if ignore is not None else set()
    outside = _out_of_scope(names, raw_union, options)

    scoped: dict[str, set[str] | Any] = {}
    for name in names:
        removed = ignored | outside[name] if name in outside else ignored
        scoped[name] = set(key_views[name]).difference(removed) if removed else key_views[name]
    union: set[str] = set().union(*scoped.values()) if ignored or outside else raw_union

    missing: dict[str, tuple[str, ...]] = {}
    for name in names:
        in_scope = union - outside[name] if name in outside else union
        missing[name] = tuple(sorted(in_scope.difference(scoped[name])))

    conflicts: dict[str, dict[str, str]] = {}
    candidates = _conflict_candidates(snapshots, names) & union if len(names) > 1 else set()
    for key in sorted(candidates):
        holders = [(name, snapshots[name][key]) for name in names if key in scoped[name]]
        readable = {value for _name, value in holders if value is not None}
        if len(readable) < 2:
            continue
        marked = any(value is not None and key in options.platform_secret_keys.get(name, ())
                     for name, value in holders)
        secret = policy.any_secret(key, readable, platform_marked=marked)
        conflicts[key] = {
            name: MASKED_UNREADABLE if value is None else policy.fingerprint(value) if secret else value
            for name, value in holders
        }

    drift_count = sum(map(len, missing.values())) + len(conflicts)
    if now is None:
        from .bus.envelope import utc_now

        now = utc_now()
    return DriftReport(
        verified_at=now,
        instances=names,
        missing=missing,
        conflicts=conflicts,
        counts={name: len(scoped[name]) for name in names},
        total_keys=len(union),
        has_drift=drift_count > 0,
        drift_count=drift_count,
    )
