"""The Fly emulator behaves as fly-go's client expects the Machines API to (see its module docstring)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from genesis_fly.emulator import FlyEmulator
from genesis_fly.testing import APP


@pytest.fixture
def client(emulator: FlyEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"FlyV1 {emulator.token}"}) as http:
        yield http


def test_list_never_shows_values_even_when_asked(emulator: FlyEmulator, client: httpx.Client) -> None:
    emulator.set_secrets(APP, {"B": "2", "A": "1"})
    for params in ({}, {"show_secrets": "true"}):
        body = client.get(f"/v1/apps/{APP}/secrets", params=params).json()
        assert [s["name"] for s in body["secrets"]] == ["A", "B"]
        assert all(set(s) == {"name", "digest", "created_at", "updated_at"} for s in body["secrets"])


def test_set_one_answers_the_secret_with_a_version(emulator: FlyEmulator, client: httpx.Client) -> None:
    first = client.post(f"/v1/apps/{APP}/secrets/API_KEY", json={"value": "v1"}).json()
    second = client.post(f"/v1/apps/{APP}/secrets/API_KEY", json={"value": "v2"}).json()
    assert first["name"] == "API_KEY" and "value" not in first
    assert second["version"] > first["version"]
    assert second["updated_at"] > first["updated_at"] and second["created_at"] == first["created_at"]
    assert second["digest"] != first["digest"]
    assert client.post(f"/v1/apps/{APP}/secrets/X", json={"value": None}).status_code == 400
    assert emulator.secrets(APP) == {"API_KEY": "v2"}


def test_get_and_delete_one(emulator: FlyEmulator, client: httpx.Client) -> None:
    emulator.set_secrets(APP, {"A": "1"})
    assert client.get(f"/v1/apps/{APP}/secrets/A").json()["name"] == "A"
    assert "version" in client.delete(f"/v1/apps/{APP}/secrets/A").json()
    missing = client.get(f"/v1/apps/{APP}/secrets/A")
    assert (missing.status_code, missing.json()) == (404, {"error": "secret not found"})


def test_errors_are_error_objects(emulator: FlyEmulator, client: httpx.Client) -> None:
    unknown = client.get("/v1/apps/nope/secrets")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "app not found"})
    anonymous = httpx.get(f"{emulator.base_url}/v1/apps/{APP}/secrets")
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "unauthorized"})


def test_throttle_answers_429(emulator: FlyEmulator, client: httpx.Client) -> None:
    emulator.throttle(1)
    limited = client.get(f"/v1/apps/{APP}/secrets")
    assert (limited.status_code, limited.json()) == (429, {"error": "rate limit exceeded"})
    assert "retry-after" not in limited.headers
    assert client.get(f"/v1/apps/{APP}/secrets").status_code == 200
