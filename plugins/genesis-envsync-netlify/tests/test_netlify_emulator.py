"""The Netlify emulator (and the adapter's traffic) conform to Netlify's swagger.

The swagger is reference/swagger.yml beside this test (its README names the source and licence): every emulated route
must be a documented path and method, success statuses must be the documented
ones, response bodies must validate against the ``envVar``/``error`` definitions,
and every request the adapter sends must use documented query parameters and a
body that validates against the operation's body schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # the testing extra installs PyYAML (it reads Netlify's swagger)

from genesis_core.testing import iter_routes
from genesis_netlify.emulator import NetlifyEmulator
from genesis_netlify.testing import (
    ACCOUNT_ID,
    SITE_ID,
    fetch,
    make_adapter,
    token_env,
    write,
)

SWAGGER = Path(__file__).resolve().parent / "reference" / "swagger.yml"

ENV = f"/api/v1/accounts/{ACCOUNT_ID}/env"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.load(SWAGGER.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        parts = schema["$ref"].lstrip("#/").split("/")
        node: Any = spec
        for part in parts:
            node = node[part]
        schema = node
    return schema


def validate(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """Assert that ``value`` matches the swagger ``schema`` (types, enums, known properties)."""
    schema = resolve(spec, schema)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        assert isinstance(value, dict), f"{where} is not an object"
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{where}.{name} is required"
        for name, item in value.items():
            assert name in properties, f"{where}.{name} is not in the swagger"
            validate(spec, properties[name], item, f"{where}.{name}")
    elif kind == "array":
        assert isinstance(value, list), f"{where} is not an array"
        for index, item in enumerate(value):
            validate(spec, schema["items"], item, f"{where}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where} is not a string"
        if "enum" in schema:
            assert value in schema["enum"], f"{where}={value!r} is not one of {schema['enum']}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where} is not a boolean"
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where} is not an integer"


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """Return the swagger operation serving ``method path`` (a concrete request path)."""
    base = spec["basePath"]
    assert path.startswith(base), path
    relative = path[len(base):]
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, relative) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in Netlify's swagger")


def parameters(op: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in op.get("parameters", []) if p.get("in") == where}


@pytest.fixture
def client(emulator: NetlifyEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.token}"}) as http:
        yield http


def seed(emulator: NetlifyEmulator) -> None:
    emulator.set_var(ACCOUNT_ID, SITE_ID, "PLAIN", {"all": "p", "production": "p-prod"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "BRANCHY", {"branch:staging": "s", "branch-deploy": "b"})
    emulator.set_var(ACCOUNT_ID, SITE_ID, "SECRET", {"production": "hidden", "dev": "local"}, secret=True)


def test_every_emulated_route_is_a_documented_operation(spec: dict[str, Any], emulator: NetlifyEmulator) -> None:
    routes = list(iter_routes(emulator))
    assert routes
    for method, pattern in routes:
        template = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", pattern)
        assert template.startswith(spec["basePath"] + "/")
        path = template[len(spec["basePath"]):]
        assert path in spec["paths"], f"{path} is not in the swagger"
        assert method.lower() in spec["paths"][path], f"{method} {path} is not in the swagger"


def test_list_answers_validate_against_the_envvar_schema(spec: dict[str, Any], emulator: NetlifyEmulator,
                                                         client: httpx.Client) -> None:
    seed(emulator)
    response = client.get(ENV, params={"site_id": SITE_ID})
    op = operation(spec, "GET", ENV)
    assert str(response.status_code) in op["responses"]
    validate(spec, op["responses"]["200"]["schema"], response.json())
    assert {item["key"] for item in response.json()} == {"PLAIN", "BRANCHY", "SECRET"}
    assert set(parameters(op, "query")) >= {"site_id", "context_name", "scope"}


def test_secret_values_are_masked_except_dev(emulator: NetlifyEmulator, client: httpx.Client) -> None:
    seed(emulator)
    [secret] = [item for item in client.get(ENV, params={"site_id": SITE_ID}).json() if item["key"] == "SECRET"]
    assert secret["is_secret"] is True
    by_context = {value["context"]: value for value in secret["values"]}
    assert "value" not in by_context["production"]
    assert by_context["dev"]["value"] == "local"
    assert "post-processing" not in secret["scopes"]


def test_list_filters_by_context_name_and_scope(emulator: NetlifyEmulator, client: httpx.Client) -> None:
    seed(emulator)
    emulator.set_var(ACCOUNT_ID, SITE_ID, "BUILD_ONLY", {"all": "x"}, scopes=["builds"])
    production = client.get(ENV, params={"site_id": SITE_ID, "context_name": "production"}).json()
    assert {item["key"] for item in production} == {"PLAIN", "SECRET"}
    assert all(v["context"] == "production" for item in production for v in item["values"])
    runtime = client.get(ENV, params={"site_id": SITE_ID, "scope": "runtime"}).json()
    assert "BUILD_ONLY" not in {item["key"] for item in runtime}


def test_single_key_operations_use_the_documented_statuses(spec: dict[str, Any], emulator: NetlifyEmulator,
                                                           client: httpx.Client) -> None:
    seed(emulator)
    site = {"site_id": SITE_ID}
    calls = [
        ("POST", ENV, [{"key": "NEW", "values": [{"context": "production", "value": "n"}]}]),
        ("GET", f"{ENV}/NEW", None),
        ("PATCH", f"{ENV}/NEW", {"context": "deploy-preview", "value": "d"}),
        ("PUT", f"{ENV}/NEW", {"key": "NEW", "values": [{"context": "all", "value": "a"}]}),
        ("DELETE", f"{ENV}/NEW", None),
    ]
    for method, path, body in calls:
        response = client.request(method, path, params=site, json=body)
        op = operation(spec, method, path)
        assert str(response.status_code) in op["responses"], f"{method} {path} answered {response.status_code}"
        documented = op["responses"][str(response.status_code)]
        if "schema" in documented:
            validate(spec, documented["schema"], response.json(), f"{method} {path}")
        else:
            assert response.content == b""
    value_id = client.get(f"{ENV}/PLAIN", params=site).json()["values"][0]["id"]
    deleted = client.delete(f"{ENV}/PLAIN/value/{value_id}", params=site)
    assert str(deleted.status_code) in operation(spec, "DELETE", f"{ENV}/PLAIN/value/{value_id}")["responses"]
    assert emulator.values(ACCOUNT_ID, SITE_ID, "PLAIN") == {"production": "p-prod"}


def test_put_replaces_every_context_value(emulator: NetlifyEmulator, client: httpx.Client) -> None:
    seed(emulator)
    response = client.put(f"{ENV}/PLAIN", params={"site_id": SITE_ID},
                          json={"key": "PLAIN", "values": [{"context": "deploy-preview", "value": "only"}]})
    assert response.status_code == 200
    assert emulator.values(ACCOUNT_ID, SITE_ID, "PLAIN") == {"deploy-preview": "only"}


def test_errors_validate_against_the_error_schema(spec: dict[str, Any], emulator: NetlifyEmulator,
                                                  client: httpx.Client) -> None:
    seed(emulator)
    error_schema = {"$ref": "#/definitions/error"}
    answers = [
        httpx.get(f"{emulator.base_url}{ENV}", params={"site_id": SITE_ID}),
        client.get(ENV, params={"site_id": "unknown"}),
        client.get(f"{ENV}/MISSING", params={"site_id": SITE_ID}),
        client.post(ENV, params={"site_id": SITE_ID}, json=[{"key": "PLAIN", "values": []}]),
        client.patch(f"{ENV}/SECRET", params={"site_id": SITE_ID}, json={"context": "all", "value": "x"}),
        client.post(ENV, params={"site_id": SITE_ID},
                    json=[{"key": "S2", "is_secret": True, "scopes": ["post-processing"], "values": []}]),
        client.patch(f"{ENV}/PLAIN", params={"site_id": SITE_ID}, json={"context": "branch", "value": "x"}),
    ]
    assert [a.status_code for a in answers] == [401, 404, 404, 400, 400, 400, 400]
    for answer in answers:
        validate(spec, error_schema, answer.json())
        assert answer.json()["code"] == answer.status_code


def test_rate_limit_headers_and_throttle(emulator: NetlifyEmulator, client: httpx.Client) -> None:
    ok = client.get(ENV, params={"site_id": SITE_ID})
    assert all(ok.headers[h].isdigit() for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"))
    emulator.throttle(1, retry_after=3)
    limited = client.get(ENV, params={"site_id": SITE_ID})
    assert (limited.status_code, limited.headers["Retry-After"], limited.headers["X-RateLimit-Remaining"]) == (
        429, "3", "0")
    assert limited.json() == {"code": 429, "message": "API rate limit exceeded"}


@pytest.mark.parametrize("table", [{}, {"context": "branch", "branch": "staging"}, {"context": "deploy-preview"}],
                         ids=["production", "branch", "deploy-preview"])
def test_every_adapter_request_is_documented_and_valid(spec: dict[str, Any], emulator: NetlifyEmulator,
                                                       table: dict[str, str]) -> None:
    seed(emulator)
    adapter = make_adapter(emulator, **table)
    fetch(adapter, token_env(emulator))
    write(adapter, token_env(emulator), "PLAIN", "changed")
    write(adapter, token_env(emulator), "BRAND_NEW", "new")
    write(adapter, token_env(emulator), "NEW_SECRET", "s", secret=True)
    assert {r.method for r in emulator.requests} == {"GET", "PATCH", "POST"}
    for request in emulator.requests:
        op = operation(spec, request.method, request.path)
        assert set(request.query) <= set(parameters(op, "query")), f"{request.method} {request.path}"
        [body_param] = list(parameters(op, "body").values()) or [None]
        if request.body:
            assert body_param is not None, f"{request.method} {request.path} takes no body"
            validate(spec, body_param["schema"], request.json(), f"{request.method} {request.path} body")
