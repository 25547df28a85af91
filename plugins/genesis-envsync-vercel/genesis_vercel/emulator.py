"""A Vercel REST API emulator for project environment variables (a real HTTP server on 127.0.0.1).

Routes (``idOrName`` is a project id or name; ``teamId`` must match the project's team):

* ``GET  /v10/projects/{idOrName}/env?decrypt=&gitBranch=&target=&until=&teamId=`` →
  ``{"envs": [...], "pagination": {"count", "next", "prev"}}``, newest first,
  ``page_size`` entries a page; ``next`` is the ``createdAt`` (ms) to pass as ``until``.
  With ``decrypt=true`` ``encrypted`` values come back in clear (``"decrypted": true``),
  otherwise as an opaque ciphertext (``"decrypted": false``); ``sensitive`` and ``secret``
  values never come back.
* ``POST /v10/projects/{idOrName}/env?upsert=true`` with one entry or a list →
  201 ``{"created": entry or [entries], "failed": [...]}``.
* ``PATCH /v9/projects/{idOrName}/env/{id}``, ``DELETE /v9/projects/{idOrName}/env/{id}``,
  ``GET /v1/projects/{idOrName}/env/{id}`` (decrypted single entry).

Errors use Vercel's shape ``{"error": {"code", "message"}}``: 403 ``forbidden`` for a missing
or invalid token, 404 ``not_found``, 400 ``ENV_CONFLICT``/``bad_request``, 429 ``rate_limited``
with ``X-RateLimit-*`` headers (and ``Retry-After`` if asked).

Upsert semantics (what a request ``{key, target: T, gitBranch: B}`` does to an existing entry
``E`` with the same key and branch whose targets overlap ``T``):

* without ``upsert=true``: 400 ``ENV_CONFLICT``;
* ``T`` equals ``E``'s targets: ``E`` is updated in place (value, type);
* ``T`` is a strict subset of ``E``'s targets: ``E`` is updated in place **and its targets
  become ``T``** — the other targets lose the variable.  This is the pessimistic reading of
  public reports (vercel-env-push#23, getsentry/sentry#118490); it exists so tests can prove
  the adapter never relies on upsert against a shared entry;
* otherwise (partial overlap, or several entries): 400 ``ENV_CONFLICT``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

import attrs

from genesis_core.testing import EmulatorServer, Request, Response

TARGETS = ("production", "preview", "development")
WRITABLE_TYPES = ("plain", "encrypted", "sensitive")
ALL_TYPES = ("system", "secret", "encrypted", "plain", "sensitive")


@attrs.define
class _Env:
    id: str
    key: str
    value: str
    type: str
    target: list[str]
    git_branch: str | None
    created_at: int
    updated_at: int

    def overlaps(self, targets: Iterable[str]) -> bool:
        return bool(set(self.target) & set(targets))


@attrs.define
class _Project:
    id: str
    name: str
    team_id: str | None
    envs: list[_Env] = attrs.Factory(list)


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(status, {"error": {"code": code, "message": message, **extra}})


class VercelEmulator(EmulatorServer):
    """Vercel's project env API on 127.0.0.1, with a seeding API for tests."""

    platform = "vercel"

    def __init__(self, *, token: str = "test-token", host: str = "127.0.0.1", port: int = 0,
                 page_size: int = 20) -> None:
        self.page_size = page_size
        self._projects: dict[str, _Project] = {}
        self._ids = itertools.count(1)
        self._clock = int(time.time() * 1000)
        self._rate_limit: tuple[int | None, str | None, float] | None = None
        #: ``None`` or ``"same"``: every page says ``next`` = the same timestamp (a broken cursor).
        self.endless_pagination: str | None = None
        super().__init__(token=token, host=host, port=port)

    # -- seeding API ---------------------------------------------------------------------------
    def add_project(self, name: str, *, project_id: str | None = None, team_id: str | None = None) -> str:
        """Create project ``name`` (idempotent) and return its id."""
        with self._lock:
            for project in self._projects.values():
                if project.name == name:
                    return project.id
            pid = project_id or f"prj_{hashlib.sha1(name.encode()).hexdigest()[:24]}"
            self._projects[pid] = _Project(pid, name, team_id)
            return pid

    def add_env(self, project: str, key: str, value: str, *, type: str = "encrypted",
                target: Iterable[str] = TARGETS, git_branch: str | None = None) -> str:
        """Store an entry directly (no conflict checks) and return its id."""
        if type not in ALL_TYPES:
            raise ValueError(f"unknown type {type!r}")
        with self._lock:
            proj = self._find(project, None, any_team=True)
            if proj is None:
                raise KeyError(project)
            env = self._new_env(key, value, type, list(target), git_branch)
            proj.envs.append(env)
            return env.id

    def change_in_ui(self, project: str, key: str, value: str, *, target: str = "production",
                     git_branch: str | None = None) -> int:
        """Change the entry of ``key`` that serves ``target`` as a person would in the dashboard,
        bypassing the API (type and targets kept); return its new ``updatedAt`` (always a later one)."""
        with self._lock:
            proj = self._find(project, None, any_team=True)
            if proj is None:
                raise KeyError(project)
            env = next((e for e in proj.envs if e.key == key and target in e.target and e.git_branch == git_branch),
                       None)
            if env is None:
                raise KeyError(key)
            env.value, env.updated_at = value, self._tick()
            return env.updated_at

    def clear(self, project: str) -> None:
        """Remove every entry of ``project``."""
        with self._lock:
            proj = self._find(project, None, any_team=True)
            if proj is not None:
                proj.envs.clear()

    def entries(self, project: str) -> list[dict[str, Any]]:
        """Return every entry in clear: ``{"id", "key", "value", "type", "target", "gitBranch"}``."""
        with self._lock:
            proj = self._find(project, None, any_team=True)
            if proj is None:
                raise KeyError(project)
            return [{"id": e.id, "key": e.key, "value": e.value, "type": e.type, "target": list(e.target),
                     "gitBranch": e.git_branch} for e in proj.envs]

    def values(self, project: str, target: str = "production", git_branch: str | None = None) -> dict[str, str]:
        """Return ``{key: clear value}`` for ``target`` (branch entries override generic ones)."""
        generic: dict[str, str] = {}
        branch: dict[str, str] = {}
        for entry in self.entries(project):
            if target not in entry["target"]:
                continue
            if entry["gitBranch"] is None:
                generic[entry["key"]] = entry["value"]
            elif entry["gitBranch"] == git_branch:
                branch[entry["key"]] = entry["value"]
        return {**generic, **branch}

    def limit_rate(self, times: int | None = None, *, retry_after: str | None = None,
                   reset_after: float = 1.0) -> None:
        """Answer the next ``times`` requests (all if None) with 429 ``rate_limited``."""
        with self._lock:
            self._rate_limit = (times, retry_after, reset_after)

    def stop_rate_limit(self) -> None:
        """Leave rate-limit mode."""
        with self._lock:
            self._rate_limit = None

    # -- EmulatorServer hooks --------------------------------------------------------------------
    def unauthorized(self, request: Request) -> Response:
        """Return Vercel's 403 for a missing or invalid token."""
        if not request.headers.get("authorization"):
            return _error(403, "forbidden", "The request is missing an authentication token", missingToken=True)
        return _error(403, "forbidden", "Not authorized", invalidToken=True)

    def not_found(self, request: Request) -> Response:
        """Return Vercel's 404 body."""
        return _error(404, "not_found", "The requested path was not found")

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is not an env list."""
        return Response(200, {"envs": {"key": "X"}, "pagination": "none"})

    # -- routes ---------------------------------------------------------------------------------
    def register_routes(self) -> None:
        project = r"/v(?P<version>\d+)/projects/(?P<project>[^/]+)/env"
        self.route("GET", project, self._guard(self._list))
        self.route("POST", project, self._guard(self._create))
        self.route("GET", project + r"/(?P<env_id>[^/]+)", self._guard(self._get_one))
        self.route("PATCH", project + r"/(?P<env_id>[^/]+)", self._guard(self._patch))
        self.route("DELETE", project + r"/(?P<env_id>[^/]+)", self._guard(self._delete))

    def _guard(self, handler: Any) -> Any:
        def route(request: Request, match: re.Match[str]) -> Response:
            limited = self._rate_limited()
            if limited is not None:
                return limited
            proj = self._find(unquote(match["project"]), request.param("teamId"))
            if proj is None:
                return _error(404, "not_found", "Project not found")
            answer: Response = handler(request, match, proj)
            return answer

        return route

    def _rate_limited(self) -> Response | None:
        limit = self._rate_limit
        if limit is None:
            return None
        times, retry_after, reset_after = limit
        if times is not None:
            self._rate_limit = None if times <= 1 else (times - 1, retry_after, reset_after)
        reset = int(math.ceil(time.time() + reset_after))
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = {"error": {"code": "rate_limited", "message": "Rate limit exceeded",
                          "limit": {"remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": 100}}}
        return Response(429, body, headers=headers)

    # -- helpers ---------------------------------------------------------------------------------
    def _find(self, id_or_name: str, team_id: str | None, *, any_team: bool = False) -> _Project | None:
        for proj in self._projects.values():
            if id_or_name in (proj.id, proj.name) and (any_team or proj.team_id == (team_id or None)):
                return proj
        return None

    def _tick(self) -> int:
        self._clock = max(self._clock + 1, int(time.time() * 1000))
        return self._clock

    def _new_env(self, key: str, value: str, kind: str, target: list[str], branch: str | None) -> _Env:
        now = self._tick()
        return _Env(f"env_{next(self._ids):016d}", key, value, kind, target, branch, now, now)

    @staticmethod
    def _cipher(value: str) -> str:
        return base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()

    def _json(self, env: _Env, *, decrypt: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"id": env.id, "key": env.key, "type": env.type, "target": list(env.target),
                                "configurationId": None, "createdAt": env.created_at, "updatedAt": env.updated_at,
                                "createdBy": "emulator", "updatedBy": None}
        if env.git_branch is not None:
            body["gitBranch"] = env.git_branch
        if env.type in ("sensitive", "secret"):
            body["decrypted"] = False
            if env.type == "secret":
                body["value"] = f"sec_{hashlib.sha1(env.id.encode()).hexdigest()[:16]}"  # a reference, not the value
        elif env.type == "encrypted":
            body["value"] = env.value if decrypt else self._cipher(env.value)
            body["decrypted"] = decrypt
        else:  # plain, system
            body["value"] = env.value
            body["decrypted"] = False
        return body

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            return None

    # -- handlers ---------------------------------------------------------------------------------
    def _list(self, request: Request, match: re.Match[str], proj: _Project) -> Response:
        decrypt = request.param("decrypt") == "true"
        target = request.param("target")
        branch = request.param("gitBranch")
        envs = sorted(proj.envs, key=lambda e: e.created_at, reverse=True)
        if target:
            envs = [e for e in envs if target in e.target]
        if branch:
            envs = [e for e in envs if e.git_branch in (None, branch)]
        until = request.param("until")
        if until is not None:
            try:
                limit = float(until)
            except ValueError:
                return _error(400, "bad_request", "Invalid query parameter `until`")
            envs = [e for e in envs if e.created_at < limit]
        page = envs[:self.page_size]
        more = len(envs) > len(page)
        nxt = page[-1].created_at if (more and page) else None
        if self.endless_pagination == "same":  # the cursor never moves: ``next`` is the ``until`` asked for
            nxt = int(float(until)) if until is not None else (envs[0].created_at if envs else 1)
        pagination = {"count": len(page), "next": nxt, "prev": page[0].created_at if page else None}
        return Response(200, {"envs": [self._json(e, decrypt=decrypt) for e in page], "pagination": pagination})

    def _get_one(self, request: Request, match: re.Match[str], proj: _Project) -> Response:
        env = next((e for e in proj.envs if e.id == match["env_id"]), None)
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        return Response(200, self._json(env, decrypt=True))

    def _check_item(self, item: Any) -> str | None:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            return "`key` is required"
        if not isinstance(item.get("value"), str):
            return "`value` must be a string"
        if item.get("type") not in WRITABLE_TYPES:
            return f"`type` must be one of {', '.join(WRITABLE_TYPES)}"
        target = item.get("target")
        if not isinstance(target, list) or not target or any(t not in TARGETS for t in target):
            return "`target` must be a non-empty list of production, preview, development"
        if item.get("gitBranch") is not None and (target != ["preview"] or not isinstance(item["gitBranch"], str)):
            return "`gitBranch` requires `target` to be [\"preview\"]"
        if item["type"] == "sensitive" and "development" in target:
            return "Sensitive Environment Variables cannot be created in the Development Environment"
        return None

    def _conflict(self, key: str, target: list[str], branch: str | None) -> Response:
        return _error(400, "ENV_CONFLICT",
                      f"A variable with the name `{key}` already exists for the target {','.join(target)} "
                      f"on branch {branch or 'undefined'}", key=key, envVarKey=key, target=target,
                      gitBranch=branch)

    def _create(self, request: Request, match: re.Match[str], proj: _Project) -> Response:
        body = self._body(request)
        upsert = request.param("upsert") == "true"
        items = body if isinstance(body, list) else [body]
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for item in items:
            problem = self._check_item(item)
            if problem is not None:
                if not isinstance(body, list):
                    return _error(400, "bad_request", problem)
                failed.append({"error": {"code": "bad_request", "message": problem}})
                continue
            key, target, branch = item["key"], list(item["target"]), item.get("gitBranch")
            clashing = [e for e in proj.envs if e.key == key and e.git_branch == branch and e.overlaps(target)]
            if not clashing:
                env = self._new_env(key, item["value"], item["type"], target, branch)
                proj.envs.append(env)
                created.append(self._json(env, decrypt=False))
                continue
            if upsert and len(clashing) == 1 and set(target) <= set(clashing[0].target):
                env = clashing[0]
                # Pessimistic emulation: the entry takes the request's targets (see the module doc).
                env.value, env.type, env.target, env.updated_at = item["value"], item["type"], target, self._tick()
                created.append(self._json(env, decrypt=False))
                continue
            conflict = self._conflict(key, target, branch)
            if not isinstance(body, list):
                return conflict
            failed.append(conflict.body)
        result: Any = created if isinstance(body, list) else (created[0] if created else None)
        return Response(201, {"created": result, "failed": failed})

    def _patch(self, request: Request, match: re.Match[str], proj: _Project) -> Response:
        env = next((e for e in proj.envs if e.id == match["env_id"]), None)
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        body = self._body(request)
        if not isinstance(body, dict):
            return _error(400, "bad_request", "Invalid request body")
        target = body.get("target", env.target)
        if not isinstance(target, list) or any(t not in TARGETS for t in target):
            return _error(400, "bad_request", "`target` must be a list of production, preview, development")
        key = body.get("key", env.key)
        branch = body.get("gitBranch", env.git_branch)
        if any(o is not env and o.key == key and o.git_branch == branch and o.overlaps(target) for o in proj.envs):
            return self._conflict(key, target, branch)
        if "value" in body:
            if not isinstance(body["value"], str):
                return _error(400, "bad_request", "`value` must be a string")
            env.value = body["value"]
        if "type" in body:
            if body["type"] not in WRITABLE_TYPES:
                return _error(400, "bad_request", "invalid `type`")
            env.type = body["type"]
        env.key, env.target, env.git_branch, env.updated_at = key, list(target), branch, self._tick()
        return Response(200, self._json(env, decrypt=False))

    def _delete(self, request: Request, match: re.Match[str], proj: _Project) -> Response:
        env = next((e for e in proj.envs if e.id == match["env_id"]), None)
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        proj.envs.remove(env)
        return Response(200, self._json(env, decrypt=False))


def serve(argv: list[str] | None = None) -> int:
    """Run the emulator in the foreground (``python -m genesis_vercel.emulator``); return the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m genesis_vercel.emulator",
                                     description="Serve a Vercel project env emulator.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--project", default="genesis-demo")
    parser.add_argument("--team-id")
    parser.add_argument("--seed", help="JSON file {\"KEY\": \"value\", ...} stored for every target")
    args = parser.parse_args(argv)
    emulator = VercelEmulator(token=args.token, port=args.port)
    pid = emulator.add_project(args.project, team_id=args.team_id)
    if args.seed:
        with open(args.seed, encoding="utf-8") as fh:
            seed: Mapping[str, Any] = json.load(fh)
        for key, value in seed.items():
            emulator.add_env(pid, key, str(value))
    return emulator.run_until_interrupted(
        f"Vercel emulator for project {args.project} ({pid}) on {{url}} (Ctrl-C stops)")


if __name__ == "__main__":  # pragma: no cover - manual use
    raise SystemExit(serve())
