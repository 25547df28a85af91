"""Fetching secrets and variables: pagination, unreadable secrets, scopes and odd answers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import Request, Response, fetch_sync
from genesis_github.emulator import GitHubEmulator

REPO = "acme/web"


def gets(emulator: GitHubEmulator, what: str) -> list[Request]:
    return [r for r in emulator.requests if r.method == "GET" and r.path.endswith(f"/{what}")]


@pytest.mark.parametrize("count", [0, 1, 29, 30, 31, 100, 101])
def test_secrets_and_variables_paginate_at_page_boundaries(emulator: GitHubEmulator, make_adapter: Any,
                                                           env: dict[str, str], count: int) -> None:
    for i in range(count):
        emulator.set_secret(REPO, f"SECRET_{i:03d}", f"hidden-{i}")
        emulator.set_variable(REPO, f"VAR_{i:03d}", f"value-{i}")
    snapshot = fetch_sync(make_adapter(), env)

    assert snapshot.values() == {**{f"SECRET_{i:03d}": None for i in range(count)},
                                 **{f"VAR_{i:03d}": f"value-{i}" for i in range(count)}}
    secret_pages, variable_pages = gets(emulator, "secrets"), gets(emulator, "variables")
    assert len(secret_pages) == max(1, math.ceil(count / 100))
    assert len(variable_pages) == max(1, math.ceil(count / 30))
    assert {r.param("per_page") for r in secret_pages} == {"100"}
    assert {r.param("per_page") for r in variable_pages} == {"30"}
    assert [r.param("page") for r in variable_pages] == [None] + [str(p) for p in range(2, len(variable_pages) + 1)]


def test_secrets_are_unreadable_and_marked_secret(emulator: GitHubEmulator, make_adapter: Any,
                                                  env: dict[str, str]) -> None:
    emulator.set_secret(REPO, "DB_PASSWORD", "s3cr3t-canary")
    emulator.set_variable(REPO, "REGION", "eu-west-1")
    snapshot = fetch_sync(make_adapter(), env)
    secret, variable = snapshot.variables["DB_PASSWORD"], snapshot.variables["REGION"]
    assert (secret.value, secret.secret, secret.scope) == (None, True, "repository")
    assert (variable.value, variable.secret, variable.scope) == ("eu-west-1", False, "repository")
    assert "s3cr3t-canary" not in repr(snapshot) + repr(secret)


def test_environment_scope_reads_only_that_environment(emulator: GitHubEmulator, make_adapter: Any,
                                                       env: dict[str, str]) -> None:
    emulator.add_environment(REPO, "prod eu")
    emulator.set_variable(REPO, "REPO_LEVEL", "repo")
    emulator.set_secret(REPO, "REPO_SECRET", "x")
    emulator.set_variable(REPO, "MODE", "production", environment="prod eu")
    emulator.set_secret(REPO, "API_KEY", "k", environment="prod eu")
    adapter = make_adapter(environment="prod eu")
    snapshot = fetch_sync(adapter, env)
    assert snapshot.values() == {"MODE": "production", "API_KEY": None}
    assert snapshot.variables["MODE"].scope == "environment:prod eu"
    paths = {r.path for r in emulator.requests}
    assert paths == {"/repos/acme/web/environments/prod%20eu/secrets",
                     "/repos/acme/web/environments/prod%20eu/variables"}
    assert "prod eu" in adapter.describe()


def test_unknown_environment_is_a_not_found_error(emulator: GitHubEmulator, make_adapter: Any,
                                                  env: dict[str, str]) -> None:
    with pytest.raises(PlatformError) as info:
        fetch_sync(make_adapter(environment="nope"), env)
    assert info.value.status == 404
    assert "environment 'nope' of acme/web" in str(info.value)


@pytest.mark.parametrize(("include", "expected"), [
    ({"include_secrets": False}, {"VAR": "v"}),
    ({"include_variables": False}, {"SEC": None}),
])
def test_include_switches(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str],
                          include: dict[str, bool], expected: dict[str, Any]) -> None:
    emulator.set_secret(REPO, "SEC", "s")
    emulator.set_variable(REPO, "VAR", "v")
    assert fetch_sync(make_adapter(**include), env).values() == expected
    skipped = "secrets" if "include_secrets" in include else "variables"
    assert not gets(emulator, skipped)


def test_a_name_that_is_both_secret_and_variable_is_an_error(emulator: GitHubEmulator, make_adapter: Any,
                                                             env: dict[str, str]) -> None:
    emulator.set_secret(REPO, "API_URL", "secret-url")
    emulator.set_variable(REPO, "API_URL", "https://api.example")
    with pytest.raises(PlatformError) as info:
        fetch_sync(make_adapter(), env)
    message = str(info.value)
    assert info.value.platform == "gh"
    assert "API_URL exists both as an Actions secret and as a variable" in message
    assert "secret-url" not in message and "api.example" not in message
    # The documented way out: read only one of the two kinds.
    assert fetch_sync(make_adapter(include_secrets=False), env).values() == {"API_URL": "https://api.example"}


@pytest.mark.parametrize("mode", ["same", "advance"])
def test_endless_link_next_is_bounded(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str],
                                      mode: str) -> None:
    emulator.set_secret(REPO, "ONE", "x")
    emulator.endless_links = mode
    with pytest.raises(PlatformError) as info:
        fetch_sync(make_adapter(include_variables=False), env)
    assert ("loops" if mode == "same" else "did not end after 100 pages") in str(info.value)
    assert len(gets(emulator, "secrets")) == (2 if mode == "same" else 100)


def test_next_link_to_another_origin_is_not_followed(emulator: GitHubEmulator, make_adapter: Any,
                                                     env: dict[str, str]) -> None:
    emulator.route_first("GET", r"/repos/acme/web/actions/secrets", lambda req, m: Response(
        200, {"total_count": 2, "secrets": [{"name": "A"}]},
        headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'}))
    with pytest.raises(PlatformError) as info:
        fetch_sync(make_adapter(), env)
    assert "another origin" in str(info.value)
    assert len(emulator.requests) == 1


def test_total_count_that_does_not_match_the_items_is_an_error(emulator: GitHubEmulator, make_adapter: Any,
                                                               env: dict[str, str]) -> None:
    emulator.route_first("GET", r"/repos/acme/web/actions/variables", lambda req, m: Response(
        200, {"total_count": 45, "variables": [{"name": "A", "value": "1"}]}))  # a page without its Link
    with pytest.raises(PlatformError, match="listed 1 variables but reported total_count 45"):
        fetch_sync(make_adapter(), env)


@pytest.mark.parametrize("body", [
    {"total_count": 1, "variables": [{"name": "A"}]},                  # no value
    {"total_count": 1, "variables": [{"value": "x"}]},                 # no name
    {"total_count": 1, "variables": ["A"]},                            # not an object
    {"total_count": "1", "variables": [{"name": "A", "value": "x"}]},  # count not an int
    {"variables": [{"name": "A", "value": "x"}]},                      # no count
    [{"name": "A", "value": "x"}],                                     # a bare list
])
def test_wrong_item_shapes_are_errors(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str],
                                      body: Any) -> None:
    emulator.route_first("GET", r"/repos/acme/web/actions/variables", lambda req, m: Response(200, body))
    with pytest.raises(PlatformError, match="unexpected response shape"):
        fetch_sync(make_adapter(), env)


def test_requests_carry_githubs_headers(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    fetch_sync(make_adapter(), env)
    for request in emulator.requests:
        assert request.headers["authorization"] == f"Bearer {env['GITHUB_TOKEN']}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_enterprise_base_url_prefix_is_kept(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    """GitHub Enterprise Server lives under /api/v3: every path, and every Link, keeps the prefix."""
    seen: list[str] = []

    def enterprise(req: Request, match: Any) -> Response:
        seen.append(req.path)
        inner = Request(req.method, req.path[len("/api/v3"):], req.query, req.headers, req.body)
        return emulator.handle(inner) or Response(500)

    emulator.route("GET", r"/api/v3/.*", enterprise)
    for i in range(35):
        emulator.set_variable(REPO, f"V{i:02d}", "x")
    # The emulator builds Link URLs from the path it saw (without the prefix): rewrite them back.
    original_page = emulator._page

    def page_with_prefix(request: Request, items: Any, what: str, cap: int) -> Response:
        response = original_page(request, items, what, cap)
        link = response.headers.get("Link")
        if link:
            response.headers["Link"] = link.replace(emulator.base_url, emulator.base_url + "/api/v3")
        return response

    emulator._page = page_with_prefix  # type: ignore[method-assign]
    snapshot = fetch_sync(make_adapter(base_url=emulator.base_url + "/api/v3/"), env)
    assert len(snapshot) == 35
    assert seen == ["/api/v3/repos/acme/web/actions/secrets", "/api/v3/repos/acme/web/actions/variables",
                    "/api/v3/repos/acme/web/actions/variables"]
