"""Helpers for the Cascade tests: a bus in a tmp state dir, a server on port 0, clients, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import attrs

import genesis_cascade.plugin
from genesis_cascade.server import CascadeServer
from genesis_cascade.settings import CascadeSettings
from genesis_core.api import GenesisBus, configure_bus, load_config
from genesis_core.testing import build_plugin_host

T = TypeVar("T")
CANARY = "CANARY-7f3a9b-do-not-leak"
DEADLINE = 10.0  # seconds a single wait may take before the test fails (a hang guard, not a timing check)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh loop with an overall guard against hangs."""
    async def guarded() -> T:
        return await asyncio.wait_for(coro, 45)
    return asyncio.run(guarded())


def commit_payload(**extra: Any) -> dict[str, Any]:
    """Return an ``envsync.commit`` payload in the seed's shape, with the canary planted in it."""
    payload = {
        "verified_at": "2025-10-11T22:45:00Z",
        "has_drift": False,
        "missing_in_render": [],
        "missing_in_netlify": [],
        "missing_in_github": [],
        "conflicts": {},
        "summary": {"total_keys": 45, "local_count": 45, "render_count": 45,
                    "netlify_count": 43, "github_count": 45},
        "note": CANARY,
        "values": {"API_TOKEN": CANARY},
    }
    payload.update(extra)
    return payload


def drift_payload() -> dict[str, Any]:
    """Return an ``envsync.drift`` payload with the canary as a conflicting value."""
    return {
        "verified_at": "2025-10-11T22:43:00Z",
        "has_drift": True,
        "missing_in_render": [],
        "missing_in_netlify": ["VAR_A", "VAR_B"],
        "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL", CANARY],
        "conflicts": {"DEBUG": {"render": "false", "netlify": CANARY}},
        "summary": {"total_keys": 45, "drift_count": 5, CANARY.lower(): 1},
    }


def settings(**overrides: Any) -> CascadeSettings:
    """Return settings for a test server: loopback, any free port, store polling off by default."""
    base = CascadeSettings(host="127.0.0.1", port=0, poll_interval=3600.0, close_timeout=1.0,
                           ping_interval=None, ping_timeout=None)
    return attrs.evolve(base, **overrides)


def open_bus(state_dir: Path) -> GenesisBus:
    """Return the real bus on an SQLite store in ``state_dir``, with the cascade engine started.

    Only the core's built-ins and this plugin are loaded, the way ``genesis`` builds its bus.
    """
    config_file = state_dir.parent / "genesis.toml"
    config_file.write_text(f'[bus]\nstate_dir = "{state_dir.as_posix()}"\n', encoding="utf-8")
    host = build_plugin_host(entry_points=False, plugins=(("cascade", genesis_cascade.plugin),))
    return configure_bus(load_config(config_file), host=host)


def other_plugins() -> str:
    """Return the installed plugin names other than ``cascade`` (to keep them out of subprocesses)."""
    from importlib.metadata import entry_points

    return ",".join(sorted({ep.name for ep in entry_points(group="genesis")} - {"cascade"}))


def genesis_cli(*args: str) -> list[str]:
    """Return the argv that runs ``genesis ARGS`` in a fresh process."""
    return [sys.executable, "-m", "genesis_core", *args]


def cli_env(state_dir: Path) -> dict[str, str]:
    """Return the environment for a ``genesis`` subprocess on ``state_dir`` with only cascade loaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update({"GENESIS_HOME": str(state_dir), "GENESIS_DISABLE_PLUGINS": other_plugins()})
    return env


def publish_in_subprocess(state_dir: Path, topic: str, payload: dict[str, Any]) -> str:
    """Run ``genesis publish TOPIC --data JSON`` in another process; return its stdout+stderr."""
    done = subprocess.run(genesis_cli("publish", topic, "--data", json.dumps(payload)),
                          capture_output=True, text=True, timeout=30, check=False,
                          env=cli_env(state_dir), cwd=state_dir.parent)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(f"genesis publish failed ({done.returncode}): {output[-2000:]}")
    return output


@contextlib.asynccontextmanager
async def serving(bus: Any, *, token: str | None = None, sock: socket.socket | None = None,
                  **overrides: Any) -> AsyncIterator[CascadeServer]:
    """Run a ``CascadeServer`` on 127.0.0.1 and an ephemeral port for the ``async with`` body."""
    server = CascadeServer(settings(**overrides), bus=bus, token=token, sock=sock)
    async with server:
        yield server


def ws_url(server: CascadeServer, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def http_url(server: CascadeServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def recv_json(ws: Any, timeout: float = DEADLINE) -> dict[str, Any]:
    """Return the next message of ``ws`` decoded from JSON."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """GET ``url`` off the loop; return ``(status, headers, body)`` for any status."""
    def fetch() -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode("utf-8")
    return await asyncio.to_thread(fetch)


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Wait until ``predicate()`` holds; fail naming ``what`` after ``DEADLINE`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.01)
