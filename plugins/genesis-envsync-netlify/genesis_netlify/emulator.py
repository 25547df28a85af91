"""A Netlify API emulator: the environment-variable endpoints of API v1.

Routes (``base_url`` has no path; every route starts with ``/api/v1`` as in the
swagger's ``basePath``), checked against Netlify's swagger in ``tests/``:

* ``GET /accounts/{account_id}/env`` (``getEnvVars``; ``site_id``, ``context_name``
  and ``scope`` filters; no pagination) answers a list of EnvVar objects.
* ``POST /accounts/{account_id}/env`` (``createEnvVars``) creates the listed
  variables and answers 201 with them; a key that exists is a 400.
* ``GET|PUT|PATCH|DELETE /accounts/{account_id}/env/{key}``: ``getEnvVar``;
  ``updateEnvVar`` (PUT replaces **all** values, scopes and ``is_secret``: 200);
  ``setEnvVarValue`` (PATCH sets one context value: 201); ``deleteEnvVar`` (204).
* ``DELETE /accounts/{account_id}/env/{key}/value/{id}`` (``deleteEnvVarValue``, 204).

Secrets: an ``is_secret`` variable's values are answered without their ``value``
field, except in the ``dev`` context ("only the local development context values
are readable from the UI, API, and CLI").  A secret value cannot be set in the
``all`` context, nor a secret be in the ``post-processing`` scope (400).

Errors are ``{"code": status, "message": ...}`` (the swagger's ``error``).  Every
answer carries ``X-RateLimit-Limit/Remaining/Reset`` (reset is an epoch second);
:meth:`throttle` makes the next requests answer 429.

Seed and inspect state directly with :meth:`add_site`, :meth:`set_var`,
:meth:`set_env`, :meth:`values` and :meth:`env`.
"""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from genesis_core.testing import EmulatorServer, RateLimit, RateUsage, Request, Response, Throttle

VALUE_CONTEXTS = ("all", "dev", "dev-server", "branch-deploy", "deploy-preview", "production", "branch")
ALL_SCOPES = ("builds", "functions", "runtime", "post-processing")
SECRET_READABLE_CONTEXT = "dev"
_USER = {"id": "5f1e0000emulator", "full_name": "Genesis Emulator", "email": "emulator@example.invalid",
         "avatar_url": "https://example.invalid/avatar.png"}
_PREFIX = r"/api/v1/accounts/(?P<account_id>[^/]+)/env"


@attrs.define
class _Value:
    context: str
    value: str
    context_parameter: str = ""
    id: str = attrs.Factory(lambda: str(uuid.uuid4()))

    @property
    def label(self) -> str:
        return f"branch:{self.context_parameter}" if self.context == "branch" else self.context


@attrs.define
class _EnvVar:
    key: str
    values: list[_Value]
    is_secret: bool = False
    scopes: list[str] = attrs.Factory(lambda: list(ALL_SCOPES))
    updated_at: str = "2024-01-01T00:00:00.000Z"


class _BadRequest(Exception):
    """A request body Netlify would refuse (400)."""


def _error(status: int, message: str) -> Response:
    return Response(status, {"code": status, "message": message})


def _limited(throttle: Throttle) -> Response:
    headers = {"Retry-After": throttle.retry_after} if throttle.retry_after is not None else {}
    return Response(429, {"code": 429, "message": "API rate limit exceeded"}, headers=headers)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _parse_label(label: str) -> tuple[str, str]:
    """Return ``(context, context_parameter)`` for ``production`` or ``branch:NAME``."""
    if label.startswith("branch:"):
        return "branch", label.split(":", 1)[1]
    if label not in VALUE_CONTEXTS or label == "branch":
        raise ValueError(f"unknown context {label!r}")
    return label, ""


class NetlifyEmulator(EmulatorServer):
    """Netlify's env endpoints on 127.0.0.1."""

    platform = "netlify"

    def __init__(self, *, token: str = "nfp_emulator_token", host: str = "127.0.0.1", port: int = 0,
                 rate_limit: int = 500) -> None:
        # account id -> site id ("" = the account's shared variables) -> key -> variable
        self._accounts: dict[str, dict[str, dict[str, _EnvVar]]] = {}
        self._request_ids = itertools.count(1)
        self.rate_limit = rate_limit
        super().__init__(token=token, host=host, port=port)

    # -- seeding and inspection (bypass HTTP) ---------------------------------------------
    def add_site(self, account_id: str, site_id: str) -> None:
        """Create the account and the site (no variables) if they do not exist."""
        with self._lock:
            sites = self._accounts.setdefault(account_id, {"": {}})
            sites.setdefault(site_id, {})

    def set_var(self, account_id: str, site_id: str, key: str, values: Mapping[str, str], *,
                secret: bool = False, scopes: Iterable[str] | None = None) -> None:
        """Create or replace ``key`` with ``{context label: value}`` (labels: ``production``, ``branch:NAME``…)."""
        self.add_site(account_id, site_id)
        stored = []
        for label, value in values.items():
            context, parameter = _parse_label(label)
            stored.append(_Value(context, value, parameter))
        default_scopes = [s for s in ALL_SCOPES if not (secret and s == "post-processing")]
        with self._lock:
            self._accounts[account_id][site_id][key] = _EnvVar(
                key, stored, secret, list(scopes) if scopes is not None else default_scopes, _now())

    def set_env(self, account_id: str, site_id: str, values: Mapping[str, str], *, context: str = "all",
                secret_keys: Iterable[str] = ()) -> None:
        """Replace the site's variables: each key gets one value in ``context``."""
        secret = set(secret_keys)
        self.add_site(account_id, site_id)
        with self._lock:
            self._accounts[account_id][site_id] = {}
        for key, value in values.items():
            self.set_var(account_id, site_id, key, {context: value}, secret=key in secret)

    def values(self, account_id: str, site_id: str, key: str) -> dict[str, str]:
        """Return every stored value of ``key`` as ``{context label: value}`` (secrets in clear)."""
        with self._lock:
            return {v.label: v.value for v in self._accounts[account_id][site_id][key].values}

    def is_secret(self, account_id: str, site_id: str, key: str) -> bool:
        """Return whether ``key`` is marked secret."""
        with self._lock:
            return self._accounts[account_id][site_id][key].is_secret

    def keys(self, account_id: str, site_id: str) -> list[str]:
        """Return the site's variable names."""
        with self._lock:
            return list(self._accounts[account_id][site_id])

    def env(self, account_id: str, site_id: str, context: str = "production",
            branch: str | None = None) -> dict[str, str]:
        """Return ``{key: value}`` as a deploy in ``context`` sees it (secrets in clear)."""
        order = [context] if context == "all" else [context, "all"]
        if context == "branch":
            order = [f"branch:{branch}", "branch-deploy", "all"]
        result: dict[str, str] = {}
        with self._lock:
            for key, var in self._accounts[account_id][site_id].items():
                by_label = {v.label: v.value for v in var.values}
                for label in order:
                    if label in by_label:
                        result[key] = by_label[label]
                        break
        return result

    def throttle(self, requests: int = 1, *, retry_after: int | None = None, reset_in: int = 0) -> None:
        """Answer the next ``requests`` requests with 429 (``Retry-After`` if given; reset ``reset_in`` s away)."""
        self.throttle_next(requests, retry_after=None if retry_after is None else str(retry_after), reset=reset_in)

    # -- EmulatorServer hooks -------------------------------------------------------------
    def unauthorized(self, request: Request) -> Response:
        """Return Netlify's 401."""
        return _error(401, "Access Denied: Invalid token")

    def not_found(self, request: Request) -> Response:
        """Return Netlify's 404."""
        return _error(404, "Not Found")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is not a list of EnvVar objects."""
        return Response(200, {"env": {"KEY": "value"}})

    def rate_limiting(self) -> RateLimit:
        """Return Netlify's limit: ``rate_limit`` requests, ``X-RateLimit-*`` on every answer."""
        return RateLimit(_limited, self._rate_headers, requests=self.rate_limit)

    def _rate_headers(self, usage: RateUsage) -> dict[str, str]:
        limited = usage.status == 429
        remaining = 0 if limited else max(1, self.rate_limit - usage.used % self.rate_limit)
        reset = int(time.time()) + ((usage.throttle.reset or 0) if limited else 60)
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(reset), "X-Request-Id": f"emu-{next(self._request_ids)}"}

    # -- routes ---------------------------------------------------------------------------
    def register_routes(self) -> None:
        """Declare the env routes."""
        key = _PREFIX + r"/(?P<key>[^/]+)"
        self.route("GET", _PREFIX, self._list)
        self.route("POST", _PREFIX, self._create)
        self.route("GET", key, self._get)
        self.route("PUT", key, self._replace)
        self.route("PATCH", key, self._set_value)
        self.route("DELETE", key, self._delete)
        self.route("DELETE", key + r"/value/(?P<id>[^/]+)", self._delete_value)

    def _store(self, request: Request, match: Any) -> dict[str, _EnvVar] | Response:
        """Return the variable store the request addresses, or the 404 answer."""
        sites = self._accounts.get(unquote(match["account_id"]))
        if sites is None:
            return _error(404, "Not Found")
        site_id = request.param("site_id") or ""
        if site_id not in sites:
            return _error(404, "Not Found")
        return sites[site_id]

    @staticmethod
    def _json(var: _EnvVar) -> dict[str, Any]:
        values = []
        for v in var.values:
            item: dict[str, Any] = {"id": v.id, "context": v.context}
            if v.context == "branch":
                item["context_parameter"] = v.context_parameter
            if not var.is_secret or v.context == SECRET_READABLE_CONTEXT:
                item["value"] = v.value
            values.append(item)
        return {"key": var.key, "scopes": list(var.scopes), "values": values, "is_secret": var.is_secret,
                "updated_at": var.updated_at, "updated_by": dict(_USER)}

    def _list(self, request: Request, match: Any) -> Response:
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        context_name = request.param("context_name")
        scope = request.param("scope")
        result = []
        for var in store.values():
            if scope and scope not in var.scopes:
                continue
            shown = self._json(var)
            if context_name:
                shown["values"] = [v for v in shown["values"] if v["context"] == context_name]
                if not shown["values"]:
                    continue
            result.append(shown)
        return Response(200, result)

    def _get(self, request: Request, match: Any) -> Response:
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        var = store.get(unquote(match["key"]))
        if var is None:
            return _error(404, "Not Found")
        return Response(200, self._json(var))

    def _create(self, request: Request, match: Any) -> Response:
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        try:
            body = request.json()
            if not isinstance(body, list) or not body:
                raise _BadRequest("expected a non-empty list of environment variables")
            created = [self._env_var_from(item) for item in body]
            keys = [var.key for var in created]
            for key in keys:
                if key in store or keys.count(key) > 1:
                    raise _BadRequest(f"Environment variable {key} already exists")
        except (_BadRequest, ValueError) as exc:
            return _error(400, str(exc) if isinstance(exc, _BadRequest) else "invalid JSON body")
        for var in created:
            store[var.key] = var
        return Response(201, [self._json(var) for var in created])

    def _env_var_from(self, item: Any, key: str | None = None) -> _EnvVar:
        """Return the variable an EnvVar request body describes; raise ``_BadRequest`` if invalid."""
        if not isinstance(item, dict):
            raise _BadRequest("each environment variable must be an object")
        key = key if key is not None else item.get("key")
        if not isinstance(key, str) or not key:
            raise _BadRequest("key is required")
        is_secret = item.get("is_secret", False)
        if not isinstance(is_secret, bool):
            raise _BadRequest("is_secret must be a boolean")
        scopes = item.get("scopes")
        if scopes is None:
            scopes = [s for s in ALL_SCOPES if not (is_secret and s == "post-processing")]
        if not isinstance(scopes, list) or any(s not in ALL_SCOPES for s in scopes):
            raise _BadRequest(f"scopes must be a list of {', '.join(ALL_SCOPES)}")
        if is_secret and "post-processing" in scopes:
            raise _BadRequest("Secret values cannot be used within the post-processing scope")
        raw_values = item.get("values", [])
        if not isinstance(raw_values, list):
            raise _BadRequest("values must be a list")
        values = [self._value_from(raw, is_secret) for raw in raw_values]
        labels = [v.label for v in values]
        if len(set(labels)) != len(labels):
            raise _BadRequest("each context may have only one value")
        return _EnvVar(key, values, is_secret, list(scopes), _now())

    @staticmethod
    def _value_from(raw: Any, is_secret: bool) -> _Value:
        if not isinstance(raw, dict):
            raise _BadRequest("each value must be an object")
        context = raw.get("context")
        if context not in VALUE_CONTEXTS:
            raise _BadRequest(f"context must be one of {', '.join(VALUE_CONTEXTS)}")
        parameter = raw.get("context_parameter") or ""
        if not isinstance(parameter, str) or (context == "branch") != bool(parameter):
            raise _BadRequest("context_parameter (a branch name) is required with, and only with, context branch")
        value = raw.get("value")
        if not isinstance(value, str):
            raise _BadRequest("value must be a string")
        if is_secret and context == "all":
            raise _BadRequest("Secret values must be set per deploy context, not for all contexts")
        return _Value(context, value, parameter)

    def _replace(self, request: Request, match: Any) -> Response:
        """``updateEnvVar``: replace every value (and scopes/is_secret) of an existing key."""
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        key = unquote(match["key"])
        if key not in store:
            return _error(404, "Not Found")
        try:
            body = request.json()
            new_key = body.get("key", key) if isinstance(body, dict) else key
            var = self._env_var_from(body, key=new_key)
        except (_BadRequest, ValueError) as exc:
            return _error(400, str(exc) if isinstance(exc, _BadRequest) else "invalid JSON body")
        del store[key]
        store[var.key] = var
        return Response(200, self._json(var))

    def _set_value(self, request: Request, match: Any) -> Response:
        """``setEnvVarValue``: set the value of one context of an existing key."""
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        var = store.get(unquote(match["key"]))
        if var is None:
            return _error(404, "Not Found")
        try:
            new = self._value_from(request.json(), var.is_secret)
        except (_BadRequest, ValueError) as exc:
            return _error(400, str(exc) if isinstance(exc, _BadRequest) else "invalid JSON body")
        for existing in var.values:
            if existing.label == new.label:
                existing.value = new.value
                break
        else:
            var.values.append(new)
        var.updated_at = _now()
        return Response(201, self._json(var))

    def _delete(self, request: Request, match: Any) -> Response:
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        if store.pop(unquote(match["key"]), None) is None:
            return _error(404, "Not Found")
        return Response(204)

    def _delete_value(self, request: Request, match: Any) -> Response:
        store = self._store(request, match)
        if isinstance(store, Response):
            return store
        var = store.get(unquote(match["key"]))
        value_id = unquote(match["id"])
        if var is None or not any(v.id == value_id for v in var.values):
            return _error(404, "Not Found")
        var.values = [v for v in var.values if v.id != value_id]
        return Response(204)

    def snapshot_state(self) -> dict[str, Any]:
        """Return a deep copy of every stored variable (for tests comparing before/after)."""
        with self._lock:
            return copy.deepcopy({a: {s: {k: attrs.asdict(v) for k, v in site.items()}
                                      for s, site in sites.items()} for a, sites in self._accounts.items()})
