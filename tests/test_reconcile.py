"""The reconciler against the seed's payloads and the issue's rules."""

from __future__ import annotations

import json
import re

import pytest

from genesis_core.reconciliation import DriftReport, ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy

NOW = "2025-10-11T22:43:00Z"
POLICY = SecretPolicy(fingerprint_key=b"k" * 32)
SHARED = {f"SHARED_{i:02d}": f"value-{i}" for i in range(39)}

SEED_DRIFT = {
    "verified_at": "2025-10-11T22:43:00Z",
    "has_drift": True,
    "missing_in_render": [],
    "missing_in_netlify": ["VAR_A", "VAR_B"],
    "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"],
    "conflicts": {"DEBUG": {"render": "false", "netlify": "true", "github": "<secret>"}},
    "summary": {"total_keys": 45, "drift_count": 5},
}


def _seed_drift_snapshots() -> dict[str, dict[str, str | None]]:
    render = {**SHARED, "DEBUG": "false", "VAR_A": "a", "VAR_B": "b", "AUTO_DIAGNOSE": "true",
              "CORS_ALLOW_ALL": "false"}
    render["EXTRA_ONE"] = "1"
    netlify = {key: value for key, value in render.items() if key not in ("VAR_A", "VAR_B")}
    netlify["DEBUG"] = "true"
    github = {key: None for key in render if key not in ("AUTO_DIAGNOSE", "CORS_ALLOW_ALL")}
    return {"render": render, "netlify": netlify, "github": github}


def test_seed_drift_example_is_reproduced() -> None:
    report = reconcile(_seed_drift_snapshots(), ReconcileOptions(secret_policy=POLICY), now=NOW)
    payload = report.to_dict()
    summary = payload.pop("summary")
    expected = dict(SEED_DRIFT)
    expected_summary = expected.pop("summary")
    assert payload == expected
    assert {k: summary[k] for k in expected_summary} == expected_summary
    assert summary == {"total_keys": 45, "github_count": 43, "netlify_count": 43, "render_count": 45,
                       "drift_count": 5}
    assert report.has_drift and report.drift_count == 5 and report.topic == "envsync.drift"


def test_seed_commit_example_has_no_drift_with_a_scoped_instance() -> None:
    full = {**SHARED, **{f"APP_{i}": str(i) for i in range(4)}, "WORKER_QUEUE": "jobs",
            "WORKER_CONCURRENCY": "4"}
    assert len(full) == 45
    frontend = {key: value for key, value in full.items() if not key.startswith("WORKER_")}
    github = dict.fromkeys(full)
    options = ReconcileOptions(secret_policy=POLICY, exclude={"netlify": ("WORKER_*",)})
    report = reconcile({"local": full, "render": dict(full), "netlify": frontend, "github": github},
                       options, now="2025-10-11T22:45:00Z")
    assert report.to_dict() == {
        "verified_at": "2025-10-11T22:45:00Z",
        "has_drift": False,
        "missing_in_github": [],
        "missing_in_local": [],
        "missing_in_netlify": [],
        "missing_in_render": [],
        "conflicts": {},
        "summary": {"total_keys": 45, "github_count": 45, "local_count": 45, "netlify_count": 43,
                    "render_count": 45, "drift_count": 0},
    }
    assert report.topic == "envsync.commit"


def test_missing_lists_keys_others_have_sorted() -> None:
    report = reconcile({"a": {"X": "1", "Z": "1"}, "b": {"Y": "1", "X": "1"}, "c": {}}, now=NOW)
    assert report.missing == {"a": ("Y",), "b": ("Z",), "c": ("X", "Y", "Z")}
    assert report.counts == {"a": 2, "b": 2, "c": 0}
    assert report.total_keys == 3 and report.drift_count == 5


def test_include_limits_an_instance_to_its_keys() -> None:
    snapshots = {
        "backend": {"DATABASE_URL": "postgres://db/app", "PORT": "8000"},
        "frontend": {"VITE_API_URL": "https://api.example.com", "PORT": "8000"},
    }
    options = ReconcileOptions(include={"frontend": ("VITE_*", "PORT")}, exclude={"backend": ("VITE_*",)})
    report = reconcile(snapshots, options, now=NOW)
    assert report.missing == {"backend": (), "frontend": ()}
    assert not report.has_drift
    assert report.counts == {"backend": 2, "frontend": 2}
    assert report.total_keys == 3


def test_out_of_scope_keys_are_not_counted_missing_or_compared() -> None:
    snapshots = {"api": {"VITE_MODE": "dev", "LOG": "1"}, "web": {"VITE_MODE": "prod", "LOG": "1"},
                 "worker": {"LOG": "1"}}
    report = reconcile(snapshots, ReconcileOptions(exclude={"api": ("VITE_*",)}), now=NOW)
    assert report.conflicts == {}
    assert report.missing == {"api": (), "web": (), "worker": ("VITE_MODE",)}
    assert report.counts["api"] == 1


def test_patterns_are_case_sensitive() -> None:
    snapshots = {"a": {"vite_x": "1", "VITE_Y": "1"}, "b": {}}
    report = reconcile(snapshots, ReconcileOptions(ignore=("VITE_*",)), now=NOW)
    assert report.missing["b"] == ("vite_x",)


def test_ignore_drops_keys_everywhere() -> None:
    snapshots = {"a": {"NODE_VERSION": "18", "TMP_A": "1", "KEEP": "x"},
                 "b": {"NODE_VERSION": "20", "KEEP": "x"}}
    report = reconcile(snapshots, ReconcileOptions(ignore=("NODE_VERSION", "TMP_*")), now=NOW)
    assert not report.has_drift
    assert report.total_keys == 1 and report.counts == {"a": 1, "b": 1}


def test_unreadable_values_never_conflict_by_themselves() -> None:
    report = reconcile({"a": {"K": None}, "b": {"K": "x"}, "c": {"K": None}}, now=NOW)
    assert report.conflicts == {} and not report.has_drift
    report = reconcile({"a": {"K": None}, "b": {"K": "x"}, "c": {"K": "x"}}, now=NOW)
    assert report.conflicts == {}


def test_conflicts_show_every_instance_holding_the_key_in_scope() -> None:
    snapshots = {"a": {"MODE": "x"}, "b": {"MODE": "y"}, "c": {"MODE": None}, "d": {"MODE": "x"},
                 "e": {"OTHER": "1"}}
    options = ReconcileOptions(secret_policy=POLICY, exclude={"d": ("MODE",)})
    report = reconcile(snapshots, options, now=NOW)
    assert report.conflicts == {"MODE": {"a": "x", "b": "y", "c": "<secret>"}}
    assert report.drift_count == len(report.conflicts) + sum(map(len, report.missing.values()))


def test_a_conflict_is_found_whichever_instances_disagree() -> None:
    snapshots = {"a": {"ONLY_A": "1"}, "b": {"K": "1"}, "c": {"K": "2"}, "d": {"K": None}}
    report = reconcile(snapshots, now=NOW)
    assert set(report.conflicts) == {"K"}


def test_secret_values_are_fingerprinted_never_shown() -> None:
    snapshots = {"render": {"API_KEY": "alpha-value", "DEBUG": "false"},
                 "netlify": {"API_KEY": "beta-value", "DEBUG": "true"}}
    report = reconcile(snapshots, ReconcileOptions(secret_policy=POLICY), now=NOW)
    assert report.conflicts["API_KEY"] == {"render": POLICY.fingerprint("alpha-value"),
                                           "netlify": POLICY.fingerprint("beta-value")}
    assert report.conflicts["DEBUG"] == {"render": "false", "netlify": "true"}
    text = json.dumps(report.to_dict())
    assert "alpha-value" not in text and "beta-value" not in text


def test_a_key_secret_on_one_instance_is_masked_on_all() -> None:
    token = "ghp_" + "Z9y8X7w6V5" * 4
    snapshots = {"a": {"NOTE": token, "FLAG": "on"}, "b": {"NOTE": "placeholder", "FLAG": "off"}}
    options = ReconcileOptions(secret_policy=POLICY, platform_secret_keys={"b": frozenset({"FLAG"})})
    report = reconcile(snapshots, options, now=NOW)
    assert report.conflicts["NOTE"] == {"a": POLICY.fingerprint(token), "b": POLICY.fingerprint("placeholder")}
    assert report.conflicts["FLAG"] == {"a": POLICY.fingerprint("on"), "b": POLICY.fingerprint("off")}


def test_mask_all_fingerprints_every_conflicting_value() -> None:
    policy = SecretPolicy(fingerprint_key=b"k" * 32, mask_all=True)
    report = reconcile({"a": {"DEBUG": "true"}, "b": {"DEBUG": "false"}},
                       ReconcileOptions(secret_policy=policy), now=NOW)
    assert report.conflicts["DEBUG"] == {"a": policy.fingerprint("true"), "b": policy.fingerprint("false")}


def test_default_policy_is_stable_within_the_process() -> None:
    snapshots = {"a": {"API_KEY": "one"}, "b": {"API_KEY": "two"}}
    first = reconcile(snapshots, now=NOW).to_dict()
    assert first == reconcile(snapshots, now=NOW).to_dict()
    assert re.fullmatch(r"<secret fp:[0-9a-f]{12}>", first["conflicts"]["API_KEY"]["a"])


def test_to_dict_shape_and_types() -> None:
    report = reconcile({"render": {"A": "1"}, "github": {"B": None}}, now=NOW)
    payload = report.to_dict()
    assert list(payload) == ["verified_at", "has_drift", "missing_in_github", "missing_in_render",
                             "conflicts", "summary"]
    assert payload["missing_in_github"] == ["A"] and isinstance(payload["missing_in_github"], list)
    assert list(payload["summary"]) == ["total_keys", "github_count", "render_count", "drift_count"]
    assert json.loads(json.dumps(payload)) == payload
    payload["missing_in_github"].append("mutated")
    assert report.to_dict()["missing_in_github"] == ["A"]


def test_verified_at_defaults_to_the_current_utc_time() -> None:
    report = reconcile({"a": {}, "b": {}})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", report.verified_at)


@pytest.mark.parametrize("snapshots", [{}, {"only": {"A": "1", "B": None}}])
def test_fewer_than_two_instances_have_no_drift(snapshots: dict) -> None:
    report = reconcile(snapshots, now=NOW)
    assert not report.has_drift and report.conflicts == {}
    assert report.total_keys == len(snapshots.get("only", {}))


@pytest.mark.parametrize("name", ["my-app", "1st", "", "has space", "drift", "café", 3])
def test_invalid_instance_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid platform instance name"):
        reconcile({name: {}, "ok": {}}, now=NOW)


def test_invalid_patterns_are_rejected_when_options_are_built() -> None:
    with pytest.raises(ValueError, match=r"include\['web'\].*re:\["):
        ReconcileOptions(include={"web": ("re:[",)})
    with pytest.raises(ValueError, match="ignore"):
        ReconcileOptions(ignore=("",))


def test_a_single_string_pattern_is_one_pattern() -> None:
    options = ReconcileOptions(ignore="TMP_*", exclude={"b": "VITE_*"})
    assert options.ignore == ("TMP_*",) and options.exclude == {"b": ("VITE_*",)}
    report = reconcile({"a": {"TMP_X": "1", "VITE_A": "1"}, "b": {}}, options, now=NOW)
    assert report.missing == {"a": (), "b": ()}


def test_report_is_a_frozen_value() -> None:
    report = reconcile({"a": {"X": "1"}, "b": {}}, now=NOW)
    assert isinstance(report, DriftReport)
    with pytest.raises(AttributeError):
        report.has_drift = False  # type: ignore[misc]


def test_public_export_is_the_function_even_after_the_module_is_imported() -> None:
    import genesis_core
    import genesis_core.sync
    from genesis_core import reconcile as exported

    assert exported is reconcile and callable(genesis_core.reconcile)
    assert genesis_core.DriftReport is DriftReport
