"""The Heroku emulator behaves as the Platform API is documented to (see its module docstring)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from genesis_heroku.emulator import HerokuEmulator
from genesis_heroku.testing import APP

ACCEPT = "application/vnd.heroku+json; version=3"


@pytest.fixture
def client(emulator: HerokuEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}) as http:
        yield http


def test_patch_sets_and_a_null_deletes_in_one_release(emulator: HerokuEmulator, client: httpx.Client) -> None:
    emulator.set_config(APP, {"KEEP": "k", "DROP": "d"})
    response = client.patch(f"/apps/{APP}/config-vars", json={"NEW": "n", "DROP": None})
    assert (response.status_code, response.json()) == (200, {"KEEP": "k", "NEW": "n"})
    [release] = emulator.releases(APP)
    assert (release.version, release.description) == (1, "Set NEW config vars; Remove DROP config vars")
    assert emulator.restarts(APP) == 1


def test_patch_of_nothing_new_makes_no_release(emulator: HerokuEmulator, client: httpx.Client) -> None:
    emulator.set_config(APP, {"A": "1"})
    assert client.patch(f"/apps/{APP}/config-vars", json={"A": "1"}).status_code == 200
    assert client.patch(f"/apps/{APP}/config-vars", json={}).status_code == 200
    assert emulator.releases(APP) == [] and emulator.restarts(APP) == 0


@pytest.mark.parametrize("body", [{"BAD-NAME": "x"}, {"A": 1}, ["A"]])
def test_patch_validates_names_and_values(client: httpx.Client, body: object) -> None:
    response = client.patch(f"/apps/{APP}/config-vars", json=body)
    assert response.status_code == 422 and response.json()["id"] == "invalid_params"


def test_errors_are_heroku_error_objects(emulator: HerokuEmulator, client: httpx.Client) -> None:
    missing = client.get("/apps/nope/config-vars")
    assert (missing.status_code, missing.json()) == (404, {"id": "not_found", "message": "Couldn't find that app."})
    anonymous = httpx.get(f"{emulator.base_url}/apps/{APP}/config-vars", headers={"Accept": ACCEPT})
    assert (anonymous.status_code, anonymous.json()["id"]) == (401, "unauthorized")
    no_version = httpx.get(f"{emulator.base_url}/apps/{APP}/config-vars",
                           headers={"Authorization": f"Bearer {emulator.token}"})
    assert (no_version.status_code, no_version.json()["id"]) == (406, "not_acceptable")


def test_every_answer_carries_ratelimit_remaining_and_a_429_says_nothing_else(emulator: HerokuEmulator,
                                                                              client: httpx.Client) -> None:
    first = client.get(f"/apps/{APP}/config-vars")
    second = client.get(f"/apps/{APP}/config-vars")
    assert int(first.headers["RateLimit-Remaining"]) > int(second.headers["RateLimit-Remaining"]) > 0
    emulator.throttle(1)
    limited = client.get(f"/apps/{APP}/config-vars")
    assert limited.status_code == 429
    assert limited.json()["id"] == "rate_limit"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert not {"retry-after", "ratelimit-reset", "x-ratelimit-reset"} & set(limited.headers)
    assert client.get(f"/apps/{APP}/config-vars").status_code == 200


def test_attachments_list_config_vars_only_when_included(emulator: HerokuEmulator, client: httpx.Client) -> None:
    emulator.attach_addon(APP, "DATABASE", {"DATABASE_URL": "postgres://x"})
    plain = client.get(f"/apps/{APP}/addon-attachments").json()
    assert "config_vars" not in plain[0] and "plan" not in plain[0]["addon"]
    included = client.get(f"/apps/{APP}/addon-attachments",
                          headers={"Accept-Inclusion": "addon:plan,config_vars"}).json()
    assert included[0]["config_vars"] == ["DATABASE_URL"]
    assert included[0]["addon"]["plan"]["name"] == "heroku-postgresql:essential-0"
    assert {"id", "name", "app", "addon", "created_at", "updated_at", "web_url", "log_input_url"} <= set(included[0])


def test_attachments_are_ranged_with_next_range(emulator: HerokuEmulator, client: httpx.Client) -> None:
    for i in range(5):
        emulator.attach_addon(APP, f"R{i}", {f"R{i}_URL": "redis://"}, service="heroku-redis")
    first = client.get(f"/apps/{APP}/addon-attachments", headers={"Range": "id ..; max=2"})
    assert first.status_code == 206 and len(first.json()) == 2
    assert first.headers["Content-Range"].startswith("id ")
    names = [a["name"] for a in first.json()]
    response = first
    while response.status_code == 206:
        response = client.get(f"/apps/{APP}/addon-attachments", headers={"Range": response.headers["Next-Range"]})
        names += [a["name"] for a in response.json()]
    assert response.status_code == 200 and "Next-Range" not in response.headers
    assert sorted(names) == [f"R{i}" for i in range(5)]
    default = client.get(f"/apps/{APP}/addon-attachments")
    assert default.status_code == 200 and len(default.json()) == 5  # default range max 200
    for bad in ("id ..; max=1001", "bytes=0-10", "name ..; max=2"):
        refused = client.get(f"/apps/{APP}/addon-attachments", headers={"Range": bad})
        assert refused.status_code == 416, bad


def test_names_are_case_sensitive(emulator: HerokuEmulator, client: httpx.Client) -> None:
    client.patch(f"/apps/{APP}/config-vars", json={"Token": "a", "TOKEN": "b"})
    assert emulator.config(APP) == {"Token": "a", "TOKEN": "b"}
