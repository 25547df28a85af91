"""``vault``: the data of one KV version 2 secret in HashiCorp Vault or OpenBao.

Reading is ``GET /v1/{mount}/data/{path}``: ``data.data`` is the snapshot (every
value secret) and ``data.metadata.version`` the version read.  A current version
that is deleted or destroyed, a mount that is KV version 1 (or not KV at all), a
missing secret (unless ``allow_empty``) and a value that is not a string are
errors that say so.  A 404 is told apart with ``GET /v1/sys/internal/ui/mounts/...``,
as the Vault CLI does.

Writing one key is a JSON merge patch, ``PATCH /v1/{mount}/data/{path}`` with
``{"data": {KEY: value}, "options": {"cas": V}}`` where ``V`` is the version this
adapter last read (or reads now): every other key and the version history are
kept, and if anyone wrote in between Vault refuses the patch, which is reported
as a conflict and not retried.  A secret that does not exist yet is created with
``POST`` and ``cas: 0``.

Vault's own conventions: ``VAULT_ADDR``, ``VAULT_TOKEN`` (sent as ``X-Vault-Token``),
``VAULT_NAMESPACE`` (``X-Vault-Namespace``) and ``VAULT_CACERT``/``VAULT_CAPATH``,
each overridden by the table.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from genesis_core.api import (
    HTTP_DEFAULT_TIMEOUT,
    HTTP_USER_AGENT,
    CredentialCheck,
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    error_detail,
    scrub_detail,
    url_problem,
)

if TYPE_CHECKING:
    import httpx

#: The Vault CLI's address when neither ``address`` nor ``VAULT_ADDR`` is set.
DEFAULT_ADDRESS = "https://127.0.0.1:8200"
CAS_MISMATCH = "check-and-set parameter did not match the current version"
_SEGMENT = re.compile(r"^[^/\s?#%]+$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?$")


def _segments(instance: InstanceConfig, key: str, default: str | None = None) -> str:
    """Return the table's ``key`` as a slash-separated path of plain segments (no ``..``, no empty ones)."""
    table = instance.table
    value = table.str(key, default) if default is not None else table.str(key)
    parts = value.strip("/").split("/")
    if not value.strip("/") or any(not _SEGMENT.match(part) or part in (".", "..") for part in parts):
        raise table.error(key, f"expected a path like acme/prod (segments without spaces, ?, # or %), got {value!r}")
    return "/".join(parts)


def _quoted(path: str) -> str:
    return "/".join(quote(part, safe="") for part in path.split("/"))


class VaultAdapter(HttpPlatformAdapter):
    """One ``[platforms.NAME] kind = "vault"`` instance: the keys of one KV v2 secret."""

    kind = "vault"
    credential_env = "VAULT_TOKEN"
    supports_write = True
    default_base_url = DEFAULT_ADDRESS
    table_keys = frozenset({"address", "mount", "path", "namespace", "ca_cert", "allow_empty"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        if "address" in table and "base_url" in table:
            raise table.error("base_url", "set address only (base_url is another name for it)")
        address = table.str("address", None) or (table.str("base_url") if "base_url" in table else None)
        if address is not None and not address.startswith(("https://", "http://")):
            raise table.error("address", f"expected an http(s) URL like https://vault.example:8200, got {address!r}")
        problem = url_problem(address) if address is not None else None
        if problem is not None:
            raise table.error("address" if "address" in table else "base_url", problem)
        self.address: str | None = address.rstrip("/") if address else None
        self.mount = _segments(instance, "mount", "secret")
        self.path = _segments(instance, "path")
        self.namespace: str | None = table.str("namespace", None)
        if self.namespace is not None and not _NAMESPACE.match(self.namespace):
            raise table.error("namespace", f"expected a namespace like team-a or team-a/app, got {self.namespace!r}")
        ca_cert = table.str("ca_cert", None)
        self.ca_cert: Path | None = None
        if ca_cert is not None:
            self.ca_cert = (instance.base_dir / ca_cert).expanduser()
            if not self.ca_cert.is_file():
                raise table.error("ca_cert", f"no such file: {self.ca_cert}")
        self.allow_empty: bool = table.bool("allow_empty", False)
        #: The secret's version this adapter last read or wrote (``None`` before any; 0 = no secret yet).
        self._version: int | None = None

    def describe(self) -> str:
        """Return e.g. ``vault secret secret/acme/prod``."""
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"vault secret {self.mount}/{self.path}{where}"

    # -- where and how to connect ------------------------------------------------------------
    def resolve_address(self, env: Mapping[str, str]) -> str:
        """Return the server's address: the table's, else ``VAULT_ADDR``, else the CLI's default."""
        address = self.address or env.get("VAULT_ADDR", "").strip() or DEFAULT_ADDRESS
        if not address.startswith(("https://", "http://")):
            raise PlatformError(self.name, "VAULT_ADDR is not an http(s) URL (like https://vault.example:8200)")
        problem = url_problem(address)
        if problem is not None:
            raise PlatformError(self.name, f"VAULT_ADDR: {problem}")
        return address.rstrip("/")

    def resolve_namespace(self, env: Mapping[str, str]) -> str | None:
        """Return the namespace: the table's, else ``VAULT_NAMESPACE``, else none (no header is sent)."""
        namespace = self.namespace or env.get("VAULT_NAMESPACE", "").strip() or None
        if namespace is not None and not _NAMESPACE.match(namespace):
            raise PlatformError(self.name, "VAULT_NAMESPACE is not a namespace path (like team-a or team-a/app)")
        return namespace

    def token(self, ctx: FetchContext) -> str:
        """Return the token from ``token_env`` (``VAULT_TOKEN``), surrounding whitespace removed."""
        return super().token(ctx).strip()

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return ``X-Vault-Token`` (and ``X-Vault-Namespace`` when a namespace is set)."""
        headers = {"X-Vault-Token": self.token(ctx), "Accept": "application/json"}
        namespace = self.resolve_namespace(ctx.env)
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        return headers

    def _ca(self, env: Mapping[str, str]) -> tuple[str | None, str | None]:
        """Return ``(cafile, capath)`` to trust: ``ca_cert``, else ``VAULT_CACERT``, else ``VAULT_CAPATH``."""
        cafile = str(self.ca_cert) if self.ca_cert else env.get("VAULT_CACERT", "").strip() or None
        capath = None if cafile else env.get("VAULT_CAPATH", "").strip() or None
        return cafile, capath

    def _tls(self, cafile: str | None, capath: str | None) -> ssl.SSLContext:
        """Return a TLS context trusting ``cafile``/``capath``; a ``PlatformError`` if they cannot be loaded."""
        try:
            return ssl.create_default_context(cafile=cafile, capath=capath)
        except (OSError, ssl.SSLError):
            which = "ca_cert" if self.ca_cert else ("VAULT_CACERT" if cafile else "VAULT_CAPATH")
            raise PlatformError(self.name, f"cannot load the CA certificate(s) from {which} "
                                           "(check the file exists and holds PEM certificates)") from None

    def _session(self, ctx: FetchContext) -> FetchContext:
        """Return the context to send requests with: ``ctx``, or one whose client trusts a custom CA.

        That client is the run's (``ctx.client``): made on first use, reused by every fetch
        and write with ``ctx``, closed with it.
        """
        cafile, capath = self._ca(ctx.env)
        if cafile is None and capath is None:
            return ctx
        import httpx

        def make() -> httpx.AsyncClient:
            return httpx.AsyncClient(verify=self._tls(cafile, capath), follow_redirects=False,
                                     headers={"User-Agent": HTTP_USER_AGENT},
                                     timeout=httpx.Timeout(HTTP_DEFAULT_TIMEOUT, connect=10.0))

        client = ctx.client(("genesis-vault", cafile, capath), make)
        return FetchContext(env=ctx.env, http_factory=lambda: client)

    def _url(self, env: Mapping[str, str], api_path: str) -> str:
        return f"{self.resolve_address(env)}/v1/{api_path}"

    def _data_path(self) -> str:
        return f"{_quoted(self.mount)}/data/{_quoted(self.path)}"

    async def _send(self, ctx: FetchContext, method: str, api_path: str, **kwargs: Any) -> tuple[int, Any]:
        """Send one request; return ``(status, decoded JSON or None)``; a sealed server is said so."""
        self.token(ctx)  # a missing token is an error before any request
        try:
            response, data = await self.request(ctx, method, self._url(ctx.env, api_path),
                                                target=self.describe(), **kwargs)
        except PlatformError as exc:
            if exc.status == 503 and "sealed" in exc.reason.lower():
                raise PlatformError(self.name, f"Vault at {self.resolve_address(ctx.env)} is sealed: unseal it "
                                               "(vault operator unseal) and run again", status=503) from None
            raise
        return int(response.status_code), data

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the secret's keys (all secret); raise ``PlatformError`` when it cannot be read."""
        version, values = await self._read(self._session(ctx))
        self._version = version
        return Snapshot.from_values(self.name, self.kind, values, secret_keys=set(values))

    async def _read(self, ctx: FetchContext) -> tuple[int, dict[str, str]]:
        """Return ``(version, {key: value})``; ``(0, {})`` for a missing secret when ``allow_empty``."""
        status, body = await self._send(ctx, "GET", self._data_path(), ok=(200, 403, 404))
        if status == 403:
            raise self._denied(body, "read")
        data = body.get("data") if isinstance(body, dict) else None
        if status == 404:
            if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
                raise self._unreadable_version(data["metadata"])
            return await self._missing(ctx, body)
        if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
            raise self.shape_error(f"GET {self.mount}/data/{self.path} is not a KV version 2 answer (no data.metadata; "
                                   f"is {self.mount}/ a KV version 1 mount?)")
        metadata = data["metadata"]
        if data.get("data") is None:
            raise self._unreadable_version(metadata)
        version = metadata.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.shape_error("data.metadata.version is not a positive integer")
        return version, self._values(data["data"])

    def _values(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise self.shape_error("data.data is not an object")
        if "" in data:
            raise PlatformError(self.name, f"{self.describe()}: a key of the secret is empty")
        wrong = sorted(key for key, value in data.items() if not isinstance(value, str))
        if wrong:
            kinds = {key: _json_type(data[key]) for key in wrong[:3]}
            listed = ", ".join(f"{key!r} is {kind}" for key, kind in kinds.items())
            more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
            raise PlatformError(self.name, f"{self.describe()}: every value must be a string: {listed}{more}")
        return dict(data)

    def _unreadable_version(self, metadata: Mapping[str, Any]) -> PlatformError:
        version = metadata.get("version")
        number = f" (version {version})" if isinstance(version, int) else ""
        if metadata.get("destroyed") is True:
            return PlatformError(self.name, f"the current version{number} of {self.describe()} is destroyed: its "
                                            "data is gone; write a new version or roll back (vault kv rollback)")
        return PlatformError(self.name, f"the current version{number} of {self.describe()} is deleted: undelete it "
                                        f"(vault kv undelete -versions={version if isinstance(version, int) else 'N'}) "
                                        "or write a new version")

    async def _missing(self, ctx: FetchContext, body: Any) -> tuple[int, dict[str, str]]:
        """Explain a 404 without data: an unknown namespace or mount, a KV v1 mount, or no secret yet."""
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], str) else ""
        if "namespace not found" in first:
            raise PlatformError(self.name, f"namespace {self.resolve_namespace(ctx.env)!r} not found (check namespace "
                                           "or VAULT_NAMESPACE)", status=404)
        if "no handler for route" in first:
            raise PlatformError(self.name, f"no secrets engine is mounted at {self.mount}/ (check mount)", status=404)
        status, answer = await self._send(ctx, "GET", f"sys/internal/ui/mounts/{self._data_path_plain()}",
                                          ok=(200, 400, 403, 404))
        mount = answer.get("data") if status == 200 and isinstance(answer, dict) else None
        if not isinstance(mount, dict):
            raise PlatformError(self.name, f"no KV version 2 secret at {self.mount}/{self.path}: the secret or the "
                                           "mount does not exist, or the token cannot see it (check mount and path)",
                                status=404)
        mounted_at = str(mount.get("path") or "").strip("/")
        engine = mounted_at or self.mount
        raw_options = mount.get("options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        if mount.get("type") != "kv":
            raise PlatformError(self.name, f"the mount {engine}/ is a {mount.get('type')!s} secrets engine, not KV "
                                           "version 2 (check mount)")
        if str(options.get("version") or "1") != "2":
            raise PlatformError(self.name, f"the mount {engine}/ is a KV version 1 engine; this kind reads KV "
                                           f"version 2 (upgrade it: vault kv enable-versioning {engine})")
        if mounted_at and mounted_at != self.mount:
            raise PlatformError(self.name, f"{self.mount}/{self.path} is inside the mount {mounted_at}/: set "
                                           f"mount = \"{mounted_at}\" and the path below it")
        if not self.allow_empty:
            raise PlatformError(self.name, f"no secret at {self.mount}/{self.path} (check path; set allow_empty = true "
                                           "to create it with the first write)", status=404)
        return 0, {}

    def _data_path_plain(self) -> str:
        return f"{_quoted(self.mount)}/{_quoted(self.path)}"

    def _denied(self, body: Any, capability: str) -> PlatformError:
        detail = error_detail(body)
        why = f" ({scrub_detail(detail)})" if detail and detail != "permission denied" else ""
        return PlatformError(self.name, f"permission denied (HTTP 403){why}: the token in {self.token_env} is invalid "
                                        f"or expired, or its policies do not allow {capability} on "
                                        f"{self.mount}/data/{self.path}", status=403)

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Set the one key ``key`` with a merge patch checked against the version read (every value is secret)."""
        if not isinstance(key, str) or not key:
            raise PlatformError(self.name, "cannot write a key with an empty name")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key!r} must be a string")
        session = self._session(ctx)
        expected = self._version
        if expected is None:
            expected, _ = await self._read(session)
        if expected == 0:
            status, body = await self._send(session, "POST", self._data_path(),
                                            json_body={"data": {key: value}, "options": {"cas": 0}},
                                            ok=(200, 400, 403))
            capability = "create"
        else:
            status, body = await self._send(session, "PATCH", self._data_path(),
                                            json_body={"data": {key: value}, "options": {"cas": expected}},
                                            headers={"Content-Type": "application/merge-patch+json"},
                                            ok=(200, 400, 403, 404, 405))
            capability = "patch"
        self._version = self._written_version(status, body, capability, key, value, expected)

    def _written_version(self, status: int, body: Any, capability: str, key: str, value: str, expected: int) -> int:
        """Return the new version from a write's answer, or raise saying why nothing was written."""
        if status == 403:
            raise self._denied(body, capability)
        if status == 405:
            raise PlatformError(self.name, "this server does not support PATCH on KV version 2 secrets "
                                           "(Vault 1.9 or later, or OpenBao, is needed)", status=405)
        detail = error_detail(body)
        if status == 404:
            raise PlatformError(self.name, f"conflict: {self.describe()} was deleted since Genesis read it; "
                                           "nothing was written (run genesis sync again)", status=404)
        if status == 400 and CAS_MISMATCH in detail:
            what = "was created by someone else" if expected == 0 else f"changed since Genesis read version {expected}"
            raise PlatformError(self.name, f"conflict: {self.describe()} {what}; nothing was written "
                                           "(run genesis sync again)", status=400)
        if status == 400:
            shown = scrub_detail(detail, [value]) if detail else ""
            raise PlatformError(self.name, f"writing {key!r} was refused (HTTP 400){': ' + shown if shown else ''}",
                                status=400)
        data = body.get("data") if isinstance(body, dict) else None
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise self.shape_error(f"writing {key!r} did not answer the new version")
        return version

    # -- genesis doctor -----------------------------------------------------------------------
    async def check_credentials(self, ctx: FetchContext) -> CredentialCheck:
        """Return whether the server accepts the token (``genesis doctor``), with its policies and expiry."""
        try:
            status, body = await self._send(self._session(ctx), "GET", "auth/token/lookup-self", ok=(200, 403))
        except PlatformError as exc:
            return CredentialCheck(False, exc.reason,
                                   f"check address/VAULT_ADDR and {self.token_env} for [platforms.{self.name}]")
        address = self.resolve_address(ctx.env)
        if status == 403:
            return CredentialCheck(False, f"{address} does not accept the token in {self.token_env} "
                                          "(invalid or expired)",
                                   f"export {self.token_env}=... (vault login; vault print token)")
        data = body.get("data") if isinstance(body, dict) else None
        policies = ", ".join(str(p) for p in data.get("policies", [])) if isinstance(data, dict) else ""
        ttl = data.get("ttl") if isinstance(data, dict) else None
        expires = "never expires" if ttl == 0 else (f"expires in {int(ttl) // 60} min" if isinstance(ttl, int) else "")
        details = "; ".join(part for part in (f"policies: {policies}" if policies else "", expires) if part)
        return CredentialCheck(True, f"{self.token_env} is a valid token on {address}"
                                     + (f" ({details})" if details else ""))

    def doctor_hint(self) -> str:
        """Return what ``genesis doctor`` suggests for a failed read."""
        return (f"check address (or VAULT_ADDR), namespace, mount and path in [platforms.{self.name}] and that "
                f"the token's policy allows read and patch on {self.mount}/data/{self.path}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", dict: "an object",
            list: "an array"}.get(type(value), type(value).__name__)
