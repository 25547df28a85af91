"""The Railway emulator answers the variable operations as Railway's schema and CLI describe them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genesis_railway.emulator import RailwayEmulator
from genesis_railway.testing import (
    ENVIRONMENT,
    PROJECT,
    PROJECT_TOKEN,
    SERVICE,
    new_emulator,
)


@pytest.fixture
def emulator() -> Iterator[RailwayEmulator]:
    server = new_emulator()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def post(emulator: RailwayEmulator, query: str, variables: dict[str, Any] | None = None, *,
         headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/graphql/v2", json={"query": query, "variables": variables or {}},
                      headers=headers if headers is not None else {"Project-Access-Token": PROJECT_TOKEN})


def test_literal_arguments_and_the_shorthand_query_work(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"A": "1"}, service_id=SERVICE)
    query = f'{{ variables(projectId: "{PROJECT}", environmentId: "{ENVIRONMENT}", serviceId: "{SERVICE}", ' \
            'unrendered: true) }'
    assert post(emulator, query).json() == {"data": {"variables": {"A": "1"}}}


def test_collection_upsert_with_replace_removes_every_other_variable(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"KEEP": "k"}, service_id=SERVICE)
    mutation = "mutation c($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }"
    scope = {"projectId": PROJECT, "environmentId": ENVIRONMENT, "serviceId": SERVICE}
    post(emulator, mutation, {"input": {**scope, "variables": {"NEW": "n"}}})
    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {"KEEP": "k", "NEW": "n"}
    post(emulator, mutation, {"input": {**scope, "variables": {"ONLY": "o"}, "replace": True}})
    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {"ONLY": "o"}
    assert len(emulator.deployments()) == 2  # skipDeploys defaults to false


def test_a_shared_change_without_skip_deploys_redeploys_every_service(emulator: RailwayEmulator) -> None:
    mutation = "mutation u($input: VariableUpsertInput!) { variableUpsert(input: $input) }"
    post(emulator, mutation, {"input": {"projectId": PROJECT, "environmentId": ENVIRONMENT, "name": "S", "value": "s"}})
    assert sorted(service for _, service, _ in emulator.deployments()) == sorted([SERVICE, "db-service"])


def test_a_null_value_is_a_graphql_error(emulator: RailwayEmulator) -> None:
    mutation = "mutation u($input: VariableUpsertInput!) { variableUpsert(input: $input) }"
    answer = post(emulator, mutation, {"input": {"projectId": PROJECT, "environmentId": ENVIRONMENT,
                                                 "serviceId": SERVICE, "name": "X", "value": None}})
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["message"] == 'Variable "$value" of non-null type "String!" must not be null.'


def test_credentials_and_scope_errors_come_with_http_200(emulator: RailwayEmulator) -> None:
    query = "query v($p: String!, $e: String!) { variables(projectId: $p, environmentId: $e) }"
    scope = {"p": PROJECT, "e": ENVIRONMENT}
    for headers, message in (({}, "Not Authorized"), ({"Project-Access-Token": "nope"}, "Project Token not found"),
                             ({"Authorization": "Bearer nope"}, "Not Authorized")):
        answer = post(emulator, query, scope, headers=headers)
        assert answer.status_code == 200
        assert answer.json() == {"data": None, "errors": [{"message": message}]}
    emulator.add_environment(PROJECT, "staging")
    other = post(emulator, query, {"p": PROJECT, "e": "staging"})
    assert other.json()["errors"][0]["message"] == "Not Authorized"  # a project token reaches one environment
    account = post(emulator, query, {"p": PROJECT, "e": "staging"},
                   headers={"Authorization": f"Bearer {emulator.token}"})
    assert account.json() == {"data": {"variables": {}}}


def test_unknown_fields_and_bodies_are_400(emulator: RailwayEmulator) -> None:
    unknown = post(emulator, "{ me { id } }")
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == 'Cannot query field "me" on type "Query".'
    assert httpx.post(f"{emulator.base_url}/graphql/v2", json={"no": "query"}).status_code == 400


def test_a_429_carries_retry_after(emulator: RailwayEmulator) -> None:
    emulator.throttle(1, retry_after="5")
    limited = post(emulator, "{ variables(projectId: \"p\", environmentId: \"e\") }")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "5")
