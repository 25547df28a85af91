"""Compare the variables of several platform instances: the pure heart of ``genesis sync``.

``reconcile({"render": {...}, "github": {...}})`` returns a :class:`DriftReport`
whose ``to_dict()`` is the ``envsync.drift`` / ``envsync.commit`` payload of
the seed's event flow.  A value of ``None`` means "present but unreadable".
The function does no I/O; it reads the clock only when ``now`` is not given.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

import attrs

from .bus.topics import COMMIT_TOPIC, DRIFT_TOPIC
from .secrets import CERTAIN, GUESSED, MASKED_UNREADABLE, PUBLIC, SecretPolicy, compile_patterns, value_verdict

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
    #: ``{key: {instance: shown value}}``; each row is read-only, shared by the keys that show the
    #: same values (``dict(row)`` gives a copy to change).
    conflicts: Mapping[str, Mapping[str, str]]
    counts: Mapping[str, int]
    total_keys: int
    has_drift: bool
    drift_count: int
    #: What write records say about unreadable values (``genesis_core.writeonly.WriteOnlyCheck``):
    #: verified, stale or changed outside Genesis; empty unless some value has a record.
    write_only: tuple[Any, ...] = ()
    #: ``{instance: keys}`` of unreadable values without a usable write record (writing them once with
    #: ``genesis heal --apply --adopt`` makes them verifiable).
    unverified: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def unverified_count(self) -> int:
        """Return how many unreadable values no write record could verify."""
        return sum(map(len, self.unverified.values()))

    @property
    def topic(self) -> str:
        """Return ``envsync.drift`` when there is drift, else ``envsync.commit``."""
        return DRIFT_TOPIC if self.has_drift else COMMIT_TOPIC

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
        if self.write_only:  # only once write records exist: the seed's payload is otherwise unchanged
            payload["write_only"] = [check.to_dict() for check in self.write_only]
            payload["unverified"] = [{"instance": name, "keys": list(keys)}
                                     for name, keys in self.unverified.items() if keys]
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
                outside = {key for key in keys if not include.match(key)}
            if exclude is not None:
                outside.update(key for key in keys if exclude.match(key))
            seen[rules] = outside
        if seen[rules]:
            out[name] = seen[rules]
    return out


_SAMPLE = 256


def _mostly_conflicting(snapshots: Mapping[str, Mapping[str, str | None]], names: tuple[str, ...]) -> bool:
    """Return whether over a quarter of a sample of keys conflict (the first 256 of the smallest snapshot).

    Then narrowing the keys down to conflict candidates first costs more than
    it saves, and every key goes straight to the per-key comparison.
    """
    smallest = min(names, key=lambda name: len(snapshots[name]))
    sample = list(itertools.islice(snapshots[smallest], _SAMPLE))
    columns = [snapshots[name] for name in names]
    conflicting = 0
    for key in sample:
        seen = None
        for snapshot in columns:
            value = snapshot.get(key)
            if value is None:
                continue
            if seen is None:
                seen = value
            elif value != seen:
                conflicting += 1
                break
    return conflicting * 4 > len(sample) > 0


def _sorted_union(snapshots: Mapping[str, Mapping[str, str | None]], names: tuple[str, ...],
                  union: set[str], missing: Mapping[str, tuple[str, ...]] | None) -> list[str]:
    """Return ``sorted(union)``, starting from the largest snapshot's own key order.

    Platforms usually list their variables sorted; a sort that finds the
    keys mostly in order already (timsort merges the runs it finds) takes a
    fraction of sorting them from a set's order.  ``missing``: the keys of
    ``union`` each snapshot lacks, when every key of every snapshot is in
    ``union`` (no scoping removed any), else ``None``.
    """
    largest_name = max(names, key=lambda name: len(snapshots[name]))
    largest = snapshots[largest_name]
    if missing is not None:
        keys = list(largest)
        keys += missing[largest_name]
    else:
        keys = list(filter(union.__contains__, largest))
        keys += union.difference(largest)
    keys.sort()
    return keys


def _conflict_candidates(snapshots: Mapping[str, Mapping[str, str | None]],
                         names: tuple[str, ...]) -> set[str]:
    """Return keys that may hold two different readable values (a superset of the conflicts).

    A reference dict holds one value per key, preferring instances with fewer
    unreadable values; a key is a candidate when some instance's readable
    value differs from its reference value.  If two readable values differ,
    at least one differs from the reference, so no conflict is missed.  The
    comparison runs in C (``map``/``compress``), not in a per-key Python loop.
    When a quarter of all keys are candidates already, every key is returned:
    when most keys conflict, narrowing them down costs more than it saves.
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
        if len(candidates) * 4 > len(reference):
            return set(reference)
    return candidates


_ABSENT: Any = object()


class _Verdicts(dict):  # type: ignore[type-arg]
    """``{value: value_verdict(value)}``, each distinct value classified on first use."""

    def __missing__(self, value: str) -> int:
        verdict = self[value] = value_verdict(value)
        return verdict


class _Fingerprints(dict):  # type: ignore[type-arg]
    """``{value: policy.fingerprint(value)}`` computed on first use; ``None`` shows as ``<secret>``."""

    def __init__(self, policy: SecretPolicy) -> None:
        super().__init__({None: MASKED_UNREADABLE})
        self._fingerprint = policy.fingerprint

    def __missing__(self, value: str) -> str:
        shown = self[value] = self._fingerprint(value)
        return shown


_SHOW_UNREADABLE: dict[Any, str] = {None: MASKED_UNREADABLE}


class _SharedRow(dict):  # type: ignore[type-arg]
    """A conflict's ``{instance: shown value}``: read-only, as every key whose values show the
    same shares it (no copy per key).  ``dict(row)`` is a copy that can be changed; ``copy``,
    ``deepcopy`` and ``pickle`` also give plain dicts.
    """

    __slots__ = ()

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("a conflict row of a DriftReport is read-only (shared by the keys that show "
                        "the same values): change a copy, dict(row)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def copy(self) -> dict[str, str]:
        """Return a plain, changeable copy."""
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


_NOT_READABLE = frozenset((_ABSENT, None))


def _in_scope(snapshot: Mapping[str, str | None], scope: set[str], keys: list[str]) -> Iterator[Any]:
    """Yield each key's value in ``snapshot``, or ``_ABSENT`` when the key is not in ``scope``."""
    get = snapshot.get
    for key in keys:
        yield get(key, _ABSENT) if key in scope else _ABSENT


def _aligned(snapshot: Mapping[str, str | None], keys: list[str], absent: tuple[str, ...]) -> list[Any] | None:
    """Return ``snapshot``'s values in the order of ``keys`` (sorted), ``_ABSENT`` for the ``absent``
    keys (sorted), when the snapshot lists all the other keys in that same order; else ``None``.

    Platforms usually list their variables sorted: then the values are read in
    the snapshot's own order, a fraction of the cost of looking each key up.
    """
    if (type(snapshot) is not dict or len(snapshot) + len(absent) != len(keys)
            or len(absent) * 8 > len(keys)):
        return None
    present, values = list(snapshot), list(snapshot.values())
    merged_keys: list[str] = []
    merged_values: list[Any] = []
    start = 0
    for index, key in enumerate(absent):  # the snapshot holds (position of key in keys) - index keys before it
        stop = bisect.bisect_left(keys, key) - index
        merged_keys += present[start:stop]
        merged_keys.append(key)
        merged_values += values[start:stop]
        merged_values.append(_ABSENT)
        start = max(start, stop)
    merged_keys += present[start:]
    merged_values += values[start:]
    return merged_values if merged_keys == keys else None


def _column(snapshot: Mapping[str, str | None], scope: set[str] | None, keys: list[str],
            absent: tuple[str, ...] | None) -> Iterable[Any]:
    """Return each key's value in ``snapshot``, ``_ABSENT`` where the key is not held in scope.

    ``scope`` is ``None`` when the instance's scope is all its keys; ``absent``,
    when ``keys`` are the whole sorted union and ``scope`` is ``None``, the keys
    the snapshot lacks (else ``None``).
    """
    if scope is not None:
        return _in_scope(snapshot, scope, keys)
    aligned = None if absent is None else _aligned(snapshot, keys, absent)
    if aligned is not None:
        return aligned
    return map(snapshot.get, keys, itertools.repeat(_ABSENT))


#: How many value combinations ``_conflicts`` remembers per run (a small value set repeats them).
_ROW_MEMO = 8192


#: What a combination of values shows, as a tuple read with the getters below (C, no Python call):
#: whether the key decides (the row is *open*); ``[plain row, fingerprinted row]``, indexed by "is
#: the key secret" (both the same row when the values alone decide; else the second is made on
#: first need); the strongest value verdict; the holders and their values.
_Row = tuple[bool, list[Any], int, tuple[str, ...], tuple[Any, ...]]
_OPEN, _PAIR = operator.itemgetter(0), operator.itemgetter(1)


class _Rows(dict):  # type: ignore[type-arg]
    """``{values: _Row, or None when they do not conflict}``, each combination worked out on first sight.

    ``values`` holds one value per instance, ``_ABSENT`` where the instance
    does not hold the key in scope.  At most ``_ROW_MEMO`` combinations are kept.
    """

    def __init__(self, names: tuple[str, ...], options: ReconcileOptions, policy: SecretPolicy) -> None:
        super().__init__()
        self.names = names
        self.absent = (_ABSENT,) * len(names)
        self.marks = {name: keys for name, keys in options.platform_secret_keys.items() if keys}
        self.always = policy.mask_all
        self.rules = {verdict: policy.rule_for_verdict(verdict) for verdict in (PUBLIC, GUESSED, CERTAIN)}
        self.verdict_of = _Verdicts().__getitem__
        self.fingerprint = _Fingerprints(policy).__getitem__
        self.open_beyond_name = False  # some open row needs more than the name (marks, a GUESSED rule)

    def __missing__(self, values: tuple[Any, ...]) -> _Row | None:
        readable = set(values)
        readable -= _NOT_READABLE
        row = self._work_out(values, readable) if len(readable) > 1 else None
        if len(self) < _ROW_MEMO:
            self[values] = row
        return row

    def _work_out(self, values: tuple[Any, ...], readable: set[str]) -> _Row:
        """Return the row of ``values``, which hold two different ``readable`` values."""
        holders, held = self.names, values
        if _ABSENT in values:
            kept = tuple(map(operator.is_not, values, self.absent))
            holders, held = tuple(itertools.compress(holders, kept)), tuple(itertools.compress(values, kept))
        verdict = CERTAIN if self.always else max(map(self.verdict_of, readable))
        rule = True if self.always else self.rules[verdict]
        if not self.marks and (rule is True or rule is False):
            shown = self.secret_row(holders, held) if rule else self.plain_row(holders, held)
            return (False, [shown, shown], verdict, holders, held)
        if self.marks or verdict != PUBLIC:
            self.open_beyond_name = True
        # The fingerprinted row is made when a key first needs it (most names are not secret).
        return (True, [self.plain_row(holders, held), None], verdict, holders, held)

    def secret_row(self, holders: tuple[str, ...], held: tuple[Any, ...]) -> _SharedRow:
        """Return the row with every value fingerprinted (``<secret>`` where unreadable)."""
        return _SharedRow(zip(holders, map(self.fingerprint, held)))

    @staticmethod
    def plain_row(holders: tuple[str, ...], held: tuple[Any, ...]) -> _SharedRow:
        """Return the row with the values (``<secret>`` where unreadable)."""
        if None in held:
            return _SharedRow(zip(holders, map(_SHOW_UNREADABLE.get, held, held)))
        return _SharedRow(zip(holders, held))

    def make_secret(self, row: _Row) -> None:
        """Make an open ``row``'s fingerprinted form, if not made yet."""
        pair = row[1]
        if pair[1] is None:
            pair[1] = self.secret_row(row[3], row[4])

    def secret_for(self, row: _Row, key: str) -> bool:
        """Return whether an open ``row`` is fingerprinted for ``key`` (the marks and the name decide)."""
        _, _, verdict, holders, held = row
        if self.marks and any(value is not None and key in self.marks.get(name, ())
                              for name, value in zip(holders, held)):
            return True
        rule = self.rules[verdict]
        return rule if rule is True or rule is False else rule(key)


def _secret_choices(keys: list[str], rows: list[_Row], memo: _Rows, policy: SecretPolicy) -> Iterable[bool]:
    """Return, per conflicting key, whether it shows its row's fingerprinted form.

    Only open rows ask; for the others both forms are the same row.  The
    fingerprinted forms chosen are made.
    """
    open_at = list(itertools.compress(range(len(rows)), map(_OPEN, rows)))
    if not open_at:
        return itertools.repeat(False)
    if memo.open_beyond_name:
        secret = list(map(memo.secret_for, map(rows.__getitem__, open_at), map(keys.__getitem__, open_at)))
    else:
        # The usual case: only the key's name is open (rule_for_verdict(PUBLIC) is is_secret_name).
        # Name every such key at once, in C.
        secret = policy.secret_names(list(map(keys.__getitem__, open_at)))
    choices = [False] * len(rows)
    for index in itertools.compress(open_at, secret):
        choices[index] = True
        memo.make_secret(rows[index])
    return choices


def _conflicts(keys: list[str], names: tuple[str, ...], cells: list[Iterable[Any]],
               options: ReconcileOptions, policy: SecretPolicy) -> dict[str, dict[str, str]]:
    """Return ``{key: {instance: shown value}}`` for the ``keys`` (sorted) whose readable values differ.

    ``cells`` hold, per instance in ``names`` order, each key's value or
    ``_ABSENT`` (:func:`_column`); they are read in C.  What a value alone
    says about secrecy does not depend on the key, so each distinct value is
    classified and fingerprinted once per call, and each combination of values
    once (:class:`_Rows`): whether it conflicts, its strongest verdict and the
    rows it shows.  Per key only the name is checked, and only when the values
    leave the answer to it.  Keys that show the same values share one read-only row
    (:class:`_SharedRow`): copying a row per key cost as much as finding the conflicts.
    """
    memo = _Rows(names, options, policy)
    rows = list(map(memo.__getitem__, zip(*cells)))  # None where the values do not conflict
    found = list(filter(None, rows))
    found_keys = list(itertools.compress(keys, rows))
    secret = _secret_choices(found_keys, found, memo, policy)
    shown = map(operator.getitem, map(_PAIR, found), secret)
    return dict(zip(found_keys, shown))


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
    # From key views the union grows as it needs (from dicts it would presize for no overlap, a
    # table twice as large); the differences below take the snapshots themselves (their fast path).
    raw_union: set[str] = set().union(*(snapshots[name].keys() for name in names))

    ignore = compile_patterns(options.ignore)
    ignored: set[str] = set(filter(ignore.match, raw_union)) if ignore is not None else set()
    outside = _out_of_scope(names, raw_union, options)

    scoped: dict[str, set[str] | Any] = {}
    for name in names:
        removed = ignored | outside[name] if name in outside else ignored
        scoped[name] = set(snapshots[name]).difference(removed) if removed else snapshots[name]
    scoped_apart = bool(ignored or outside)  # else each instance's scope is all its keys
    union: set[str] = set().union(*scoped.values()) if scoped_apart else raw_union

    missing: dict[str, tuple[str, ...]] = {}
    for name in names:
        in_scope = union - outside[name] if name in outside else union
        missing[name] = tuple(sorted(in_scope.difference(scoped[name])))

    whole = False  # keys are the whole union, so missing[name] is what each instance lacks of them
    if len(names) < 2:
        keys: list[str] = []
    elif _mostly_conflicting(snapshots, names):
        keys, whole = _sorted_union(snapshots, names, union, None if scoped_apart else missing), True
    else:
        keys = sorted(_conflict_candidates(snapshots, names) & union)
    cells = [_column(snapshots[name], scoped[name], keys, None) if scoped_apart
             else _column(snapshots[name], None, keys, missing[name] if whole else None) for name in names]
    conflicts = _conflicts(keys, names, cells, options, policy)

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
