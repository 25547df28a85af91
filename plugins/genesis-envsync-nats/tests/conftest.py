"""Fixtures for the genesis-envsync-nats tests: a real ``nats-server -js`` per test, configs, subprocess helpers.

Every test that needs NATS starts its own server on a free port with a
temporary store directory (``nats_server`` fixture) and kills it afterwards.
Without the ``nats-server`` binary those tests are skipped with the reason;
CI installs it (``.ci/run``).  ``NATS_SERVER_BIN`` overrides the binary.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).parent
WORKER_APP = TESTS_DIR / "worker_app.py"
PYTHON = sys.executable


def nats_server_binary() -> str | None:
    """Return the nats-server executable to use, or ``None`` when there is none."""
    configured = os.environ.get("NATS_SERVER_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = shutil.which("nats-server")
    if found:
        return found
    return "/usr/sbin/nats-server" if os.access("/usr/sbin/nats-server", os.X_OK) else None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One ``nats-server -js`` process on 127.0.0.1 with its own store directory."""

    def __init__(self, binary: str, store_dir: Path, *, token: str | None = None) -> None:
        self.binary = binary
        self.store_dir = store_dir
        self.token = token
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = store_dir.parent / f"nats-server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start the server and wait until it accepts connections with JetStream ready."""
        args = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                "-sd", str(self.store_dir)]
        if self.token:
            args += ["--auth", self.token]
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if "Server is ready" in self.log_path.read_text(errors="replace") and self._accepts():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server did not become ready on port {self.port}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        self.log_path.write_text("")  # the next start waits for a fresh "ready" line

    def restart(self) -> NatsServer:
        """Stop and start again on the same port and store."""
        self.stop()
        return self.start()


@pytest.fixture
def nats_binary() -> str:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server binary not found (install nats-server or set NATS_SERVER_BIN)")
    return binary


@pytest.fixture
def nats_server(nats_binary: str, tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream server for one test."""
    server = NatsServer(nats_binary, tmp_path / "nats-store").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test its own GENESIS_HOME and no ambient plugin or key settings."""
    home = tmp_path / "genesis-home"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.delenv("GENESIS_TRUTH_KEY", raising=False)
    monkeypatch.delenv("GENESIS_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GENESIS_ROLE", raising=False)
    return home


# ---------------------------------------------------------------- configuration

def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_config(directory: Path, url: str, *, bus: dict[str, Any] | None = None,
                 worker: dict[str, Any] | None = None,
                 engines: dict[str, dict[str, Any]] | None = None,
                 extra: str = "") -> Path:
    """Write ``genesis.toml`` for the NATS transport at ``url``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["[bus]", 'transport = "nats"', f"url = {toml_value(url)}",
             "connect_timeout = 2", "request_timeout = 2"]
    lines += [f"{key} = {toml_value(value)}" for key, value in (bus or {}).items()]
    settings = {"ack_wait": 2, "poll_interval": 0.2, "retry_delay": 0.1, **(worker or {})}
    lines += ["", "[bus.worker]"] + [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    for name, table in (engines or {}).items():
        lines += ["", f"[engines.{name}]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path = directory / "genesis.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def nats_table(url: str, **keys: Any) -> Any:
    """Return a ``[bus]`` ``Table`` for the NATS transport (as if read from ``genesis.toml``)."""
    from genesis_core.api import Table

    data: dict[str, Any] = {"transport": "nats", "url": url, "connect_timeout": 2,
                            "request_timeout": 2}
    data.update(keys)
    return Table(data, "genesis.toml", "bus")


def make_transport(url: str, state_dir: Path, **keys: Any) -> Any:
    """Return an opened ``NatsTransport`` for ``url``."""
    from genesis_nats.transport import NatsTransport

    return NatsTransport.from_config(nats_table(url, **keys), state_dir).open()


# ---------------------------------------------------------------- subprocesses

def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["GENESIS_HOME"] = str(home)
    env.pop("GENESIS_TRUTH_KEY", None)
    env.update(extra)
    return env


def genesis(args: Sequence[str], *, cwd: Path, home: Path, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``genesis`` CLI in a child process; return the finished process."""
    return subprocess.run([PYTHON, "-m", "genesis_core", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env or child_env(home))


class WorkerProcess:
    """A worker child process (``worker_app.py`` or ``genesis worker``) and its stderr."""

    def __init__(self, args: Sequence[str], *, cwd: Path, home: Path) -> None:
        self.log_path = cwd / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(list(args), cwd=cwd, stdout=self._log,
                                        stderr=subprocess.STDOUT, env=child_env(home))

    @classmethod
    def recorder(cls, config: Path, *, home: Path, extra: Sequence[str] = ()) -> WorkerProcess:
        """Start ``worker_app.py`` (the recorder engine) with ``config``."""
        return cls([PYTHON, str(WORKER_APP), "--config", str(config), *extra],
                   cwd=config.parent, home=home)

    @classmethod
    def cli(cls, config: Path, *, home: Path, extra: Sequence[str] = ()) -> WorkerProcess:
        """Start ``genesis --config CONFIG worker EXTRA``."""
        return cls([PYTHON, "-m", "genesis_core", "--config", str(config), "worker", *extra],
                   cwd=config.parent, home=home)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"worker never printed {text!r}; output:\n{self.output}")

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """A list to put worker processes in; any still running at the end are killed."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- the recorder's database

def recorder_rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    """Return the rows the recorder engine wrote (``invocations`` or ``outputs``)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(f"SELECT event_id, seq, pid FROM {table} ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def publish_events(url: str, state_dir: Path, events: Sequence[tuple[str, dict[str, Any]]],
                   **keys: Any) -> list[Any]:
    """Publish ``(topic, payload)`` pairs through a ``GenesisBus`` on the NATS transport."""
    import asyncio

    from genesis_core.api import DefaultPolicy, GenesisBus, Guardian

    bus = GenesisBus(make_transport(url, state_dir, **keys), Guardian.of(DefaultPolicy()))
    try:
        async def run() -> list[Any]:
            return [await bus.publish(topic, payload) for topic, payload in events]

        return asyncio.run(run())
    finally:
        bus.close()


def consumer_info(url: str, stream: str, durable: str) -> Any:
    """Return the durable's ``ConsumerInfo`` read with a separate connection."""
    import asyncio

    import nats

    async def run() -> Any:
        nc = await nats.connect(url, allow_reconnect=False)
        try:
            return await nc.jetstream().consumer_info(stream, durable)
        finally:
            await nc.close()

    return asyncio.run(run())


def delete_stream(url: str, stream: str) -> None:
    """Delete ``stream`` with a separate connection (what an operator's ``nats stream rm`` does)."""
    import asyncio

    import nats

    async def run() -> None:
        nc = await nats.connect(url, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(run())


class Kit:
    """The helpers above, handed to test modules by the ``kit`` fixture (conftest is not importable
    under ``--import-mode=importlib``)."""

    NatsServer = NatsServer
    WorkerProcess = WorkerProcess
    free_port = staticmethod(free_port)
    write_config = staticmethod(write_config)
    nats_table = staticmethod(nats_table)
    make_transport = staticmethod(make_transport)
    genesis = staticmethod(genesis)
    child_env = staticmethod(child_env)
    wait_until = staticmethod(wait_until)
    recorder_rows = staticmethod(recorder_rows)
    publish_events = staticmethod(publish_events)
    consumer_info = staticmethod(consumer_info)
    delete_stream = staticmethod(delete_stream)


@pytest.fixture
def kit() -> type[Kit]:
    """The shared helpers of these tests."""
    return Kit
