"""The Render emulator replays recorded Render API traffic (reference/*.yaml beside this test; see its README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml  # the testing extra installs PyYAML (it reads the recorded cassettes)

from genesis_render.emulator import RenderEmulator
from genesis_render.testing import SERVICE_ID

REFERENCE = Path(__file__).resolve().parent / "reference"
SERVICE_CASSETTE = REFERENCE / "webservice_env_var_cassette.yaml"
GROUP_CASSETTE = REFERENCE / "envgroup_env_group_cassette.yaml"
RATE_HEADERS = ("Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset")


def interactions(path: Path, *, path_contains: str) -> list[dict[str, Any]]:
    data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [i for i in data["interactions"] if path_contains in urlsplit(i["request"]["url"]).path]


def body_of(recorded: dict[str, Any]) -> Any:
    text = recorded["body"]
    return json.loads(text) if text.strip() else None


@pytest.fixture
def client(emulator: RenderEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.token}"}) as http:
        yield http


def send(client: httpx.Client, recorded: dict[str, Any], params: dict[str, str]) -> httpx.Response:
    """Send the recorded request (same method, path and body) to the emulator."""
    request = recorded["request"]
    body = request["body"].encode() if request["body"] else None
    headers = {"Content-Type": "application/json"} if body else {}
    return client.request(request["method"], urlsplit(request["url"]).path, params=params,
                          content=body, headers=headers)


def assert_same_headers(recorded: dict[str, Any], response: httpx.Response) -> None:
    for name in RATE_HEADERS:
        assert name in recorded["response"]["headers"]
        assert response.headers[name].isdigit()
    if response.status_code != 204:
        assert response.headers["content-type"] == recorded["response"]["headers"]["Content-Type"][0]


def test_service_env_var_traffic_replays_identically(emulator: RenderEmulator, client: httpx.Client) -> None:
    recorded_calls = interactions(SERVICE_CASSETTE, path_contains="/env-vars")
    service_id = urlsplit(recorded_calls[0]["request"]["url"]).path.split("/")[3]
    emulator.set_env(service_id, {})
    key_of_recorded_cursor: dict[str, str] = {}
    emulated_cursor_of_key: dict[str, str] = {}
    gets_with_cursor = 0

    for recorded in recorded_calls:
        query = parse_qs(urlsplit(recorded["request"]["url"]).query)
        params = {name: values[0] for name, values in query.items()}
        if "cursor" in params:  # cursors are opaque: map the recorded one to ours for the same item
            params["cursor"] = emulated_cursor_of_key[key_of_recorded_cursor[params["cursor"]]]
            gets_with_cursor += 1
        response = send(client, recorded, params)

        assert response.status_code == recorded["response"]["code"], recorded["id"]
        assert_same_headers(recorded, response)
        expected, actual = body_of(recorded["response"]), response.json()
        assert isinstance(actual, list) and isinstance(expected, list)
        assert [item["envVar"] for item in actual] == [item["envVar"] for item in expected], recorded["id"]
        for mine, theirs in zip(actual, expected):
            assert set(mine) == set(theirs) == {"envVar", "cursor"}
            assert isinstance(mine["cursor"], str) and mine["cursor"]
            key_of_recorded_cursor[theirs["cursor"]] = theirs["envVar"]["key"]
            emulated_cursor_of_key[mine["envVar"]["key"]] = mine["cursor"]

    assert gets_with_cursor >= 2  # the cassette does exercise "last cursor, then an empty page"
    assert emulator.env(service_id) == {}  # the recorded PUT null cleared everything


def test_env_group_traffic_replays_identically(emulator: RenderEmulator, client: httpx.Client) -> None:
    created = interactions(GROUP_CASSETTE, path_contains="/v1/env-groups")[0]
    assert created["request"]["method"] == "POST"
    group = body_of(created["response"])
    request_order = [item["key"] for item in json.loads(created["request"]["body"])["envVars"]]
    values = {item["key"]: item["value"] for item in group["envVars"]}
    emulator.set_group(group["id"], {key: values[key] for key in request_order}, name=group["name"],
                       owner_id=group["ownerId"])

    replayed = 0
    for recorded in interactions(GROUP_CASSETTE, path_contains="/v1/env-groups")[1:]:
        path = urlsplit(recorded["request"]["url"]).path
        if recorded["request"]["method"] != "GET" and "/env-vars/" not in path:
            continue  # secret files and renames are outside what Genesis uses
        response = send(client, recorded, {})
        replayed += 1
        assert response.status_code == recorded["response"]["code"], recorded["id"]
        assert_same_headers(recorded, response)
        expected = body_of(recorded["response"])
        if expected is None:
            assert response.content == b""
            continue
        actual = response.json()
        assert set(actual) == set(expected)
        assert actual["id"] == expected["id"]
        assert actual["ownerId"] == expected["ownerId"]
        assert actual["envVars"] == expected["envVars"], recorded["id"]
    assert replayed == 8


def test_bulk_put_replaces_every_variable(emulator: RenderEmulator, client: httpx.Client) -> None:
    emulator.set_env("srv-1", {"OLD_A": "a", "OLD_B": "b"})
    response = client.put("/v1/services/srv-1/env-vars", json=[{"key": "ONLY", "value": "x"}])
    assert response.status_code == 200
    assert [item["envVar"] for item in response.json()] == [{"key": "ONLY", "value": "x"}]
    assert emulator.env("srv-1") == {"ONLY": "x"}


def test_list_is_newest_first_and_cursor_continues_after_an_item(emulator: RenderEmulator,
                                                                 client: httpx.Client) -> None:
    emulator.set_env("srv-1", {"K1": "1", "K2": "2", "K3": "3"})
    first = client.get("/v1/services/srv-1/env-vars", params={"limit": 2}).json()
    assert [item["envVar"]["key"] for item in first] == ["K3", "K2"]
    second = client.get("/v1/services/srv-1/env-vars", params={"limit": 2, "cursor": first[-1]["cursor"]})
    assert [item["envVar"]["key"] for item in second.json()] == ["K1"]
    last = client.get("/v1/services/srv-1/env-vars", params={"limit": 2, "cursor": second.json()[-1]["cursor"]})
    assert last.json() == []


def test_list_limit_defaults_to_20_and_rejects_out_of_range(emulator: RenderEmulator,
                                                           client: httpx.Client) -> None:
    emulator.set_env("srv-1", {f"K{i}": "v" for i in range(30)})
    assert len(client.get("/v1/services/srv-1/env-vars").json()) == 20
    assert len(client.get("/v1/services/srv-1/env-vars", params={"limit": 100}).json()) == 30
    for bad in ("0", "101", "ten"):
        response = client.get("/v1/services/srv-1/env-vars", params={"limit": bad})
        assert response.status_code == 400
        assert set(response.json()) == {"id", "message"}
    assert client.get("/v1/services/srv-1/env-vars", params={"cursor": "bogus"}).status_code == 400


def test_single_variable_put_get_delete(emulator: RenderEmulator, client: httpx.Client) -> None:
    emulator.set_env("srv-1", {"KEEP": "k"})
    created = client.put("/v1/services/srv-1/env-vars/NEW", json={"value": "n"})
    assert (created.status_code, created.json()) == (200, {"key": "NEW", "value": "n"})
    generated = client.put("/v1/services/srv-1/env-vars/GEN", json={"generateValue": True}).json()
    assert generated["key"] == "GEN" and len(generated["value"]) >= 32
    assert client.get("/v1/services/srv-1/env-vars/NEW").json() == {"key": "NEW", "value": "n"}
    assert client.put("/v1/services/srv-1/env-vars/NEW", json={"nothing": 1}).status_code == 400
    deleted = client.delete("/v1/services/srv-1/env-vars/NEW")
    assert (deleted.status_code, deleted.content) == (204, b"")
    missing = client.delete("/v1/services/srv-1/env-vars/NEW")
    assert (missing.status_code, missing.json()) == (404, {"message": "not found: NEW"})
    assert set(emulator.env("srv-1")) == {"KEEP", "GEN"}


def test_errors_have_renders_body_and_headers(emulator: RenderEmulator, client: httpx.Client) -> None:
    unknown = client.get("/v1/services/srv-nope/env-vars")
    assert (unknown.status_code, unknown.json()) == (404, {"message": "not found: srv-nope"})
    anonymous = httpx.get(f"{emulator.base_url}/v1/services/srv-1/env-vars")
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"id", "message"}
    assert all(anonymous.headers[name].isdigit() for name in RATE_HEADERS)


def test_throttle_answers_429_with_ratelimit_reset(emulator: RenderEmulator, client: httpx.Client) -> None:
    emulator.throttle(1, reset=7)
    limited = client.get(f"/v1/services/{SERVICE_ID}/env-vars")
    assert limited.status_code == 429
    assert (limited.headers["Ratelimit-Remaining"], limited.headers["Ratelimit-Reset"]) == ("0", "7")
    assert client.get(f"/v1/services/{SERVICE_ID}/env-vars").status_code == 200
