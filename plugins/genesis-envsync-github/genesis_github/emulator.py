"""A GitHub REST API emulator for Actions secrets and variables (a real HTTP server on 127.0.0.1).

What it reproduces, checked against recorded GitHub traffic in the tests:

* scopes: repository (``/repos/{o}/{r}/actions``), environment
  (``/repos/{o}/{r}/environments/{env}`` and the older ``/repositories/{id}/environments/{env}``)
  and organization (``/orgs/{org}/actions``);
* each scope has its own Curve25519 keypair; ``PUT .../secrets/{name}`` must carry a
  sealed box made with that scope's public key and ``key_id``, which the emulator
  really decrypts (``nacl.public.SealedBox(private_key).decrypt``) and stores;
* names are case-insensitive and stored in upper case (GitHub answers ``SECRET_NAME``
  for a secret written as ``secret_name``);
* pagination with ``per_page`` (secrets up to 100, variables up to 30, default 30) and
  ``page``, and a ``Link`` header with ``next``/``last``/``first``/``prev``;
* 201 when a secret or variable is created, 204 when updated or deleted, 409 for a
  duplicate variable, 404/401 bodies with ``message`` and ``documentation_url``;
* ``x-ratelimit-*`` headers on every answer and a rate-limit mode (403 or 429 with
  ``x-ratelimit-remaining: 0`` and an epoch ``x-ratelimit-reset``, or a secondary limit
  with ``retry-after``);
* ``Authorization: Bearer TOKEN`` and ``Authorization: token TOKEN``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode

import attrs

from genesis_core.testing import EmulatorServer, Request, Response

DOCS = "https://docs.github.com/rest"
SECRETS_MAX_PER_PAGE = 100
VARIABLES_MAX_PER_PAGE = 30
DEFAULT_PER_PAGE = 30
RATE_LIMIT_TOTAL = 5000

Handler = Callable[[Request, "_Scope", "re.Match[str]"], Response]


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _Clock:
    """GitHub's timestamps have whole seconds; this clock never repeats one, so every write moves
    ``updated_at`` (two changes in one real second get consecutive seconds)."""

    def __init__(self) -> None:
        self._last = 0

    def now(self) -> str:
        self._last = max(self._last + 1, int(time.time()))
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._last))


@attrs.define
class _Entry:
    name: str
    value: str
    created_at: str
    updated_at: str
    visibility: str | None = None


class _Scope:
    """One place that holds secrets and variables, with its own keypair."""

    _ids = itertools.count(3380204578043523366)

    def __init__(self, kind: str, url_path: str) -> None:
        from nacl.public import PrivateKey

        self.kind = kind  # "repository", "environment" or "organization"
        self.url_path = url_path
        self.private_key = PrivateKey.generate()
        self.key_id = str(next(self._ids))
        self.secrets: dict[str, _Entry] = {}
        self.variables: dict[str, _Entry] = {}

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(bytes(self.private_key.public_key)).decode("ascii")


@attrs.define
class _Repo:
    id: int
    owner: str
    name: str
    scope: _Scope
    environments: dict[str, _Scope] = attrs.Factory(dict)
    environment_names: dict[str, str] = attrs.Factory(dict)  # lower -> as created

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@attrs.frozen
class RateLimit:
    """How the emulator limits: ``status`` 403/429, primary (reset) or secondary (retry-after)."""

    times: int | None = None
    status: int = 403
    reset_after: float = 1.0
    retry_after: int | None = None


class GitHubEmulator(EmulatorServer):
    """GitHub's Actions secrets/variables API on 127.0.0.1, with a seeding API for tests."""

    platform = "github"

    def __init__(self, *, token: str = "test-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self._repos: dict[str, _Repo] = {}
        self._orgs: dict[str, _Scope] = {}
        self._repo_ids = itertools.count(713113574)
        self._env_ids = itertools.count(1725664917)
        self._rate_limit: RateLimit | None = None
        self._used = 0
        #: ``None``, ``"same"`` (every page links to itself) or ``"advance"`` (links never stop).
        self.endless_links: str | None = None
        #: Number of sealed boxes the emulator could not decrypt (tests assert it stays 0).
        self.decrypt_failures = 0
        self._clock = _Clock()
        super().__init__(token=token, host=host, port=port)  # creates self._lock, shared with the handlers

    # -- seeding API (direct, bypassing HTTP) ------------------------------------------------
    def add_repo(self, full_name: str) -> int:
        """Create repository ``owner/name`` (idempotent) and return its numeric id."""
        owner, name = full_name.split("/", 1)
        with self._lock:
            repo = self._repos.get(full_name.lower())
            if repo is None:
                repo = _Repo(next(self._repo_ids), owner, name, _Scope("repository", f"/repos/{full_name}/actions"))
                self._repos[full_name.lower()] = repo
            return repo.id

    def add_environment(self, full_name: str, environment: str) -> None:
        """Create environment ``environment`` in ``full_name`` (creating the repository too)."""
        self.add_repo(full_name)
        with self._lock:
            self._env_scope_create(self._repos[full_name.lower()], environment)

    def add_org(self, org: str) -> None:
        """Create organization ``org`` (idempotent)."""
        with self._lock:
            self._orgs.setdefault(org.lower(), _Scope("organization", f"/orgs/{org}/actions"))

    def set_secret(self, full_name: str, name: str, value: str, *, environment: str | None = None) -> None:
        """Store secret ``name`` (kept decrypted by the emulator) in the repository or environment."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            self._upsert(scope.secrets, name, value)

    def set_variable(self, full_name: str, name: str, value: str, *, environment: str | None = None) -> None:
        """Store variable ``name`` in the repository or environment."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            self._upsert(scope.variables, name, value)

    def set_org_secret(self, org: str, name: str, value: str, visibility: str = "all") -> None:
        """Store an organization secret."""
        self.add_org(org)
        with self._lock:
            self._upsert(self._orgs[org.lower()].secrets, name, value).visibility = visibility

    def set_org_variable(self, org: str, name: str, value: str, visibility: str = "all") -> None:
        """Store an organization variable."""
        self.add_org(org)
        with self._lock:
            self._upsert(self._orgs[org.lower()].variables, name, value).visibility = visibility

    def change_in_ui(self, full_name: str, name: str, value: str, *, environment: str | None = None) -> str:
        """Change secret (or, when there is no such secret, variable) ``name`` as a person would in the
        GitHub UI, bypassing the API; return its new ``updated_at`` (always a later one)."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            table = scope.secrets if name.upper() in scope.secrets else scope.variables
            if name.upper() not in table:
                raise KeyError(name)
            return self._upsert(table, name, value).updated_at

    def clear(self, full_name: str, *, environment: str | None = None) -> None:
        """Remove every secret and variable of the repository or environment."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            scope.secrets.clear()
            scope.variables.clear()

    def secrets(self, full_name: str, *, environment: str | None = None) -> dict[str, str]:
        """Return ``{NAME: decrypted value}`` of the scope's secrets."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            return {e.name: e.value for e in scope.secrets.values()}

    def variables(self, full_name: str, *, environment: str | None = None) -> dict[str, str]:
        """Return ``{NAME: value}`` of the scope's variables."""
        scope = self._seed_scope(full_name, environment)
        with self._lock:
            return {e.name: e.value for e in scope.variables.values()}

    def public_key(self, full_name: str, *, environment: str | None = None) -> tuple[str, str]:
        """Return ``(key_id, base64 public key)`` of the scope."""
        scope = self._seed_scope(full_name, environment)
        return scope.key_id, scope.public_key_b64

    def org_public_key(self, org: str) -> tuple[str, str]:
        """Return ``(key_id, base64 public key)`` of an organization."""
        self.add_org(org)
        scope = self._orgs[org.lower()]
        return scope.key_id, scope.public_key_b64

    def limit_rate(self, times: int | None = None, *, status: int = 403, reset_after: float = 1.0,
                   retry_after: int | None = None) -> None:
        """Answer the next ``times`` authenticated requests (all if None) as rate-limited.

        Without ``retry_after`` it is GitHub's primary limit: ``x-ratelimit-remaining: 0``
        and ``x-ratelimit-reset`` = now + ``reset_after`` (epoch seconds, rounded up).
        With ``retry_after`` it is a secondary limit with a ``retry-after`` header.
        """
        with self._lock:
            self._rate_limit = RateLimit(times, status, reset_after, retry_after)

    def stop_rate_limit(self) -> None:
        """Leave rate-limit mode."""
        with self._lock:
            self._rate_limit = None

    # -- EmulatorServer hooks ------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """Accept ``Bearer TOKEN`` and ``token TOKEN`` as GitHub does."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        return scheme.lower() in ("bearer", "token") and credential.strip() == self.token

    def unauthorized(self, request: Request) -> Response:
        """Return GitHub's 401: ``Requires authentication`` without a header, else ``Bad credentials``."""
        message = "Bad credentials" if request.headers.get("authorization") else "Requires authentication"
        return Response(401, {"message": message, "documentation_url": DOCS, "status": "401"},
                        headers=self._rate_headers())

    def not_found(self, request: Request) -> Response:
        """Return GitHub's 404 body."""
        return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                        headers=self._rate_headers())

    def wrong_shape(self, request: Request) -> Response:
        """Return JSON that is not a GitHub list (``secrets`` is not a list)."""
        return Response(200, {"total_count": "many", "secrets": {"name": "X"}, "variables": None})

    # -- routes --------------------------------------------------------------------------------
    def register_routes(self) -> None:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        prefixes = {
            "repo": repo + r"/actions",
            "env": repo + r"/environments/(?P<env>[^/]+)",
            "legacy_env": r"/repositories/(?P<repo_id>\d+)/environments/(?P<env>[^/]+)",
            "org": r"/orgs/(?P<org>[^/]+)/actions",
        }
        self._add("GET", repo, self._get_repo, scoped=False)
        self._add("GET", repo + r"/environments/(?P<env>[^/]+)", self._get_environment, scoped=False)
        self._add("PUT", repo + r"/environments/(?P<env>[^/]+)", self._put_environment, scoped=False)
        self._add("DELETE", repo + r"/environments/(?P<env>[^/]+)", self._delete_environment, scoped=False)
        for prefix in prefixes.values():
            self._add("GET", prefix + r"/secrets/public-key", self._public_key)
            self._add("GET", prefix + r"/secrets", self._list_secrets)
            self._add("GET", prefix + r"/secrets/(?P<name>[^/]+)", self._get_secret)
            self._add("PUT", prefix + r"/secrets/(?P<name>[^/]+)", self._put_secret)
            self._add("DELETE", prefix + r"/secrets/(?P<name>[^/]+)", self._delete_secret)
            self._add("GET", prefix + r"/variables", self._list_variables)
            self._add("POST", prefix + r"/variables", self._post_variable)
            self._add("GET", prefix + r"/variables/(?P<name>[^/]+)", self._get_variable)
            self._add("PATCH", prefix + r"/variables/(?P<name>[^/]+)", self._patch_variable)
            self._add("DELETE", prefix + r"/variables/(?P<name>[^/]+)", self._delete_variable)

    def _add(self, method: str, pattern: str, handler: Callable[..., Response], *, scoped: bool = True) -> None:
        def route(request: Request, match: re.Match[str]) -> Response:
            limited = self._rate_limited()
            if limited is not None:
                return limited
            if scoped:
                scope = self._resolve_scope(match)
                if scope is None:
                    return self.not_found(request)
                response = handler(request, scope, match)
            else:
                response = handler(request, match)
            return attrs.evolve(response, headers={**self._rate_headers(), **response.headers})

        self.route(method, pattern, route)

    # -- rate limits ------------------------------------------------------------------------------
    def _rate_headers(self, remaining: int | None = None, reset: int | None = None) -> dict[str, str]:
        with self._lock:
            self._used += 1
            used = self._used
        left = max(0, RATE_LIMIT_TOTAL - used) if remaining is None else remaining
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT_TOTAL),
            "X-RateLimit-Remaining": str(left),
            "X-RateLimit-Reset": str(reset if reset is not None else int(time.time()) + 3600),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "x-github-api-version-selected": "2022-11-28",
        }

    def _rate_limited(self) -> Response | None:
        with self._lock:
            limit = self._rate_limit
            if limit is None:
                return None
            if limit.times is not None:
                self._rate_limit = None if limit.times <= 1 else attrs.evolve(limit, times=limit.times - 1)
        if limit.retry_after is not None:
            headers = self._rate_headers()
            headers["Retry-After"] = str(limit.retry_after)
            body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                               "try again.", "documentation_url": DOCS, "status": str(limit.status)}
            return Response(limit.status, body, headers=headers)
        reset = int(math.ceil(time.time() + limit.reset_after))
        body = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS,
                "status": str(limit.status)}
        return Response(limit.status, body, headers=self._rate_headers(remaining=0, reset=reset))

    # -- scope resolution ---------------------------------------------------------------------------
    def _seed_scope(self, full_name: str, environment: str | None) -> _Scope:
        self.add_repo(full_name)
        with self._lock:
            repo = self._repos[full_name.lower()]
            if environment is None:
                return repo.scope
            return self._env_scope_create(repo, environment)

    def _env_scope_create(self, repo: _Repo, environment: str) -> _Scope:
        key = environment.lower()
        if key not in repo.environments:
            repo.environments[key] = _Scope("environment", f"/repos/{repo.full_name}/environments/{environment}")
            repo.environment_names[key] = environment
        return repo.environments[key]

    def _repo_of(self, match: re.Match[str]) -> _Repo | None:
        groups = match.groupdict()
        if groups.get("repo_id"):
            wanted = int(groups["repo_id"])
            return next((r for r in self._repos.values() if r.id == wanted), None)
        return self._repos.get(f"{unquote(groups['owner'])}/{unquote(groups['repo'])}".lower())

    def _resolve_scope(self, match: re.Match[str]) -> _Scope | None:
        groups = match.groupdict()
        if groups.get("org"):
            return self._orgs.get(unquote(groups["org"]).lower())
        repo = self._repo_of(match)
        if repo is None:
            return None
        if groups.get("env"):
            return repo.environments.get(unquote(groups["env"]).lower())
        return repo.scope

    # -- helpers ---------------------------------------------------------------------------------
    def _upsert(self, table: dict[str, _Entry], name: str, value: str) -> _Entry:
        key = name.upper()
        now = self._clock.now()
        entry = table.get(key)
        if entry is None:
            entry = table[key] = _Entry(key, value, now, now)
        else:
            entry.value, entry.updated_at = value, now
        return entry

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            return None

    @staticmethod
    def _invalid(message: str) -> Response:
        return Response(422, {"message": message, "documentation_url": DOCS, "status": "422"})

    def _page(self, request: Request, items: list[dict[str, Any]], what: str, cap: int) -> Response:
        per_page = _int_param(request.param("per_page"), DEFAULT_PER_PAGE, 1, cap)
        page = _int_param(request.param("page"), 1, 1, 10**9)
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, math.ceil(len(items) / per_page))
        headers: dict[str, str] = {}

        def link(number: int) -> str:
            return f"{self.base_url}{request.path}?{urlencode({'per_page': per_page, 'page': number})}"

        rels: list[str] = []
        if self.endless_links == "same":
            rels.append(f'<{link(page)}>; rel="next"')
        elif self.endless_links == "advance":
            rels.append(f'<{link(page + 1)}>; rel="next"')
        elif page < last:
            rels.append(f'<{link(page + 1)}>; rel="next"')
            rels.append(f'<{link(last)}>; rel="last"')
        if page > 1 and self.endless_links is None:
            rels.insert(0, f'<{link(page - 1)}>; rel="prev"')
            rels.append(f'<{link(1)}>; rel="first"')
        if rels:
            headers["Link"] = ", ".join(rels)
        return Response(200, {"total_count": len(items), what: chunk}, headers=headers)

    def _secret_json(self, scope: _Scope, entry: _Entry) -> dict[str, Any]:
        body: dict[str, Any] = {"name": entry.name, "created_at": entry.created_at, "updated_at": entry.updated_at}
        if scope.kind == "organization":
            body["visibility"] = entry.visibility or "all"
            body["selected_repositories_url"] = f"{self.base_url}{scope.url_path}/secrets/{entry.name}/repositories"
        return body

    def _variable_json(self, scope: _Scope, entry: _Entry) -> dict[str, Any]:
        body: dict[str, Any] = {"name": entry.name, "value": entry.value, "created_at": entry.created_at,
                                "updated_at": entry.updated_at}
        if scope.kind == "organization":
            body["visibility"] = entry.visibility or "all"
            body["selected_repositories_url"] = (f"{self.base_url}{scope.url_path}/variables/{entry.name}"
                                                 "/repositories")
        return body

    # -- handlers: repositories and environments ----------------------------------------------------
    def _get_repo(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo_of(match)
        if repo is None:
            return self.not_found(request)
        url = f"{self.base_url}/repos/{repo.full_name}"
        return Response(200, {"id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name,
                              "full_name": repo.full_name, "private": False,
                              "owner": {"login": repo.owner, "type": "User"}, "url": url,
                              "html_url": f"https://github.com/{repo.full_name}"})

    def _environment_json(self, repo: _Repo, name: str) -> dict[str, Any]:
        now = _now_iso()
        return {"id": next(self._env_ids), "node_id": "EN_emulated", "name": name,
                "url": f"{self.base_url}/repos/{repo.full_name}/environments/{name}",
                "html_url": f"https://github.com/{repo.full_name}/deployments/activity_log?environments_filter={name}",
                "created_at": now, "updated_at": now, "can_admins_bypass": True, "protection_rules": [],
                "deployment_branch_policy": None}

    def _get_environment(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo_of(match)
        env = unquote(match["env"])
        if repo is None or env.lower() not in repo.environments:
            return self.not_found(request)
        return Response(200, self._environment_json(repo, repo.environment_names[env.lower()]))

    def _put_environment(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo_of(match)
        if repo is None:
            return self.not_found(request)
        env = unquote(match["env"])
        self._env_scope_create(repo, env)
        return Response(200, self._environment_json(repo, repo.environment_names[env.lower()]))

    def _delete_environment(self, request: Request, match: re.Match[str]) -> Response:
        repo = self._repo_of(match)
        env = unquote(match["env"]).lower()
        if repo is None or env not in repo.environments:
            return self.not_found(request)
        del repo.environments[env]
        del repo.environment_names[env]
        return Response(204)

    # -- handlers: secrets ---------------------------------------------------------------------------
    def _public_key(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        return Response(200, {"key_id": scope.key_id, "key": scope.public_key_b64})

    def _list_secrets(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        items = [self._secret_json(scope, e) for _, e in sorted(scope.secrets.items())]
        return self._page(request, items, "secrets", SECRETS_MAX_PER_PAGE)

    def _get_secret(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        entry = scope.secrets.get(unquote(match["name"]).upper())
        if entry is None:
            return self.not_found(request)
        return Response(200, self._secret_json(scope, entry))

    def _put_secret(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        from nacl.exceptions import CryptoError
        from nacl.public import SealedBox

        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("encrypted_value"), str) \
                or not isinstance(body.get("key_id"), str):
            return self._invalid("Invalid request.\n\n\"encrypted_value\" and \"key_id\" are required strings.")
        if body["key_id"] != scope.key_id:
            return self._invalid("Invalid request.\n\nkey_id does not match the current public key.")
        try:
            sealed = base64.b64decode(body["encrypted_value"], validate=True)
            value = SealedBox(scope.private_key).decrypt(sealed).decode("utf-8")
        except (binascii.Error, ValueError, CryptoError, UnicodeDecodeError):
            self.decrypt_failures += 1
            return self._invalid("Invalid request.\n\nencrypted_value could not be decrypted with key_id.")
        name = unquote(match["name"])
        created = name.upper() not in scope.secrets
        entry = self._upsert(scope.secrets, name, value)
        if scope.kind == "organization":
            entry.visibility = str(body.get("visibility") or entry.visibility or "all")
        return Response(201, {}) if created else Response(204)

    def _delete_secret(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        if scope.secrets.pop(unquote(match["name"]).upper(), None) is None:
            return self.not_found(request)
        return Response(204)

    # -- handlers: variables -------------------------------------------------------------------------
    def _list_variables(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        items = [self._variable_json(scope, e) for _, e in sorted(scope.variables.items())]
        return self._page(request, items, "variables", VARIABLES_MAX_PER_PAGE)

    def _get_variable(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        entry = scope.variables.get(unquote(match["name"]).upper())
        if entry is None:
            return self.not_found(request)
        return Response(200, self._variable_json(scope, entry))

    def _post_variable(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"] \
                or not isinstance(body.get("value"), str):
            return self._invalid("Invalid request.\n\n\"name\" and \"value\" are required strings.")
        if body["name"].upper() in scope.variables:
            return Response(409, {"message": "Already exists - Variable already exists", "documentation_url": DOCS,
                                  "status": "409"})
        entry = self._upsert(scope.variables, body["name"], body["value"])
        if scope.kind == "organization":
            entry.visibility = str(body.get("visibility") or "all")
        return Response(201, {})

    def _patch_variable(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        body = self._body(request)
        if not isinstance(body, dict):
            return self._invalid("Invalid request.\n\nA JSON object is required.")
        key = unquote(match["name"]).upper()
        entry = scope.variables.get(key)
        if entry is None:
            return self.not_found(request)
        if "value" in body:
            if not isinstance(body["value"], str):
                return self._invalid("Invalid request.\n\n\"value\" must be a string.")
            entry.value = body["value"]
        new_name = body.get("name")
        if isinstance(new_name, str) and new_name and new_name.upper() != key:
            if new_name.upper() in scope.variables:
                return Response(409, {"message": "Already exists - Variable already exists",
                                      "documentation_url": DOCS, "status": "409"})
            del scope.variables[key]
            entry.name = new_name.upper()
            scope.variables[entry.name] = entry
        entry.updated_at = self._clock.now()
        return Response(204)

    def _delete_variable(self, request: Request, scope: _Scope, match: re.Match[str]) -> Response:
        if scope.variables.pop(unquote(match["name"]).upper(), None) is None:
            return self.not_found(request)
        return Response(204)


def _int_param(raw: str | None, default: int, low: int, high: int) -> int:
    """Return ``raw`` as an int clamped to ``[low, high]`` (GitHub ignores junk and clamps)."""
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    return max(low, min(high, value))


def serve(argv: list[str] | None = None) -> int:
    """Run the emulator in the foreground (``python -m genesis_github.emulator``); return the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m genesis_github.emulator",
                                     description="Serve a GitHub Actions secrets/variables emulator.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--repository", default="genesis/demo")
    parser.add_argument("--seed", help="JSON file {\"variables\": {...}, \"secrets\": {...}}")
    args = parser.parse_args(argv)
    emulator = GitHubEmulator(token=args.token, port=args.port)
    emulator.add_repo(args.repository)
    if args.seed:
        with open(args.seed, encoding="utf-8") as fh:
            seed: Mapping[str, Any] = json.load(fh)
        for name, value in dict(seed.get("variables", {})).items():
            emulator.set_variable(args.repository, name, str(value))
        for name, value in dict(seed.get("secrets", {})).items():
            emulator.set_secret(args.repository, name, str(value))
    return emulator.run_until_interrupted(f"GitHub emulator for {args.repository} on {{url}} (Ctrl-C stops)")


if __name__ == "__main__":  # pragma: no cover - manual use
    raise SystemExit(serve())
