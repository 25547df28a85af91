"""Writes: sealed secrets decrypted by the emulator, variables created or updated, one name at a time."""

from __future__ import annotations

from typing import Any

import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import Fault, Response, fetch_sync, write_sync
from genesis_github.emulator import GitHubEmulator

REPO = "acme/web"


def calls(emulator: GitHubEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emulator.requests]


def test_secret_write_is_sealed_and_decrypts_to_the_value(emulator: GitHubEmulator, make_adapter: Any,
                                                         env: dict[str, str]) -> None:
    value = "p@ss=w\u00f6rd\nline2 \U0001f512"
    write_sync(make_adapter(), env, "DB_PASSWORD", value, secret=True)
    assert emulator.secrets(REPO) == {"DB_PASSWORD": value}
    assert emulator.variables(REPO) == {}
    assert calls(emulator) == [
        ("GET", "/repos/acme/web/actions/variables/DB_PASSWORD"),
        ("GET", "/repos/acme/web/actions/secrets/public-key"),
        ("PUT", "/repos/acme/web/actions/secrets/DB_PASSWORD"),
    ]
    put = emulator.requests[-1]
    body = put.json()
    assert set(body) == {"encrypted_value", "key_id"}
    assert body["key_id"] == emulator.public_key(REPO)[0]
    assert value.encode() not in put.body


def test_secret_update_overwrites_only_that_secret(emulator: GitHubEmulator, make_adapter: Any,
                                                   env: dict[str, str]) -> None:
    emulator.set_secret(REPO, "API_KEY", "old")
    emulator.set_secret(REPO, "OTHER", "untouched")
    emulator.set_variable(REPO, "MODE", "prod")
    write_sync(make_adapter(), env, "API_KEY", "new", secret=True)
    assert emulator.secrets(REPO) == {"API_KEY": "new", "OTHER": "untouched"}
    assert emulator.variables(REPO) == {"MODE": "prod"}
    writes = [c for c in calls(emulator) if c[0] != "GET"]
    assert writes == [("PUT", "/repos/acme/web/actions/secrets/API_KEY")]


def test_variable_create_then_existing_is_updated_after_409(emulator: GitHubEmulator, make_adapter: Any,
                                                            env: dict[str, str]) -> None:
    adapter = make_adapter()
    write_sync(adapter, env, "REGION", "eu-west-1")
    assert emulator.variables(REPO) == {"REGION": "eu-west-1"}
    write_sync(adapter, env, "REGION", "us-east-1")
    assert emulator.variables(REPO) == {"REGION": "us-east-1"}
    writes = [c for c in calls(emulator) if c[0] != "GET"]
    assert writes == [("POST", "/repos/acme/web/actions/variables"), ("POST", "/repos/acme/web/actions/variables"),
                      ("PATCH", "/repos/acme/web/actions/variables/REGION")]
    assert emulator.requests[-1].json() == {"name": "REGION", "value": "us-east-1"}
    assert fetch_sync(adapter, env).values() == {"REGION": "us-east-1"}


def test_writes_in_an_environment_stay_in_it(emulator: GitHubEmulator, make_adapter: Any,
                                            env: dict[str, str]) -> None:
    emulator.add_environment(REPO, "staging")
    emulator.set_variable(REPO, "MODE", "repo-level")
    adapter = make_adapter(environment="staging")
    write_sync(adapter, env, "MODE", "staging-level")
    write_sync(adapter, env, "TOKEN_X", "tx", secret=True)
    assert emulator.variables(REPO, environment="staging") == {"MODE": "staging-level"}
    assert emulator.secrets(REPO, environment="staging") == {"TOKEN_X": "tx"}
    assert emulator.variables(REPO) == {"MODE": "repo-level"} and emulator.secrets(REPO) == {}
    assert all("/environments/staging/" in path for _, path in calls(emulator))


@pytest.mark.parametrize(("key", "reason"), [
    ("lower_case", "upper case"),
    ("9LIVES", "do not start with a digit"),
    ("HAS-DASH", "only letters, digits and underscores"),
    ("GITHUB_SHA", "reserved"),
    ("github_token", "reserved"),
])
def test_names_github_would_change_or_reject_are_refused(emulator: GitHubEmulator, make_adapter: Any,
                                                         env: dict[str, str], key: str, reason: str) -> None:
    with pytest.raises(PlatformError, match=reason):
        write_sync(make_adapter(), env, key, "v")
    assert emulator.requests == []


def test_a_variable_is_not_written_over_an_existing_secret(emulator: GitHubEmulator, make_adapter: Any,
                                                           env: dict[str, str]) -> None:
    emulator.set_secret(REPO, "API_URL", "s")
    emulator.set_variable(REPO, "DEBUG", "0")
    adapter = make_adapter()
    with pytest.raises(PlatformError, match="exists as an Actions secret"):
        write_sync(adapter, env, "API_URL", "https://x")
    with pytest.raises(PlatformError, match="exists as a variable"):
        write_sync(adapter, env, "DEBUG", "1", secret=True)
    assert emulator.variables(REPO) == {"DEBUG": "0"} and emulator.secrets(REPO) == {"API_URL": "s"}
    assert {c[0] for c in calls(emulator)} == {"GET"}


def test_failed_secret_put_is_an_error_and_stores_nothing(emulator: GitHubEmulator, make_adapter: Any,
                                                          env: dict[str, str]) -> None:
    emulator.inject(Fault("status", status=500, path=r"/secrets/NEW$"))
    with pytest.raises(PlatformError, match="HTTP 500"):
        write_sync(make_adapter(retries=1), env, "NEW", "v", secret=True)
    assert emulator.secrets(REPO) == {}


def test_one_failed_put_is_retried(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.inject(Fault("status", status=502, times=1, path=r"/secrets/NEW$"))
    write_sync(make_adapter(), env, "NEW", "v", secret=True)
    assert emulator.secrets(REPO) == {"NEW": "v"}


@pytest.mark.parametrize("body", [
    {"key_id": "1"},                                   # no key
    {"key": "not base64!!", "key_id": "1"},
    {"key": "c2hvcnQ=", "key_id": "1"},                # 5 bytes, not a Curve25519 key
    {"key_id": True, "key": "c2hvcnQ="},
])
def test_a_bad_public_key_is_an_error_before_any_put(emulator: GitHubEmulator, make_adapter: Any,
                                                     env: dict[str, str], body: dict[str, Any]) -> None:
    emulator.route_first("GET", r"/repos/acme/web/actions/secrets/public-key", lambda req, m: Response(200, body))
    with pytest.raises(PlatformError, match="unexpected response shape"):
        write_sync(make_adapter(), env, "NEW", "v", secret=True)
    assert "PUT" not in {c[0] for c in calls(emulator)}


def test_write_without_token_sends_nothing(emulator: GitHubEmulator, make_adapter: Any) -> None:
    with pytest.raises(PlatformError, match="GITHUB_TOKEN"):
        write_sync(make_adapter(), {}, "NEW", "v", secret=True)
    assert emulator.requests == []
