"""The Fly adapter against the Fly emulator: write-only secrets, token schemes, one-secret staged writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genesis_core.api import STAGED, ConfigError, FetchContext, PlatformError
from genesis_core.testing import Fault, Request, Response
from genesis_fly.adapter import FlyAdapter, authorization
from genesis_fly.emulator import FlyEmulator
from genesis_fly.testing import APP, fetch, make_adapter, token_env, write

CANARY = "canary-fly-value-6d2a"
BULK = rf"/v1/apps/{APP}/secrets"


def bulk_or_delete(emulator: FlyEmulator) -> list[Request]:
    """Return every request to the bulk endpoint (where a null deletes) and every DELETE."""
    return emulator.requests_matching("POST", BULK) + emulator.requests_matching("DELETE", r".*")


def assert_clean(error: PlatformError, emulator: FlyEmulator) -> None:
    text = f"{error} {error!r} {error.reason}"
    assert str(error).startswith("fly: ")
    assert emulator.token not in text and CANARY not in text


# -- reading -------------------------------------------------------------------------------------

def test_fetch_lists_every_secret_present_with_an_unknown_value(emulator: FlyEmulator) -> None:
    emulator.set_secrets(APP, {"API_KEY": CANARY, "DATABASE_URL": "postgres://x", "lower_case": "v"})
    snapshot = fetch(make_adapter(emulator), token_env(emulator))
    assert snapshot.values() == {"API_KEY": None, "DATABASE_URL": None, "lower_case": None}
    assert snapshot.secret_keys() == {"API_KEY", "DATABASE_URL", "lower_case"}
    assert {v.scope for v in snapshot.variables.values()} == {f"app:{APP}"}
    [request] = emulator.requests
    assert request.path == f"/v1/apps/{APP}/secrets" and request.query == {}  # never show_secrets


def test_list_secrets_exposes_updated_at_and_a_write_moves_it(emulator: FlyEmulator) -> None:
    import asyncio

    emulator.set_secrets(APP, {"API_KEY": "one", "OTHER": "x"})
    adapter = make_adapter(emulator)

    async def listed() -> dict[str, Any]:
        ctx = FetchContext(env=token_env(emulator))
        try:
            return {s.name: s for s in await adapter.list_secrets(ctx)}
        finally:
            await ctx.aclose()

    before = asyncio.run(listed())
    assert before["API_KEY"].updated_at == emulator.listing(APP)["API_KEY"]["updated_at"]
    assert "digest" not in repr(before["API_KEY"])
    write(adapter, token_env(emulator), "API_KEY", "two")
    after = asyncio.run(listed())
    assert after["API_KEY"].updated_at > before["API_KEY"].updated_at
    assert after["API_KEY"].created_at == before["API_KEY"].created_at
    assert after["OTHER"].updated_at == before["OTHER"].updated_at


@pytest.mark.parametrize(("body", "expected"), [
    ({"secrets": [{"name": "A"}, {"name": "A"}]}, "listed twice"),
    ({"secrets": [{"digest": "d"}]}, 'no string "name"'),
    ({"secrets": [{"name": "A", "updated_at": 5}]}, '"updated_at" of secret'),
    ({"secrets": [{"name": "A", "value": CANARY}]}, "returned a value"),
    ({"secret": []}, '"secrets" list'),
], ids=["duplicate", "no-name", "bad-stamp", "value", "wrong-key"])
def test_answers_of_the_wrong_shape_are_errors(emulator: FlyEmulator, body: Any, expected: str) -> None:
    emulator.route_first("GET", BULK, lambda request, match: Response(200, body))
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert expected in str(caught.value)
    assert_clean(caught.value, emulator)


# -- tokens ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("token", "header"), [
    ("fm2_abc", "FlyV1 fm2_abc"),
    ("FlyV1 fm2_abc,fm2_def", "FlyV1 fm2_abc,fm2_def"),
    ("fm1r_abc", "FlyV1 fm1r_abc"),
    ("fm1a_abc, oauth-token", "FlyV1 fm1a_abc"),
    ("Bearer legacy-token", "Bearer legacy-token"),
    ("legacy-token", "Bearer legacy-token"),
])
def test_the_authorization_scheme_follows_the_token_form(token: str, header: str) -> None:
    assert authorization(token) == header


def test_a_macaroon_is_sent_as_flyv1_and_accepted(emulator: FlyEmulator) -> None:
    fetch(make_adapter(emulator), token_env(emulator))
    assert emulator.requests[0].headers["authorization"] == f"FlyV1 {emulator.token}"


def test_a_legacy_token_is_sent_as_bearer_and_accepted() -> None:
    with FlyEmulator(token="legacy-token-7c1d") as emulator:
        emulator.add_app(APP, {"A": "1"})
        assert fetch(make_adapter(emulator), token_env(emulator)).values() == {"A": None}
        assert emulator.requests[0].headers["authorization"] == "Bearer legacy-token-7c1d"


def test_a_macaroon_sent_as_bearer_is_refused(emulator: FlyEmulator) -> None:
    response = httpx.get(f"{emulator.base_url}/v1/apps/{APP}/secrets",
                         headers={"Authorization": f"Bearer {emulator.token}"})
    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})


# -- errors ---------------------------------------------------------------------------------------

def test_unknown_app_is_a_404_naming_it(emulator: FlyEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, app="no-such-app"), token_env(emulator))
    assert caught.value.status == 404
    assert "app not found" in str(caught.value) and "fly app no-such-app" in str(caught.value)
    assert_clean(caught.value, emulator)


def test_wrong_token_names_the_variable(emulator: FlyEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), {"FLY_API_TOKEN": "fm2_wrong-" + CANARY})
    assert caught.value.status == 401 and "FLY_API_TOKEN" in str(caught.value)
    assert_clean(caught.value, emulator)


def test_429_is_waited_out_then_retried(emulator: FlyEmulator, waits: list[float]) -> None:
    emulator.set_secrets(APP, {"A": "1"})
    emulator.throttle(1)
    assert fetch(make_adapter(emulator), token_env(emulator)).values() == {"A": None}
    emulator.throttle(1, retry_after="2")
    fetch(make_adapter(emulator), token_env(emulator))
    assert waits == [1.0, 2.0]  # no hint: the core's one second; Retry-After when Fly sends it


@pytest.mark.parametrize("app", ["-acme", "a/b", "has space", "x" * 101])
def test_bad_app_names_are_config_errors(emulator: FlyEmulator, app: str) -> None:
    with pytest.raises(ConfigError, match="platforms.fly.app"):
        make_adapter(emulator, app=app)


# -- writing: one secret, staged, never the bulk endpoint or a delete ------------------------------

def test_write_posts_one_secret_and_leaves_every_other_alone(emulator: FlyEmulator) -> None:
    emulator.add_app(APP, {"KEEP": "k", "CHANGE": "before"})
    adapter = make_adapter(emulator)
    write(adapter, token_env(emulator), "CHANGE", "after", secret=True)
    write(adapter, token_env(emulator), "NEW_KEY", CANARY)

    posts = emulator.requests_matching("POST", r".*")
    assert [(r.path, r.json()) for r in posts] == [
        (f"/v1/apps/{APP}/secrets/CHANGE", {"value": "after"}),
        (f"/v1/apps/{APP}/secrets/NEW_KEY", {"value": CANARY}),
    ]
    assert emulator.secrets(APP) == {"KEEP": "k", "CHANGE": "after", "NEW_KEY": CANARY}
    assert bulk_or_delete(emulator) == []


def test_a_write_is_staged_until_the_app_is_deployed(emulator: FlyEmulator) -> None:
    emulator.add_app(APP, {"CHANGE": "before"})
    write(make_adapter(emulator), token_env(emulator), "CHANGE", "after")
    assert emulator.secrets(APP) == {"CHANGE": "after"}
    assert emulator.machine_env(APP) == {"CHANGE": "before"}  # Genesis deploys nothing
    assert all("/machines" not in r.path and "deploy" not in r.path for r in emulator.requests)
    emulator.deploy(APP)
    assert emulator.machine_env(APP) == {"CHANGE": "after"}


def test_write_effect_says_staged_until_the_next_deploy(emulator: FlyEmulator) -> None:
    effect = make_adapter(emulator).write_effect("ANY")
    assert (effect.kind, effect.note) == (STAGED, "staged: effective at the next deploy")


def test_the_bulk_endpoint_deletes_on_null_which_is_why_genesis_never_calls_it(emulator: FlyEmulator) -> None:
    emulator.add_app(APP, {"KEEP": "k", "OTHER": "o"})
    response = httpx.post(f"{emulator.base_url}/v1/apps/{APP}/secrets", json={"values": {"KEEP": None, "NEW": "n"}},
                          headers={"Authorization": f"FlyV1 {emulator.token}"})
    assert response.status_code == 200 and "version" in response.json()
    assert emulator.secrets(APP) == {"OTHER": "o", "NEW": "n"}


@pytest.mark.parametrize("key", ["HAS-DASH", "has space", "9LIVES", ""])
def test_names_that_are_not_environment_variables_are_refused(emulator: FlyEmulator, key: str) -> None:
    with pytest.raises(PlatformError, match="letters, digits, underscores"):
        write(make_adapter(emulator), token_env(emulator), key, "v")
    assert emulator.requests == []


def test_a_failed_write_is_an_error_that_leaks_nothing(emulator: FlyEmulator) -> None:
    emulator.inject(Fault("status", status=500))
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator, retries=0), token_env(emulator), "NEW_KEY", CANARY)
    assert_clean(caught.value, emulator)
    assert emulator.secrets(APP) == {}


class BulkWriter(FlyAdapter):
    """What Genesis must never do: write through the bulk endpoint (a null there deletes)."""

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        await self.request(ctx, "POST", self._secrets_path(), json_body={"values": {key: value}})


def test_the_no_bulk_check_fails_for_an_adapter_that_uses_the_bulk_endpoint(emulator: FlyEmulator) -> None:
    broken = BulkWriter(make_adapter(emulator).instance)
    write(broken, token_env(emulator), "NEW_KEY", "v")
    assert emulator.secrets(APP) == {"NEW_KEY": "v"}  # it "works", which is why a test must look at the requests
    assert [r.path for r in bulk_or_delete(emulator)] == [BULK]
