"""A tiny platform, "example", used to test the contract suite and as the scaffold's model.

It has everything a real adapter has in a few lines: an HTTP API with cursor
pagination, secret values the API will not return, one-key writes (and a bulk
replace endpoint an adapter must never use), an emulator for that API, and a
contract-suite harness.

The API (all under ``/v1/projects/{project}``, ``Authorization: Bearer TOKEN``):

- ``GET  /vars?limit=N&cursor=C`` -> ``{"vars": [{"key", "value", "secret"}], "next_cursor": C | null}``;
  a secret's ``value`` is ``null``; ``limit`` is 1..100.
- ``PUT  /vars/{key}`` with ``{"value": str, "secret": bool}`` -> 201 (created) or 200 (updated).
- ``PUT  /vars`` with ``[{"key", "value"}]`` replaces every variable (never used by the adapter).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import attrs

from .._markers import hookimpl
from ..config import Table
from ..platforms.http_adapter import HttpPlatformAdapter
from ..platforms.model import FetchContext, InstanceConfig, PlatformKind, Snapshot
from .contract import EmulatorHarness
from .emulator import EmulatorServer, Request, Response, paginate

MAX_PAGE_SIZE = 100


class ExampleAdapter(HttpPlatformAdapter):
    """Reads and writes the variables of one project of the example platform."""

    kind = "example"
    credential_env = "EXAMPLE_TOKEN"
    supports_write = True
    has_secret_kind = True  # a variable written with "secret": true is never returned
    default_base_url = "https://api.example.invalid"
    table_keys = frozenset({"project", "page_size"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.project: str = table.str("project")
        self.page_size: int = table.int("page_size", MAX_PAGE_SIZE, minimum=1)
        if self.page_size > MAX_PAGE_SIZE:
            raise table.error("page_size", f"must be at most {MAX_PAGE_SIZE}, got {self.page_size}")

    def describe(self) -> str:
        """Return ``example project NAME``."""
        return f"example project {self.project}"

    def _vars_path(self) -> str:
        return f"/v1/projects/{quote(self.project, safe='')}/vars"

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return every variable of the project, following the cursor page by page."""
        values: dict[str, str | None] = {}
        secret_keys: set[str] = set()
        cursor: str | None = None
        seen_cursors: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            _, data = await self.request(ctx, "GET", self._vars_path(), params=params)
            items, cursor = self._parse_page(data)
            for key, value, secret in items:
                if key in values:
                    raise self.shape_error(f"variable {key!r} listed twice")
                values[key] = value
                if secret:
                    secret_keys.add(key)
            if cursor is None:
                break
            if cursor in seen_cursors:
                raise self.shape_error("the pagination cursor repeats")
            seen_cursors.add(cursor)
        return Snapshot.from_values(self.name, self.kind, values, secret_keys=secret_keys)

    def _parse_page(self, data: Any) -> tuple[list[tuple[str, str | None, bool]], str | None]:
        """Return ``([(key, value_or_None, secret)], next_cursor)``; raise on any other shape."""
        if not isinstance(data, dict) or not isinstance(data.get("vars"), list):
            raise self.shape_error('expected an object with a "vars" list')
        cursor = data.get("next_cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise self.shape_error('"next_cursor" is not a string')
        items = []
        for item in data["vars"]:
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise self.shape_error('a "vars" item has no string "key"')
            value = item.get("value")
            secret = item.get("secret", False)
            if (value is not None and not isinstance(value, str)) or not isinstance(secret, bool):
                raise self.shape_error(f'item {item["key"]!r} has a bad "value" or "secret"')
            if value is None and not secret:
                raise self.shape_error(f'item {item["key"]!r} has no value but is not secret')
            items.append((item["key"], value, secret))
        return items, cursor or None

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update the one variable ``key`` (never the bulk replace)."""
        path = f"{self._vars_path()}/{quote(key, safe='')}"
        await self.request(ctx, "PUT", path, json_body={"value": value, "secret": secret},
                           ok=(200, 201), target=f"{self.describe()} variable {key}")


def make_kind() -> PlatformKind:
    """Return the ``example`` platform kind (what a plugin registers)."""
    return PlatformKind(name="example", factory=ExampleAdapter, description="the contract kit's example platform",
                        credential_env=ExampleAdapter.credential_env, supports_write=True)


@hookimpl
def genesis_register_platforms(register: Callable[[PlatformKind], None]) -> None:
    """Register the ``example`` kind: this module is its own plugin (``ExampleHarness.plugin``)."""
    register(make_kind())


# -- the emulator ---------------------------------------------------------------------

@attrs.define
class StoredVar:
    """A variable as the example platform stores it."""

    value: str
    secret: bool = False


class ExampleEmulator(EmulatorServer):
    """The example platform's API on 127.0.0.1, holding ``projects[name][key] = StoredVar``."""

    platform = "example"

    def __init__(self, *, token: str = "example-test-token", projects: Iterable[str] = ("demo",),
                 **kwargs: Any) -> None:
        self.projects: dict[str, dict[str, StoredVar]] = {name: {} for name in projects}
        super().__init__(token=token, **kwargs)

    def register_routes(self) -> None:
        """Serve list, one-key PUT and the bulk PUT."""
        base = r"/v1/projects/(?P<project>[^/]+)/vars"
        self.route("GET", base, self._list)
        self.route("PUT", base + r"/(?P<key>[^/]+)", self._put_one)
        self.route("PUT", base, self._replace_all)

    def not_found(self, request: Request) -> Response:
        """Return the platform's 404 body."""
        return Response(404, {"error": {"code": "not_found", "message": "Not found"}})

    def unauthorized(self, request: Request) -> Response:
        """Return the platform's 401 body."""
        return Response(401, {"error": {"code": "unauthorized", "message": "Invalid token"}})

    def wrong_shape(self, request: Request) -> Response:
        """Return a plausible body of the wrong shape (a list instead of an object)."""
        return Response(200, [{"name": "NOT_THE_SHAPE"}])

    # -- state, for harnesses -------------------------------------------------------------
    def set_variables(self, project: str, variables: Mapping[str, str], *, secret: Iterable[str] = ()) -> None:
        """Replace a project's variables; keys in ``secret`` are stored as secrets."""
        secret_keys = set(secret)
        with self._lock:
            self.projects[project] = {key: StoredVar(value, key in secret_keys)
                                      for key, value in variables.items()}

    def variables(self, project: str) -> dict[str, str]:
        """Return ``{key: value}`` of a project, secrets included."""
        with self._lock:
            return {key: var.value for key, var in self.projects[project].items()}

    # -- routes -----------------------------------------------------------------------------
    def _project(self, match: Any) -> dict[str, StoredVar] | None:
        return self.projects.get(unquote(match["project"]))

    def _list(self, request: Request, match: Any) -> Response:
        project = self._project(match)
        if project is None:
            return self.not_found(request)
        limit_text = request.param("limit", "20") or ""
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            return Response(400, {"error": {"code": "bad_request",
                                            "message": f"limit must be 1..{MAX_PAGE_SIZE}"}})
        cursor_text = request.param("cursor", "0") or ""
        if not cursor_text.isdigit():
            return Response(400, {"error": {"code": "bad_request", "message": "bad cursor"}})
        items = sorted(project.items())
        page, next_offset = paginate(items, int(cursor_text), int(limit_text))
        body = [{"key": key, "value": None if var.secret else var.value, "secret": var.secret}
                for key, var in page]
        return Response(200, {"vars": body, "next_cursor": None if next_offset is None else str(next_offset)})

    def _put_one(self, request: Request, match: Any) -> Response:
        project = self._project(match)
        if project is None:
            return self.not_found(request)
        try:
            body = request.json()
        except ValueError:
            body = None
        if (not isinstance(body, dict) or not isinstance(body.get("value"), str)
                or not isinstance(body.get("secret", False), bool)):
            return Response(400, {"error": {"code": "bad_request",
                                            "message": 'expected {"value": string, "secret": bool}'}})
        key = unquote(match["key"])
        created = key not in project
        project[key] = StoredVar(body["value"], body.get("secret", False))
        return Response(201 if created else 200, {"key": key, "secret": project[key].secret})

    def _replace_all(self, request: Request, match: Any) -> Response:
        project = self._project(match)
        if project is None:
            return self.not_found(request)
        body = request.json()
        project.clear()
        for item in body:
            project[item["key"]] = StoredVar(item["value"], bool(item.get("secret", False)))
        return Response(200, {"replaced": len(project)})


# -- the contract harness ---------------------------------------------------------------

class ExampleHarness(EmulatorHarness):
    """Drives :class:`ExampleAdapter` against :class:`ExampleEmulator` for the contract suite."""

    emulator: ExampleEmulator

    kind = "example"
    page_size = 5
    unreadable_supported = True
    writable = True
    project = "demo"
    plugin = sys.modules[__name__]  # this module registers the kind (nothing installs it)

    def __init__(self, adapter_class: type[ExampleAdapter] = ExampleAdapter) -> None:
        self.token = "example-token-for-contract-tests"
        self.adapter_class = adapter_class
        self.emulator = ExampleEmulator(token=self.token, projects=[self.project])

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the project's variables in the emulator."""
        self.emulator.set_variables(self.project, variables, secret=unreadable)

    def stored(self) -> dict[str, str]:
        """Return the project's variables as the emulator holds them."""
        return self.emulator.variables(self.project)

    def make_adapter(self, **table_overrides: Any) -> ExampleAdapter:
        """Return an adapter for the emulator's project (1 s timeout, 2 retries, pages of 5)."""
        table: dict[str, Any] = {"kind": "example", "base_url": self.emulator.base_url,
                                 "project": self.project, "timeout": 1.0, "retries": 2}
        if self.page_size:
            table["page_size"] = self.page_size
        table.update(table_overrides)
        instance = InstanceConfig(name="example-test", kind="example",
                                  table=Table(table, "<contract>", "platforms.example-test"),
                                  base_dir=Path.cwd())
        return self.adapter_class(instance)

    def env(self) -> dict[str, str]:
        """Return an environment holding the token."""
        return {"EXAMPLE_TOKEN": self.token}
