"""Read and write the variables of one Railway service (or an environment's shared variables).

Railway's public API is GraphQL at ``https://backboard.railway.com/graphql/v2``:

* reading sends ``variables(projectId, environmentId, serviceId, unrendered: true)``, so
  reference variables such as ``${{Postgres.DATABASE_URL}}`` are compared as written, not as
  the value they resolve to; without ``service_id`` it reads the environment's shared variables;
* writing sends one ``variableUpsert(input: {projectId, environmentId, serviceId, name, value,
  skipDeploys})`` per key, ``skipDeploys`` being ``not redeploy``. ``variableCollectionUpsert``
  (whose ``replace: true`` removes every other variable) and ``variableDelete`` are never sent.

GraphQL errors arrive with HTTP 200 and an ``errors`` list ("Not Authorized", "Project Token
not found", ...): each is a ``PlatformError`` naming the instance, never an empty snapshot.
A project token goes in ``Project-Access-Token``; an account or workspace token
(``token_kind = "account"``) as ``Authorization: Bearer``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from genesis_core.api import (
    REDEPLOY,
    STAGED,
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    Variable,
    WriteEffect,
    scrub_detail,
)

if TYPE_CHECKING:
    from genesis_core.api import Table

GRAPHQL_PATH = "/graphql/v2"
VARIABLES_QUERY = (
    "query variables($projectId: String!, $environmentId: String!, $serviceId: String, $unrendered: Boolean) "
    "{ variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId, "
    "unrendered: $unrendered) }"
)
UPSERT_MUTATION = "mutation variableUpsert($input: VariableUpsertInput!) { variableUpsert(input: $input) }"
#: The token variable when ``token_kind = "account"`` and no ``token_env`` is given (the Railway CLI's name).
ACCOUNT_TOKEN_ENV = "RAILWAY_API_TOKEN"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_CREDENTIAL_ERRORS = ("not authorized", "project token not found", "unauthorized", "authentication")


def _railway_id(table: Table, key: str, value: str) -> str:
    """Return ``value`` stripped; raise a ``ConfigError`` naming ``key`` when it is not path- and query-safe."""
    value = value.strip()
    if not _ID.match(value):
        raise table.error(key, f"expected a Railway id (letters, digits, - and _), got {value!r}")
    return value


class RailwayAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "railway"`` instance: a service's variables, or an environment's shared ones."""

    kind = "railway"
    credential_env = "RAILWAY_TOKEN"
    supports_write = True
    default_base_url = "https://backboard.railway.com"
    table_keys = frozenset({"project_id", "environment_id", "service_id", "token_kind", "redeploy"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.project_id: str = _railway_id(table, "project_id", table.str("project_id"))
        self.environment_id: str = _railway_id(table, "environment_id", table.str("environment_id"))
        service_id = table.str("service_id", None)
        self.service_id: str | None = None if service_id is None else _railway_id(table, "service_id", service_id)
        self.token_kind: str = table.choice("token_kind", ("project", "account"), "project")
        if self.token_kind == "account" and table.str("token_env", None) is None:
            self.token_env = ACCOUNT_TOKEN_ENV
        self.redeploy: bool = table.bool("redeploy", False)

    def describe(self) -> str:
        """Return e.g. ``railway service S in environment E of project P``."""
        where = f"environment {self.environment_id} of project {self.project_id}"
        if self.service_id is None:
            return f"railway shared variables of {where}"
        return f"railway service {self.service_id} in {where}"

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return ``Project-Access-Token`` for a project token, ``Authorization: Bearer`` for an account token."""
        token = self.token(ctx)
        if self.token_kind == "account":
            return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return {"Project-Access-Token": token, "Accept": "application/json"}

    def write_effect(self, key: str) -> WriteEffect:
        """Return whether a write redeploys (``redeploy = true``) or waits for the next deploy."""
        who = "the service" if self.service_id is not None else "the services that use it"
        if self.redeploy:
            return WriteEffect(REDEPLOY, f"redeploys {who}")
        return WriteEffect(STAGED, f"staged (skipDeploys): effective at the next deploy of {who}")

    def _scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {"projectId": self.project_id, "environmentId": self.environment_id}
        if self.service_id is not None:
            scope["serviceId"] = self.service_id
        return scope

    async def _graphql(self, ctx: FetchContext, query: str, variables: dict[str, Any], field: str) -> Any:
        """Send one GraphQL operation; return ``data[field]``; raise on HTTP or GraphQL errors."""
        body = {"query": query, "variables": variables}
        _, data = await self.request(ctx, "POST", GRAPHQL_PATH, json_body=body, ok=(200, 400))
        if not isinstance(data, dict):
            raise self.shape_error("the GraphQL answer is not a JSON object")
        errors = data.get("errors")
        if errors:
            raise self._graphql_error(errors, variables, ctx)
        result = data.get("data")
        if not isinstance(result, dict) or field not in result:
            raise self.shape_error(f"the GraphQL answer has no data.{field}")
        return result[field]

    def _graphql_error(self, errors: Any, sent: Any, ctx: FetchContext) -> PlatformError:
        """Return the error for a GraphQL ``errors`` list: the first message, scrubbed, with what to check."""
        first = errors[0] if isinstance(errors, list) and errors else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, str) or not message.strip():
            return self.shape_error("the GraphQL errors list has no message")
        detail = scrub_detail(" ".join(message.split()), sent, (self.token(ctx),))[:160]
        if any(word in message.lower() for word in _CREDENTIAL_ERRORS):
            header = "Project-Access-Token" if self.token_kind == "project" else "Authorization: Bearer"
            return PlatformError(self.name, f"Railway refused the request ({detail}): check that {self.token_env} "
                                            f"holds a valid {self.token_kind} token (sent as {header}) that can "
                                            f"reach {self.describe()}")
        return PlatformError(self.name, f"Railway answered an error ({detail}) for {self.describe()}")

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the variables as written (``unrendered: true``): references stay references."""
        values = await self._graphql(ctx, VARIABLES_QUERY, {**self._scope(), "unrendered": True}, "variables")
        if not isinstance(values, dict):
            raise self.shape_error("data.variables is not a map of names to values")
        for key, value in values.items():
            if not key:
                raise self.shape_error("data.variables holds a variable with an empty name")
            if not isinstance(value, str):
                raise self.shape_error(f"the value of {key!r} is not a string")
        scope = f"service:{self.service_id}" if self.service_id is not None else "shared"
        return Snapshot(self.name, self.kind, {key: Variable(key, value, scope=scope) for key, value in values.items()})

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Upsert the one variable ``key`` with ``variableUpsert`` (``skipDeploys`` unless ``redeploy``)."""
        if not isinstance(key, str) or not key.strip():
            raise PlatformError(self.name, "cannot write a variable with an empty name")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key} must be a string")
        payload = {**self._scope(), "name": key, "value": value, "skipDeploys": not self.redeploy}
        done = await self._graphql(ctx, UPSERT_MUTATION, {"input": payload}, "variableUpsert")
        if done is not True:
            raise self.shape_error(f"variableUpsert of {key} did not answer true")
