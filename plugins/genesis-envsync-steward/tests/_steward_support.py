"""Helpers shared by the Steward tests: seed payloads, a bus, and a real webhook receiver."""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.server
import json
import textwrap
import threading
from pathlib import Path
from typing import Any

from genesis_core.api import load_config

CANARY = "sk_live_STEWARDCANARY9a8b7c6d5e4f"
SIGNING_KEY = "whkey-for-tests-0123456789"

SEED_DRIFT: dict[str, Any] = {
    "verified_at": "2025-10-11T22:43:00Z",
    "has_drift": True,
    "missing_in_render": [],
    "missing_in_netlify": ["VAR_A", "VAR_B"],
    "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"],
    "conflicts": {"DEBUG": {"render": "false", "netlify": "true", "github": "<secret>"}},
    "summary": {"total_keys": 45, "render_count": 45, "netlify_count": 43, "github_count": 43,
                "drift_count": 5},
    "instances": ["render", "netlify", "github"],
    "platforms": {
        "render": {"kind": "render", "status": "ok", "keys": 45, "seconds": 0.41, "error": None},
        "netlify": {"kind": "netlify", "status": "ok", "keys": 43, "seconds": 0.52, "error": None},
        "github": {"kind": "github", "status": "ok", "keys": 43, "seconds": 0.33, "error": None},
    },
}


def drift(**changes: Any) -> dict[str, Any]:
    """Return a fresh seed drift payload with ``changes`` applied."""
    payload = copy.deepcopy(SEED_DRIFT)
    payload.update(changes)
    return payload


def planted_drift(fingerprint: Any) -> dict[str, Any]:
    """Return a drift payload with the canary planted where only the defensive masking can catch it."""
    payload = drift()
    payload["conflicts"]["STRIPE_SECRET_KEY"] = {"render": CANARY, "netlify": fingerprint(CANARY)}
    payload["conflicts"]["PLAIN_LOOKING"] = {"render": CANARY, "netlify": "x"}
    payload["note"] = {"api_token": "hunter2-but-longer"}
    return payload


def config_from(directory: Path, text: str) -> Any:
    """Write ``genesis.toml`` into ``directory`` and return the loaded ``Config``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "genesis.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(path)


def start_bus(config: Any, policy: Any) -> Any:
    """Return a real bus (SQLite store in the state dir) with only the Steward engine started."""
    import genesis_steward.plugin
    from genesis_core.api import configure_bus
    from genesis_core.testing import build_plugin_host

    host = build_plugin_host(entry_points=False, plugins=(("steward", genesis_steward.plugin),))
    return configure_bus(config, host=host, secret_policy=policy)


class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies signatures and answers scripted statuses."""

    def __init__(self, statuses: list[int] | None = None, key: str = SIGNING_KEY) -> None:
        self.statuses = list(statuses or [])
        self.key = key.encode()
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.key, body, hashlib.sha256).hexdigest()
                header = self.headers.get("X-Genesis-Signature")
                receiver.requests.append({
                    "path": self.path, "body": body, "headers": dict(self.headers),
                    "signed": header is not None and hmac.compare_digest(expected, header),
                })
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/T0KEN-IN-PATH"

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
