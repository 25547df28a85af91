"""Read and write the environment variables of a Render service or environment group.

Reading a service follows Render's cursor pagination: ``GET
/v1/services/{id}/env-vars?limit=100`` returns ``[{"envVar": {"key", "value"},
"cursor"}]``; the next page is requested with the last item's ``cursor`` until a
page comes back empty.  An environment group is one ``GET /v1/env-groups/{id}``.
When both are configured the group's variables are merged under the service's
(a service variable wins, as it does on Render at runtime).

Writing sends one key at a time (``PUT .../env-vars/{key}``).  The bulk ``PUT
/v1/services/{id}/env-vars``, which replaces every variable, is never used.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from genesis_core.api import (
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    Variable,
)

#: Items requested per page (Render's maximum ``limit``).
PAGE_SIZE = 100
#: Pages read before giving up on a cursor chain that never ends.
MAX_PAGES = 500  # 50,000 variables; a cursor that never ends is an error long before that costs minutes

_RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _resource_id(instance: InstanceConfig, key: str, example: str) -> str | None:
    """Return the identifier under ``key`` (``None`` when absent); reject anything not path-safe."""
    table = instance.table
    value = table.str(key, None)
    if value is None:
        return None
    if not _RESOURCE_ID.match(value):
        raise table.error(key, f"expected a Render id like {example}, got {value!r}")
    return value


class RenderAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "render"`` instance."""

    kind = "render"
    credential_env = "RENDER_API_KEY"
    supports_write = True
    default_base_url = "https://api.render.com"
    table_keys = frozenset({"service_id", "env_group_id"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        self.service_id = _resource_id(instance, "service_id", "srv-abc123")
        self.env_group_id = _resource_id(instance, "env_group_id", "evg-abc123")
        if self.service_id is None and self.env_group_id is None:
            raise instance.table.error(
                "service_id", "is required (a Render service id like srv-abc123), "
                "unless env_group_id names an environment group to read instead")

    def describe(self) -> str:
        """Return e.g. ``render service srv-123 (+ env group evg-456)``."""
        if self.service_id and self.env_group_id:
            return f"render service {self.service_id} (+ env group {self.env_group_id})"
        if self.service_id:
            return f"render service {self.service_id}"
        return f"render env group {self.env_group_id}"

    # -- reading ------------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the instance's variables; the service's value wins over the group's."""
        variables: dict[str, Variable] = {}
        if self.env_group_id is not None:
            scope = f"env-group:{self.env_group_id}"
            for key, value in (await self._fetch_group(ctx, self.env_group_id)).items():
                variables[key] = Variable(key, value, secret=False, scope=scope)
        if self.service_id is not None:
            for key, value in (await self._fetch_service(ctx, self.service_id)).items():
                variables[key] = Variable(key, value, secret=False, scope=None)
        return Snapshot(self.name, self.kind, variables)

    async def _fetch_service(self, ctx: FetchContext, service_id: str) -> dict[str, str]:
        """Return ``{key: value}`` of a service, following cursors until an empty page."""
        path = f"/v1/services/{service_id}/env-vars"
        target = f"render service {service_id}"
        values: dict[str, str] = {}
        seen_cursors: set[str] = set()
        cursor: str | None = None
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor is not None:
                params["cursor"] = cursor
            _, data = await self.request(ctx, "GET", path, params=params, target=target)
            if not isinstance(data, list):
                raise self.shape_error(f"page {page} of {path} is not a JSON list")
            if not data:
                return values
            for index, item in enumerate(data):
                key, value, item_cursor = self._parse_item(item, page, index)
                if key in values:
                    raise self.shape_error(f"variable {key!r} appeared twice while paging {path}")
                values[key] = value
                cursor = item_cursor
            assert cursor is not None
            if cursor in seen_cursors:
                raise PlatformError(self.name, f"pagination of {path} does not advance: the API returned "
                                               f"a cursor it had returned before (page {page})")
            seen_cursors.add(cursor)
        raise PlatformError(self.name, f"pagination of {path} did not end after {MAX_PAGES} pages")

    def _parse_item(self, item: Any, page: int, index: int) -> tuple[str, str, str]:
        """Return ``(key, value, cursor)`` of one list item, or raise a shape error."""
        where = f"item {index} of page {page}"
        if not isinstance(item, dict) or not isinstance(item.get("envVar"), dict):
            raise self.shape_error(f"{where} has no envVar object")
        env_var = item["envVar"]
        key = env_var.get("key")
        if not isinstance(key, str) or not key:
            raise self.shape_error(f"{where} has no string envVar.key")
        if not isinstance(env_var.get("value"), str):
            raise self.shape_error(f"the value of {key!r} ({where}) is not a string")
        cursor = item.get("cursor")
        if not isinstance(cursor, str) or not cursor:
            raise self.shape_error(f"{where} ({key!r}) has no cursor")
        return key, env_var["value"], cursor

    async def _fetch_group(self, ctx: FetchContext, group_id: str) -> dict[str, str]:
        """Return ``{key: value}`` of an environment group."""
        path = f"/v1/env-groups/{group_id}"
        _, data = await self.request(ctx, "GET", path, target=f"render env group {group_id}")
        if not isinstance(data, dict) or not isinstance(data.get("envVars"), list):
            raise self.shape_error(f"{path} did not return an object with an envVars list")
        values: dict[str, str] = {}
        for index, env_var in enumerate(data["envVars"]):
            key = env_var.get("key") if isinstance(env_var, dict) else None
            if not isinstance(key, str) or not key:
                raise self.shape_error(f"envVars[{index}] of {path} has no string key")
            if not isinstance(env_var.get("value"), str):
                raise self.shape_error(f"the value of {key!r} in {path} is not a string")
            if key in values:
                raise self.shape_error(f"variable {key!r} appears twice in {path}")
            values[key] = env_var["value"]
        return values

    # -- writing ------------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update ``key`` alone (Render has no secret flag, so ``secret`` changes nothing).

        Writes go to the service when one is configured (a service value overrides
        the group's), else to the environment group.
        """
        if not key or not isinstance(key, str):
            raise PlatformError(self.name, "cannot write a variable with an empty name")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key!r} must be a string")
        quoted = quote(key, safe="")
        if self.service_id is not None:
            path = f"/v1/services/{self.service_id}/env-vars/{quoted}"
            target = f"render service {self.service_id}"
        else:
            path = f"/v1/env-groups/{self.env_group_id}/env-vars/{quoted}"
            target = f"render env group {self.env_group_id}"
        _, data = await self.request(ctx, "PUT", path, json_body={"value": value}, ok=(200, 201),
                                     target=target)
        if not isinstance(data, dict):
            raise self.shape_error(f"writing {key!r} did not return a JSON object")
