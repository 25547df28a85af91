"""Properties of the reconciler, over snapshots drawn by ``genesis_core.testing`` strategies."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from genesis_core.reconciliation import ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy
from genesis_core.testing import (
    instance_names,
    key_patterns,
    scoping_options,
    secret_values,
    snapshot,
    snapshots,
)

NOW = "2025-10-11T22:43:00Z"
POLICY = SecretPolicy(fingerprint_key=b"p" * 32)
OPTIONS = ReconcileOptions(secret_policy=POLICY)
fast = settings(max_examples=150, deadline=None)


def _keys(snaps: dict[str, dict[str, str | None]]) -> list[str]:
    return sorted(set().union(*snaps.values()))


@fast
@given(st.data())
def test_result_does_not_depend_on_instance_order(data: st.DataObject) -> None:
    snaps = data.draw(snapshots())
    order = data.draw(st.permutations(list(snaps)))
    shuffled = {name: dict(reversed(list(snaps[name].items()))) for name in order}
    options = data.draw(scoping_options(list(snaps), _keys(snaps)))
    options = ReconcileOptions(secret_policy=POLICY, include=options.include, exclude=options.exclude,
                               ignore=options.ignore)
    assert reconcile(snaps, options, now=NOW).to_dict() == reconcile(shuffled, options, now=NOW).to_dict()


@fast
@given(snapshots())
def test_reconcile_is_idempotent_and_leaves_its_input_alone(snaps: dict) -> None:
    before = copy.deepcopy(snaps)
    first = reconcile(snaps, now=NOW)
    assert snaps == before
    assert reconcile(snaps, now=NOW) == first


@fast
@given(snapshot(), st.lists(instance_names(), min_size=1, max_size=5, unique=True))
def test_identical_snapshots_have_no_drift(values: dict, names: list[str]) -> None:
    report = reconcile({name: dict(values) for name in names}, OPTIONS, now=NOW)
    assert not report.has_drift
    assert report.drift_count == 0 and report.conflicts == {}
    assert all(count == len(values) for count in report.counts.values())


@fast
@given(snapshots())
def test_missing_is_union_minus_own_keys(snaps: dict) -> None:
    report = reconcile(snaps, OPTIONS, now=NOW)
    union = set().union(*snaps.values())
    assert report.total_keys == len(union)
    for name, values in snaps.items():
        assert set(report.missing[name]) == union - set(values)
        assert list(report.missing[name]) == sorted(report.missing[name])


@fast
@given(snapshots())
def test_conflicts_are_exactly_keys_with_two_readable_values(snaps: dict) -> None:
    report = reconcile(snaps, OPTIONS, now=NOW)
    expected = {
        key for key in set().union(*snaps.values())
        if len({values[key] for values in snaps.values() if values.get(key) is not None}) > 1
    }
    assert set(report.conflicts) == expected
    for key, shown in report.conflicts.items():
        assert set(shown) == {name for name, values in snaps.items() if key in values}


@fast
@given(snapshots())
def test_counts_match_lists(snaps: dict) -> None:
    report = reconcile(snaps, OPTIONS, now=NOW)
    payload = report.to_dict()
    missing_total = sum(len(payload[f"missing_in_{name}"]) for name in snaps)
    assert payload["summary"]["drift_count"] == missing_total + len(payload["conflicts"])
    assert payload["has_drift"] == (payload["summary"]["drift_count"] > 0)
    for name, values in snaps.items():
        assert payload["summary"][f"{name}_count"] == len(values)


@st.composite
def planted(draw: st.DrawFn) -> tuple[dict, list[str]]:
    """Draw snapshots in which some variables hold values the policy must never show."""
    snaps = draw(snapshots())
    secrets: list[str] = []
    names = list(snaps)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(names))
        if draw(st.booleans()):
            key = draw(st.sampled_from(_keys(snaps) + ["NOTE"]))
            value = draw(secret_values())
        else:
            key = draw(st.sampled_from(["API_TOKEN", "DB_PASSWORD", "SENTRY_DSN", "STRIPE_KEY"]))
            value = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=16, max_size=24))
        snaps[name][key] = value
        secrets.append(value)
    return snaps, secrets


@fast
@given(planted())
def test_no_secret_value_reaches_the_output(case: tuple[dict, list[str]]) -> None:
    snaps, secrets = case
    report = reconcile(snaps, OPTIONS, now=NOW)
    text = json.dumps(report.to_dict(), ensure_ascii=False) + repr(report)
    for value in secrets:
        assert value not in text


@fast
@given(st.data())
def test_scoping_only_removes_drift(data: st.DataObject) -> None:
    snaps = data.draw(snapshots())
    keys = _keys(snaps)
    scoped = data.draw(scoping_options(list(snaps), keys))
    unscoped_drift = reconcile(snaps, OPTIONS, now=NOW).drift_count
    assert reconcile(snaps, scoped, now=NOW).drift_count <= unscoped_drift

    target = data.draw(st.sampled_from(list(snaps)))
    extra = tuple(data.draw(st.lists(key_patterns(keys), min_size=1, max_size=3)))
    more_exclude = dict(scoped.exclude)
    more_exclude[target] = more_exclude.get(target, ()) + extra
    narrower = ReconcileOptions(include=scoped.include, exclude=more_exclude, ignore=scoped.ignore)
    assert reconcile(snaps, narrower, now=NOW).drift_count <= reconcile(snaps, scoped, now=NOW).drift_count

    ignoring = ReconcileOptions(include=scoped.include, exclude=scoped.exclude, ignore=scoped.ignore + extra)
    assert reconcile(snaps, ignoring, now=NOW).drift_count <= reconcile(snaps, scoped, now=NOW).drift_count


@fast
@given(snapshots())
def test_the_payload_survives_bus_masking_unchanged(snaps: dict) -> None:
    assume(not any(POLICY.is_secret_name(name) for name in snaps))
    payload = reconcile(snaps, OPTIONS, now=NOW).to_dict()
    assert POLICY.mask_payload(payload) == payload


def test_importing_the_testing_package_does_not_need_hypothesis() -> None:
    code = ("import sys, genesis_core.testing as t; assert 'hypothesis' not in sys.modules; "
            "t.snapshots; assert 'hypothesis' in sys.modules")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


@fast
@given(st.data())
def test_strategies_draw_what_they_promise(data: st.DataObject) -> None:
    values = data.draw(snapshot(keys=["A", "B"], unreadable=False))
    assert set(values) <= {"A", "B"} and all(isinstance(v, str) for v in values.values())
    snaps = data.draw(snapshots(min_instances=3, max_instances=4))
    assert 3 <= len(snaps) <= 4
    options = data.draw(scoping_options(list(snaps), _keys(snaps)))
    assert set(options.include) <= set(snaps) and set(options.exclude) <= set(snaps)
    assert POLICY.is_secret("NOTE", data.draw(secret_values()))
