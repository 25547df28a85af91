"""Writes change one key for one target: shared entries are split, never clobbered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import Fault, fetch_sync, write_sync
from genesis_vercel.emulator import TARGETS, VercelEmulator

P = "prj_web"


def writes(emulator: VercelEmulator) -> list[tuple[str, str, Any]]:
    return [(r.method, r.path, r.json()) for r in emulator.requests if r.method != "GET"]


def by_target(emulator: VercelEmulator) -> dict[str, dict[str, str]]:
    return {target: emulator.values(P, target) for target in TARGETS}


def test_new_key_is_created_for_the_target_only(emulator: VercelEmulator, make_adapter: Any,
                                                env: dict[str, str]) -> None:
    write_sync(make_adapter(), env, "NEW_KEY", "v1")
    assert by_target(emulator) == {"production": {"NEW_KEY": "v1"}, "preview": {}, "development": {}}
    [(method, path, body)] = writes(emulator)
    assert (method, path) == ("POST", "/v10/projects/web/env")
    assert body == {"key": "NEW_KEY", "value": "v1", "type": "encrypted", "target": ["production"]}
    post = [r for r in emulator.requests if r.method == "POST"][0]
    assert (post.param("upsert"), post.param("teamId")) == ("true", "team_acme")


def test_an_entry_for_this_target_alone_is_updated_in_place(emulator: VercelEmulator, make_adapter: Any,
                                                            env: dict[str, str]) -> None:
    entry_id = emulator.add_env(P, "API_URL", "old", type="plain", target=["production"])
    emulator.add_env(P, "API_URL", "preview-url", target=["preview"])
    write_sync(make_adapter(), env, "API_URL", "new")
    assert by_target(emulator)["production"] == {"API_URL": "new"}
    assert by_target(emulator)["preview"] == {"API_URL": "preview-url"}
    production = [e["id"] for e in emulator.entries(P) if e["key"] == "API_URL" and e["target"] == ["production"]]
    assert production == [entry_id]
    assert [e["type"] for e in emulator.entries(P) if e["id"] == entry_id] == ["plain"], "a plain value stays plain"
    assert [w[0] for w in writes(emulator)] == ["POST"]


def test_a_shared_entry_is_split_and_other_targets_keep_their_value(emulator: VercelEmulator, make_adapter: Any,
                                                                    env: dict[str, str]) -> None:
    shared = emulator.add_env(P, "DATABASE_URL", "shared-db", target=list(TARGETS))
    emulator.add_env(P, "UNRELATED", "u", target=list(TARGETS))
    write_sync(make_adapter(), env, "DATABASE_URL", "prod-db")
    assert by_target(emulator) == {
        "production": {"DATABASE_URL": "prod-db", "UNRELATED": "u"},
        "preview": {"DATABASE_URL": "shared-db", "UNRELATED": "u"},
        "development": {"DATABASE_URL": "shared-db", "UNRELATED": "u"},
    }
    assert writes(emulator) == [
        ("PATCH", f"/v9/projects/web/env/{shared}", {"target": ["preview", "development"]}),
        ("POST", "/v10/projects/web/env", {"key": "DATABASE_URL", "value": "prod-db", "type": "encrypted",
                                           "target": ["production"]}),
    ]
    assert fetch_sync(make_adapter(target="preview"), env).values()["DATABASE_URL"] == "shared-db"


def test_the_emulated_upsert_would_clobber_a_shared_entry(emulator: VercelEmulator, env: dict[str, str]) -> None:
    """Why the adapter splits first: a bare upsert for one target moves the shared entry to that target."""
    emulator.add_env(P, "DATABASE_URL", "shared-db", target=list(TARGETS))
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {env['VERCEL_TOKEN']}"}) as c:
        plain = c.post("/v10/projects/web/env", params={"teamId": "team_acme"},
                       json={"key": "DATABASE_URL", "value": "x", "type": "encrypted", "target": ["production"]})
        wider = c.post("/v10/projects/web/env", params={"teamId": "team_acme", "upsert": "true"},
                       json={"key": "DATABASE_URL", "value": "x", "type": "encrypted", "target": list(TARGETS)})
        clobber = c.post("/v10/projects/web/env", params={"teamId": "team_acme", "upsert": "true"},
                         json={"key": "DATABASE_URL", "value": "x", "type": "encrypted", "target": ["production"]})
    assert plain.status_code == 400 and plain.json()["error"]["code"] == "ENV_CONFLICT"
    assert wider.status_code == 201  # same set of targets: an in-place update
    assert clobber.status_code == 201
    assert by_target(emulator) == {"production": {"DATABASE_URL": "x"}, "preview": {}, "development": {}}


def test_a_failed_create_after_the_split_restores_the_shared_entry(emulator: VercelEmulator, make_adapter: Any,
                                                                   env: dict[str, str]) -> None:
    emulator.add_env(P, "DATABASE_URL", "shared-db", target=list(TARGETS))
    before = emulator.entries(P)
    # Only the create fails (the listing shares its path, so select by method).
    emulator._take_fault = (  # type: ignore[method-assign]
        lambda req: Fault("status", status=500) if req.method == "POST" else None)
    with pytest.raises(PlatformError, match="HTTP 500") as info:
        write_sync(make_adapter(retries=1), env, "DATABASE_URL", "prod-db")
    assert "restoring" not in str(info.value)
    assert "prod-db" not in str(info.value)
    assert emulator.entries(P) == before
    methods = [w[0] for w in writes(emulator)]
    assert methods == ["PATCH", "POST", "POST", "PATCH"]


def test_a_failed_restore_says_what_is_missing(emulator: VercelEmulator, make_adapter: Any,
                                               env: dict[str, str]) -> None:
    emulator.add_env(P, "DATABASE_URL", "shared-db", target=list(TARGETS))
    patches = iter([True, False])  # the split PATCH goes through, the restoring PATCH fails
    original = emulator._take_fault

    def take(req: Any) -> Fault | None:
        if req.method == "POST" or (req.method == "PATCH" and not next(patches)):
            return Fault("status", status=500)
        return original(req)

    emulator._take_fault = take  # type: ignore[method-assign]
    with pytest.raises(PlatformError) as info:
        write_sync(make_adapter(retries=0), env, "DATABASE_URL", "prod-db")
    assert "DATABASE_URL is now missing for production" in str(info.value)
    assert by_target(emulator)["preview"] == {"DATABASE_URL": "shared-db"}


@pytest.mark.parametrize(("target", "secret", "existing", "expected"), [
    ("production", True, None, "sensitive"),
    ("preview", True, None, "sensitive"),
    ("development", True, None, "encrypted"),        # Vercel allows no sensitive values in development
    ("production", False, "sensitive", "sensitive"),  # never downgrade a sensitive value
    ("production", False, "secret", "sensitive"),
    ("production", False, "plain", "plain"),
    ("production", False, "encrypted", "encrypted"),
    ("production", False, None, "encrypted"),
])
def test_entry_type_written(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str], target: str,
                            secret: bool, existing: str | None, expected: str) -> None:
    if existing is not None:
        emulator.add_env(P, "KEY", "old", type=existing, target=[target])
    write_sync(make_adapter(target=target), env, "KEY", "new", secret=secret)
    [entry] = [e for e in emulator.entries(P) if e["key"] == "KEY"]
    assert (entry["type"], entry["value"], entry["target"]) == (expected, "new", [target])


def test_branch_write_touches_only_the_branch_entry(emulator: VercelEmulator, make_adapter: Any,
                                                    env: dict[str, str]) -> None:
    emulator.add_env(P, "API_URL", "generic", target=["preview"])
    adapter = make_adapter(target="preview", git_branch="staging")
    write_sync(adapter, env, "API_URL", "staging-url")
    assert emulator.values(P, "preview") == {"API_URL": "generic"}
    assert emulator.values(P, "preview", git_branch="staging") == {"API_URL": "staging-url"}
    assert writes(emulator)[-1][2] == {"key": "API_URL", "value": "staging-url", "type": "encrypted",
                                       "target": ["preview"], "gitBranch": "staging"}
    write_sync(adapter, env, "API_URL", "staging-2")
    assert emulator.values(P, "preview", git_branch="staging") == {"API_URL": "staging-2"}
    assert len([e for e in emulator.entries(P) if e["key"] == "API_URL"]) == 2


def test_system_variables_and_bad_names_are_refused(emulator: VercelEmulator, make_adapter: Any,
                                                    env: dict[str, str]) -> None:
    emulator.add_env(P, "VERCEL_URL", "x.vercel.app", type="system", target=["production"])
    with pytest.raises(PlatformError, match="system variable"):
        write_sync(make_adapter(), env, "VERCEL_URL", "y")
    with pytest.raises(PlatformError, match="letters, digits and underscores"):
        write_sync(make_adapter(), env, "BAD-NAME", "y")
    assert writes(emulator) == []


def test_failed_entries_in_a_201_answer_are_an_error(emulator: VercelEmulator, make_adapter: Any,
                                                     env: dict[str, str]) -> None:
    from genesis_core.testing import Response

    emulator.route_first("POST", r"/v10/projects/web/env", lambda req, m: Response(
        201, {"created": [], "failed": [{"error": {"code": "ENV_CONFLICT", "message": "m", "value": "leaked?"}}]}))
    with pytest.raises(PlatformError) as info:
        write_sync(make_adapter(), env, "KEY", "secret-value")
    assert "ENV_CONFLICT" in str(info.value)
    assert "secret-value" not in str(info.value) and "leaked?" not in str(info.value)


def test_write_without_token_sends_nothing(emulator: VercelEmulator, make_adapter: Any) -> None:
    with pytest.raises(PlatformError, match="VERCEL_TOKEN"):
        write_sync(make_adapter(), {}, "KEY", "v")
    assert emulator.requests == []
