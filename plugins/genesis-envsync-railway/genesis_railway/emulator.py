"""A Railway public GraphQL API emulator for variables (a real HTTP server on 127.0.0.1).

It answers ``POST /graphql/v2`` for the operations Genesis and the Railway CLI send about
variables. It is not a GraphQL server: it finds the first root field of the document and
its arguments, given as ``$variables`` (an ``input: $input`` object too) or literals.

Confirmed from a public source:

* Endpoint ``https://backboard.railway.com/graphql/v2`` (railway CLI ``Configs::get_backboard``).
* ``variables(projectId: String!, environmentId: String!, serviceId: String, unrendered:
  Boolean): EnvironmentVariables!`` returns a map name -> value; without ``serviceId`` the
  environment's shared variables; ``unrendered: true`` returns references such as
  ``${{Postgres.DATABASE_URL}}`` as written instead of resolved (the CLI's introspected
  ``schema.json``; docs.railway.com "Manage Variables with the Public API").
* ``variableUpsert(input: VariableUpsertInput!): Boolean!`` with ``projectId, environmentId,
  serviceId, name, value: String!, skipDeploys`` ("Skip deploys for affected services",
  default false); ``variableCollectionUpsert`` whose ``replace: true`` "removes all existing
  variables before upserting the new collection"; ``variableDelete`` (same schema).
* Authentication: a project token in ``Project-Access-Token`` (the CLI's ``RAILWAY_TOKEN``),
  an account or workspace token as ``Authorization: Bearer`` (``RAILWAY_API_TOKEN``)
  (railway CLI ``GQLClient::new_authorized``).
* GraphQL errors come in an ``errors`` list whose ``message`` is "Not Authorized" or
  "Project Token not found" for credentials the API refuses (the CLI's
  ``parse_graphql_response``); a 429 always carries ``Retry-After`` (same function: "Backboard
  sets `Retry-After` on every 429").
* A variable change redeploys the affected service unless ``skipDeploys`` is true; changes
  need a redeploy to reach a running service (Railway docs and station.railway.com answers).

Assumed (no public description or recording found):

* errors (credentials, resources, validation) are answered with HTTP 200, ``{"data": null,
  "errors": [{"message": ...}]}``; a document naming an unknown field is HTTP 400;
* a project, environment or service the credential cannot see is "Not Authorized" (the API
  does not tell missing from forbidden); a project token reaches only its own environment;
* the 429 body ``{"errors": [{"message": "Rate limit exceeded"}]}``;
* a shared variable written without ``skipDeploys`` redeploys every service of the environment;
* rendering resolves ``${{shared.NAME}}`` and ``${{ServiceName.NAME}}`` one level deep (an
  unknown reference becomes empty); Railway's own ``RAILWAY_*`` variables are not emulated.

Seed and inspect with :meth:`add_environment`, :meth:`add_project_token`,
:meth:`set_variables`, :meth:`variables` and :meth:`deployments`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from genesis_core.testing import EmulatorServer, RateLimit, Request, Response, Throttle

PATH = "/graphql/v2"
_ROOT = re.compile(r"^\s*(?:(?P<kind>query|mutation)\b[^{]*)?\{\s*(?P<field>\w+)\s*(?:\((?P<args>[^)]*)\))?", re.S)
_ARG = re.compile(r'(\w+)\s*:\s*(\$\w+|true|false|null|"(?:[^"\\]|\\.)*"|-?\d+)')
_REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z0-9_ -]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NOT_AUTHORIZED = "Not Authorized"


@attrs.define
class _Service:
    name: str
    variables: dict[str, str] = attrs.Factory(dict)


@attrs.define
class _Environment:
    shared: dict[str, str] = attrs.Factory(dict)
    services: dict[str, _Service] = attrs.Factory(dict)


class _GraphQLError(Exception):
    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _errors(message: str, status: int = 200) -> Response:
    return Response(status, {"data": None, "errors": [{"message": message}]})


def _limited(throttle: Throttle) -> Response:
    retry_after = throttle.retry_after if throttle.retry_after is not None else "1"
    return Response(429, {"errors": [{"message": "Rate limit exceeded"}]}, headers={"Retry-After": retry_after})


class RailwayEmulator(EmulatorServer):
    """Projects, environments and services with variables, behind project and account tokens."""

    platform = "railway"

    def __init__(self, *, token: str = "railway-account-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self._environments: dict[tuple[str, str], _Environment] = {}
        self._project_tokens: dict[str, tuple[str, str]] = {}
        self._deployments: list[tuple[str, str, str]] = []
        super().__init__(token=token, host=host, port=port)

    # -- seeding and inspection -------------------------------------------------------------
    def add_environment(self, project_id: str, environment_id: str, *,
                        services: Mapping[str, str] | None = None) -> None:
        """Create an environment of a project with ``services`` (``{service_id: name}``)."""
        with self._lock:
            self._environments[(project_id, environment_id)] = _Environment(
                services={sid: _Service(name) for sid, name in (services or {}).items()})

    def add_project_token(self, project_id: str, environment_id: str, token: str) -> None:
        """Accept ``token`` in ``Project-Access-Token`` for that one environment of the project."""
        with self._lock:
            self._project_tokens[token] = (project_id, environment_id)

    def set_variables(self, project_id: str, environment_id: str, values: Mapping[str, str], *,
                      service_id: str | None = None, replace: bool = True) -> None:
        """Set variables directly (no deploy); ``replace`` drops the others first."""
        with self._lock:
            target = self._target(project_id, environment_id, service_id)
            if replace:
                target.clear()
            target.update(values)

    def variables(self, project_id: str, environment_id: str, service_id: str | None = None) -> dict[str, str]:
        """Return the variables as written (unrendered)."""
        with self._lock:
            return dict(self._target(project_id, environment_id, service_id))

    def deployments(self) -> list[tuple[str, str, str]]:
        """Return ``(environment_id, service_id, cause)`` for every deploy a variable change started."""
        with self._lock:
            return list(self._deployments)

    def throttle(self, requests: int = 1, *, retry_after: str = "1") -> None:
        """Answer the next ``requests`` requests with 429 and ``Retry-After``."""
        self.throttle_next(requests, retry_after=retry_after)

    def _target(self, project_id: str, environment_id: str, service_id: str | None) -> dict[str, str]:
        environment = self._environments[(project_id, environment_id)]
        return environment.shared if service_id is None else environment.services[service_id].variables

    # -- EmulatorServer hooks ----------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """Let every request through: Railway answers credential problems as GraphQL errors."""
        return True

    def not_found(self, request: Request) -> Response:
        """Return a plain 404 for a path other than the GraphQL endpoint."""
        return Response(404, raw=b"Not Found", content_type="text/plain")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON whose ``variables`` is not a map."""
        return Response(200, {"data": {"variables": ["DATABASE_URL", "PORT"], "variableUpsert": "yes"}})

    def rate_limiting(self) -> RateLimit:
        """Return Railway's limit: its 429 always carries ``Retry-After`` (1 s unless asked otherwise)."""
        return RateLimit(_limited)

    def register_routes(self) -> None:
        """Declare the one GraphQL endpoint."""
        self.route("POST", PATH, self._graphql)

    # -- GraphQL -----------------------------------------------------------------------------
    def _graphql(self, request: Request, match: Any) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _errors("Unexpected token in JSON body", 400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _errors("Must provide query string.", 400)
        variables = body.get("variables") or {}
        root = _ROOT.match(body["query"])
        if root is None or not isinstance(variables, dict):
            return _errors("Syntax Error: could not parse the document", 400)
        operation = root["kind"] or "query"
        field = root["field"]
        handlers = {("query", "variables"): self._variables, ("mutation", "variableUpsert"): self._upsert,
                    ("mutation", "variableCollectionUpsert"): self._collection_upsert,
                    ("mutation", "variableDelete"): self._delete}
        handler = handlers.get((operation, field))
        if handler is None:
            kind = "Query" if operation == "query" else "Mutation"
            return _errors(f'Cannot query field "{field}" on type "{kind}".', 400)
        args = self._arguments(root["args"] or "", variables)
        try:
            scope = self._scope(request)
            return Response(200, {"data": {field: handler(args, scope)}})
        except _GraphQLError as exc:
            return _errors(exc.message, exc.status)

    @staticmethod
    def _arguments(text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for name, raw in _ARG.findall(text):
            value = variables.get(raw[1:]) if raw.startswith("$") else json.loads(raw)
            if name == "input" and isinstance(value, dict):
                args.update(value)
            else:
                args[name] = value
        return args

    def _scope(self, request: Request) -> tuple[str, str] | None:
        """Return the (project, environment) a project token reaches, ``None`` for an account token."""
        project_token = request.headers.get("project-access-token")
        if project_token is not None:
            if project_token not in self._project_tokens:
                raise _GraphQLError("Project Token not found")
            return self._project_tokens[project_token]
        if request.headers.get("authorization") == f"Bearer {self.token}":
            return None
        raise _GraphQLError(NOT_AUTHORIZED)

    def _environment(self, args: Mapping[str, Any], scope: tuple[str, str] | None) -> _Environment:
        project_id, environment_id = args.get("projectId"), args.get("environmentId")
        if not isinstance(project_id, str) or not isinstance(environment_id, str):
            raise _GraphQLError("projectId and environmentId are required (String!)")
        if scope is not None and scope != (project_id, environment_id):
            raise _GraphQLError(NOT_AUTHORIZED)
        environment = self._environments.get((project_id, environment_id))
        if environment is None:
            raise _GraphQLError(NOT_AUTHORIZED)
        service_id = args.get("serviceId")
        if service_id is not None and service_id not in environment.services:
            raise _GraphQLError(NOT_AUTHORIZED)
        return environment

    def _variables(self, args: Mapping[str, Any], scope: tuple[str, str] | None) -> dict[str, str]:
        environment = self._environment(args, scope)
        service_id = args.get("serviceId")
        raw = environment.shared if service_id is None else environment.services[service_id].variables
        if args.get("unrendered") is True:
            return dict(raw)
        return {name: self._render(environment, value) for name, value in raw.items()}

    @staticmethod
    def _render(environment: _Environment, value: str) -> str:
        by_name = {service.name: service.variables for service in environment.services.values()}

        def resolve(found: re.Match[str]) -> str:
            source = environment.shared if found[1].strip() == "shared" else by_name.get(found[1].strip(), {})
            return source.get(found[2], "")

        return _REFERENCE.sub(resolve, value)

    def _changed(self, environment_id: str, environment: _Environment, service_id: str | None,
                 args: Mapping[str, Any], cause: str) -> None:
        if args.get("skipDeploys") is True:
            return
        for sid in ([service_id] if service_id is not None else list(environment.services)):
            self._deployments.append((environment_id, sid, cause))

    def _upsert(self, args: Mapping[str, Any], scope: tuple[str, str] | None) -> bool:
        environment = self._environment(args, scope)
        name, value = args.get("name"), args.get("value")
        if not isinstance(name, str) or not name:
            raise _GraphQLError('Variable "$name" of non-null type "String!" must not be null.')
        if not isinstance(value, str):
            raise _GraphQLError('Variable "$value" of non-null type "String!" must not be null.')
        service_id = args.get("serviceId")
        target = environment.shared if service_id is None else environment.services[service_id].variables
        target[name] = value
        self._changed(args["environmentId"], environment, service_id, args, "variableUpsert")
        return True

    def _collection_upsert(self, args: Mapping[str, Any], scope: tuple[str, str] | None) -> bool:
        environment = self._environment(args, scope)
        values = args.get("variables")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise _GraphQLError("variables must be a map of names to strings")
        service_id = args.get("serviceId")
        target = environment.shared if service_id is None else environment.services[service_id].variables
        if args.get("replace") is True:
            target.clear()
        target.update(values)
        self._changed(args["environmentId"], environment, service_id, args, "variableCollectionUpsert")
        return True

    def _delete(self, args: Mapping[str, Any], scope: tuple[str, str] | None) -> bool:
        environment = self._environment(args, scope)
        service_id = args.get("serviceId")
        target = environment.shared if service_id is None else environment.services[service_id].variables
        target.pop(str(args.get("name")), None)
        self._changed(args["environmentId"], environment, service_id, args, "variableDelete")
        return True


def main(argv: list[str] | None = None) -> int:
    """Serve an emulated Railway service on 127.0.0.1 until interrupted (``python -m genesis_railway.emulator``)."""
    import argparse
    import secrets

    parser = argparse.ArgumentParser(prog="python -m genesis_railway.emulator", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    emulator = RailwayEmulator(token=f"railway-{secrets.token_hex(8)}", port=args.port)
    emulator.add_environment("project-demo", "environment-production", services={"service-api": "api"})
    emulator.add_project_token("project-demo", "environment-production", emulator.token)
    return emulator.run_until_interrupted(
        'Railway emulator: base_url = "{url}", project_id = "project-demo", environment_id = '
        f'"environment-production", service_id = "service-api", RAILWAY_TOKEN={emulator.token}')


if __name__ == "__main__":
    raise SystemExit(main())
