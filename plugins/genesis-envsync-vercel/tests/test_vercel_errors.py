"""Every way a Vercel read can fail is a PlatformError naming the instance, and never leaks the token."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from genesis_core.errors import PlatformError
from genesis_core.testing.contract import closed_port, fetch_sync, write_sync
from genesis_core.testing.emulator import Fault
from genesis_vercel.emulator import VercelEmulator

P = "prj_web"


def fetch_error(adapter: Any, env: dict[str, str]) -> PlatformError:
    with pytest.raises(PlatformError) as info:
        fetch_sync(adapter, env)
    assert info.value.platform == adapter.name
    assert str(info.value).startswith(f"{adapter.name}: ")
    return info.value


def test_invalid_token_is_vercels_403_naming_the_variable(emulator: VercelEmulator, make_adapter: Any) -> None:
    error = fetch_error(make_adapter(), {"VERCEL_TOKEN": "wrong-token-value"})
    assert error.status == 403
    assert "VERCEL_TOKEN" in str(error) and "Not authorized" in str(error)
    assert "wrong-token-value" not in str(error)


def test_emulator_error_bodies_have_vercels_shape(emulator: VercelEmulator, env: dict[str, str]) -> None:
    with httpx.Client(base_url=emulator.base_url) as client:
        missing = client.get("/v10/projects/web/env", params={"teamId": "team_acme"})
        invalid = client.get("/v10/projects/web/env", headers={"Authorization": "Bearer nope"})
        unknown = client.get("/v10/projects/nope/env", headers={"Authorization": f"Bearer {env['VERCEL_TOKEN']}"})
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "forbidden"
    assert invalid.json()["error"] == {"code": "forbidden", "message": "Not authorized", "invalidToken": True}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_project_of_another_team_is_not_found(emulator: VercelEmulator, make_adapter: Any,
                                              env: dict[str, str]) -> None:
    error = fetch_error(make_adapter(team_id=None), env)  # the project belongs to team_acme
    assert error.status == 404
    assert "Project not found" in str(error) and "vercel project web" in str(error)


def test_one_server_error_then_success(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.add_env(P, "A", "1", target=["production"])
    emulator.inject(Fault("status", status=500, times=1))
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert len(emulator.requests) == 2


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault("status", status=500), "server error (HTTP 500)"),
    (Fault("status", status=403), "permission denied (HTTP 403)"),
    (Fault("html502"), "server error (HTTP 502) after retries"),
    (Fault("timeout", delay=0.6), "timed out"),
    (Fault("reset"), "network error"),
    (Fault("malformed_json"), "malformed JSON"),
    (Fault("wrong_shape"), "unexpected response shape"),
    (Fault("huge"), "response too large"),
])
def test_bad_answers_are_errors(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str],
                                fault: Fault, expected: str) -> None:
    emulator.inject(fault)
    error = fetch_error(make_adapter(timeout=0.3 if fault.kind == "timeout" else 3.0, retries=1), env)
    assert expected in str(error)
    assert "<html" not in str(error).lower()


def test_rate_limit_waits_for_x_ratelimit_reset(emulator: VercelEmulator, make_adapter: Any,
                                                env: dict[str, str]) -> None:
    emulator.add_env(P, "A", "1", target=["production"])
    emulator.limit_rate(times=1, reset_after=1.0)
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}
    assert len(emulator.requests) == 2


@pytest.mark.parametrize("retry_after", ["0", "1"])
def test_rate_limit_with_retry_after(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str],
                                     retry_after: str) -> None:
    emulator.add_env(P, "A", "1", target=["production"])
    emulator.limit_rate(times=1, retry_after=retry_after, reset_after=3600)
    assert fetch_sync(make_adapter(), env).values() == {"A": "1"}


def test_rate_limit_that_never_lifts_is_an_error(emulator: VercelEmulator, make_adapter: Any,
                                                 env: dict[str, str]) -> None:
    emulator.limit_rate(retry_after="0")
    error = fetch_error(make_adapter(retries=2), env)
    assert "rate limited (HTTP 429)" in str(error) and "Rate limit exceeded" in str(error)
    assert len(emulator.requests) == 3


def test_closed_port_is_an_error(make_adapter: Any, env: dict[str, str]) -> None:
    error = fetch_error(make_adapter(base_url=f"http://127.0.0.1:{closed_port()}", retries=0), env)
    assert "could not connect" in str(error)


def test_a_failed_write_changes_nothing(emulator: VercelEmulator, make_adapter: Any, env: dict[str, str]) -> None:
    emulator.add_env(P, "A", "1", target=["production"])
    before = emulator.entries(P)
    emulator.inject(Fault("status", status=500))
    with pytest.raises(PlatformError, match="HTTP 500"):
        write_sync(make_adapter(retries=1), env, "A", "2")
    assert emulator.entries(P) == before


def test_token_and_values_never_reach_logs_or_output(emulator: VercelEmulator, make_adapter: Any,
                                                     env: dict[str, str], caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    token = env["VERCEL_TOKEN"]
    emulator.add_env(P, "SENSITIVE_ONE", "canary-sensitive-123", type="sensitive", target=["production"])
    adapter = make_adapter(timeout=0.3, retries=1)
    seen = [repr(adapter), repr(fetch_sync(adapter, env))]
    for fault in (Fault("status", status=401), Fault("status", status=500), Fault("html502"),
                  Fault("malformed_json"), Fault("reset")):
        emulator.clear_faults()
        emulator.inject(fault)
        seen.append(repr(fetch_error(adapter, env).args))
    emulator.clear_faults()
    write_sync(adapter, env, "CANARY", "canary-value-123", secret=True)
    emulator.inject(Fault("status", status=500))
    with pytest.raises(PlatformError) as info:
        write_sync(adapter, env, "CANARY", "canary-value-123", secret=True)
    seen.append(str(info.value))
    out, err = capfd.readouterr()
    everything = "\n".join([*seen, caplog.text, out, err])
    assert token not in everything
    assert "canary-value-123" not in everything and "canary-sensitive-123" not in everything
