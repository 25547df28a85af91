"""A Render API emulator: services and environment groups with their variables.

It reproduces what the recorded Render traffic shows (see ``tests/`` which replays
the cassettes against it):

* ``GET /v1/services/{id}/env-vars`` lists variables newest first as
  ``[{"envVar": {"key", "value"}, "cursor"}]``; ``limit`` defaults to 20 and must be
  1..100; ``cursor`` (an opaque string from a previous item) continues after that
  item; the page after the last item is ``[]``.
* ``PUT /v1/services/{id}/env-vars`` (bulk) replaces **every** variable with the
  list in the body (``null`` clears them) and answers the new list.
* ``GET|PUT|DELETE /v1/services/{id}/env-vars/{key}``: one variable; ``PUT`` with
  ``{"value"}`` or ``{"generateValue": true}`` creates or updates it and answers
  ``{"key", "value"}``; ``DELETE`` answers 204.
* ``GET /v1/env-groups/{id}`` answers the group with its ``envVars``;
  ``PUT|DELETE /v1/env-groups/{id}/env-vars/{key}`` change one of them (``PUT``
  answers the whole group, as Render does).
* Errors are JSON ``{"id", "message"}`` (404: ``{"message": "not found: ID"}``);
  every answer carries ``Ratelimit-Limit/Remaining/Reset``; :meth:`throttle` makes
  the next requests answer 429 with ``Ratelimit-Reset``.

Seed and inspect state directly with :meth:`set_env`, :meth:`env`,
:meth:`set_group` and :meth:`group_env`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from genesis_core.testing import EmulatorServer, RateLimit, RateUsage, Request, Response, Throttle

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_WINDOW_SECONDS = 60
_TIMESTAMP = "2024-12-02T18:25:16.437791Z"


@attrs.define
class _Entry:
    """One stored variable: its value, its creation order and its opaque cursor."""

    value: str
    seq: int
    cursor: str


@attrs.define
class _Group:
    """One environment group."""

    id: str
    name: str
    owner_id: str
    env: dict[str, _Entry] = attrs.Factory(dict)
    created_at: str = _TIMESTAMP
    updated_at: str = _TIMESTAMP


def _error(status: int, message: str, error_id: str | None = None) -> Response:
    body: dict[str, str] = {"message": message}
    if error_id is not None:
        body = {"id": error_id, "message": message}
    return Response(status, body)


def _limited(throttle: Throttle) -> Response:
    return _error(429, "rate limit exceeded", "rate-limit-exceeded")


def _newest_first(env: Mapping[str, _Entry]) -> list[tuple[str, _Entry]]:
    return sorted(env.items(), key=lambda item: item[1].seq, reverse=True)


class RenderEmulator(EmulatorServer):
    """Render's env-var and env-group endpoints on 127.0.0.1 (``base_url`` has no ``/v1``)."""

    platform = "render"

    def __init__(self, *, token: str = "rnd_emulator_token", host: str = "127.0.0.1", port: int = 0,
                 rate_limit: int = 400, owner_id: str = "tea-emulator") -> None:
        self._services: dict[str, dict[str, _Entry]] = {}
        self._groups: dict[str, _Group] = {}
        self._seq = itertools.count(1)
        self.owner_id = owner_id
        self.rate_limit = rate_limit
        super().__init__(token=token, host=host, port=port)

    # -- seeding and inspection (bypass HTTP) ---------------------------------------------
    def set_env(self, service_id: str, values: Mapping[str, str]) -> None:
        """Create ``service_id`` if needed and replace its variables with ``values`` (oldest first)."""
        with self._lock:
            self._services[service_id] = {}
            for key, value in values.items():
                self._store(self._services[service_id], service_id, key, value)

    def env(self, service_id: str) -> dict[str, str]:
        """Return the service's variables ``{key: value}``."""
        with self._lock:
            return {key: entry.value for key, entry in self._services[service_id].items()}

    def set_group(self, group_id: str, values: Mapping[str, str], *, name: str = "emulated-group",
                  owner_id: str | None = None) -> None:
        """Create or replace the environment group ``group_id`` holding ``values`` (oldest first)."""
        with self._lock:
            group = _Group(group_id, name, owner_id or self.owner_id)
            for key, value in values.items():
                self._store(group.env, group_id, key, value)
            self._groups[group_id] = group

    def group_env(self, group_id: str) -> dict[str, str]:
        """Return the group's variables ``{key: value}``."""
        with self._lock:
            return {key: entry.value for key, entry in self._groups[group_id].env.items()}

    def throttle(self, requests: int = 1, *, reset: int = 0) -> None:
        """Answer the next ``requests`` requests with 429 and ``Ratelimit-Reset: reset`` (seconds)."""
        self.throttle_next(requests, reset=reset)

    # -- EmulatorServer hooks -------------------------------------------------------------
    def unauthorized(self, request: Request) -> Response:
        """Return Render's 401."""
        return _error(401, "unauthorized", "unauthorized")

    def not_found(self, request: Request) -> Response:
        """Return Render's 404 for an unknown path."""
        return _error(404, "not found")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is valid but not an env-var list."""
        return Response(200, {"envVars": {"key": "A", "value": "x"}, "cursor": None})

    def rate_limiting(self) -> RateLimit:
        """Return Render's limit: ``rate_limit`` requests a minute, ``Ratelimit-*`` on every answer."""
        return RateLimit(_limited, self._rate_headers, requests=self.rate_limit, window=_WINDOW_SECONDS)

    def _rate_headers(self, usage: RateUsage) -> dict[str, str]:
        if usage.status == 429:
            remaining, reset = 0, usage.throttle.reset or 0
        else:  # never report 0 left on a success: only throttle() limits
            remaining = max(1, self.rate_limit - usage.used)
            reset = usage.reset or 0
        return {
            "Ratelimit-Limit": str(self.rate_limit),
            "Ratelimit-Remaining": str(remaining),
            "Ratelimit-Reset": str(reset),
            "Render-Request-Id": f"emu-{secrets.token_hex(6)}",
        }

    # -- routes ---------------------------------------------------------------------------
    def register_routes(self) -> None:
        """Declare Render's env-var and env-group routes."""
        service = r"/v1/services/(?P<service_id>[^/]+)/env-vars"
        group = r"/v1/env-groups/(?P<group_id>[^/]+)"
        self.route("GET", service, self._list_service)
        self.route("PUT", service, self._replace_service)
        self.route("GET", service + r"/(?P<key>[^/]+)", self._get_service_var)
        self.route("PUT", service + r"/(?P<key>[^/]+)", self._put_service_var)
        self.route("DELETE", service + r"/(?P<key>[^/]+)", self._delete_service_var)
        self.route("GET", group, self._get_group)
        self.route("PUT", group + r"/env-vars/(?P<key>[^/]+)", self._put_group_var)
        self.route("DELETE", group + r"/env-vars/(?P<key>[^/]+)", self._delete_group_var)

    def _store(self, env: dict[str, _Entry], owner: str, key: str, value: str) -> _Entry:
        """Create or update ``key`` in ``env``; an update keeps the entry's place and cursor."""
        if key in env:
            env[key].value = value
            return env[key]
        seq = next(self._seq)
        digest = hashlib.sha256(f"{owner}/{key}/{seq}".encode()).digest()[:16]
        cursor = base64.urlsafe_b64encode(seq.to_bytes(8, "big") + digest).decode().rstrip("=")
        env[key] = entry = _Entry(value, seq, cursor)
        return entry

    @staticmethod
    def _item(key: str, entry: _Entry) -> dict[str, Any]:
        return {"envVar": {"key": key, "value": entry.value}, "cursor": entry.cursor}

    def _service(self, match: Any) -> dict[str, _Entry] | None:
        return self._services.get(unquote(match["service_id"]))

    def _list_service(self, request: Request, match: Any) -> Response:
        env = self._service(match)
        if env is None:
            return _error(404, f"not found: {unquote(match['service_id'])}")
        raw_limit = request.param("limit", str(DEFAULT_LIMIT)) or ""
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return _error(400, f"limit must be an integer between 1 and {MAX_LIMIT}", "invalid-limit")
        ordered = _newest_first(env)
        start = 0
        cursor = request.param("cursor")
        if cursor:
            positions = [i for i, (_, entry) in enumerate(ordered) if entry.cursor == cursor]
            if not positions:
                return _error(400, "invalid cursor", "invalid-cursor")
            start = positions[0] + 1
        page = ordered[start:start + int(raw_limit)]
        return Response(200, [self._item(key, entry) for key, entry in page])

    def _replace_service(self, request: Request, match: Any) -> Response:
        env = self._service(match)
        if env is None:
            return _error(404, f"not found: {unquote(match['service_id'])}")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "invalid JSON body", "invalid-json")
        if body is None:
            body = []
        if not isinstance(body, list):
            return _error(400, "body must be a list of environment variables", "invalid-body")
        new: dict[str, _Entry] = {}
        service_id = unquote(match["service_id"])
        for item in body:
            value = self._value_from(item)
            if not isinstance(item, dict) or not isinstance(item.get("key"), str) or value is None:
                return _error(400, "each item needs a key and a value or generateValue", "invalid-body")
            self._store(new, service_id, item["key"], value)
        env.clear()
        env.update(new)
        return Response(200, [self._item(key, env[key]) for key in new])

    @staticmethod
    def _value_from(body: Any) -> str | None:
        """Return the value a body asks for (generated when ``generateValue``), else ``None``."""
        if not isinstance(body, dict):
            return None
        value = body.get("value")
        if isinstance(value, str):
            return value
        if body.get("generateValue") is True:
            return base64.b64encode(secrets.token_bytes(32)).decode()
        return None

    def _get_service_var(self, request: Request, match: Any) -> Response:
        env = self._service(match)
        key = unquote(match["key"])
        if env is None or key not in env:
            return _error(404, f"not found: {key if env is not None else unquote(match['service_id'])}")
        return Response(200, {"key": key, "value": env[key].value})

    def _put_service_var(self, request: Request, match: Any) -> Response:
        env = self._service(match)
        if env is None:
            return _error(404, f"not found: {unquote(match['service_id'])}")
        try:
            value = self._value_from(request.json())
        except ValueError:
            return _error(400, "invalid JSON body", "invalid-json")
        if value is None:
            return _error(400, "body needs a string value or generateValue: true", "invalid-body")
        key = unquote(match["key"])
        entry = self._store(env, unquote(match["service_id"]), key, value)
        return Response(200, {"key": key, "value": entry.value})

    def _delete_service_var(self, request: Request, match: Any) -> Response:
        env = self._service(match)
        key = unquote(match["key"])
        if env is None or key not in env:
            return _error(404, f"not found: {key if env is not None else unquote(match['service_id'])}")
        del env[key]
        return Response(204)

    def _group_body(self, group: _Group) -> dict[str, Any]:
        return {
            "createdAt": group.created_at,
            "envVars": [{"key": key, "value": entry.value} for key, entry in _newest_first(group.env)],
            "id": group.id,
            "name": group.name,
            "ownerId": group.owner_id,
            "secretFiles": [],
            "serviceLinks": [],
            "updatedAt": group.updated_at,
        }

    def _get_group(self, request: Request, match: Any) -> Response:
        group = self._groups.get(unquote(match["group_id"]))
        if group is None:
            return _error(404, f"not found: {unquote(match['group_id'])}")
        return Response(200, self._group_body(group))

    def _put_group_var(self, request: Request, match: Any) -> Response:
        group = self._groups.get(unquote(match["group_id"]))
        if group is None:
            return _error(404, f"not found: {unquote(match['group_id'])}")
        try:
            value = self._value_from(request.json())
        except ValueError:
            return _error(400, "invalid JSON body", "invalid-json")
        if value is None:
            return _error(400, "body needs a string value or generateValue: true", "invalid-body")
        self._store(group.env, group.id, unquote(match["key"]), value)
        return Response(200, self._group_body(group))

    def _delete_group_var(self, request: Request, match: Any) -> Response:
        group = self._groups.get(unquote(match["group_id"]))
        key = unquote(match["key"])
        if group is None or key not in group.env:
            return _error(404, f"not found: {key if group is not None else unquote(match['group_id'])}")
        del group.env[key]
        return Response(204)
