"""Every way a GitHub read can fail is a PlatformError naming the instance, and never leaks the token."""

from __future__ import annotations

from typing import Any

import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import Fault, fetch_sync
from genesis_github.emulator import GitHubEmulator

REPO = "acme/web"


def fetch_error(adapter: Any, env: dict[str, str]) -> PlatformError:
    with pytest.raises(PlatformError) as info:
        fetch_sync(adapter, env)
    assert info.value.platform == adapter.name
    assert str(info.value).startswith(f"{adapter.name}: ")
    return info.value


def test_bad_credentials_name_the_token_variable(emulator: GitHubEmulator, make_adapter: Any) -> None:
    error = fetch_error(make_adapter(), {"GITHUB_TOKEN": "ghp_wrongwrongwrong"})
    assert error.status == 401
    assert "GITHUB_TOKEN" in str(error) and "Bad credentials" in str(error)
    assert "ghp_wrongwrongwrong" not in str(error)


def test_custom_token_env(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.set_variable(REPO, "A", "1")
    adapter = make_adapter(token_env="GH_PAT_FOR_GENESIS")
    assert fetch_sync(adapter, {"GH_PAT_FOR_GENESIS": env["GITHUB_TOKEN"]}).values() == {"A": "1"}
    assert "GH_PAT_FOR_GENESIS" in str(fetch_error(adapter, env))


def test_forbidden_without_rate_limit_is_permission_denied(emulator: GitHubEmulator, make_adapter: Any,
                                                           env: dict[str, str]) -> None:
    emulator.inject(Fault("status", status=403))
    error = fetch_error(make_adapter(), env)
    assert error.status == 403
    assert "permission denied" in str(error) and "acme/web" in str(error)
    assert len(emulator.requests) == 1, "a plain 403 is not retried"


def test_unknown_repository_is_not_found(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    error = fetch_error(make_adapter(repository="acme/gone"), env)
    assert error.status == 404
    assert "not found" in str(error) and "acme/gone" in str(error)


def test_primary_rate_limit_waits_for_the_reset(emulator: GitHubEmulator, make_adapter: Any,
                                                env: dict[str, str]) -> None:
    emulator.set_variable(REPO, "A", "1")
    emulator.limit_rate(times=1, status=403, reset_after=1.0)
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert len(emulator.requests) == 3


@pytest.mark.parametrize("retry_after", [0, 1])
def test_429_with_retry_after_is_waited_out(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str],
                                            retry_after: int) -> None:
    emulator.set_variable(REPO, "A", "1")
    emulator.limit_rate(times=1, status=429, retry_after=retry_after)
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert len(emulator.requests) == 3


def test_secondary_rate_limit_403_with_retry_after_is_waited_out(emulator: GitHubEmulator, make_adapter: Any,
                                                                 env: dict[str, str]) -> None:
    emulator.set_variable(REPO, "A", "1")
    emulator.limit_rate(times=1, status=403, retry_after=0)
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}


def test_rate_limit_that_never_lifts_is_an_error(emulator: GitHubEmulator, make_adapter: Any,
                                                 env: dict[str, str]) -> None:
    emulator.limit_rate(status=429, retry_after=0)
    error = fetch_error(make_adapter(retries=2), env)
    assert "rate limited" in str(error)
    assert len(emulator.requests) == 3


def test_rate_limit_resetting_too_late_fails_at_once(emulator: GitHubEmulator, make_adapter: Any,
                                                     env: dict[str, str]) -> None:
    emulator.limit_rate(status=403, reset_after=3600)
    error = fetch_error(make_adapter(), env)
    assert "resets in" in str(error)
    assert len(emulator.requests) == 1

