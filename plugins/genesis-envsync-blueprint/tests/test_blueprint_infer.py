"""``blueprint init``'s inference and TOML writer: no values written, and the result loads back."""

from __future__ import annotations

import tomllib

from _blueprint_support import CANARY, variables
from hypothesis import given
from hypothesis import strategies as st

from genesis_blueprint.infer import infer_schema, render_schema, toml_key, toml_string
from genesis_blueprint.rules import check_variables
from genesis_blueprint.schema import parse_schema
from genesis_core.api import Table

SNAPSHOTS = {
    "web": variables({"PORT": "8080", "DEBUG": "false", "SITE_URL": "https://shop.example",
                      "ADMIN_EMAIL": "ops@example.com", "STRIPE_SECRET_KEY": CANARY,
                      "GREETING": "hello world", "VITE_ONLY": "1", "GH_TOKEN": None}),
    "api": variables({"PORT": "9090", "DEBUG": "true", "SITE_URL": "https://shop.example",
                      "ADMIN_EMAIL": "ops@example.com", "STRIPE_SECRET_KEY": CANARY,
                      "GREETING": "hi", "DATABASE_URL": "postgres://app:" + CANARY + "@db/app",
                      "GH_TOKEN": None}),
}


def load(text: str):
    return parse_schema(Table(tomllib.loads(text), "genesis.schema.toml", ""))


def test_inferred_schema(policy) -> None:
    inferred = infer_schema(SNAPSHOTS, policy)
    assert inferred.instances == ("api", "web")
    assert inferred.min_keys == 9
    assert inferred.required == ("ADMIN_EMAIL", "DEBUG", "GH_TOKEN", "GREETING", "PORT", "SITE_URL",
                                 "STRIPE_SECRET_KEY")
    found = {item.key: (item.type, item.secret) for item in inferred.keys}
    assert found == {
        "ADMIN_EMAIL": ("email", False),
        "DATABASE_URL": ("url", True),
        "DEBUG": ("bool", False),
        "GH_TOKEN": (None, True),
        "PORT": ("int", False),
        "SITE_URL": ("url", False),
        "STRIPE_SECRET_KEY": (None, True),
        "VITE_ONLY": ("int", False),
    }


def test_written_schema_has_no_values_and_passes_its_own_check(policy) -> None:
    text = render_schema(infer_schema(SNAPSHOTS, policy), generated_at="2025-01-01T00:00:00.000Z")
    for value in (CANARY, "8080", "9090", "shop.example", "ops@example.com", "hello world", "postgres"):
        assert value not in text
    schema = load(text)
    assert schema.min_keys == 9
    assert schema.keys["PORT"].type == "int" and schema.keys["DATABASE_URL"].secret
    assert check_variables(schema, SNAPSHOTS, policy).ok


def test_check_after_init_catches_a_change(policy) -> None:
    schema = load(render_schema(infer_schema(SNAPSHOTS, policy), generated_at="now"))
    changed = {name: dict(held) for name, held in SNAPSHOTS.items()}
    changed["api"] = {**changed["api"], **variables({"PORT": "ninety"})}
    del changed["web"]["DEBUG"]
    result = check_variables(schema, changed, policy)
    assert sorted((v.rule, v.key, v.instance) for v in result.violations) == [
        ("required", "DEBUG", "web"), ("type", "PORT", "api")]


def test_keys_that_need_quoting() -> None:
    for key in ("my key", "a.b", '<script>"x"</script>', "tab\there", "ünïcode", "back\\slash", "del\x7f"):
        doc = tomllib.loads(f"[keys.{toml_key(key)}]\nx = {toml_string(key)}\n")
        assert list(doc["keys"]) == [key]
        assert doc["keys"][key]["x"] == key


@given(st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
    max_size=6))
def test_any_keys_round_trip_and_no_value_leaks(values: dict[str, str | None]) -> None:
    from genesis_core.api import SecretPolicy

    policy = SecretPolicy(fingerprint_key=b"blueprint-tests-key-0123456789ab")
    data = {"a": variables(values)}
    inferred = infer_schema(data, policy)
    text = render_schema(inferred, generated_at="now")
    schema = load(text) if values else None
    if schema is not None:
        assert set(schema.required) == set(values)
        assert check_variables(schema, data, policy).ok
    assert inferred.min_keys == len(values)
