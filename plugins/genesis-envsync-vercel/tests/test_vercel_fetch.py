"""Fetching one target: pagination, target and branch selection, unreadable types, odd answers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import Response, fetch_sync
from genesis_vercel.emulator import VercelEmulator

P = "prj_web"


def list_calls(emulator: VercelEmulator) -> list[Any]:
    return [r for r in emulator.requests if r.method == "GET" and r.path == "/v10/projects/web/env"]


@pytest.mark.parametrize("count", [0, 1, 4, 5, 6, 10, 11])
def test_pagination_follows_next_with_until(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str],
                                            count: int) -> None:
    for i in range(count):
        emulator.add_env(P, f"KEY_{i:02d}", f"value-{i}", target=["production"])
    snapshot = fetch_sync(make_adapter(), env)
    assert snapshot.values() == {f"KEY_{i:02d}": f"value-{i}" for i in range(count)}
    calls = list_calls(emulator)
    assert len(calls) == max(1, math.ceil(count / 5))
    assert [c.param("decrypt") for c in calls] == ["true"] * len(calls)
    assert [c.param("teamId") for c in calls] == ["team_acme"] * len(calls)
    assert calls[0].param("until") is None
    untils = [int(c.param("until")) for c in calls[1:]]
    assert untils == sorted(untils, reverse=True), "each page asks for older entries"


def test_only_entries_for_the_target_are_kept(emulator: VercelEmulator, make_adapter: Any,
                                              env: dict[str, str]) -> None:
    emulator.add_env(P, "SHARED", "all", target=["production", "preview", "development"])
    emulator.add_env(P, "API_URL", "https://prod", target=["production"])
    emulator.add_env(P, "API_URL", "https://preview", target=["preview"])
    emulator.add_env(P, "DEV_ONLY", "d", target=["development"])
    assert fetch_sync(make_adapter(), env).values() == {"SHARED": "all", "API_URL": "https://prod"}
    assert fetch_sync(make_adapter(target="preview"), env).values() == {"SHARED": "all", "API_URL": "https://preview"}
    assert fetch_sync(make_adapter(target="development"), env).values() == {"SHARED": "all", "DEV_ONLY": "d"}


def test_branch_values_override_generic_preview_values(emulator: VercelEmulator, make_adapter: Any,
                                                       env: dict[str, str]) -> None:
    emulator.add_env(P, "API_URL", "https://preview", target=["preview"])
    emulator.add_env(P, "API_URL", "https://staging", target=["preview"], git_branch="staging")
    emulator.add_env(P, "FLAG", "other-branch", target=["preview"], git_branch="feature-x")
    generic = fetch_sync(make_adapter(target="preview"), env)
    assert generic.values() == {"API_URL": "https://preview"}
    staging = fetch_sync(make_adapter(target="preview", git_branch="staging"), env)
    assert staging.values() == {"API_URL": "https://staging"}
    assert staging.variables["API_URL"].scope == "preview:staging"


@pytest.mark.parametrize(("kind", "readable"), [
    ("plain", True), ("encrypted", True), ("system", True), ("sensitive", False), ("secret", False),
])
def test_types_and_readability(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str],
                               kind: str, readable: bool) -> None:
    emulator.add_env(P, "THE_KEY", "the-value", type=kind, target=["production"])
    variable = fetch_sync(make_adapter(), env).variables["THE_KEY"]
    if readable:
        assert (variable.value, variable.secret) == ("the-value", False)
    else:
        assert (variable.value, variable.secret) == (None, True)


def test_encrypted_values_that_were_not_decrypted_are_unreadable_not_ciphertext(
        emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.add_env(P, "TOKEN_A", "clear", target=["production"])
    original = emulator._json
    emulator._json = lambda e, decrypt: original(e, decrypt=False)  # type: ignore[method-assign]
    variable = fetch_sync(make_adapter(), env).variables["TOKEN_A"]
    assert (variable.value, variable.secret) == (None, True)


def test_duplicate_entries_for_one_target_are_an_error(emulator: VercelEmulator, make_adapter: Any,
                                                       env: dict[str, str]) -> None:
    emulator.add_env(P, "DUP", "a", target=["production"])
    emulator.add_env(P, "DUP", "b", target=["production", "preview"])
    with pytest.raises(PlatformError, match="lists DUP twice"):
        fetch_sync(make_adapter(), env)
    assert fetch_sync(make_adapter(target="development"), env).values() == {}


def test_a_repeating_cursor_is_an_error(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.add_env(P, "A", "1", target=["production"])
    emulator.endless_pagination = "same"
    with pytest.raises(PlatformError, match="pagination loops"):
        fetch_sync(make_adapter(), env)
    assert len(list_calls(emulator)) == 2


def test_pagination_is_bounded(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    counter = iter(range(10**6, 0, -1))
    emulator.route_first("GET", r"/v10/projects/web/env", lambda req, m: Response(
        200, {"envs": [], "pagination": {"count": 0, "next": next(counter), "prev": None}}))
    with pytest.raises(PlatformError, match="did not end after 200 pages"):
        fetch_sync(make_adapter(), env)


def test_answer_without_pagination_and_single_entry_answers(emulator: VercelEmulator, make_adapter: Any,
                                                           env: dict[str, str]) -> None:
    answers = iter([
        {"envs": [{"id": "env_1", "key": "A", "value": "1", "type": "plain", "target": "production"}]},
        {"id": "env_2", "key": "B", "value": "2", "type": "encrypted", "target": ["production"], "decrypted": True},
    ])
    emulator.route_first("GET", r"/v10/projects/web/env", lambda req, m: Response(200, next(answers)))
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert fetch_sync(make_adapter(), env).values() == {"B": "2"}


@pytest.mark.parametrize("body", [
    {"envs": [{"value": "x", "type": "plain", "target": ["production"]}]},          # no key
    {"envs": [{"key": "A", "value": "x", "target": ["production"]}]},                # no type
    {"envs": [{"key": "A", "type": "plain", "target": [1]}]},                        # bad target
    {"envs": [{"key": "A", "type": "plain", "target": ["preview"], "gitBranch": 3}]},
    {"envs": "A"},
    {"envs": [], "pagination": "next"},
    {"envs": [], "pagination": {"next": "tomorrow"}},
    {"error": {"code": "weird"}},
    ["A"],
])
def test_wrong_shapes_are_errors(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str],
                                 body: Any) -> None:
    emulator.route_first("GET", r"/v10/projects/web/env", lambda req, m: Response(200, body))
    with pytest.raises(PlatformError, match="unexpected response shape"):
        fetch_sync(make_adapter(), env)


def test_personal_project_sends_no_team_id(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.add_project("solo", project_id="prj_solo")
    emulator.add_env("prj_solo", "A", "1", target=["production"])
    assert fetch_sync(make_adapter(project="prj_solo", team_id=None), env).values() == {"A": "1"}
    assert all("teamId" not in r.query for r in emulator.requests)


def test_requests_carry_the_bearer_token(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    fetch_sync(make_adapter(), env)
    assert {r.headers["authorization"] for r in emulator.requests} == {f"Bearer {env['VERCEL_TOKEN']}"}
