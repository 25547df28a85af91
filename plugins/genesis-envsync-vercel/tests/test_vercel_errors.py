"""Every way a Vercel read can fail is a PlatformError naming the instance, and never leaks the token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from genesis_core.api import PlatformError
from genesis_core.testing import fetch_sync
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

