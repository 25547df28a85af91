"""``reconcile`` gives byte-for-byte the report it gave before its worst case was made fast.

``reference_reconcile`` below is the implementation as it was before each
distinct value was classified once per run and the per-key holder lists were
dropped (kept here verbatim, apart from names).  Random snapshots, scoping,
platform secret marks and secret policies must give the same JSON from both.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Mapping
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import reconciliation
from genesis_core.reconciliation import DriftReport, ReconcileOptions, reconcile, validate_instance_name
from genesis_core.secrets import (
    MASKED_UNREADABLE,
    SecretPolicy,
    _is_certain_credential,
    _is_guessed_credential,
    compile_patterns,
)
from genesis_core.testing import env_values, scoping_options, secret_values, snapshots

NOW = "2025-10-11T22:43:00Z"


# ---------------------------------------------------------------- the implementation before

def _reference_any_secret(policy: SecretPolicy, key: str, values: Any, *, platform_marked: bool) -> bool:
    if policy.mask_all or platform_marked:
        return True
    values = tuple(values)
    if any(_is_certain_credential(value) for value in values):
        return True
    if policy._forced_public(key):
        return False
    if policy._name_matches(key):
        return True
    return any(len(value) >= 8 and _is_guessed_credential(value) for value in values)


def _reference_out_of_scope(names: tuple[str, ...], keys: set[str], options: ReconcileOptions
                            ) -> dict[str, set[str]]:
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


def _reference_candidates(snapshots: Mapping[str, Mapping[str, str | None]],
                          names: tuple[str, ...]) -> set[str]:
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


def reference_reconcile(snapshots: Mapping[str, Mapping[str, str | None]], options: ReconcileOptions,
                        *, now: str) -> DriftReport:
    policy = options.secret_policy
    assert policy is not None
    for name in snapshots:
        validate_instance_name(name)
    names = tuple(sorted(snapshots))
    key_views = {name: snapshots[name].keys() for name in names}
    raw_union: set[str] = set().union(*key_views.values())
    ignore = compile_patterns(options.ignore)
    ignored: set[str] = set(filter(ignore.match, raw_union)) if ignore is not None else set()
    outside = _reference_out_of_scope(names, raw_union, options)
    scoped: dict[str, Any] = {}
    for name in names:
        removed = ignored | outside[name] if name in outside else ignored
        scoped[name] = set(key_views[name]).difference(removed) if removed else key_views[name]
    union: set[str] = set().union(*scoped.values()) if ignored or outside else raw_union
    missing: dict[str, tuple[str, ...]] = {}
    for name in names:
        in_scope = union - outside[name] if name in outside else union
        missing[name] = tuple(sorted(in_scope.difference(scoped[name])))
    conflicts: dict[str, dict[str, str]] = {}
    candidates = _reference_candidates(snapshots, names) & union if len(names) > 1 else set()
    for key in sorted(candidates):
        holders = [(name, snapshots[name][key]) for name in names if key in scoped[name]]
        readable = {value for _name, value in holders if value is not None}
        if len(readable) < 2:
            continue
        marked = any(value is not None and key in options.platform_secret_keys.get(name, ())
                     for name, value in holders)
        secret = _reference_any_secret(policy, key, readable, platform_marked=marked)
        conflicts[key] = {
            name: MASKED_UNREADABLE if value is None else policy.fingerprint(value) if secret else value
            for name, value in holders
        }
    drift_count = sum(map(len, missing.values())) + len(conflicts)
    return DriftReport(verified_at=now, instances=names, missing=missing, conflicts=conflicts,
                       counts={name: len(scoped[name]) for name in names}, total_keys=len(union),
                       has_drift=drift_count > 0, drift_count=drift_count)


# ---------------------------------------------------------------- the comparison

#: Values that conflict often: a small set with tokens, words, numbers and a credential URL.
_FEW = st.sampled_from(("true", "false", "info", "3000", "Zq8xV2mN7pL4kR9sT3wY6uB1cD5fG0hJ",
                        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "https://svc.example.com/v1",
                        "postgres://app:hunter2hunter2@db:5432/app", ""))
policies = st.builds(
    SecretPolicy,
    fingerprint_key=st.just(b"e" * 32),
    extra_patterns=st.lists(st.sampled_from(("*_URL", "A*", "re:^[a-z]")), max_size=2).map(tuple),
    not_secret=st.lists(st.sampled_from(("*_TOKEN", "B*", "*")), max_size=2).map(tuple),
    mask_all=st.booleans(),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, dict[str, str | None]], ReconcileOptions]:
    values = draw(st.sampled_from((_FEW, env_values(), st.one_of(_FEW, secret_values()))))
    snaps = draw(snapshots(values=values, max_keys=16))
    keys = sorted(set().union(*snaps.values()))
    scoping = draw(st.one_of(st.just(ReconcileOptions()), scoping_options(list(snaps), keys or None)))
    marks = {name: frozenset(draw(st.lists(st.sampled_from(keys), max_size=3))) if keys else frozenset()
             for name in snaps if draw(st.booleans())}
    options = ReconcileOptions(secret_policy=draw(policies), platform_secret_keys=marks,
                               include=scoping.include, exclude=scoping.exclude, ignore=scoping.ignore)
    return snaps, options


@settings(max_examples=400, deadline=None)
@given(cases(), st.sampled_from((None, True, False)))
def test_reconcile_gives_the_same_bytes_as_before(case: tuple[dict, ReconcileOptions],
                                                  mostly_conflicting: bool | None) -> None:
    # Also with the sampling that picks "compare every key" or "narrow down to candidates first"
    # forced either way: both paths must give the same report.
    snaps, options = case
    expected = reference_reconcile(snaps, options, now=NOW)
    if mostly_conflicting is None:
        actual = reconcile(snaps, options, now=NOW)
    else:
        with mock.patch.object(reconciliation, "_mostly_conflicting", lambda *_: mostly_conflicting):
            actual = reconcile(snaps, options, now=NOW)
    assert json.dumps(actual.to_dict()) == json.dumps(expected.to_dict())
    assert actual == expected
