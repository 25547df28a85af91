"""Properties of the comparison across environments, over environments drawn by ``genesis_core.testing``.

1. A key is missing in an environment iff no instance of that environment holds it in scope (and some
   instance of another environment does).
2. Adding an environment that holds the others' keys, with values they hold (a ``same_everywhere`` key:
   the value the environments agree on), never adds drift.
3. Values are never compared across environments, except for ``same_everywhere`` keys.
"""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core.across import reconcile_across
from genesis_core.reconciliation import ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy
from genesis_core.testing import environments, key_patterns, scoping_options

NOW = "2026-12-01T10:00:00Z"
POLICY = SecretPolicy(fingerprint_key=b"e" * 32)
fast = settings(max_examples=100, deadline=None)

Envs = dict[str, dict[str, dict[str, "str | None"]]]


def _keys(envs: Envs) -> list[str]:
    return sorted({key for group in envs.values() for values in group.values() for key in values})


def _instances(envs: Envs) -> list[str]:
    return [name for group in envs.values() for name in group]


def _matches(patterns: tuple[str, ...], key: str) -> bool:
    """An oracle for the globs ``key_patterns`` draws (exact, ``PREFIX*``, ``*SUFFIX``, ``?``)."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def _in_scope(options: ReconcileOptions, instance: str, key: str) -> bool:
    if _matches(options.ignore, key):
        return False
    include = options.include.get(instance, ())
    if include and not _matches(include, key):
        return False
    return not _matches(options.exclude.get(instance, ()), key)


@st.composite
def case(draw: st.DrawFn) -> tuple[Envs, ReconcileOptions, tuple[str, ...]]:
    """Draw environments, per-instance scoping and ``same_everywhere`` patterns."""
    envs = draw(environments())
    keys = _keys(envs)
    scoped = draw(scoping_options(_instances(envs), keys))
    options = ReconcileOptions(secret_policy=POLICY, include=scoped.include, exclude=scoped.exclude,
                               ignore=scoped.ignore)
    shared = tuple(draw(st.lists(key_patterns(keys), max_size=3)))
    return envs, options, shared


@fast
@given(case())
def test_a_key_is_missing_in_an_environment_iff_none_of_its_instances_holds_it_in_scope(
        drawn: tuple[Envs, ReconcileOptions, tuple[str, ...]]) -> None:
    envs, options, shared = drawn
    report = reconcile_across(envs, options, same_everywhere=shared, now=NOW)
    assert report.environments == tuple(envs)
    for env, group in envs.items():
        for key in _keys(envs):
            held_here = any(key in values and _in_scope(options, name, key) for name, values in group.items())
            held_elsewhere = any(key in values and _in_scope(options, name, key)
                                 for other, others in envs.items() if other != env
                                 for name, values in others.items())
            assert (key in report.missing[env]) == (not held_here and held_elsewhere), (env, key)
        assert list(report.missing[env]) == sorted(report.missing[env])
    assert report.drift_count == sum(map(len, report.missing.values())) + len(report.conflicts)


def _agreed_value(envs: Envs, options: ReconcileOptions, key: str) -> str | None:
    """Return the value of ``key`` the environments agree on: each consistent environment's one readable
    value, when they are all the same (``None`` when no environment has one, or they differ)."""
    chosen = set()
    for group in envs.values():
        readable = {values[key] for name, values in group.items()
                    if values.get(key) is not None and _in_scope(options, name, key)}
        if len(readable) == 1:
            chosen |= readable
    return chosen.pop() if len(chosen) == 1 else None


@fast
@given(case(), st.data())
def test_adding_an_environment_with_the_same_keys_never_adds_drift(
        drawn: tuple[Envs, ReconcileOptions, tuple[str, ...]], data: st.DataObject) -> None:
    envs, options, shared = drawn
    before = reconcile_across(envs, options, same_everywhere=shared, now=NOW)
    present = sorted({key for group in envs.values() for name, values in group.items() for key in values
                      if _in_scope(options, name, key)})
    existing = {key: sorted({v for group in envs.values() for values in group.values()
                             if (v := values.get(key)) is not None}) for key in present}
    added: dict[str, str | None] = {}
    for key in present:
        agreed = _agreed_value(envs, options, key) if _matches(shared, key) else None
        if agreed is not None:
            added[key] = agreed
        elif existing[key]:
            added[key] = data.draw(st.sampled_from(existing[key]))
        else:
            added[key] = None  # unreadable everywhere: unreadable here too
    name = "added_env"
    instances = ["added_one", "added_two"]
    grown = {**envs, name: {instance: dict(added) for instance in instances}}
    after = reconcile_across(grown, options, same_everywhere=shared, now=NOW)
    assert after.drift_count <= before.drift_count
    assert after.missing[name] == ()
    assert reconcile({i: dict(added) for i in instances}, options, now=NOW).drift_count == 0


@fast
@given(case(), st.data())
def test_values_are_compared_across_environments_only_for_same_everywhere_keys(
        drawn: tuple[Envs, ReconcileOptions, tuple[str, ...]], data: st.DataObject) -> None:
    envs, options, shared = drawn
    report = reconcile_across(envs, options, same_everywhere=shared, now=NOW)
    assert all(_matches(shared, key) for key in report.conflicts)
    assert reconcile_across(envs, options, same_everywhere=(), now=NOW).conflicts == {}
    # any other value may change anywhere (presence and readability kept): nothing across changes
    changed = {env: {name: {key: value if value is None or _matches(shared, key)
                            else data.draw(st.text(max_size=8)) for key, value in values.items()}
                     for name, values in group.items()} for env, group in envs.items()}
    assert reconcile_across(changed, options, same_everywhere=shared, now=NOW) == report
