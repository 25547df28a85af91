"""Every rule, checked on events (counts, missing keys) and on values (types, patterns, one_of)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _blueprint_support import CANARY, config_from, seed, variables

from genesis_blueprint.rules import (
    check_event,
    check_variables,
    event_instances,
    warning_payload,
)
from genesis_blueprint.schema import KeyRule, Schema, load_schema
from genesis_blueprint.valuetypes import infer_type, is_bool, is_email, is_int, is_url


@pytest.mark.parametrize(("check", "good", "bad"), [
    (is_int, ["0", "8080", "-3", "+7", "007"], ["", "8.0", "1e3", " 80", "80 ", "eighty", "1_000"]),
    (is_bool, ["true", "False", "1", "0", "yes", "NO", "on", "off"], ["", "2", "truthy", "y", " true"]),
    (is_url, ["https://example.com", "http://localhost:8000/x?y=1", "postgres://db.internal:5432/app",
              "redis://cache"], ["", "example.com", "https://", "/path", "http://exa mple.com", "https://[::1"]),
    (is_email, ["ops@example.com", "a.b+c@mail.example.org"], ["", "ops@", "@example.com", "ops@example",
                                                                "a b@example.com", "a@@example.com"]),
])
def test_type_checkers(check, good: list[str], bad: list[str]) -> None:
    assert [v for v in good if not check(v)] == []
    assert [v for v in bad if check(v)] == []


@pytest.mark.parametrize(("values", "expected"), [
    (["true", "False", "off"], "bool"),
    (["0", "1"], "int"),
    (["8080", "-1"], "int"),
    (["https://a.example", "redis://cache:6379"], "url"),
    (["ops@example.com"], "email"),
    (["8080", "http://x.example"], None),
    (["hello"], None),
    ([], None),
])
def test_infer_type(values: list[str], expected: str | None) -> None:
    assert infer_type(values) == expected


def rule(key: str, **kwargs) -> KeyRule:
    return KeyRule(key, **kwargs)


def schema_of(*rules: KeyRule, **kwargs) -> Schema:
    return Schema(keys={r.key: r for r in rules}, **kwargs)


@pytest.mark.parametrize(("key_rule", "good", "bad", "rule_name", "expected"), [
    (rule("PORT", type="int"), "8080", "http", "type", "int"),
    (rule("DEBUG", type="bool"), "false", "maybe", "type", "bool"),
    (rule("SITE", type="url"), "https://example.com", "example.com", "type", "url"),
    (rule("ADMIN", type="email"), "ops@example.com", "ops", "type", "email"),
    (rule("TAG", type="regex", pattern="v[0-9]+"), "v12", "v12-beta", "regex", "regex:v[0-9]+"),
    (rule("MODE", one_of=("dev", "prod")), "prod", "staging", "one_of", ["dev", "prod"]),
])
def test_each_value_rule(policy, key_rule: KeyRule, good: str, bad: str, rule_name: str, expected) -> None:
    schema = schema_of(key_rule)
    ok = check_variables(schema, {"a": variables({key_rule.key: good})}, policy)
    assert ok.ok and ok.violations == ()
    broken = check_variables(schema, {"a": variables({key_rule.key: good}),
                                      "b": variables({key_rule.key: bad})}, policy)
    assert [v.to_dict() for v in broken.violations] == [
        {"rule": rule_name, "key": key_rule.key, "instance": "b", "expected": expected, "actual": bad}]


def test_type_and_one_of_both_reported(policy) -> None:
    schema = schema_of(rule("PORT", type="int", one_of=("80", "443")))
    result = check_variables(schema, {"a": variables({"PORT": "http"})}, policy)
    assert sorted(v.rule for v in result.violations) == ["one_of", "type"]


def test_required_everywhere_and_per_platform(policy) -> None:
    schema = Schema(required=("DATABASE_URL",), keys={"PORT": rule("PORT", type="int", required=True)},
                    platforms={"web": ("VITE_API_URL",)})
    result = check_variables(schema, {
        "web": variables({"DATABASE_URL": "postgres://db/app", "PORT": "80"}),
        "api": variables({"PORT": "81"}),
    }, policy)
    assert sorted((v.rule, v.key, v.instance) for v in result.violations) == [
        ("platform_required", "VITE_API_URL", "web"),
        ("required", "DATABASE_URL", "api"),
    ]
    assert all((v.expected, v.actual) == ("present", "missing") for v in result.violations)


def test_required_key_absent_everywhere_is_found_on_values(policy) -> None:
    result = check_variables(Schema(required=("SENTRY_DSN",)), {"a": variables({"X": "1"}),
                                                                 "b": variables({"X": "1"})}, policy)
    assert {(v.key, v.instance) for v in result.violations} == {("SENTRY_DSN", "a"), ("SENTRY_DSN", "b")}


def test_min_keys_counts_the_union(policy) -> None:
    schema = Schema(min_keys=4)
    vars_a, vars_b = variables({"A": "1", "B": "1"}), variables({"B": "1", "C": "1"})
    result = check_variables(schema, {"a": vars_a, "b": vars_b}, policy)
    assert [v.to_dict() for v in result.violations] == [
        {"rule": "min_keys", "key": None, "instance": None, "expected": 4, "actual": 3}]
    assert check_variables(Schema(min_keys=3), {"a": vars_a, "b": vars_b}, policy).ok


def test_out_of_scope_key_is_not_required(policy) -> None:
    schema = Schema(required=("VITE_API_URL",))
    data = {"web": variables({"VITE_API_URL": "https://api.example"}), "api": variables({})}
    assert not check_variables(schema, data, policy).ok
    scoped = check_variables(schema, data, policy,
                             in_scope=lambda inst, key: not (inst == "api" and key.startswith("VITE_")))
    assert scoped.ok


def test_unreadable_values_are_listed_not_guessed(policy) -> None:
    schema = schema_of(rule("PORT", type="int"))
    result = check_variables(schema, {"gh": variables({"PORT": None}), "a": variables({"PORT": "1"})}, policy)
    assert result.ok
    assert result.unchecked == (("PORT", "gh"),)


def test_secret_values_are_never_shown(policy) -> None:
    schema = schema_of(rule("STRIPE_KEY", type="int"), rule("PLAIN", type="int", secret=True),
                       rule("MARKED", type="int"))
    result = check_variables(schema, {"a": variables(
        {"STRIPE_KEY": CANARY, "PLAIN": "not-a-number", "MARKED": "visible-elsewhere"},
        secret=frozenset({"MARKED"}))}, policy)
    shown = {v.key: v.actual for v in result.violations}
    assert shown == {"STRIPE_KEY": policy.fingerprint(CANARY),
                     "PLAIN": policy.fingerprint("not-a-number"),
                     "MARKED": policy.fingerprint("visible-elsewhere")}
    payload = warning_payload(result, schema, source={"command": "test"})
    assert CANARY not in repr(payload) and "not-a-number" not in repr(payload)


def test_event_check_uses_missing_lists_and_total(tmp_path: Path) -> None:
    config = config_from(tmp_path, """
        [engines.blueprint]
        min_keys = 50
        required = ["AUTO_DIAGNOSE", "DEBUG"]
        [engines.blueprint.platforms.netlify]
        required = ["VAR_A"]
        [engines.blueprint.keys.PORT]
        type = "int"
    """)
    result = check_event(load_schema(config), seed("drift"))
    assert result.instances == ("render", "netlify", "github")
    assert result.total_keys == 45
    assert sorted((v.rule, v.key, v.instance, v.expected, v.actual) for v in result.violations) == [
        ("min_keys", None, None, 50, 45),
        ("platform_required", "VAR_A", "netlify", "present", "missing"),
        ("required", "AUTO_DIAGNOSE", "github", "present", "missing"),
    ]


def test_event_check_of_a_clean_commit_is_ok() -> None:
    assert check_event(Schema(min_keys=40, required=("A",)), seed("commit")).ok


def test_event_instances_fall_back_to_payload_fields() -> None:
    payload = seed("drift")
    del payload["instances"]
    assert event_instances(payload) == ("github", "netlify", "render")
    only_summary = {"summary": {"total_keys": 3, "web_count": 3, "api_count": 2, "drift_count": 1}}
    assert event_instances(only_summary) == ("api", "web")
    assert event_instances({}) == ()


def test_event_check_tolerates_odd_payloads() -> None:
    schema = Schema(min_keys=10, required=("A",))
    odd = {"summary": {"total_keys": "many"}, "missing_in_x": "A", "instances": ["x"]}
    assert check_event(schema, odd).ok
    assert check_event(schema, {"summary": {"total_keys": True}}).ok


def test_warning_payload_matches_the_seed_shape() -> None:
    result = check_event(Schema(min_keys=50, source="/p/genesis.schema.toml"), seed("commit"))
    payload = warning_payload(result, Schema(min_keys=50, source="/p/genesis.schema.toml"),
                              source={"topic": "envsync.commit", "seq": 7, "event_id": "e"})
    assert payload["type"] == "schema_drift"
    assert (payload["expected"], payload["actual"]) == (50, 45)
    assert payload["violations"] == [{"rule": "min_keys", "key": None, "instance": None,
                                      "expected": 50, "actual": 45}]
    assert payload["schema"] == "genesis.schema.toml"
    assert payload["source"] == {"topic": "envsync.commit", "seq": 7, "event_id": "e"}
