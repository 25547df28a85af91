"""The emulator answers like GitHub: replay recorded GitHub traffic and compare.

The reference files (``reference/*.txt`` beside this test: PyGithub replay data, see its README) hold
records of ten lines separated by a blank line: scheme, method, host, port, path,
request headers, request body, status, response headers, response body.  Every
request on a secrets/variables/public-key path is sent to a fresh emulator
seeded with the names the recording assumes exist; status codes, the JSON key
sets, and the rate-limit headers must match.
"""

from __future__ import annotations

import ast
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from genesis_github.emulator import GitHubEmulator
from genesis_github.sealing import seal

TOKEN = "ghp_replaytoken"


#: PyGithub's replay files, copied into the repository (source and licence in reference/README.md).
REFERENCE = Path(__file__).resolve().parent / "reference"
FILES = sorted(REFERENCE.glob("*.txt"))
ACTIONS_PATH = re.compile(r"^(?P<scope>.+?)/(?P<what>secrets|variables)(?:/(?P<name>[^/?]+))?$")

#: Keys the emulator adds to a recording that a real answer has: the organization-variables
#: recording is hand-made (it has no ``value``), while GitHub's API returns ``value`` for
#: organization variables as for every other variable.
ALLOWED_EXTRA_KEYS = {("Organization.testGetVariables.txt", "variables"): {"value"}}


@attrs.frozen
class Record:
    method: str
    path: str
    request_headers: dict[str, str]
    request_body: Any
    status: int
    response_headers: dict[str, str]
    response_body: str


def parse_records(path: Path) -> list[Record]:
    """Return the records of one replay file (raises if the layout is not ten lines a record)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        chunk = lines[i:i + 10]
        assert len(chunk) == 10, f"{path.name}: truncated record at line {i + 1}"
        assert chunk[0] in ("http", "https") and chunk[1].isupper(), f"{path.name}: bad record at line {i + 1}"
        body = None if chunk[6] == "None" else json.loads(chunk[6])
        headers = {k.lower(): v for k, v in ast.literal_eval(chunk[8])}
        records.append(Record(chunk[1], chunk[4], ast.literal_eval(chunk[5]), body, int(chunk[7]), headers, chunk[9]))
        i += 10
    return records


def actions_records(path: Path) -> list[Record]:
    return [r for r in parse_records(path) if ACTIONS_PATH.match(r.path.split("?")[0])]


def test_reference_files_are_present_and_parse() -> None:
    assert len(FILES) >= 10, f"the replay files are missing from {REFERENCE}"
    methods = {r.method for f in FILES for r in actions_records(f)}
    assert methods == {"GET", "PUT", "POST", "PATCH", "DELETE"}


def _scope_seeders(emulator: GitHubEmulator, scope_path: str) -> tuple[Any, Any]:
    """Return ``(set_secret, set_variable)`` for a recorded scope path, creating the scope."""
    org = re.fullmatch(r"/orgs/([^/]+)/actions", scope_path)
    if org:
        emulator.add_org(org[1])
        return (lambda n, v: emulator.set_org_secret(org[1], n, v),
                lambda n, v: emulator.set_org_variable(org[1], n, v))
    env = re.fullmatch(r"/repos/([^/]+/[^/]+)/environments/([^/]+)", scope_path)
    if env:
        emulator.add_environment(env[1], env[2])
        return (lambda n, v: emulator.set_secret(env[1], n, v, environment=env[2]),
                lambda n, v: emulator.set_variable(env[1], n, v, environment=env[2]))
    repo = re.fullmatch(r"/repos/([^/]+/[^/]+)/actions", scope_path)
    assert repo, f"unknown scope path {scope_path}"
    emulator.add_repo(repo[1])
    return (lambda n, v: emulator.set_secret(repo[1], n, v),
            lambda n, v: emulator.set_variable(repo[1], n, v))


def seed_for(emulator: GitHubEmulator, records: list[Record]) -> None:
    """Create the scopes and the names a recording uses before it creates them."""
    created: set[tuple[str, str, str]] = set()
    for record in records:
        match = ACTIONS_PATH.match(record.path.split("?")[0])
        assert match
        scope, what, name = match["scope"], match["what"], match["name"]
        set_secret, set_variable = _scope_seeders(emulator, scope)
        seeder = set_secret if what == "secrets" else set_variable
        names: list[str] = []
        if name and name != "public-key":
            if (record.method, what) in (("PUT", "secrets"),):
                created.add((scope, what, name.upper()))
                continue
            names = [name]
        elif record.method == "POST" and isinstance(record.request_body, dict):
            created.add((scope, what, str(record.request_body["name"]).upper()))
            continue
        elif record.method == "GET" and not name and record.response_body:
            names = [item["name"] for item in json.loads(record.response_body).get(what, [])]
        for seeded in names:
            if (scope, what, seeded.upper()) not in created:
                seeder(seeded, "seeded-by-replay")
                created.add((scope, what, seeded.upper()))


def _key_shape(value: Any) -> Any:
    """Return the key structure of a JSON value: dict -> {key: shape}, list -> [shapes], else None."""
    if isinstance(value, dict):
        return {k: _key_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_key_shape(v) for v in value]
    return None


def _drop_allowed(shape: Any, allowed: set[str]) -> Any:
    if isinstance(shape, dict):
        return {k: _drop_allowed(v, allowed) for k, v in shape.items() if k not in allowed}
    if isinstance(shape, list):
        return [_drop_allowed(v, allowed) for v in shape]
    return shape


def replay(emulator: GitHubEmulator, path: Path) -> Iterator[tuple[Record, httpx.Response, dict[str, Any]]]:
    """Send every recorded actions request to the emulator; yield (record, response, sent body)."""
    with httpx.Client(base_url=emulator.base_url, timeout=5.0) as client:
        for record in actions_records(path):
            body = record.request_body
            if record.method == "PUT" and "/secrets/" in record.path and isinstance(body, dict):
                scope = ACTIONS_PATH.match(record.path)["scope"]  # type: ignore[index]
                key = client.get(f"{scope}/secrets/public-key", headers={"Authorization": f"token {TOKEN}"}).json()
                body = {**body, "key_id": key["key_id"], "encrypted_value": seal(key["key"], "replayed value")}
                assert set(body) == set(record.request_body), "the replayed body keeps the recorded shape"
            headers = {"Authorization": f"token {TOKEN}"}  # PyGithub's form, as recorded
            response = client.request(record.method, record.path, headers=headers,
                                      content=None if body is None else json.dumps(body).encode(),
                                      )
            yield record, response, body


#: Recordings with at least one secrets/variables/public-key request (one holds only a repository GET).
ACTION_FILES = [f for f in FILES if actions_records(f)]


@pytest.mark.parametrize("path", ACTION_FILES, ids=[f.name for f in ACTION_FILES])
def test_emulator_answers_like_the_recording(path: Path) -> None:
    records = actions_records(path)
    emulator = GitHubEmulator(token=TOKEN)
    seed_for(emulator, records)
    with emulator:
        for record, response, _ in replay(emulator, path):
            where = f"{path.name}: {record.method} {record.path}"
            assert response.status_code == record.status, (
                f"{where}: status {response.status_code}, recorded {record.status}")
            if record.response_body.strip():
                recorded = json.loads(record.response_body)
                got = response.json()
                match = ACTIONS_PATH.match(record.path)
                allowed = ALLOWED_EXTRA_KEYS.get((path.name, match["what"] if match else ""), set())
                assert _drop_allowed(_key_shape(got), allowed) == _key_shape(recorded), where
                if record.response_body == "{}":  # 201 answers: exactly "{}", Content-Length 2
                    assert response.headers["content-length"] == record.response_headers["content-length"], where
            else:
                assert response.content == b"", f"{where}: recorded an empty body"
            recorded_rate = {h for h in record.response_headers if h.startswith("x-ratelimit-")}
            assert recorded_rate <= {h.lower() for h in response.headers}, f"{where}: rate-limit headers"
            assert response.headers["x-ratelimit-reset"].isdigit()


def test_secret_names_are_stored_in_upper_case_as_recorded() -> None:
    """PUT .../secrets/secret_name, then GET answers ``"name": "SECRET_NAME"`` (as in the recording)."""
    path = REFERENCE / "Environment.testEnvironmentSecret.txt"
    assert path.is_file()
    records = actions_records(path)
    emulator = GitHubEmulator(token=TOKEN)
    seed_for(emulator, records)
    with emulator:
        answers = [(r, resp) for r, resp, _ in replay(emulator, path)]
    get = next(resp for r, resp in answers if r.method == "GET" and r.path.endswith("/secret_name"))
    recorded = next(r for r, _ in answers if r.method == "GET" and r.path.endswith("/secret_name"))
    assert get.json()["name"] == json.loads(recorded.response_body)["name"] == "SECRET_NAME"


def test_sealed_box_round_trip_with_the_scope_key() -> None:
    """A value sealed to the emulator's public key (as the adapter does) is decrypted to the original."""
    emulator = GitHubEmulator(token=TOKEN)
    emulator.add_environment("acme/web", "staging")
    value = "p@ss w\u00f6rd\nwith lines \U0001f511"
    with emulator, httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        scopes = (("/repos/acme/web/actions", None), ("/repos/acme/web/environments/staging", "staging"))
        for scope, environment in scopes:
            key = client.get(f"{scope}/secrets/public-key").json()
            assert len(base64.b64decode(key["key"])) == 32
            assert (key["key_id"], key["key"]) == emulator.public_key("acme/web", environment=environment)
            sealed = seal(key["key"], value)
            assert value.encode() not in base64.b64decode(sealed)
            first = client.put(f"{scope}/secrets/DB_PASSWORD",
                               json={"encrypted_value": sealed, "key_id": key["key_id"]})
            again = client.put(f"{scope}/secrets/DB_PASSWORD",
                               json={"encrypted_value": seal(key["key"], value + "2"), "key_id": key["key_id"]})
            assert (first.status_code, again.status_code) == (201, 204)
            assert emulator.secrets("acme/web", environment=environment) == {"DB_PASSWORD": value + "2"}
    assert emulator.decrypt_failures == 0


def test_scopes_have_different_keys_and_a_box_for_one_scope_is_refused_by_another() -> None:
    emulator = GitHubEmulator(token=TOKEN)
    emulator.add_environment("acme/web", "prod")
    repo_key = emulator.public_key("acme/web")
    env_key = emulator.public_key("acme/web", environment="prod")
    assert repo_key[1] != env_key[1]
    with emulator, httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        wrong_box = client.put("/repos/acme/web/environments/prod/secrets/X",
                               json={"encrypted_value": seal(repo_key[1], "v"), "key_id": env_key[0]})
        wrong_id = client.put("/repos/acme/web/environments/prod/secrets/X",
                              json={"encrypted_value": seal(env_key[1], "v"), "key_id": repo_key[0]})
    assert wrong_box.status_code == 422 and wrong_id.status_code == 422
    assert emulator.decrypt_failures == 1
    assert emulator.secrets("acme/web", environment="prod") == {}


def test_older_repository_id_paths_reach_the_same_environment() -> None:
    emulator = GitHubEmulator(token=TOKEN)
    repo_id = emulator.add_repo("acme/web")
    emulator.add_environment("acme/web", "prod")
    emulator.set_variable("acme/web", "REGION", "eu", environment="prod")
    with emulator, httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        listed = client.get(f"/repositories/{repo_id}/environments/prod/variables").json()
        repo = client.get("/repos/acme/web").json()
    assert repo["id"] == repo_id
    assert [(v["name"], v["value"]) for v in listed["variables"]] == [("REGION", "eu")]


@pytest.mark.parametrize("header", ["Bearer {t}", "token {t}", "bearer {t}"])
def test_both_token_forms_are_accepted(header: str) -> None:
    emulator = GitHubEmulator(token=TOKEN)
    emulator.add_repo("acme/web")
    with emulator, httpx.Client(base_url=emulator.base_url) as client:
        ok = client.get("/repos/acme/web/actions/variables", headers={"Authorization": header.format(t=TOKEN)})
        bad = client.get("/repos/acme/web/actions/variables", headers={"Authorization": header.format(t="nope")})
        none = client.get("/repos/acme/web/actions/variables")
    assert ok.status_code == 200
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")
    assert (none.status_code, none.json()["message"]) == (401, "Requires authentication")
    assert set(bad.json()) >= {"message", "documentation_url"}


def test_unknown_repository_is_github_404() -> None:
    emulator = GitHubEmulator(token=TOKEN)
    with emulator, httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = client.get("/repos/acme/missing/actions/secrets")
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert "documentation_url" in response.json()


def test_duplicate_variable_is_409_and_patch_is_204() -> None:
    emulator = GitHubEmulator(token=TOKEN)
    emulator.add_repo("acme/web")
    with emulator, httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        first = client.post("/repos/acme/web/actions/variables", json={"name": "mode", "value": "a"})
        second = client.post("/repos/acme/web/actions/variables", json={"name": "MODE", "value": "b"})
        patched = client.patch("/repos/acme/web/actions/variables/MODE", json={"name": "MODE", "value": "c"})
        missing = client.patch("/repos/acme/web/actions/variables/OTHER", json={"value": "c"})
    assert (first.status_code, first.json()) == (201, {})
    assert second.status_code == 409
    assert (patched.status_code, patched.content) == (204, b"")
    assert missing.status_code == 404
    assert emulator.variables("acme/web") == {"MODE": "c"}


@pytest.mark.parametrize(("what", "count", "per_page", "pages"), [
    ("secrets", 101, 100, 2), ("secrets", 100, 500, 1), ("variables", 31, 30, 2), ("variables", 31, 100, 2),
    ("variables", 0, 30, 1),
])
def test_list_pages_link_headers_and_per_page_caps(what: str, count: int, per_page: int, pages: int) -> None:
    emulator = GitHubEmulator(token=TOKEN)
    emulator.add_repo("acme/web")
    setter = emulator.set_secret if what == "secrets" else emulator.set_variable
    for i in range(count):
        setter("acme/web", f"N{i:03d}", "v")
    names: list[str] = []
    with emulator, httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        url: str | None = f"{emulator.base_url}/repos/acme/web/actions/{what}?per_page={per_page}"
        seen = 0
        while url:
            response = client.get(url)
            body = response.json()
            assert body["total_count"] == count
            names += [item["name"] for item in body[what]]
            seen += 1
            link = response.headers.get("link", "")
            found = re.search(r'<([^>]+)>; rel="next"', link)
            url = found[1] if found else None
            if url:
                assert 'rel="last"' in link
    assert seen == pages
    assert names == sorted(f"N{i:03d}" for i in range(count))
