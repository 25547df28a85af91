"""The Netlify adapter against the Netlify emulator: contexts, secrets, errors, surgical writes."""

from __future__ import annotations

from typing import Any

import pytest

from genesis_core.api import ConfigError, PlatformError
from genesis_core.testing import Fault, Request, Response
from genesis_netlify.emulator import NetlifyEmulator
from genesis_netlify.testing import (
    ACCOUNT_ID,
    SITE_ID,
    fetch,
    make_adapter,
    token_env,
    write,
)

CANARY = "canary-value-41d7aa"
ENV = rf"/api/v1/accounts/{ACCOUNT_ID}/env"


def assert_clean(error: PlatformError, emulator: NetlifyEmulator) -> None:
    """The error names the instance and carries neither the token nor a value."""
    text = f"{error} {error!r} {error.reason}"
    assert str(error).startswith("netlify-prod: ")
    assert emulator.token not in text
    assert CANARY not in text


def seed_contexts(emulator: NetlifyEmulator) -> None:
    emulator.set_var(ACCOUNT_ID, SITE_ID, "A", {"production": "a-prod", "all": "a-all"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "B", {"all": "b-all"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "C", {"deploy-preview": "c-preview"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "D", {"branch:staging": "d-staging", "branch-deploy": "d-branches"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "E", {"branch-deploy": "e-branches", "dev": "e-dev"})


# -- reading -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "expected"), [
    ({}, {"A": "a-prod", "B": "b-all"}),
    ({"context": "deploy-preview"}, {"A": "a-all", "B": "b-all", "C": "c-preview"}),
    ({"context": "branch-deploy"}, {"A": "a-all", "B": "b-all", "D": "d-branches", "E": "e-branches"}),
    ({"context": "branch", "branch": "staging"}, {"A": "a-all", "B": "b-all", "D": "d-staging",
                                                  "E": "e-branches"}),
    ({"context": "branch", "branch": "feature-x"}, {"A": "a-all", "B": "b-all", "D": "d-branches",
                                                    "E": "e-branches"}),
    ({"context": "dev"}, {"A": "a-all", "B": "b-all", "E": "e-dev"}),
    ({"context": "all"}, {"A": "a-all", "B": "b-all"}),
], ids=["production", "deploy-preview", "branch-deploy", "branch-staging", "branch-other", "dev", "all"])
def test_value_for_the_context_falls_back_to_all(emulator: NetlifyEmulator, table: dict[str, str],
                                                 expected: dict[str, str]) -> None:
    seed_contexts(emulator)
    snapshot = fetch(make_adapter(emulator, **table), token_env(emulator))
    assert snapshot.values() == expected
    assert snapshot.secret_keys() == frozenset()


def test_scope_says_which_context_the_value_came_from(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    snapshot = fetch(make_adapter(emulator, context="branch", branch="staging"), token_env(emulator))
    scopes = {key: var.scope for key, var in snapshot.variables.items()}
    assert scopes == {"A": "all", "B": "all", "D": "branch:staging", "E": "branch-deploy"}


def test_fetch_is_one_request_for_the_site(emulator: NetlifyEmulator) -> None:
    emulator.set_env(ACCOUNT_ID, SITE_ID, {f"K{i:03d}": f"v{i}" for i in range(250)})
    snapshot = fetch(make_adapter(emulator), token_env(emulator))
    assert len(snapshot) == 250
    [request] = emulator.requests
    assert (request.method, request.path) == ("GET", ENV)
    assert request.query == {"site_id": [SITE_ID]}


def test_secret_values_are_unreadable_except_in_dev(emulator: NetlifyEmulator) -> None:
    emulator.set_var(ACCOUNT_ID, SITE_ID, "SECRET", {"production": CANARY, "dev": "local-dev"}, secret=True)
    emulator.set_var(ACCOUNT_ID, SITE_ID, "PLAIN", {"all": "p"})

    production = fetch(make_adapter(emulator), token_env(emulator))
    assert production.values() == {"SECRET": None, "PLAIN": "p"}
    assert production.secret_keys() == frozenset({"SECRET"})
    assert CANARY not in repr(production) + repr(list(production.variables.values()))

    dev = fetch(make_adapter(emulator, context="dev"), token_env(emulator))
    assert dev.values() == {"SECRET": "local-dev", "PLAIN": "p"}
    assert dev.variables["SECRET"].secret is True

    preview = fetch(make_adapter(emulator, context="deploy-preview"), token_env(emulator))
    assert preview.values() == {"PLAIN": "p"}  # no deploy-preview or all value: absent


# -- rate limits and retries ----------------------------------------------------------------------

def test_429_with_retry_after_is_honoured(emulator: NetlifyEmulator, waits: list[float]) -> None:
    emulator.set_env(ACCOUNT_ID, SITE_ID, {"A": "1"})
    emulator.throttle(2, retry_after=1)
    assert fetch(make_adapter(emulator), token_env(emulator)).values() == {"A": "1"}
    assert waits == [1.0, 1.0]
    assert len(emulator.requests) == 3


def test_429_without_retry_after_waits_for_x_ratelimit_reset(emulator: NetlifyEmulator,
                                                             waits: list[float]) -> None:
    emulator.throttle(1, reset_in=2)
    fetch(make_adapter(emulator), token_env(emulator))
    [wait] = waits
    assert 0.0 < wait <= 2.0  # the epoch reset, seen from the client's clock
    assert len(emulator.requests) == 2


def test_rate_limit_that_never_lifts_is_an_error(emulator: NetlifyEmulator) -> None:
    emulator.throttle(10, retry_after=0)
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert "rate limited (HTTP 429)" in str(caught.value)
    assert len(emulator.requests) == 3
    assert_clean(caught.value, emulator)


# -- errors ---------------------------------------------------------------------------------------



@pytest.mark.parametrize("table", [{"site_id": "no-such-site"}, {"account_id": "no-such-team"}],
                         ids=["site", "account"])
def test_unknown_site_or_account_is_a_404_naming_the_instance(emulator: NetlifyEmulator,
                                                              table: dict[str, str]) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, **table), token_env(emulator))
    assert caught.value.status == 404
    assert "netlify site" in str(caught.value)
    assert_clean(caught.value, emulator)


class ScriptedList(NetlifyEmulator):
    """A Netlify emulator whose env list answer is fixed."""

    def __init__(self, body: Any, **kwargs: Any) -> None:
        self.body = body
        super().__init__(**kwargs)

    def register_routes(self) -> None:
        self.route("GET", r"/api/v1/accounts/[^/]+/env", lambda request, match: Response(200, self.body))


def env_var(key: str = "A", values: Any = None, **extra: Any) -> dict[str, Any]:
    if values is None:
        values = [{"id": "1", "context": "all", "value": "v"}]
    return {"key": key, "values": values, "is_secret": False, **extra}


@pytest.mark.parametrize(("body", "expected"), [
    ({"A": "v"}, "not a JSON list"),
    (None, "not a JSON list"),
    (["A"], "item 0 is not an object"),
    ([{"values": []}], "item 0 has no string key"),
    ([{"key": "A", "values": None}], "'A' has no values list"),
    ([env_var(values=[{"value": "v"}])], "has no string context"),
    ([env_var(values=[{"context": "all"}])], "all value of 'A' is not a string"),
    ([env_var(values=[{"context": "all", "value": 3}])], "all value of 'A' is not a string"),
    ([env_var(is_secret="yes")], "is_secret of 'A'"),
    ([env_var(values=[{"context": "branch", "context_parameter": 7, "value": "v"}])], "context_parameter"),
    ([env_var(), env_var()], "'A' is listed twice"),
], ids=["object", "empty-body", "string-item", "no-key", "values-null", "no-context", "no-value",
        "number-value", "is_secret-string", "parameter-number", "duplicate"])
def test_a_list_of_the_wrong_shape_is_an_error_not_an_empty_snapshot(waits: list[float], body: Any,
                                                                     expected: str) -> None:
    with ScriptedList(body, token="nfp_TOKEN_canary_5c2e8") as server, pytest.raises(PlatformError) as caught:
        fetch(make_adapter(server), token_env(server))  # type: ignore[arg-type]
    assert expected in str(caught.value)
    assert str(caught.value).startswith("netlify-prod: ")


def test_masked_secret_without_a_value_field_is_not_a_shape_error(waits: list[float]) -> None:
    body = [env_var("S", [{"id": "1", "context": "production"}], is_secret=True)]
    with ScriptedList(body, token="t") as server:
        snapshot = fetch(make_adapter(server), {"NETLIFY_AUTH_TOKEN": "t"})  # type: ignore[arg-type]
    assert snapshot.values() == {"S": None}


# -- writing --------------------------------------------------------------------------------------

def writes(emulator: NetlifyEmulator) -> list[Request]:
    return [r for r in emulator.requests if r.method != "GET"]


def test_write_existing_key_patches_only_this_context(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    before = emulator.snapshot_state()
    write(make_adapter(emulator), token_env(emulator), "A", CANARY)

    assert emulator.values(ACCOUNT_ID, SITE_ID, "A") == {"production": CANARY, "all": "a-all"}
    [patch] = writes(emulator)
    assert (patch.method, patch.path, patch.query) == ("PATCH", f"{ENV}/A", {"site_id": [SITE_ID]})
    assert patch.json() == {"context": "production", "value": CANARY}
    after = emulator.snapshot_state()
    site_before, site_after = before[ACCOUNT_ID][SITE_ID], after[ACCOUNT_ID][SITE_ID]
    assert {k: v for k, v in site_after.items() if k != "A"} == {k: v for k, v in site_before.items() if k != "A"}


def test_write_adds_a_context_value_next_to_all(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    write(make_adapter(emulator), token_env(emulator), "B", "b-prod")
    assert emulator.values(ACCOUNT_ID, SITE_ID, "B") == {"all": "b-all", "production": "b-prod"}
    assert fetch(make_adapter(emulator, context="deploy-preview"), token_env(emulator)).values()["B"] == "b-all"
    assert fetch(make_adapter(emulator), token_env(emulator)).values()["B"] == "b-prod"


def test_write_new_key_creates_it_with_this_context_only(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    write(make_adapter(emulator, context="deploy-preview"), token_env(emulator), "NEW", "n")

    assert emulator.values(ACCOUNT_ID, SITE_ID, "NEW") == {"deploy-preview": "n"}
    assert not emulator.is_secret(ACCOUNT_ID, SITE_ID, "NEW")
    patch, post = writes(emulator)
    assert (patch.method, post.method) == ("PATCH", "POST")
    assert (post.path, post.query) == (ENV, {"site_id": [SITE_ID]})
    assert post.json() == [{"key": "NEW", "values": [{"context": "deploy-preview", "value": "n"}],
                            "is_secret": False}]
    assert fetch(make_adapter(emulator), token_env(emulator)).values().get("NEW") is None


def test_write_new_secret_creates_a_secret_outside_post_processing(emulator: NetlifyEmulator) -> None:
    adapter = make_adapter(emulator)
    write(adapter, token_env(emulator), "TOKEN", CANARY, secret=True)

    assert emulator.is_secret(ACCOUNT_ID, SITE_ID, "TOKEN")
    assert emulator.values(ACCOUNT_ID, SITE_ID, "TOKEN") == {"production": CANARY}
    post = writes(emulator)[-1]
    assert post.json()[0]["scopes"] == ["builds", "functions", "runtime"]
    snapshot = fetch(adapter, token_env(emulator))
    assert snapshot.values() == {"TOKEN": None}
    assert snapshot.secret_keys() == frozenset({"TOKEN"})


@pytest.mark.parametrize("context", ["all", "dev", "dev-server"])
def test_new_secret_in_a_context_netlify_refuses_is_an_error(emulator: NetlifyEmulator, context: str) -> None:
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator, context=context), token_env(emulator), "TOKEN", CANARY, secret=True)
    assert f"cannot create secret 'TOKEN' in the {context!r} context" in str(caught.value)
    assert_clean(caught.value, emulator)
    assert [r.method for r in writes(emulator)] == ["PATCH"]  # looked for the key, created nothing
    assert emulator.keys(ACCOUNT_ID, SITE_ID) == []


def test_write_existing_secret_keeps_it_secret_and_other_contexts(emulator: NetlifyEmulator) -> None:
    emulator.set_var(ACCOUNT_ID, SITE_ID, "S", {"production": "old", "deploy-preview": "keep"}, secret=True)
    write(make_adapter(emulator), token_env(emulator), "S", CANARY, secret=True)
    assert emulator.values(ACCOUNT_ID, SITE_ID, "S") == {"production": CANARY, "deploy-preview": "keep"}
    assert emulator.is_secret(ACCOUNT_ID, SITE_ID, "S")


def test_write_to_all_on_an_existing_secret_is_netlifys_400(emulator: NetlifyEmulator) -> None:
    emulator.set_var(ACCOUNT_ID, SITE_ID, "S", {"production": "old"}, secret=True)
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator, context="all"), token_env(emulator), "S", CANARY, secret=True)
    assert caught.value.status == 400
    assert "per deploy context" in str(caught.value)
    assert_clean(caught.value, emulator)
    assert emulator.values(ACCOUNT_ID, SITE_ID, "S") == {"production": "old"}


def test_branch_write_sends_the_branch_as_context_parameter(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    adapter = make_adapter(emulator, context="branch", branch="staging")
    write(adapter, token_env(emulator), "D", "d-new")
    write(adapter, token_env(emulator), "NEW", "n")

    assert emulator.values(ACCOUNT_ID, SITE_ID, "D") == {"branch:staging": "d-new", "branch-deploy": "d-branches"}
    assert emulator.values(ACCOUNT_ID, SITE_ID, "NEW") == {"branch:staging": "n"}
    patch = writes(emulator)[0]
    assert patch.json() == {"context": "branch", "context_parameter": "staging", "value": "d-new"}
    assert fetch(adapter, token_env(emulator)).values()["NEW"] == "n"


def test_writes_never_use_put_or_delete(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    adapter = make_adapter(emulator)
    for key in ("A", "B", "C", "NEW"):
        write(adapter, token_env(emulator), key, f"{key}-x")
    assert {r.method for r in writes(emulator)} <= {"PATCH", "POST"}
    assert emulator.values(ACCOUNT_ID, SITE_ID, "C") == {"deploy-preview": "c-preview", "production": "C-x"}


def test_write_round_trip(emulator: NetlifyEmulator) -> None:
    adapter = make_adapter(emulator)
    value = "multi\nline = 'q' \u2713"
    write(adapter, token_env(emulator), "RT", value)
    assert fetch(adapter, token_env(emulator)).values() == {"RT": value}
    write(adapter, token_env(emulator), "RT", "second")
    assert fetch(adapter, token_env(emulator)).values() == {"RT": "second"}


def test_write_that_keeps_failing_is_an_error_and_changes_nothing(emulator: NetlifyEmulator) -> None:
    seed_contexts(emulator)
    before = emulator.snapshot_state()
    emulator.inject(Fault("status", status=500))
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator), token_env(emulator), "A", CANARY)
    assert caught.value.status == 500
    assert_clean(caught.value, emulator)
    assert emulator.snapshot_state() == before


def test_write_to_an_unknown_site_is_an_error(emulator: NetlifyEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator, site_id="no-such-site"), token_env(emulator), "A", CANARY)
    assert caught.value.status == 404
    assert [r.method for r in writes(emulator)] == ["PATCH", "POST"]


def test_write_with_a_bad_token_fails_without_leaking(emulator: NetlifyEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator), {"NETLIFY_AUTH_TOKEN": "nope"}, "A", CANARY)
    assert caught.value.status == 401
    assert_clean(caught.value, emulator)
    assert emulator.keys(ACCOUNT_ID, SITE_ID) == []


# -- configuration --------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["account_id", "site_id"])
def test_account_and_site_are_required(emulator: NetlifyEmulator, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, **{key: None})
    assert f"genesis.toml: platforms.netlify-prod.{key}: is required" in str(caught.value)


def test_context_must_be_a_netlify_context(emulator: NetlifyEmulator) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, context="prod")
    assert "platforms.netlify-prod.context: expected one of production" in str(caught.value)


def test_branch_context_needs_a_branch_and_only_it_takes_one(emulator: NetlifyEmulator) -> None:
    with pytest.raises(ConfigError) as missing:
        make_adapter(emulator, context="branch")
    assert "platforms.netlify-prod.branch: is required when context" in str(missing.value)
    with pytest.raises(ConfigError) as stray:
        make_adapter(emulator, branch="staging")
    assert "platforms.netlify-prod.branch: only applies" in str(stray.value)


def test_ids_must_be_path_safe(emulator: NetlifyEmulator) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, site_id="../sites/other")
    assert "platforms.netlify-prod.site_id" in str(caught.value)


def test_describe_names_site_account_and_context(emulator: NetlifyEmulator) -> None:
    adapter = make_adapter(emulator, context="branch", branch="staging")
    assert adapter.describe() == f"netlify site {SITE_ID} (account {ACCOUNT_ID}, context branch:staging)"
