"""Read and write the config vars of one Heroku app through the Platform API v3.

Reading is two requests: ``GET /apps/{app}/config-vars`` (one JSON object holding every
variable, every value readable), then ``GET /apps/{app}/addon-attachments`` with
``Accept-Inclusion: addon:plan,config_vars``, range by range (``Range`` / ``Next-Range``),
to learn which variables add-ons set. Those come back with their value and
``Variable.managed`` saying which add-on owns them: Heroku refuses to overwrite them, so the
heal plan leaves them alone.

Every config change is a release that restarts the app, so writing is a batch: all of one
app's planned keys go in **one** ``PATCH /apps/{app}/config-vars`` holding exactly the keys
whose value changes. Heroku deletes a key sent as ``null``, so a value sent is always a
string. Just before the ``PATCH`` the adapter reads the app again: a key that already holds
its planned value is left out (a restart for nothing) and a key an add-on manages is
refused before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import attrs

from genesis_core.api import (
    RESTART,
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    RetryPolicy,
    Snapshot,
    Variable,
    VariableWrite,
    WriteEffect,
)

ACCEPT = "application/vnd.heroku+json; version=3"
#: What ``GET addon-attachments`` must include for each attachment to list its config vars.
ACCEPT_INCLUSION = "addon:plan,config_vars"
#: Attachments asked for per range (Heroku's maximum page size).
RANGE_MAX = 1000
#: Ranges read before giving up on a Next-Range chain that never ends.
MAX_PAGES = 100
#: Heroku's config var names (the ``patternProperties`` of its schema).
CONFIG_VAR_NAME = re.compile(r"^\w+$", re.ASCII)
#: An app name or id: path-safe (Heroku's own names are lowercase letters, digits and dashes; an unknown
#: name is Heroku's 404, which the error message names).
_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

RESTART_EFFECT = WriteEffect(RESTART, "restarts the app (Heroku makes one new release for the app's changes)")


@attrs.frozen
class AddonVariable:
    """Who owns an add-on's config var: the attachment, the add-on and its plan (no value)."""

    key: str
    attachment: str
    addon: str
    plan: str

    def reason(self) -> str:
        """Return the one line the heal plan shows for this key."""
        plan = f" ({self.plan})" if self.plan else ""
        return (f"managed by the Heroku add-on {self.addon}{plan} through attachment {self.attachment}: "
                "Heroku refuses to overwrite add-on values")


class HerokuAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "heroku"`` instance: the config vars of one app."""

    kind = "heroku"
    credential_env = "HEROKU_API_KEY"
    supports_write = True
    supports_batch_write = True
    default_base_url = "https://api.heroku.com"
    table_keys = frozenset({"app"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.app: str = table.str("app").strip()
        if not _APP.match(self.app):
            raise table.error("app", f"expected a Heroku app name or id (like acme-api), got {self.app!r}")

    def describe(self) -> str:
        """Return e.g. ``heroku app acme-api``."""
        return f"heroku app {self.app}"

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return the Platform API v3 headers with a ``Bearer`` token."""
        return {"Authorization": f"Bearer {self.token(ctx)}", "Accept": ACCEPT}

    def retry_policy(self) -> RetryPolicy:
        """Retry as every adapter does, but back off on a 429: Heroku's says only ``RateLimit-Remaining``."""
        return RetryPolicy(attempts=self.retries + 1, rate_limit_backoff=True)

    def write_effect(self, key: str) -> WriteEffect:
        """Return the effect of every Heroku config change: a release that restarts the app."""
        return RESTART_EFFECT

    def _app_path(self) -> str:
        return f"/apps/{quote(self.app, safe='')}"

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return every config var; add-on variables carry ``managed`` (why Genesis never writes them)."""
        config, owned = await self._read(ctx)
        variables = {key: Variable(key, value, secret=False,
                                   managed=owned[key].reason() if key in owned else None)
                     for key, value in config.items()}
        return Snapshot(self.name, self.kind, variables)

    async def _read(self, ctx: FetchContext) -> tuple[dict[str, str], dict[str, AddonVariable]]:
        """Return the app's config vars and, for each add-on variable among them, who owns it."""
        config = await self.config_vars(ctx)
        owned = {item.key: item for item in await self.addon_variables(ctx) if item.key in config}
        return config, owned

    async def config_vars(self, ctx: FetchContext) -> dict[str, str]:
        """Return ``{name: value}`` from ``GET /apps/{app}/config-vars``; raise on any other shape."""
        _, data = await self.request(ctx, "GET", f"{self._app_path()}/config-vars")
        if not isinstance(data, dict):
            raise self.shape_error("config-vars is not a JSON object")
        for key, value in data.items():
            if not key:
                raise self.shape_error("a config var has an empty name")
            if not isinstance(value, str):
                raise self.shape_error(f"the value of config var {key!r} is not a string")
        return dict(data)

    async def addon_variables(self, ctx: FetchContext) -> list[AddonVariable]:
        """Return every config var the app's add-on attachments set, following ``Next-Range``."""
        path = f"{self._app_path()}/addon-attachments"
        found: list[AddonVariable] = []
        next_range: str | None = f"id ..; max={RANGE_MAX}"
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            assert next_range is not None
            headers = {"Accept-Inclusion": ACCEPT_INCLUSION, "Range": next_range}
            response, data = await self.request(ctx, "GET", path, headers=headers, ok=(200, 206))
            if not isinstance(data, list):
                raise self.shape_error(f"range {page} of addon-attachments is not a JSON list")
            for index, item in enumerate(data):
                found.extend(self._attachment_variables(item, page, index))
            if response.status_code == 200:
                return found
            next_range = response.headers.get("next-range")
            if not next_range:
                raise self.shape_error("a 206 Partial Content list of addon-attachments has no Next-Range")
            if next_range in seen:
                raise PlatformError(self.name, "the addon-attachments list does not advance: Heroku returned a "
                                               f"Next-Range it had returned before (range {page})")
            seen.add(next_range)
        raise PlatformError(self.name, f"the addon-attachments list did not end after {MAX_PAGES} ranges")

    def _attachment_variables(self, item: Any, page: int, index: int) -> list[AddonVariable]:
        where = f"attachment {index} of range {page}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise self.shape_error(f"{where} has no string name")
        names = item.get("config_vars")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise self.shape_error(f"{where} ({item['name']}) has no config_vars list "
                                   f"(asked for with Accept-Inclusion: {ACCEPT_INCLUSION})")
        addon = item.get("addon")
        if not isinstance(addon, dict) or not isinstance(addon.get("name"), str):
            raise self.shape_error(f"{where} ({item['name']}) has no add-on name")
        plan = addon.get("plan")
        plan_name = plan.get("name") if isinstance(plan, dict) else None
        return [AddonVariable(name, item["name"], addon["name"], plan_name if isinstance(plan_name, str) else "")
                for name in names]

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update ``key`` alone (one release); Heroku has no secret flag."""
        await self.write_batch(ctx, [VariableWrite(key, value, secret)])

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        """Send every changed key of ``writes`` in ONE ``PATCH`` (one release, one restart); never a null."""
        wanted: dict[str, str] = {}
        for item in writes:
            if not isinstance(item.key, str) or not CONFIG_VAR_NAME.match(item.key):
                raise PlatformError(self.name, f"cannot write {item.key!r}: Heroku config var names hold only "
                                               "letters, digits and underscores")
            if not isinstance(item.value, str):
                raise PlatformError(self.name, f"the value for {item.key} must be a string")
            if item.key in wanted:
                raise PlatformError(self.name, f"{item.key} is given twice in one batch")
            wanted[item.key] = item.value
        if not wanted:
            return
        config, owned = await self._read(ctx)
        refused = sorted(key for key in wanted if key in owned)
        if refused:
            raise PlatformError(self.name, f"cannot write {', '.join(refused)}: {owned[refused[0]].reason()}; "
                                           "nothing was written")
        changes = {key: value for key, value in wanted.items() if config.get(key) != value}
        if not changes:
            return
        assert all(isinstance(value, str) for value in changes.values())  # a null would delete the key
        keys = ", ".join(sorted(changes))
        _, data = await self.request(ctx, "PATCH", f"{self._app_path()}/config-vars", json_body=changes,
                                     target=f"{self.describe()} (config vars {keys})")
        if not isinstance(data, dict):
            raise self.shape_error("the PATCH of config-vars did not answer a JSON object")
        differ = sorted(key for key, value in changes.items() if data.get(key) != value)
        if differ:
            raise PlatformError(self.name, f"Heroku answered the PATCH without the new value of {', '.join(differ)}")
