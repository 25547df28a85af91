"""The report's conflict rows are shared and read-only; snapshots listed in sorted order are read in
that order (a fast path) and give the same report as any other order; user ``re:`` patterns answer
the same through one RE2 set or one search each."""

from __future__ import annotations

import copy
import json
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_core import reconciliation
from genesis_core.reconciliation import ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy
from genesis_core.testing import snapshots

NOW = "2025-10-11T22:43:00Z"
OPTIONS = ReconcileOptions(secret_policy=SecretPolicy(fingerprint_key=b"r" * 32))


def _report() -> reconciliation.DriftReport:
    snaps = {"a": {"HOST": "one", "PORT": "1", "API_TOKEN": "x"},
             "b": {"HOST": "two", "PORT": "2", "API_TOKEN": "y"}}
    return reconcile(snaps, OPTIONS, now=NOW)


def test_a_conflict_row_refuses_changes_and_copies_are_plain_dicts() -> None:
    report = _report()
    row = report.conflicts["HOST"]
    for change in (lambda: row.__setitem__("a", "leak"), lambda: row.__delitem__("a"), row.clear,
                   lambda: row.pop("a"), row.popitem, lambda: row.setdefault("c", "3"),
                   lambda: row.update(a="x")):
        with pytest.raises(TypeError, match=r"read-only .* dict\(row\)"):
            change()
    assert report.conflicts["HOST"] == {"a": "one", "b": "two"}
    for copied in (dict(row), row.copy(), copy.copy(row), copy.deepcopy(row), pickle.loads(pickle.dumps(row))):
        assert type(copied) is dict and copied == {"a": "one", "b": "two"}
        copied["a"] = "changed"  # a copy can be changed, the report cannot
    assert report.conflicts["HOST"] == {"a": "one", "b": "two"}
    assert json.loads(json.dumps(report.conflicts)) == report.to_dict()["conflicts"]


def test_keys_that_show_the_same_values_share_a_row() -> None:
    snaps = {"a": {f"K{i}": "x" for i in range(10)}, "b": {f"K{i}": "y" for i in range(10)}}
    report = reconcile(snaps, OPTIONS, now=NOW)
    assert len({id(row) for row in report.conflicts.values()}) == 1
    assert report.to_dict()["conflicts"] == {f"K{i}": {"a": "x", "b": "y"} for i in range(10)}


@settings(max_examples=200, deadline=None)
@given(snapshots(), st.randoms(use_true_random=False))
def test_sorted_snapshots_give_the_report_of_any_other_order(snaps: dict[str, dict[str, str | None]],
                                                             rng: random.Random) -> None:
    # Sorted snapshots take the in-order reading; shuffled ones look each key up. Every key is
    # compared (as when most keys conflict), so both readings cover all of them.
    ordered = {name: dict(sorted(snap.items())) for name, snap in snaps.items()}
    shuffled = {name: dict(rng.sample(list(snap.items()), len(snap))) for name, snap in snaps.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reconciliation, "_mostly_conflicting", lambda *_: True)
        expected = reconcile(shuffled, OPTIONS, now=NOW)
        actual = reconcile(ordered, OPTIONS, now=NOW)
    assert json.dumps(actual.to_dict()) == json.dumps(expected.to_dict())


def test_the_in_order_reading_fills_the_keys_a_snapshot_lacks() -> None:
    keys = [f"K{i:03d}" for i in range(100)]
    snap = {key: key.lower() for key in keys if key not in ("K000", "K050", "K099")}
    column = reconciliation._aligned(snap, keys, ("K000", "K050", "K099"))
    assert column is not None
    assert [column[i] for i in (0, 50, 99)] == [reconciliation._ABSENT] * 3
    assert [value for value in column if value is not reconciliation._ABSENT] == list(snap.values())
    # Out of order: not read in order (the caller looks each key up instead).
    swapped = dict(reversed(list(snap.items())))
    assert reconciliation._aligned(swapped, keys, ("K000", "K050", "K099")) is None


def test_re_patterns_answer_the_same_when_re2_cannot_make_one_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import re2  # type: ignore[import-untyped]

    from genesis_core.patterns import compile_patterns

    patterns = ("re:^DB_", "re:_CERT$", "VITE_*")
    names = ["DB_URL", "TLS_CERT", "VITE_X", "HOST", "db_url", "CERT_TLS"]
    together = [bool(compile_patterns(patterns).match(name)) for name in names]

    def too_large(_self: object) -> None:
        raise re2.error("pattern too large - compile failed")

    monkeypatch.setattr(re2.Set, "Compile", too_large)  # as when the set exceeds RE2's memory budget
    apart = [bool(compile_patterns(patterns).match(name)) for name in names]
    assert together == apart == [True, True, True, False, False, False]
