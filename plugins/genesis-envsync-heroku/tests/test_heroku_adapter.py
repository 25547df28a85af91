"""The Heroku adapter against the Heroku emulator: add-on variables, one-release batches, never a null."""

from __future__ import annotations

from typing import Any

import pytest

from genesis_core.api import RESTART, ConfigError, PlatformError, VariableWrite
from genesis_core.testing import Fault, Response
from genesis_heroku import adapter as adapter_module
from genesis_heroku.emulator import HerokuEmulator
from genesis_heroku.testing import (
    APP,
    fetch,
    make_adapter,
    patches,
    token_env,
    write,
    write_batch,
)

CANARY = "canary-value-3e7b91"
DB_URL = "postgres://u:pw-7d1c@db.example:5432/app"


def assert_clean(error: PlatformError, emulator: HerokuEmulator) -> None:
    text = f"{error} {error!r} {error.reason}"
    assert str(error).startswith("heroku: ")
    assert emulator.token not in text and CANARY not in text and DB_URL not in text


def answer_attachments_with(emulator: HerokuEmulator, answer: Any) -> None:
    """Make ``GET .../addon-attachments`` answer ``answer(request)`` (a Response) before the real route."""
    emulator.route_first("GET", r"/apps/[^/]+/addon-attachments", lambda request, match: answer(request))


def assert_no_null_ever_sent(emulator: HerokuEmulator) -> None:
    """Heroku deletes a key sent as null: no PATCH the adapter sent may hold one."""
    for body in patches(emulator.requests):
        assert isinstance(body, dict) and body, body
        assert all(isinstance(value, str) for value in body.values()), f"a null (or non-string) was sent: {body}"


# -- reading -------------------------------------------------------------------------------------

def test_fetch_reads_every_config_var_and_marks_add_on_variables_managed(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"PORT": "8080", "LOG_LEVEL": "info"})
    emulator.attach_addon(APP, "DATABASE", {"DATABASE_URL": DB_URL})
    snapshot = fetch(make_adapter(emulator), token_env(emulator))

    assert snapshot.values() == {"PORT": "8080", "LOG_LEVEL": "info", "DATABASE_URL": DB_URL}
    assert snapshot.secret_keys() == frozenset()
    [(key, why)] = snapshot.managed_keys().items()
    assert key == "DATABASE_URL"
    assert "heroku-postgresql-emulated-1 (heroku-postgresql:essential-0)" in why
    assert "attachment DATABASE" in why and "refuses to overwrite" in why
    assert DB_URL not in repr(snapshot.variables["DATABASE_URL"])


def test_fetch_sends_the_v3_accept_header_and_asks_for_attachment_config_vars(emulator: HerokuEmulator) -> None:
    fetch(make_adapter(emulator), token_env(emulator))
    config_get, attachments_get = emulator.requests
    assert config_get.path == f"/apps/{APP}/config-vars"
    assert config_get.headers["accept"] == "application/vnd.heroku+json; version=3"
    assert config_get.headers["authorization"] == f"Bearer {emulator.token}"
    assert attachments_get.path == f"/apps/{APP}/addon-attachments"
    assert attachments_get.headers["accept-inclusion"] == "addon:plan,config_vars"
    assert attachments_get.headers["range"] == "id ..; max=1000"


def test_names_are_case_sensitive(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"TOKEN": "a", "token": "b"})
    assert fetch(make_adapter(emulator), token_env(emulator)).values() == {"TOKEN": "a", "token": "b"}


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5])
def test_attachments_are_read_range_by_range(emulator: HerokuEmulator, count: int) -> None:
    emulator.page_cap = 2
    for i in range(count):
        emulator.attach_addon(APP, f"REDIS_{i}", {f"REDIS_{i}_URL": f"redis://r{i}"}, service="heroku-redis")
    snapshot = fetch(make_adapter(emulator), token_env(emulator))
    assert sorted(snapshot.managed_keys()) == [f"REDIS_{i}_URL" for i in range(count)]
    ranges = [r.headers["range"] for r in emulator.requests if r.path.endswith("addon-attachments")]
    assert len(ranges) == max(1, -(-count // 2))
    assert ranges[0] == "id ..; max=1000"
    assert all(r.startswith("id ]") for r in ranges[1:])


def test_an_attachment_without_config_vars_is_a_shape_error(emulator: HerokuEmulator) -> None:
    answer_attachments_with(emulator, lambda request: Response(200, [{"name": "DATABASE", "addon": {"name": "pg"}}]))
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert "has no config_vars list" in str(caught.value)


def test_a_206_with_a_repeated_next_range_is_an_error(emulator: HerokuEmulator) -> None:
    answer_attachments_with(emulator, lambda request: Response(206, [], headers={"Next-Range": "id ]same..; max=9"}))
    with pytest.raises(PlatformError, match="does not advance"):
        fetch(make_adapter(emulator), token_env(emulator))


def test_a_206_without_next_range_is_an_error(emulator: HerokuEmulator) -> None:
    answer_attachments_with(emulator, lambda request: Response(206, []))
    with pytest.raises(PlatformError, match="has no Next-Range"):
        fetch(make_adapter(emulator), token_env(emulator))


def test_a_range_chain_that_never_ends_is_an_error(emulator: HerokuEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = iter(range(10_000))
    answer_attachments_with(emulator, lambda request: Response(
        206, [], headers={"Next-Range": f"id ]{next(counter)}..; max=1000"}))
    monkeypatch.setattr(adapter_module, "MAX_PAGES", 4)
    with pytest.raises(PlatformError, match="did not end after 4 ranges"):
        fetch(make_adapter(emulator), token_env(emulator))
    assert len([r for r in emulator.requests if r.path.endswith("addon-attachments")]) == 4


# -- errors ---------------------------------------------------------------------------------------

def test_unknown_app_is_a_404_naming_the_app(emulator: HerokuEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, app="no-such-app"), token_env(emulator))
    error = caught.value
    assert error.status == 404
    assert "Couldn't find that app." in str(error)
    assert "heroku app no-such-app" in str(error)  # the body does not name the app; Genesis does
    assert_clean(error, emulator)


def test_wrong_token_is_a_401_naming_the_variable(emulator: HerokuEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), {"HEROKU_API_KEY": "wrong-" + CANARY})
    assert caught.value.status == 401
    assert "HEROKU_API_KEY" in str(caught.value) and "Invalid credentials provided." in str(caught.value)
    assert_clean(caught.value, emulator)
    assert len(emulator.requests) == 1


def test_429_with_only_ratelimit_remaining_is_retried_with_backoff(emulator: HerokuEmulator,
                                                                   waits: list[float]) -> None:
    emulator.set_config(APP, {"A": "1"})
    emulator.throttle(3)
    snapshot = fetch(make_adapter(emulator, retries=3), token_env(emulator))
    assert snapshot.values() == {"A": "1"}
    assert len(waits) == 3
    for attempt, delay in enumerate(waits, start=1):  # exponential: 0.5 s * 2**(n-1), jittered to 50-100 %
        assert 0.25 * 2 ** (attempt - 1) <= delay <= 0.5 * 2 ** (attempt - 1)
    limited = emulator.requests[:3]
    assert all(r.path.endswith("/config-vars") for r in limited)


def test_a_rate_limit_that_never_lifts_is_an_error(emulator: HerokuEmulator) -> None:
    emulator.throttle(100)
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert "rate limited (HTTP 429)" in str(caught.value)
    assert len(emulator.requests) == 3
    assert_clean(caught.value, emulator)


def test_missing_token_sends_nothing(emulator: HerokuEmulator) -> None:
    with pytest.raises(PlatformError, match="HEROKU_API_KEY"):
        fetch(make_adapter(emulator), {})
    assert emulator.requests == []


@pytest.mark.parametrize("app", ["-acme", "acme/../x", "has space", "x" * 101])
def test_bad_app_names_are_config_errors(emulator: HerokuEmulator, app: str) -> None:
    with pytest.raises(ConfigError, match="platforms.heroku.app"):
        make_adapter(emulator, app=app)


def test_an_app_id_is_accepted(emulator: HerokuEmulator) -> None:
    app_id = emulator.add_app("other-app", {"X": "1"})
    assert fetch(make_adapter(emulator, app=app_id), token_env(emulator)).values() == {"X": "1"}


# -- writing: one release, exactly the changed keys, never a null ---------------------------------

def test_batch_write_is_one_patch_with_exactly_the_changed_keys(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"SAME": "same", "OLD": "before", "KEEP": "keep"})
    adapter = make_adapter(emulator)
    write_batch(adapter, token_env(emulator), [
        VariableWrite("OLD", "after"), VariableWrite("NEW", CANARY, secret=True), VariableWrite("SAME", "same")])

    assert patches(emulator.requests) == [{"OLD": "after", "NEW": CANARY}]  # SAME already held its value
    assert emulator.config(APP) == {"SAME": "same", "OLD": "after", "KEEP": "keep", "NEW": CANARY}
    [release] = emulator.releases(APP)
    assert sorted(release.keys) == ["NEW", "OLD"]
    assert emulator.restarts(APP) == 1
    assert_no_null_ever_sent(emulator)


def test_write_of_one_key_is_one_patch_of_that_key(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"KEEP": "keep"})
    write(make_adapter(emulator), token_env(emulator), "ADDED", "v")
    assert patches(emulator.requests) == [{"ADDED": "v"}]
    assert emulator.config(APP) == {"KEEP": "keep", "ADDED": "v"}
    assert emulator.restarts(APP) == 1


def test_a_batch_whose_values_are_all_held_sends_no_patch_and_restarts_nothing(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"A": "1", "B": "2"})
    write_batch(make_adapter(emulator), token_env(emulator), [VariableWrite("A", "1"), VariableWrite("B", "2")])
    assert patches(emulator.requests) == []
    assert emulator.releases(APP) == [] and emulator.restarts(APP) == 0


def test_add_on_variables_are_refused_before_anything_is_sent(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"PORT": "80"})
    emulator.attach_addon(APP, "DATABASE", {"DATABASE_URL": DB_URL})
    with pytest.raises(PlatformError) as caught:
        write_batch(make_adapter(emulator), token_env(emulator),
                    [VariableWrite("PORT", "81"), VariableWrite("DATABASE_URL", "postgres://other")])
    assert "cannot write DATABASE_URL" in str(caught.value) and "nothing was written" in str(caught.value)
    assert patches(emulator.requests) == []
    assert emulator.config(APP) == {"PORT": "80", "DATABASE_URL": DB_URL}
    assert_clean(caught.value, emulator)


def test_the_emulator_refuses_to_overwrite_attachment_values_as_heroku_does(emulator: HerokuEmulator) -> None:
    import httpx

    emulator.attach_addon(APP, "DATABASE", {"DATABASE_URL": DB_URL})
    response = httpx.patch(f"{emulator.base_url}/apps/{APP}/config-vars", json={"DATABASE_URL": "x"},
                           headers={"Authorization": f"Bearer {emulator.token}",
                                    "Accept": "application/vnd.heroku+json; version=3"})
    assert response.status_code == 422
    assert response.json() == {"id": "invalid_params", "message": "Cannot overwrite attachment values DATABASE_URL."}


@pytest.mark.parametrize("key", ["HAS-DASH", "has space", "dotted.name", ""])
def test_names_heroku_rejects_are_refused_before_any_request(emulator: HerokuEmulator, key: str) -> None:
    with pytest.raises(PlatformError, match="letters, digits and underscores"):
        write(make_adapter(emulator), token_env(emulator), key, "v")
    assert emulator.requests == []


def test_a_key_given_twice_in_one_batch_is_refused(emulator: HerokuEmulator) -> None:
    with pytest.raises(PlatformError, match="given twice"):
        write_batch(make_adapter(emulator), token_env(emulator), [VariableWrite("A", "1"), VariableWrite("A", "2")])
    assert emulator.requests == []


def test_a_failed_patch_changes_nothing_and_leaks_nothing(emulator: HerokuEmulator) -> None:
    emulator.set_config(APP, {"A": "1"})
    emulator.inject(Fault("status", status=500, path=r"/config-vars$"))
    adapter = make_adapter(emulator, retries=0)
    with pytest.raises(PlatformError) as caught:
        write_batch(adapter, token_env(emulator), [VariableWrite("A", CANARY)])
    assert_clean(caught.value, emulator)
    assert emulator.config(APP) == {"A": "1"} and emulator.releases(APP) == []


def test_write_effect_says_the_write_restarts_the_app(emulator: HerokuEmulator) -> None:
    effect = make_adapter(emulator).write_effect("ANY")
    assert effect.kind == RESTART
    assert "restarts the app" in effect.note


def test_unknown_table_keys_are_rejected(emulator: HerokuEmulator) -> None:
    with pytest.raises(ConfigError, match="apps: unknown key"):
        make_adapter(emulator, apps="typo")
