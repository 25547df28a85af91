"""The Render adapter against the Render emulator: pagination, errors, rate limits, writes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from genesis_core.api import ConfigError, PlatformError
from genesis_core.testing import Fault, Request, Response
from genesis_render import adapter as adapter_module
from genesis_render.emulator import RenderEmulator
from genesis_render.testing import (
    GROUP_ID,
    SERVICE_ID,
    fetch,
    make_adapter,
    token_env,
    write,
)

CANARY = "canary-value-8b1f6d"
ENV_VARS = r"/v1/services/[^/]+/env-vars"


def numbered(count: int) -> dict[str, str]:
    return {f"VAR_{i:04d}": f"value-{i}" for i in range(count)}


def env_var_gets(emulator: RenderEmulator) -> list[Request]:
    return emulator.requests_matching("GET", ENV_VARS)


def assert_clean(error: PlatformError, emulator: RenderEmulator) -> None:
    """The error names the instance and carries neither the token nor a value."""
    text = f"{error} {error!r} {error.reason}"
    assert str(error).startswith("render-web: ")
    assert emulator.token not in text
    assert CANARY not in text


# -- reading -------------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_fetch_reads_every_page_until_the_empty_one(emulator: RenderEmulator, count: int) -> None:
    emulator.set_env(SERVICE_ID, numbered(count))
    snapshot = fetch(make_adapter(emulator), token_env(emulator))

    assert snapshot.values() == numbered(count)
    assert snapshot.secret_keys() == frozenset()
    gets = env_var_gets(emulator)
    assert len(gets) == math.ceil(count / 100) + 1  # full pages, then the empty page
    assert all(r.param("limit") == "100" for r in gets)
    assert gets[0].param("cursor") is None


def test_each_page_continues_from_the_last_cursor_of_the_previous_one(emulator: RenderEmulator) -> None:
    emulator.set_env(SERVICE_ID, numbered(150))
    fetch(make_adapter(emulator), token_env(emulator))

    gets = env_var_gets(emulator)
    assert len(gets) == 3
    # Ask the emulator for page one ourselves to learn its last cursor.
    first = emulator.handle(Request("GET", f"/v1/services/{SERVICE_ID}/env-vars", {"limit": ["100"]},
                                    {"authorization": f"Bearer {emulator.token}"}, b""))
    assert first is not None and first.body is not None
    assert gets[1].param("cursor") == first.body[-1]["cursor"]
    assert gets[2].param("cursor") not in (None, gets[1].param("cursor"))


def test_env_group_alone_is_read_with_its_scope(emulator: RenderEmulator) -> None:
    emulator.set_group(GROUP_ID, {"SHARED": "from-group", "OTHER": "x"})
    snapshot = fetch(make_adapter(emulator, service_id=None, env_group_id=GROUP_ID), token_env(emulator))

    assert snapshot.values() == {"SHARED": "from-group", "OTHER": "x"}
    assert snapshot.variables["SHARED"].scope == f"env-group:{GROUP_ID}"
    assert env_var_gets(emulator) == []


def test_service_value_wins_over_its_env_group(emulator: RenderEmulator) -> None:
    emulator.set_group(GROUP_ID, {"SHARED": "from-group", "ONLY_GROUP": "g"})
    emulator.set_env(SERVICE_ID, {"SHARED": "from-service", "ONLY_SERVICE": "s"})
    snapshot = fetch(make_adapter(emulator, env_group_id=GROUP_ID), token_env(emulator))

    assert snapshot.values() == {"SHARED": "from-service", "ONLY_GROUP": "g", "ONLY_SERVICE": "s"}
    assert snapshot.variables["SHARED"].scope is None
    assert snapshot.variables["ONLY_GROUP"].scope == f"env-group:{GROUP_ID}"


# -- rate limits and retries ----------------------------------------------------------------------

def test_429_with_ratelimit_reset_is_waited_out_and_retried(emulator: RenderEmulator,
                                                            waits: list[float]) -> None:
    emulator.set_env(SERVICE_ID, {"A": "1"})
    emulator.throttle(2, reset=3)
    snapshot = fetch(make_adapter(emulator), token_env(emulator))

    assert snapshot.values() == {"A": "1"}
    assert waits == [3.0, 3.0]
    assert len(env_var_gets(emulator)) == 4  # two 429s, the page, the empty page


def test_429_retry_after_takes_precedence(emulator: RenderEmulator, waits: list[float]) -> None:
    emulator.inject(Fault("rate_limit", times=1, retry_after="1"))
    fetch(make_adapter(emulator), token_env(emulator))
    assert waits == [1.0]
    assert len(env_var_gets(emulator)) == 2


def test_rate_limit_that_never_lifts_is_an_error(emulator: RenderEmulator) -> None:
    emulator.throttle(100)
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert "rate limited (HTTP 429)" in str(caught.value)
    assert len(emulator.requests) == 3  # retries = 2
    assert_clean(caught.value, emulator)


def test_rate_limit_reset_beyond_the_wait_limit_fails_fast(emulator: RenderEmulator) -> None:
    emulator.throttle(1, reset=3600)
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env(emulator))
    assert "resets in 3600s" in str(caught.value)
    assert len(emulator.requests) == 1


# -- errors ---------------------------------------------------------------------------------------



def test_unknown_service_is_a_404_naming_it(emulator: RenderEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, service_id="srv-missing"), token_env(emulator))
    assert caught.value.status == 404
    assert "render service srv-missing" in str(caught.value)
    assert_clean(caught.value, emulator)


def test_unknown_env_group_is_a_404(emulator: RenderEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, env_group_id="evg-missing"), token_env(emulator))
    assert caught.value.status == 404
    assert "evg-missing" in str(caught.value)


class ScriptedPages(RenderEmulator):
    """A Render emulator whose env-var list answers come from ``pages(request)``."""

    def __init__(self, pages: Any, **kwargs: Any) -> None:
        self.pages = pages
        super().__init__(**kwargs)

    def register_routes(self) -> None:
        self.route("GET", r"/v1/services/(?P<service_id>[^/]+)/env-vars",
                   lambda request, match: Response(200, self.pages(request)))


@pytest.fixture
def scripted(waits: list[float]) -> Any:
    servers: list[ScriptedPages] = []

    def start(pages: Any) -> ScriptedPages:
        server = ScriptedPages(pages, token="rnd_TOKEN_canary_7f3a9").start()
        servers.append(server)  # type: ignore[arg-type]
        return server  # type: ignore[return-value]

    yield start
    for server in servers:
        server.stop()


def item(key: str, value: Any = "v", cursor: str = "c1") -> dict[str, Any]:
    return {"envVar": {"key": key, "value": value}, "cursor": cursor}


def test_a_cursor_that_repeats_is_an_error(scripted: Any) -> None:
    keys = iter(range(1_000_000))
    server = scripted(lambda request: [item(f"K{next(keys)}", cursor="same")])
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(server), token_env(server))
    assert "does not advance" in str(caught.value)
    assert len(server.requests) == 2


def test_a_cursor_chain_that_never_ends_is_an_error(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter_module, "MAX_PAGES", 5)
    counter = iter(range(1_000_000))
    server = scripted(lambda request: [item(f"K{next(counter)}", cursor=f"c{next(counter)}")])
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(server), token_env(server))
    assert "did not end after 5 pages" in str(caught.value)
    assert len(server.requests) == 5


@pytest.mark.parametrize(("page", "expected"), [
    ({"envVars": []}, "is not a JSON list"),
    ([{"cursor": "c"}], "has no envVar object"),
    ([{"envVar": {"value": "v"}, "cursor": "c"}], "has no string envVar.key"),
    ([item("A", None)], "value of 'A'"),
    ([item("A", 42)], "value of 'A'"),
    ([{"envVar": {"key": "A", "value": "v"}}], "has no cursor"),
    ([item("A", cursor="1"), item("A", cursor="2")], "'A' appeared twice"),
    (None, "is not a JSON list"),
], ids=["object", "no-envVar", "no-key", "null-value", "number-value", "no-cursor", "duplicate", "empty-body"])
def test_a_page_of_the_wrong_shape_is_an_error_not_an_empty_snapshot(scripted: Any, page: Any,
                                                                     expected: str) -> None:
    server = scripted(lambda request: page if request.param("cursor") is None else [])
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(server), token_env(server))
    assert expected in str(caught.value)
    assert str(caught.value).startswith("render-web: ")


def test_an_env_group_of_the_wrong_shape_is_an_error(emulator: RenderEmulator) -> None:
    emulator.inject(Fault("wrong_shape", path=r"/v1/env-groups/"))
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, service_id=None, env_group_id=GROUP_ID), token_env(emulator))
    assert "envVars list" in str(caught.value)


# -- writing --------------------------------------------------------------------------------------

def test_write_creates_one_key_and_leaves_the_others(emulator: RenderEmulator) -> None:
    emulator.set_env(SERVICE_ID, {"KEEP_A": "a", "KEEP_B": "b"})
    adapter = make_adapter(emulator)
    write(adapter, token_env(emulator), "NEW_KEY", CANARY, secret=True)

    assert emulator.env(SERVICE_ID) == {"KEEP_A": "a", "KEEP_B": "b", "NEW_KEY": CANARY}
    puts = emulator.requests_matching("PUT", r"/v1/services/.*")
    assert [r.path for r in puts] == [f"/v1/services/{SERVICE_ID}/env-vars/NEW_KEY"]
    assert puts[0].json() == {"value": CANARY}
    assert emulator.requests_matching("PUT", ENV_VARS) == []  # never the bulk replace


def test_write_updates_an_existing_key_in_place(emulator: RenderEmulator) -> None:
    emulator.set_env(SERVICE_ID, numbered(120))
    adapter = make_adapter(emulator)
    write(adapter, token_env(emulator), "VAR_0005", "changed")

    expected = numbered(120) | {"VAR_0005": "changed"}
    assert emulator.env(SERVICE_ID) == expected
    assert fetch(adapter, token_env(emulator)).values() == expected
    assert emulator.requests_matching("PUT", ENV_VARS) == []
    assert emulator.requests_matching("DELETE", r".*") == []


def test_write_quotes_the_key_in_the_path(emulator: RenderEmulator) -> None:
    adapter = make_adapter(emulator)
    write(adapter, token_env(emulator), "odd key/with.slash", "v")
    assert emulator.env(SERVICE_ID) == {"odd key/with.slash": "v"}
    assert fetch(adapter, token_env(emulator)).values() == {"odd key/with.slash": "v"}


def test_write_goes_to_the_env_group_when_there_is_no_service(emulator: RenderEmulator) -> None:
    emulator.set_group(GROUP_ID, {"KEEP": "k"})
    emulator.set_env(SERVICE_ID, {"UNTOUCHED": "u"})
    adapter = make_adapter(emulator, service_id=None, env_group_id=GROUP_ID)
    write(adapter, token_env(emulator), "NEW", "n")

    assert emulator.group_env(GROUP_ID) == {"KEEP": "k", "NEW": "n"}
    assert emulator.env(SERVICE_ID) == {"UNTOUCHED": "u"}
    assert fetch(adapter, token_env(emulator)).values() == {"KEEP": "k", "NEW": "n"}


def test_write_to_service_with_group_overrides_the_group_value(emulator: RenderEmulator) -> None:
    emulator.set_group(GROUP_ID, {"SHARED": "group"})
    adapter = make_adapter(emulator, env_group_id=GROUP_ID)
    write(adapter, token_env(emulator), "SHARED", "service")

    assert emulator.group_env(GROUP_ID) == {"SHARED": "group"}
    assert fetch(adapter, token_env(emulator)).values() == {"SHARED": "service"}


def test_write_to_an_unknown_service_is_an_error(emulator: RenderEmulator) -> None:
    adapter = make_adapter(emulator, service_id="srv-missing")
    with pytest.raises(PlatformError) as caught:
        write(adapter, token_env(emulator), "A", CANARY)
    assert caught.value.status == 404
    assert_clean(caught.value, emulator)


def test_write_server_error_is_retried_then_succeeds(emulator: RenderEmulator) -> None:
    emulator.inject(Fault("status", times=1, status=503))
    write(make_adapter(emulator), token_env(emulator), "A", "1")
    assert emulator.env(SERVICE_ID) == {"A": "1"}


def test_write_with_a_bad_token_fails_without_leaking(emulator: RenderEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator), {"RENDER_API_KEY": "nope"}, "A", CANARY)
    assert caught.value.status == 401
    assert_clean(caught.value, emulator)
    assert emulator.env(SERVICE_ID) == {}


# -- configuration --------------------------------------------------------------------------------

def test_service_or_group_is_required(emulator: RenderEmulator) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, service_id=None)
    assert "genesis.toml: platforms.render-web.service_id: is required" in str(caught.value)


@pytest.mark.parametrize("key", ["service_id", "env_group_id"])
def test_ids_must_be_path_safe(emulator: RenderEmulator, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, **{key: "srv-1/../../admin"})
    assert f"platforms.render-web.{key}" in str(caught.value)


def test_unknown_table_keys_are_rejected(emulator: RenderEmulator) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(emulator, servce_id="srv-typo")
    assert "servce_id: unknown key" in str(caught.value)


def test_describe_and_repr_name_the_resources_only(emulator: RenderEmulator) -> None:
    adapter = make_adapter(emulator, env_group_id=GROUP_ID)
    assert adapter.describe() == f"render service {SERVICE_ID} (+ env group {GROUP_ID})"
    assert emulator.token not in repr(adapter)
