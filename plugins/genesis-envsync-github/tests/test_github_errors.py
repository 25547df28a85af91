"""Every way a GitHub read can fail is a PlatformError naming the instance, and never leaks the token."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from genesis_core.errors import PlatformError
from genesis_core.testing.contract import fetch_sync, write_sync
from genesis_core.testing.emulator import Fault
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


def test_missing_token_sends_nothing(emulator: GitHubEmulator, make_adapter: Any) -> None:
    error = fetch_error(make_adapter(), {})
    assert "GITHUB_TOKEN" in str(error)
    assert emulator.requests == []


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


def test_one_server_error_then_success(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.set_variable(REPO, "A", "1")
    emulator.inject(Fault("status", status=500, times=1))
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert len(emulator.requests) == 3  # secrets (500), secrets, variables


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault("status", status=500), "server error (HTTP 500)"),
    (Fault("html502"), "server error (HTTP 502) after retries"),
    (Fault("timeout", delay=0.6), "timed out"),
    (Fault("reset"), "network error"),
    (Fault("malformed_json"), "malformed JSON"),
    (Fault("wrong_shape"), "unexpected response shape"),
    (Fault("huge"), "response too large"),
])
def test_bad_answers_are_errors(emulator: GitHubEmulator, make_adapter: Any, env: dict[str, str],
                                fault: Fault, expected: str) -> None:
    emulator.inject(fault)
    error = fetch_error(make_adapter(timeout=0.3 if fault.kind == "timeout" else 3.0, retries=1), env)
    assert expected in str(error)
    assert "<html" not in str(error).lower()


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


def test_closed_port_is_an_error(make_adapter: Any, env: dict[str, str]) -> None:
    from genesis_core.testing.contract import closed_port

    error = fetch_error(make_adapter(base_url=f"http://127.0.0.1:{closed_port()}", retries=0), env)
    assert "could not connect" in str(error)


def test_token_and_values_never_reach_logs_or_output(emulator: GitHubEmulator, make_adapter: Any,
                                                     env: dict[str, str], caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    token = env["GITHUB_TOKEN"]
    emulator.set_variable(REPO, "PLAIN", "visible")
    adapter = make_adapter(timeout=0.3, retries=1)
    seen = [repr(adapter), repr(fetch_sync(adapter, env))]
    for fault in (Fault("status", status=401), Fault("status", status=500), Fault("html502"),
                  Fault("malformed_json"), Fault("reset")):
        emulator.clear_faults()
        emulator.inject(fault)
        seen.append(repr(fetch_error(adapter, env).args))
    emulator.clear_faults()
    write_sync(adapter, env, "CANARY_SECRET", "canary-value-123", secret=True)
    emulator.inject(Fault("status", status=500))
    with pytest.raises(PlatformError) as info:
        write_sync(adapter, env, "CANARY_SECRET", "canary-value-123", secret=True)
    seen.append(str(info.value))
    out, err = capfd.readouterr()
    everything = "\n".join([*seen, caplog.text, out, err])
    assert token not in everything
    assert "canary-value-123" not in everything
