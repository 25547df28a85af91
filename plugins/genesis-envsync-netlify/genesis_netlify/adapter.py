"""Read and write one deploy context of a Netlify site's environment variables.

A Netlify variable holds one value per deploy context (``production``,
``deploy-preview``, ``branch-deploy``, ``dev``, ``dev-server``, ``branch`` with a
branch name, or ``all``).  An instance represents one context: the value of a key
is the value for that context, else the ``all`` value (for ``branch``: the value
for that branch, else ``branch-deploy``, else ``all``); a key with none of those
is not present for this instance.

Reading is one ``GET /api/v1/accounts/{account_id}/env?site_id=…`` (the endpoint
does not paginate).  Values of ``is_secret`` variables are unreadable (``None``)
except in the ``dev`` context, the only one Netlify returns them for.

Writing changes one context value: ``PATCH /api/v1/accounts/{account_id}/env/{key}``
(``setEnvVarValue``) for an existing key, or ``POST .../env`` (``createEnvVars``)
with a single value for a new key.  The ``PUT`` that replaces every context value
of a key (``updateEnvVar``) is never used.
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

#: Deploy contexts an instance may represent.
CONTEXTS = ("production", "deploy-preview", "branch-deploy", "dev", "dev-server", "branch", "all")
#: The only context whose secret values Netlify returns.
READABLE_SECRET_CONTEXT = "dev"
#: Contexts Netlify does not accept secret values in (a new secret variable cannot start there).
NO_SECRET_CONTEXTS = frozenset({"all", "dev", "dev-server"})
#: Scopes for a new secret variable (Netlify rejects secrets in the post-processing scope).
SECRET_SCOPES = ("builds", "functions", "runtime")

_PATH_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _path_safe(instance: InstanceConfig, key: str) -> str:
    table = instance.table
    value: str = table.str(key)
    if not _PATH_SAFE.match(value):
        raise table.error(key, f"expected a Netlify id or slug (letters, digits, '.', '_', '-'), got {value!r}")
    return value


class NetlifyAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "netlify"`` instance: one site, one deploy context."""

    kind = "netlify"
    credential_env = "NETLIFY_AUTH_TOKEN"
    supports_write = True
    has_secret_kind = True  # is_secret variables
    default_base_url = "https://api.netlify.com"
    table_keys = frozenset({"account_id", "site_id", "context", "branch"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.account_id = _path_safe(instance, "account_id")
        self.site_id = _path_safe(instance, "site_id")
        self.context: str = table.choice("context", CONTEXTS, "production")
        self.branch: str | None = table.str("branch", None)
        if self.context == "branch" and not self.branch:
            raise table.error("branch", 'is required when context = "branch" (the branch name)')
        if self.branch is not None and self.context != "branch":
            raise table.error("branch", f'only applies when context = "branch" (context is {self.context!r})')

    def describe(self) -> str:
        """Return e.g. ``netlify site SITE (account ACC, context production)``."""
        context = f"branch:{self.branch}" if self.context == "branch" else self.context
        return f"netlify site {self.site_id} (account {self.account_id}, context {context})"

    def lookup_order(self) -> list[tuple[str, str | None]]:
        """Return the ``(context, context_parameter)`` pairs whose value applies, best first."""
        if self.context == "all":
            return [("all", None)]
        if self.context == "branch":
            return [("branch", self.branch), ("branch-deploy", None), ("all", None)]
        return [(self.context, None), ("all", None)]

    def _env_path(self) -> str:
        return f"/api/v1/accounts/{quote(self.account_id, safe='')}/env"

    # -- reading ------------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the variables that have a value for this instance's context."""
        _, data = await self.request(ctx, "GET", self._env_path(), params={"site_id": self.site_id})
        if not isinstance(data, list):
            raise self.shape_error("the env list is not a JSON list")
        variables: dict[str, Variable] = {}
        for index, item in enumerate(data):
            variable = self._variable(item, index)
            if variable is None:
                continue
            if variable.key in variables:
                raise self.shape_error(f"variable {variable.key!r} is listed twice")
            variables[variable.key] = variable
        return Snapshot(self.name, self.kind, variables)

    def _variable(self, item: Any, index: int) -> Variable | None:
        """Return this context's :class:`Variable` for one EnvVar, ``None`` if it has no value here."""
        if not isinstance(item, dict):
            raise self.shape_error(f"item {index} is not an object")
        key = item.get("key")
        if not isinstance(key, str) or not key:
            raise self.shape_error(f"item {index} has no string key")
        is_secret = item.get("is_secret", False)
        if not isinstance(is_secret, bool):
            raise self.shape_error(f"is_secret of {key!r} is not true/false")
        values = item.get("values")
        if not isinstance(values, list):
            raise self.shape_error(f"{key!r} has no values list")
        chosen = self._choose(key, values)
        if chosen is None:
            return None
        context, value = chosen
        readable = not is_secret or context == READABLE_SECRET_CONTEXT
        if readable and not isinstance(value, str):
            raise self.shape_error(f"the {context} value of {key!r} is not a string")
        label = f"branch:{self.branch}" if context == "branch" else context
        return Variable(key, value if readable else None, secret=is_secret, scope=label)

    def _choose(self, key: str, values: list[Any]) -> tuple[str, Any] | None:
        """Return ``(context, raw value)`` of the value that applies to this instance, if any."""
        by_context: dict[tuple[str, str | None], Any] = {}
        for position, entry in enumerate(values):
            if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
                raise self.shape_error(f"values[{position}] of {key!r} has no string context")
            parameter = entry.get("context_parameter") or None
            if parameter is not None and not isinstance(parameter, str):
                raise self.shape_error(f"values[{position}] of {key!r} has a non-string context_parameter")
            context = entry["context"]
            slot = (context, parameter if context == "branch" else None)
            by_context.setdefault(slot, entry.get("value"))
        for slot in self.lookup_order():
            if slot in by_context:
                return slot[0], by_context[slot]
        return None

    # -- writing ------------------------------------------------------------------------------
    def _context_value(self, value: str) -> dict[str, str]:
        """Return the value object for this instance's context."""
        body = {"context": self.context, "value": value}
        if self.context == "branch":
            assert self.branch is not None
            body["context_parameter"] = self.branch
        return body

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Set ``key``'s value for this context only; other contexts are never touched.

        An existing key gets ``PATCH`` (its ``is_secret`` flag is left as it is); a new
        key is created with ``POST`` holding just this context's value, marked
        ``is_secret`` when ``secret``.  A new secret cannot be created in the ``all``,
        ``dev`` or ``dev-server`` contexts (Netlify refuses them): that is an error.
        """
        if not key or not isinstance(key, str):
            raise PlatformError(self.name, "cannot write a variable with an empty name")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key!r} must be a string")
        params = {"site_id": self.site_id}
        key_path = f"{self._env_path()}/{quote(key, safe='')}"
        response, data = await self.request(ctx, "PATCH", key_path, params=params,
                                            json_body=self._context_value(value), ok=(200, 201, 404))
        if response.status_code != 404:
            if not isinstance(data, dict):
                raise self.shape_error(f"updating {key!r} did not return an EnvVar object")
            return
        if secret and self.context in NO_SECRET_CONTEXTS:
            raise PlatformError(
                self.name, f"cannot create secret {key!r} in the {self.context!r} context: Netlify keeps "
                           "secret values per deploy context only (production, deploy-preview, "
                           "branch-deploy, branch); choose one of those contexts or create the variable "
                           "in Netlify first")
        created: dict[str, Any] = {"key": key, "values": [self._context_value(value)], "is_secret": secret}
        if secret:
            created["scopes"] = list(SECRET_SCOPES)
        _, data = await self.request(ctx, "POST", self._env_path(), params=params, json_body=[created],
                                     ok=(200, 201))
        if not isinstance(data, list):
            raise self.shape_error(f"creating {key!r} did not return a list of EnvVars")
