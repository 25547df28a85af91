"""The Railway adapter against the Railway emulator: unrendered reads, GraphQL errors with HTTP 200,
tokens, one variableUpsert per key with skipDeploys, never a collection upsert or a delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genesis_core.api import REDEPLOY, STAGED, ConfigError, FetchContext, PlatformError
from genesis_core.testing import Response
from genesis_railway.adapter import RailwayAdapter
from genesis_railway.emulator import RailwayEmulator
from genesis_railway.testing import (
    ENVIRONMENT,
    PROJECT,
    PROJECT_TOKEN,
    SERVICE,
    fetch,
    graphql_operations,
    make_adapter,
    new_emulator,
    token_env,
    write,
)

CANARY = "canary-railway-value-5f0e"
REFERENCE = "${{Postgres.DATABASE_URL}}"


@pytest.fixture
def emulator(waits: list[float]) -> Iterator[RailwayEmulator]:
    server = new_emulator()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bodies(emulator: RailwayEmulator) -> list[dict[str, Any]]:
    return [r.json() for r in emulator.requests]


def assert_clean(error: PlatformError, emulator: RailwayEmulator) -> None:
    text = f"{error} {error!r} {error.reason}"
    assert str(error).startswith("railway: ")
    assert PROJECT_TOKEN not in text and emulator.token not in text and CANARY not in text


# -- reading -------------------------------------------------------------------------------------

def test_fetch_asks_for_unrendered_variables_and_keeps_references_as_written(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"DATABASE_URL": "postgres://real"}, service_id="db-service")
    emulator.set_variables(PROJECT, ENVIRONMENT, {"DATABASE_URL": REFERENCE, "PORT": "8080"}, service_id=SERVICE)
    snapshot = fetch(make_adapter(emulator), token_env())

    assert snapshot.values() == {"DATABASE_URL": REFERENCE, "PORT": "8080"}
    assert {v.scope for v in snapshot.variables.values()} == {f"service:{SERVICE}"}
    [request] = emulator.requests
    assert request.path == "/graphql/v2"
    assert request.headers["project-access-token"] == PROJECT_TOKEN and "authorization" not in request.headers
    assert request.json()["variables"] == {"projectId": PROJECT, "environmentId": ENVIRONMENT,
                                           "serviceId": SERVICE, "unrendered": True}


def test_without_unrendered_the_emulator_resolves_references(emulator: RailwayEmulator) -> None:
    """What the adapter avoids: rendered reads would compare the resolved secret, not the reference."""
    emulator.set_variables(PROJECT, ENVIRONMENT, {"DATABASE_URL": "postgres://real"}, service_id="db-service")
    emulator.set_variables(PROJECT, ENVIRONMENT, {"URL": REFERENCE}, service_id=SERVICE)
    query = ("query v($p: String!, $e: String!, $s: String) { variables(projectId: $p, environmentId: $e, "
             "serviceId: $s) }")
    answer = httpx.post(f"{emulator.base_url}/graphql/v2", headers={"Project-Access-Token": PROJECT_TOKEN},
                        json={"query": query, "variables": {"p": PROJECT, "e": ENVIRONMENT, "s": SERVICE}}).json()
    assert answer == {"data": {"variables": {"URL": "postgres://real"}}}


def test_without_service_id_the_shared_variables_are_read(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"SHARED": "s"})
    emulator.set_variables(PROJECT, ENVIRONMENT, {"OWN": "o"}, service_id=SERVICE)
    snapshot = fetch(make_adapter(emulator, service_id=None), token_env())
    assert snapshot.values() == {"SHARED": "s"}
    assert "serviceId" not in emulator.requests[0].json()["variables"]


def test_an_account_token_is_sent_as_bearer_from_railway_api_token(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"A": "1"}, service_id=SERVICE)
    adapter = make_adapter(emulator, token_kind="account")
    assert adapter.token_env == "RAILWAY_API_TOKEN"
    assert fetch(adapter, {"RAILWAY_API_TOKEN": emulator.token}).values() == {"A": "1"}
    request = emulator.requests[0]
    assert request.headers["authorization"] == f"Bearer {emulator.token}"
    assert "project-access-token" not in request.headers
    assert make_adapter(emulator, token_kind="account", token_env="MY_RAILWAY").token_env == "MY_RAILWAY"


# -- GraphQL errors come with HTTP 200 and are errors naming the instance --------------------------

def test_an_unknown_project_token_is_an_error_naming_the_variable(emulator: RailwayEmulator) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator), token_env("wrong-" + CANARY))
    text = str(caught.value)
    assert "Project Token not found" in text and "RAILWAY_TOKEN" in text and "Project-Access-Token" in text
    assert f"railway service {SERVICE} in environment {ENVIRONMENT} of project {PROJECT}" in text
    assert_clean(caught.value, emulator)
    assert len(emulator.requests) == 1  # an answered request, not retried


@pytest.mark.parametrize("table", [{"environment_id": "other-env"}, {"service_id": "unknown-service"},
                                   {"project_id": "other-project"}])
def test_what_the_token_cannot_reach_is_not_authorized_never_empty(emulator: RailwayEmulator,
                                                                   table: dict[str, str]) -> None:
    emulator.add_environment(PROJECT, "other-env", services={SERVICE: "api"})
    with pytest.raises(PlatformError) as caught:
        fetch(make_adapter(emulator, **table), token_env())
    assert "Not Authorized" in str(caught.value) and "RAILWAY_TOKEN" in str(caught.value)
    assert_clean(caught.value, emulator)


def test_a_bearer_the_api_refuses_is_not_authorized(emulator: RailwayEmulator) -> None:
    with pytest.raises(PlatformError, match="Not Authorized.*RAILWAY_API_TOKEN.*account token"):
        fetch(make_adapter(emulator, token_kind="account"), {"RAILWAY_API_TOKEN": "nope-" + CANARY})


def test_any_other_graphql_error_names_the_instance_and_hides_echoed_values(emulator: RailwayEmulator) -> None:
    def echo(request: Any, match: Any) -> Response:
        value = request.json()["variables"]["input"]["value"]
        return Response(200, {"data": None, "errors": [{"message": f"value {value} is too long"}]})

    emulator.route_first("POST", "/graphql/v2", echo)
    with pytest.raises(PlatformError) as caught:
        write(make_adapter(emulator), token_env(), "KEY", CANARY)
    assert "Railway answered an error (" in str(caught.value) and "<hidden> is too long)" in str(caught.value)
    assert_clean(caught.value, emulator)


@pytest.mark.parametrize("answer", [
    {"data": None, "errors": []}, {"data": {"other": 1}}, {"data": None}, {"errors": [{"no": "message"}]},
    {"data": {"variables": {"A": 1}}},
], ids=["empty-errors", "wrong-field", "null-data", "message-less", "number-value"])
def test_answers_of_the_wrong_shape_are_errors(emulator: RailwayEmulator, answer: Any) -> None:
    emulator.route_first("POST", "/graphql/v2", lambda request, match: Response(200, answer))
    with pytest.raises(PlatformError, match="unexpected response shape"):
        fetch(make_adapter(emulator), token_env())


def test_a_429_is_waited_out_for_retry_after(emulator: RailwayEmulator, waits: list[float]) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"A": "1"}, service_id=SERVICE)
    emulator.throttle(2, retry_after="3")
    assert fetch(make_adapter(emulator), token_env()).values() == {"A": "1"}
    assert waits == [3.0, 3.0]


# -- writing: variableUpsert only, skipDeploys per redeploy ----------------------------------------

def test_write_is_one_variable_upsert_with_skip_deploys_and_no_deploy(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"KEEP": "k", "DATABASE_URL": REFERENCE}, service_id=SERVICE)
    write(make_adapter(emulator), token_env(), "NEW_KEY", CANARY, secret=True)

    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {
        "KEEP": "k", "DATABASE_URL": REFERENCE, "NEW_KEY": CANARY}
    [sent] = bodies(emulator)
    assert sent["variables"] == {"input": {"projectId": PROJECT, "environmentId": ENVIRONMENT, "serviceId": SERVICE,
                                           "name": "NEW_KEY", "value": CANARY, "skipDeploys": True}}
    assert graphql_operations(emulator.requests) == ["variableUpsert"]
    assert emulator.deployments() == []


def test_with_redeploy_the_write_redeploys_the_service(emulator: RailwayEmulator) -> None:
    write(make_adapter(emulator, redeploy=True), token_env(), "NEW_KEY", "v")
    assert bodies(emulator)[0]["variables"]["input"]["skipDeploys"] is False
    assert emulator.deployments() == [(ENVIRONMENT, SERVICE, "variableUpsert")]


def test_a_shared_write_goes_to_the_shared_variables(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"OWN": "o"}, service_id=SERVICE)
    write(make_adapter(emulator, service_id=None), token_env(), "SHARED", "s")
    assert emulator.variables(PROJECT, ENVIRONMENT) == {"SHARED": "s"}
    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {"OWN": "o"}
    assert "serviceId" not in bodies(emulator)[0]["variables"]["input"]


@pytest.mark.parametrize(("table", "kind", "note"), [
    ({}, STAGED, "staged (skipDeploys): effective at the next deploy of the service"),
    ({"redeploy": True}, REDEPLOY, "redeploys the service"),
    ({"service_id": None}, STAGED, "staged (skipDeploys): effective at the next deploy of the services that use it"),
    ({"service_id": None, "redeploy": True}, REDEPLOY, "redeploys the services that use it"),
])
def test_write_effect_says_whether_a_write_redeploys(emulator: RailwayEmulator, table: dict[str, Any], kind: str,
                                                     note: str) -> None:
    effect = make_adapter(emulator, **table).write_effect("ANY")
    assert (effect.kind, effect.note) == (kind, note)


class CollectionWriter(RailwayAdapter):
    """What Genesis must never do: write with variableCollectionUpsert and replace: true."""

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        query = ("mutation c($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }")
        await self._graphql(ctx, query, {"input": {**self._scope(), "variables": {key: value}, "replace": True,
                                                    "skipDeploys": True}}, "variableCollectionUpsert")


def test_the_operations_check_fails_for_an_adapter_that_replaces_the_collection(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"KEEP": "k"}, service_id=SERVICE)
    write(CollectionWriter(make_adapter(emulator).instance), token_env(), "NEW", "n")
    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {"NEW": "n"}  # KEEP is gone
    assert graphql_operations(emulator.requests) == ["variableCollectionUpsert"]  # != ["variableUpsert"]


def test_the_emulator_deletes_with_variable_delete(emulator: RailwayEmulator) -> None:
    emulator.set_variables(PROJECT, ENVIRONMENT, {"GONE": "g", "KEEP": "k"}, service_id=SERVICE)
    mutation = "mutation d($input: VariableDeleteInput!) { variableDelete(input: $input) }"
    answer = httpx.post(f"{emulator.base_url}/graphql/v2", headers={"Project-Access-Token": PROJECT_TOKEN},
                        json={"query": mutation, "variables": {"input": {
                            "projectId": PROJECT, "environmentId": ENVIRONMENT, "serviceId": SERVICE,
                            "name": "GONE"}}}).json()
    assert answer == {"data": {"variableDelete": True}}
    assert emulator.variables(PROJECT, ENVIRONMENT, SERVICE) == {"KEEP": "k"}


def test_an_empty_name_is_refused_before_any_request(emulator: RailwayEmulator) -> None:
    with pytest.raises(PlatformError, match="empty name"):
        write(make_adapter(emulator), token_env(), " ", "v")
    assert emulator.requests == []


# -- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "message"), [
    ({"project_id": None}, "platforms.railway.project_id"),
    ({"environment_id": "has space"}, "platforms.railway.environment_id"),
    ({"service_id": "a/b"}, "platforms.railway.service_id"),
    ({"token_kind": "team"}, "platforms.railway.token_kind"),
    ({"redeploy": "yes"}, "platforms.railway.redeploy"),
])
def test_bad_tables_are_config_errors_naming_the_key(emulator: RailwayEmulator, table: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_adapter(emulator, **table)
