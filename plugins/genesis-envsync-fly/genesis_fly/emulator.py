"""A Fly.io Machines API emulator for app secrets (a real HTTP server on 127.0.0.1).

Confirmed from a public source:

* Base URL ``https://api.machines.dev``, paths under ``/v1`` (Fly docs, "Working with the
  Machines API"; fly-go ``flaps.NewRequest`` prefixes every path with ``/v1``).
* ``GET /v1/apps/{app}/secrets`` answers ``{"secrets": [{"name", "digest", "created_at",
  "updated_at"}]}`` without values; ``GET /v1/apps/{app}/secrets/{name}`` one of them;
  ``POST /v1/apps/{app}/secrets/{name}`` ``{"value": "..."}`` sets one secret and answers it
  with a ``version``; ``POST /v1/apps/{app}/secrets`` ``{"values": {name: value|null}}``
  sets several and **deletes those sent as null**; ``DELETE /v1/apps/{app}/secrets/{name}``
  answers ``{"version"}`` (fly-go ``flaps/flaps_secrets.go`` and ``secrets_types.go``:
  "Nil secret values are deleted").
* Authorization is ``FlyV1 <tokens>`` when the token holds macaroons (``fm1r_``, ``fm1a_``,
  ``fm2_``) and ``Bearer <token>`` otherwise (fly-go ``tokens.Parse`` and
  ``Tokens.FlapsHeader``); the scheme sent must match the token's form.
* Errors are ``{"error": "..."}`` (fly-go ``handleAPIError`` reads ``error``, or ``message``).
* Secrets reach running Machines only when the app is deployed again (flyctl: ``fly secrets
  set --stage`` and ``fly secrets deploy`` "Deploy staged secrets"); this emulator keeps what
  Machines see apart (:meth:`machine_env`) until :meth:`deploy`.
* Names are case sensitive and stored as-is (``fly secrets --help``).
* Rate limits are per action, 1 request/s with bursts of 3 (Fly docs, "Rate Limits"); over
  the limit the API answers 429.

Assumed (no public description or recording found):

* the text of error messages (``"app not found"``, ``"secret not found"``, ``"unauthorized"``);
* the digest format (a hex string here; Fly does not document it) and that ``updated_at``
  is an RFC 3339 time that moves on every write;
* the 429 carries no ``Retry-After`` unless a test asks for one (:meth:`throttle`);
* ``show_secrets=true`` is ignored: this emulator never returns a value in a list.

Seed and inspect directly with :meth:`add_app`, :meth:`set_secrets`, :meth:`secrets`,
:meth:`listing`, :meth:`machine_env` and :meth:`deploy`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from genesis_core.testing import EmulatorServer, RateLimit, Request, Response, Throttle

MACAROON_PREFIXES = ("fm1r_", "fm1a_", "fm2_")
_EPOCH = _dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=_dt.UTC)


def _limited(throttle: Throttle) -> Response:
    headers = {"Retry-After": throttle.retry_after} if throttle.retry_after is not None else {}
    return Response(429, {"error": "rate limit exceeded"}, headers=headers)


def is_macaroon(token: str) -> bool:
    """Return whether ``token`` (or any of its comma-separated parts) is a Fly macaroon."""
    return any(part.strip().startswith(MACAROON_PREFIXES) for part in token.split(","))


@attrs.define
class _Secret:
    value: str
    digest: str
    created_at: str
    updated_at: str


@attrs.define
class _App:
    name: str
    secrets: dict[str, _Secret] = attrs.Factory(dict)
    deployed: dict[str, str] = attrs.Factory(dict)
    version: int = 0


def _error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


class FlyEmulator(EmulatorServer):
    """Fly apps and their secrets, behind ``FlyV1``/``Bearer`` authorization."""

    platform = "fly"

    def __init__(self, *, token: str = "fm2_emulated-fly-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self._apps: dict[str, _App] = {}
        self._clock = itertools.count(1)
        super().__init__(token=token, host=host, port=port)

    # -- seeding and inspection -------------------------------------------------------------
    def add_app(self, name: str, secrets: Mapping[str, str] | None = None) -> None:
        """Create the app ``name`` holding ``secrets`` (already deployed)."""
        with self._lock:
            self._apps[name] = _App(name)
            self._set(self._apps[name], secrets or {})
            self._apps[name].deployed = dict(secrets or {})

    def set_secrets(self, app: str, values: Mapping[str, str], *, replace: bool = True) -> None:
        """Set secrets directly (as ``fly secrets set`` would); ``replace`` drops the others first."""
        with self._lock:
            target = self._apps[app]
            if replace:
                target.secrets.clear()
            self._set(target, values)

    def change_in_ui(self, app: str, name: str, value: str) -> str:
        """Change secret ``name`` as ``fly secrets set`` from someone's laptop would, bypassing this API;
        return its new ``updated_at`` (always a later one)."""
        with self._lock:
            if name not in self._apps[app].secrets:
                raise KeyError(name)
            self._set(self._apps[app], {name: value})
            return self._apps[app].secrets[name].updated_at

    def secrets(self, app: str) -> dict[str, str]:
        """Return the stored values ``{name: value}`` (what the API never shows)."""
        with self._lock:
            return {name: secret.value for name, secret in self._apps[app].secrets.items()}

    def listing(self, app: str) -> dict[str, dict[str, str]]:
        """Return ``{name: {"digest", "created_at", "updated_at"}}`` as the list endpoint shows it."""
        with self._lock:
            return {name: {"digest": s.digest, "created_at": s.created_at, "updated_at": s.updated_at}
                    for name, s in self._apps[app].secrets.items()}

    def machine_env(self, app: str) -> dict[str, str]:
        """Return the secrets running Machines see: those of the last deploy."""
        with self._lock:
            return dict(self._apps[app].deployed)

    def deploy(self, app: str) -> None:
        """Deploy the app: Machines now see the stored secrets (``fly secrets deploy``)."""
        with self._lock:
            self._apps[app].deployed = {name: s.value for name, s in self._apps[app].secrets.items()}

    def throttle(self, requests: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next ``requests`` requests with 429 (with ``Retry-After`` only when given)."""
        self.throttle_next(requests, retry_after=retry_after)

    def _now(self) -> str:
        moment = _EPOCH + _dt.timedelta(seconds=next(self._clock))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _set(self, app: _App, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            now = self._now()
            digest = hashlib.sha256(f"{app.name}\0{name}\0{value}".encode()).hexdigest()[:16]
            existing = app.secrets.get(name)
            app.secrets[name] = _Secret(value, digest, existing.created_at if existing else now, now)
        app.version += 1

    # -- EmulatorServer hooks ----------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """Accept the token only with the scheme its form requires (``FlyV1`` for macaroons)."""
        scheme = "FlyV1" if is_macaroon(self.token) else "Bearer"
        return request.headers.get("authorization") == f"{scheme} {self.token}"

    def unauthorized(self, request: Request) -> Response:
        """Return Fly's 401."""
        return _error(401, "unauthorized")

    def not_found(self, request: Request) -> Response:
        """Return Fly's 404 for a path it does not serve."""
        return _error(404, "not found")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is not a secrets list."""
        return Response(200, {"secrets": {"name": "A"}})

    def rate_limiting(self) -> RateLimit:
        """Return Fly's limit: 1 request/s with bursts of 3; its 429 has ``Retry-After`` only when asked."""
        return RateLimit(_limited, requests=3, window=1.0)

    # -- routes ------------------------------------------------------------------------------
    def register_routes(self) -> None:
        """Declare the app-secrets routes."""
        secrets = r"/v1/apps/(?P<app>[^/]+)/secrets"
        self.route("GET", secrets, self._list)
        self.route("POST", secrets, self._update_many)
        self.route("GET", secrets + r"/(?P<name>[^/]+)", self._get)
        self.route("POST", secrets + r"/(?P<name>[^/]+)", self._set_one)
        self.route("DELETE", secrets + r"/(?P<name>[^/]+)", self._delete)

    def _app(self, match: Any) -> _App | Response:
        app = self._apps.get(unquote(match["app"]))
        return app if app is not None else _error(404, "app not found")

    @staticmethod
    def _item(name: str, secret: _Secret) -> dict[str, Any]:
        return {"name": name, "digest": secret.digest, "created_at": secret.created_at,
                "updated_at": secret.updated_at}

    def _list(self, request: Request, match: Any) -> Response:
        app = self._app(match)
        if isinstance(app, Response):
            return app
        return Response(200, {"secrets": [self._item(n, s) for n, s in sorted(app.secrets.items())]})

    def _get(self, request: Request, match: Any) -> Response:
        app = self._app(match)
        if isinstance(app, Response):
            return app
        name = unquote(match["name"])
        if name not in app.secrets:
            return _error(404, "secret not found")
        return Response(200, self._item(name, app.secrets[name]))

    def _set_one(self, request: Request, match: Any) -> Response:
        app = self._app(match)
        if isinstance(app, Response):
            return app
        try:
            body = request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return _error(400, "value is required")
        name = unquote(match["name"])
        self._set(app, {name: body["value"]})
        return Response(200, {**self._item(name, app.secrets[name]), "version": app.version})

    def _update_many(self, request: Request, match: Any) -> Response:
        app = self._app(match)
        if isinstance(app, Response):
            return app
        try:
            body = request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, dict) or not all(v is None or isinstance(v, str) for v in values.values()):
            return _error(400, "values must map names to strings or null")
        for name, value in values.items():
            if value is None:
                app.secrets.pop(name, None)
        self._set(app, {name: value for name, value in values.items() if value is not None})
        return Response(200, {"secrets": [self._item(n, s) for n, s in sorted(app.secrets.items())],
                              "version": app.version})

    def _delete(self, request: Request, match: Any) -> Response:
        app = self._app(match)
        if isinstance(app, Response):
            return app
        name = unquote(match["name"])
        if app.secrets.pop(name, None) is None:
            return _error(404, "secret not found")
        app.version += 1
        return Response(200, {"version": app.version})


def main(argv: list[str] | None = None) -> int:
    """Serve an emulated Fly app on 127.0.0.1 until interrupted (``python -m genesis_fly.emulator``)."""
    import argparse
    import secrets

    parser = argparse.ArgumentParser(prog="python -m genesis_fly.emulator", description=main.__doc__)
    parser.add_argument("--app", default="acme-api")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    emulator = FlyEmulator(token=f"fm2_{secrets.token_hex(12)}", port=args.port)
    emulator.add_app(args.app)
    return emulator.run_until_interrupted(
        f'Fly emulator: base_url = "{{url}}", app = "{args.app}", FLY_API_TOKEN={emulator.token}')


if __name__ == "__main__":
    raise SystemExit(main())
