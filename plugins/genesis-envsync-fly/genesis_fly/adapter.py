"""Read and stage the secrets of one Fly.io app through the Machines API (as flyctl does today).

Reading is ``GET /v1/apps/{app}/secrets``: names, a digest and ``created_at``/``updated_at``,
never a value, so every Fly secret is reported present with an unknown value (``None``,
secret), like a GitHub secret. ``updated_at`` is each secret's change stamp: :func:`variable_of`,
the one place a listing becomes a snapshot entry, puts it in ``Variable.stamp``.

Writing is one ``POST /v1/apps/{app}/secrets/{name}`` with ``{"value": "..."}`` per key.
The bulk ``POST /v1/apps/{app}/secrets`` (where a ``null`` deletes) and ``DELETE`` are never
used. A secret written through the API is stored, not deployed: running Machines see it
after the next deploy, so every write's effect is "staged". Genesis never restarts or
deploys Machines.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import attrs

from genesis_core.api import (
    STAGED,
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    Variable,
    WriteEffect,
)

#: Token prefixes of Fly macaroons, sent as ``FlyV1``; anything else is sent as ``Bearer``.
MACAROON_PREFIXES = ("fm1r_", "fm1a_", "fm2_")
STAGED_EFFECT = WriteEffect(STAGED, "staged: effective at the next deploy")
#: What Genesis writes as a Fly secret name: an environment variable name.
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@attrs.frozen
class SecretListing:
    """One secret as ``GET /v1/apps/{app}/secrets`` lists it: no value, only metadata.

    ``updated_at`` is the platform's change stamp for the value (``None`` if Fly omits it).
    The digest is kept out of the repr: it is derived from the value.
    """

    name: str
    updated_at: str | None = None
    created_at: str | None = None
    digest: str | None = attrs.field(default=None, repr=False)


def variable_of(listing: SecretListing, scope: str) -> Variable:
    """Return the snapshot entry for one listed secret: present, value unknown, secret, stamped ``updated_at``."""
    return Variable(listing.name, None, secret=True, scope=scope, stamp=listing.updated_at)


def authorization(token: str) -> str:
    """Return the ``Authorization`` header value for a Fly token, as fly-go builds it.

    A leading ``FlyV1``/``Bearer`` scheme is dropped; when any comma-separated part is a
    macaroon (``fm1r_``, ``fm1a_``, ``fm2_``) the macaroons are sent as ``FlyV1``,
    otherwise the token is sent as ``Bearer``.
    """
    token = token.strip()
    while True:
        scheme, _, rest = token.partition(" ")
        if rest and scheme.lower() in ("flyv1", "bearer"):
            token = rest.strip()
            continue
        break
    parts = [part.strip() for part in token.split(",") if part.strip()]
    macaroons = [part for part in parts if part.startswith(MACAROON_PREFIXES)]
    if macaroons:
        return "FlyV1 " + ",".join(macaroons)
    return "Bearer " + ",".join(parts)


class FlyAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "fly"`` instance: the secrets of one Fly app."""

    kind = "fly"
    credential_env = "FLY_API_TOKEN"
    supports_write = True
    stamps_changes = True
    default_base_url = "https://api.machines.dev"
    table_keys = frozenset({"app"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.app: str = table.str("app").strip()
        if not _APP.match(self.app):
            raise table.error("app", f"expected a Fly app name (like acme-api), got {self.app!r}")

    def describe(self) -> str:
        """Return e.g. ``fly app acme-api``."""
        return f"fly app {self.app}"

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return ``Authorization: FlyV1 …`` for macaroon tokens, ``Bearer …`` for others."""
        return {"Authorization": authorization(self.token(ctx)), "Accept": "application/json"}

    def write_effect(self, key: str) -> WriteEffect:
        """Return the effect of every Fly secret write: staged until the next deploy."""
        return STAGED_EFFECT

    def _secrets_path(self) -> str:
        return f"/v1/apps/{quote(self.app, safe='')}/secrets"

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return every secret of the app, present with an unknown value."""
        scope = f"app:{self.app}"
        return Snapshot(self.name, self.kind, {s.name: variable_of(s, scope) for s in await self.list_secrets(ctx)})

    async def list_secrets(self, ctx: FetchContext) -> tuple[SecretListing, ...]:
        """Return every secret's metadata (name, change stamp); raise on any answer of another shape."""
        _, data = await self.request(ctx, "GET", self._secrets_path())
        if not isinstance(data, dict) or not isinstance(data.get("secrets"), list):
            raise self.shape_error('expected an object with a "secrets" list')
        listed: dict[str, SecretListing] = {}
        for index, item in enumerate(data["secrets"]):
            listing = self._parse(item, index)
            if listing.name in listed:
                raise self.shape_error(f"secret {listing.name!r} is listed twice")
            listed[listing.name] = listing
        return tuple(listed.values())

    def _parse(self, item: Any, index: int) -> SecretListing:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise self.shape_error(f'secrets[{index}] has no string "name"')
        fields: dict[str, str | None] = {}
        for field in ("updated_at", "created_at", "digest"):
            value = item.get(field)
            if value is not None and not isinstance(value, str):
                raise self.shape_error(f'the "{field}" of secret {item["name"]!r} is not a string')
            fields[field] = value
        if "value" in item and item["value"] is not None:
            raise self.shape_error(f"the list returned a value for {item['name']!r}; Genesis never asks for values")
        return SecretListing(item["name"], **fields)

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Set the one secret ``key`` (staged until the next deploy); never the bulk endpoint, never a delete."""
        if not isinstance(key, str) or not SECRET_NAME.match(key):
            raise PlatformError(self.name, f"cannot write {key!r}: Genesis writes Fly secrets named like "
                                           "environment variables (letters, digits, underscores)")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key} must be a string")
        _, data = await self.request(ctx, "POST", f"{self._secrets_path()}/{quote(key, safe='')}",
                                     json_body={"value": value}, ok=(200, 201),
                                     target=f"{self.describe()} (secret {key})")
        if not isinstance(data, dict) or data.get("name") != key:
            raise self.shape_error(f"setting {key} did not answer the secret")
