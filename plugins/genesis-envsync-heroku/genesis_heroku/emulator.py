"""A Heroku Platform API v3 emulator: apps, config vars, releases and add-on attachments.

A real HTTP server on 127.0.0.1 (:class:`~genesis_core.testing.emulator.EmulatorServer`).

Confirmed from a public source:

* ``GET /apps/{app_id_or_name}/config-vars`` answers one JSON object of every config var;
  ``PATCH`` takes a hash of changes whose names match ``^\\w+$`` and whose values are a
  string or ``null``, **removes a key sent as null**, and answers the whole config
  (Heroku's JSON schema, ``schema.json`` of github.com/heroku/platform-api, definition
  ``config-var``: "remove by setting it to `null`").
* Every config change creates a release and restarts the app (Dev Center, "Configuration
  and Config Vars": "Whenever you set or remove a config var using any method, your app is
  restarted and a new release is created").
* ``GET /apps/{app}/addon-attachments`` with ``Accept-Inclusion: addon:plan,config_vars``
  gives each attachment its ``config_vars`` and its add-on's ``plan`` (the Heroku CLI's
  ``packages/cli/src/lib/pg`` code asks for exactly this to find ``DATABASE_URL``);
  attachment fields ``id, name, namespace, app, addon, created_at, updated_at, web_url,
  log_input_url`` (schema ``add-on-attachment``).
* A config change that touches an attachment's variable is refused with
  ``422 Cannot overwrite attachment values DATABASE_URL.`` (the message users report from
  ``heroku config:set``).
* Errors are ``{"id", "message"}`` with the ids ``bad_request``, ``unauthorized``,
  ``forbidden``, ``not_found``, ``not_acceptable``, ``requested_range_not_satisfiable``,
  ``invalid_params`` and ``rate_limit`` (Platform API reference, "Errors"); an unknown app is
  ``404 {"id": "not_found", "message": "Couldn't find that app."}`` (the text the Heroku CLI
  prints).
* Lists are ranged: ``Range: id ..; max=N`` (default 200, at most 1000); a truncated list is
  ``206 Partial Content`` with ``Next-Range``, repeated as the next ``Range`` (Platform API
  reference, "Ranges").
* Every answer carries ``RateLimit-Remaining``; when the account's tokens run out the API
  answers ``429`` with id ``rate_limit`` and no ``Retry-After`` (Platform API reference,
  "Rate Limits": 4,500 tokens, refilled over time).
* Names are case-sensitive (``FOO`` and ``foo`` are two variables).

Assumed (no public description or recording found):

* the 401 message ``Invalid credentials provided.``;
* ``406 not_acceptable`` for a request whose ``Accept`` does not ask for ``version=3``;
* a ``PATCH`` of ``{}`` (or of values already held) makes no release;
* attachments are listed in ``id`` order and ``Next-Range`` is ``id ]LAST_ID..; max=N``;
  a ``max`` above 1000 or a malformed ``Range`` is ``416``;
* the 429 body ``{"id": "rate_limit", "message": "Your account reached the API rate limit..."}``.

Releases and restarts have no route here; read them with :meth:`releases` and
:meth:`restarts`. Seed with :meth:`add_app`, :meth:`set_config` and :meth:`attach_addon`.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from genesis_core.testing import EmulatorServer, RateLimit, Request, Response, Throttle

RATE_LIMIT_TOKENS = 4500
DEFAULT_RANGE_MAX = 200
MAX_RANGE_MAX = 1000
_NAME = re.compile(r"^\w+$", re.ASCII)
_RANGE = re.compile(r"^\s*id\s+(?P<exclusive>\]?)(?P<start>[^.;\s]*)\.\.(?P<end>[^;\s]*)\s*"
                    r"(?:;\s*max=(?P<max>\d+)\s*;?)?\s*$")
_TIMESTAMP = "2026-01-05T10:00:00Z"


@attrs.define
class Release:
    """One release: its version and which keys it set or removed (never values)."""

    version: int
    description: str
    keys: tuple[str, ...]


@attrs.define
class _Attachment:
    id: str
    name: str
    addon_id: str
    addon_name: str
    plan: str
    config_vars: tuple[str, ...]


@attrs.define
class _App:
    id: str
    name: str
    config: dict[str, str] = attrs.Factory(dict)
    attachments: list[_Attachment] = attrs.Factory(list)
    releases: list[Release] = attrs.Factory(list)
    restarts: int = 0


def _error(status: int, error_id: str, message: str) -> Response:
    return Response(status, {"id": error_id, "message": message})


def _limited(throttle: Throttle) -> Response:
    return Response(429, {"id": "rate_limit",
                          "message": "Your account reached the API rate limit\nPlease wait a few minutes "
                                     "before making new requests",
                          "url": "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits"},
                    headers={"RateLimit-Remaining": "0"})


class HerokuEmulator(EmulatorServer):
    """Apps with config vars and add-on attachments, behind Heroku's auth, ranges and rate limit."""

    platform = "heroku"

    def __init__(self, *, token: str = "heroku-test-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self._apps: dict[str, _App] = {}
        self._ids = itertools.count(1)
        self._tokens_left = RATE_LIMIT_TOKENS
        #: The largest page the emulator serves, whatever ``max`` asks (tests lower it to page cheaply).
        self.page_cap = MAX_RANGE_MAX
        super().__init__(token=token, host=host, port=port)

    # -- seeding and inspection -------------------------------------------------------------
    def add_app(self, name: str, config: Mapping[str, str] | None = None) -> str:
        """Create the app ``name`` (holding ``config``) and return its id."""
        with self._lock:
            app = _App(str(uuid.UUID(int=next(self._ids))), name, dict(config or {}))
            self._apps[name] = app
            return app.id

    def set_config(self, app: str, values: Mapping[str, str]) -> None:
        """Replace every config var of ``app`` that no add-on manages (no release is made)."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            managed = self._managed(target)
            target.config = {k: v for k, v in target.config.items() if k in managed}
            target.config.update({k: v for k, v in values.items() if k not in managed})

    def attach_addon(self, app: str, attachment: str, values: Mapping[str, str], *,
                     service: str = "heroku-postgresql", plan: str = "essential-0") -> str:
        """Attach a new add-on as ``attachment`` whose config vars are ``values``; return the attachment id."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            addon_id = str(uuid.UUID(int=next(self._ids)))
            attached = _Attachment(str(uuid.UUID(int=next(self._ids))), attachment, addon_id,
                                   f"{service}-emulated-{len(target.attachments) + 1}", f"{service}:{plan}",
                                   tuple(values))
            target.attachments.append(attached)
            target.config.update(values)
            return attached.id

    def config(self, app: str) -> dict[str, str]:
        """Return every config var of ``app``."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            return dict(target.config)

    def managed(self, app: str) -> set[str]:
        """Return the config vars of ``app`` that its add-on attachments own."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            return self._managed(target)

    def releases(self, app: str) -> list[Release]:
        """Return the releases config changes made, oldest first."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            return list(target.releases)

    def restarts(self, app: str) -> int:
        """Return how many times config changes restarted ``app``."""
        with self._lock:
            target = self._app(app)
            assert target is not None, app
            return target.restarts

    def throttle(self, requests: int = 1) -> None:
        """Answer the next ``requests`` requests with 429 and ``RateLimit-Remaining: 0`` (nothing else)."""
        self.throttle_next(requests)

    # -- EmulatorServer hooks ----------------------------------------------------------------
    def unauthorized(self, request: Request) -> Response:
        """Return Heroku's 401."""
        return _error(401, "unauthorized", "Invalid credentials provided.")

    def not_found(self, request: Request) -> Response:
        """Return Heroku's 404 for a path it does not serve."""
        return _error(404, "not_found", "The requested API endpoint was not found. Are you using the right HTTP "
                                        "verb (i.e. `GET` vs. `POST`), and did you specify your intended version "
                                        "with the `Accept` header?")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is neither a config-var object nor an attachment list."""
        return Response(200, ["not", "a", "config", "object"] if request.path.endswith("config-vars")
                        else {"attachments": "not-a-list"})

    def rate_limiting(self) -> RateLimit:
        """Return Heroku's limit: 4,500 tokens; its 429 says ``RateLimit-Remaining: 0`` and nothing else."""
        return RateLimit(_limited, requests=RATE_LIMIT_TOKENS)

    def serve(self, request: Request) -> Response | None:
        """Apply the Accept check, then faults and routes; add ``RateLimit-Remaining``."""
        if "version=3" not in request.headers.get("accept", "").replace(" ", ""):
            with self._lock:
                self.requests.append(request)
            return _error(406, "not_acceptable", "Please specify a version along with Heroku's API MIME type. "
                                                 "For example, `Accept: application/vnd.heroku+json; version=3`.")
        response = super().serve(request)
        if response is None:
            return None
        with self._lock:
            self._tokens_left = max(1, self._tokens_left - 1)
            remaining = self._tokens_left
        return attrs.evolve(response, headers={"RateLimit-Remaining": str(remaining), **response.headers})

    # -- routes ------------------------------------------------------------------------------
    def register_routes(self) -> None:
        """Declare the config-var and add-on attachment routes."""
        app = r"/apps/(?P<app>[^/]+)"
        self.route("GET", app + "/config-vars", self._get_config)
        self.route("PATCH", app + "/config-vars", self._patch_config)
        self.route("GET", app + "/addon-attachments", self._list_attachments)

    def _app(self, identity: str) -> _App | None:
        if identity in self._apps:
            return self._apps[identity]
        return next((app for app in self._apps.values() if app.id == identity), None)

    @staticmethod
    def _managed(app: _App) -> set[str]:
        return {name for attachment in app.attachments for name in attachment.config_vars}

    def _found(self, match: Any) -> _App | Response:
        app = self._app(unquote(match["app"]))
        if app is None:
            return _error(404, "not_found", "Couldn't find that app.")
        return app

    def _get_config(self, request: Request, match: Any) -> Response:
        app = self._found(match)
        if isinstance(app, Response):
            return app
        return Response(200, dict(app.config))

    def _patch_config(self, request: Request, match: Any) -> Response:
        app = self._found(match)
        if isinstance(app, Response):
            return app
        try:
            body = request.json()
        except ValueError:
            return _error(400, "bad_request", "Invalid JSON.")
        if not isinstance(body, dict):
            return _error(422, "invalid_params", "Config vars must be an object.")
        for name, value in body.items():
            if not _NAME.match(name):
                return _error(422, "invalid_params", f"Invalid config var name: {name}.")
            if value is not None and not isinstance(value, str):
                return _error(422, "invalid_params", f"Config var {name} must be a string or null.")
        managed = sorted(name for name in body if name in self._managed(app))
        if managed:
            return _error(422, "invalid_params", f"Cannot overwrite attachment values {', '.join(managed)}.")
        changed = [name for name, value in body.items()
                   if (value is None and name in app.config) or (value is not None and app.config.get(name) != value)]
        for name, value in body.items():
            if value is None:
                app.config.pop(name, None)
            else:
                app.config[name] = value
        if changed:
            removed = [name for name in changed if body[name] is None]
            parts = []
            if len(removed) < len(changed):
                parts.append("Set " + ", ".join(n for n in changed if n not in removed) + " config vars")
            if removed:
                parts.append("Remove " + ", ".join(removed) + " config vars")
            app.releases.append(Release(len(app.releases) + 1, "; ".join(parts), tuple(changed)))
            app.restarts += 1
        return Response(200, dict(app.config))

    def _list_attachments(self, request: Request, match: Any) -> Response:
        app = self._found(match)
        if isinstance(app, Response):
            return app
        inclusions = {part.strip() for part in request.headers.get("accept-inclusion", "").split(",")}
        ordered = sorted(app.attachments, key=lambda a: a.id)
        start, limit = 0, DEFAULT_RANGE_MAX
        raw_range = request.headers.get("range")
        if raw_range is not None:
            parsed = _RANGE.match(raw_range)
            if parsed is None or (parsed["max"] and not 1 <= int(parsed["max"]) <= MAX_RANGE_MAX):
                return _error(416, "requested_range_not_satisfiable",
                              "Invalid Range header; use for example `Range: id ..; max=200`.")
            if parsed["max"]:
                limit = int(parsed["max"])
            if parsed["start"]:
                ids = [a.id for a in ordered]
                position = next((i for i, item in enumerate(ids) if item >= parsed["start"]), len(ids))
                if parsed["exclusive"] and position < len(ids) and ids[position] == parsed["start"]:
                    position += 1
                start = position
        limit = min(limit, self.page_cap)
        page = ordered[start:start + limit]
        body = [self._attachment_body(app, a, inclusions) for a in page]
        headers = {"Accept-Ranges": "id"}
        if page:
            headers["Content-Range"] = f"id {page[0].id}..{page[-1].id}"
        if start + limit < len(ordered):
            headers["Next-Range"] = f"id ]{page[-1].id}..; max={limit}"
            return Response(206, body, headers=headers)
        return Response(200, body, headers=headers)

    @staticmethod
    def _attachment_body(app: _App, attachment: _Attachment, inclusions: Iterable[str]) -> dict[str, Any]:
        owner = {"id": app.id, "name": app.name}
        addon: dict[str, Any] = {"id": attachment.addon_id, "name": attachment.addon_name, "app": owner}
        body: dict[str, Any] = {
            "id": attachment.id, "name": attachment.name, "namespace": None, "app": owner, "addon": addon,
            "created_at": _TIMESTAMP, "updated_at": _TIMESTAMP, "log_input_url": None,
            "web_url": f"https://addons-sso.heroku.com/apps/{app.id}/addons/{attachment.addon_id}",
        }
        if "addon:plan" in inclusions:
            addon["plan"] = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, attachment.plan)), "name": attachment.plan}
        if "config_vars" in inclusions:
            body["config_vars"] = list(attachment.config_vars)
        return body


def main(argv: list[str] | None = None) -> int:
    """Serve an emulated Heroku app on 127.0.0.1 until interrupted (``python -m genesis_heroku.emulator``)."""
    import argparse
    import secrets

    parser = argparse.ArgumentParser(prog="python -m genesis_heroku.emulator", description=main.__doc__)
    parser.add_argument("--app", default="acme-api")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    emulator = HerokuEmulator(token=f"heroku-{secrets.token_hex(8)}", port=args.port)
    emulator.add_app(args.app)
    return emulator.run_until_interrupted(
        f'Heroku emulator: base_url = "{{url}}", app = "{args.app}", HEROKU_API_KEY={emulator.token}')


if __name__ == "__main__":
    raise SystemExit(main())
