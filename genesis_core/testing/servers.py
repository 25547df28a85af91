"""Run real server software (moto, OpenBao...) as a child process for tests, on 127.0.0.1.

:class:`ServerProcess` starts a command on a free loopback port, sends its output
to a log file (never to the test's stdout/stderr, which canary tests search),
waits until a readiness check passes and stops it again.  :func:`missing_server`
is what a fixture calls when the software is not installed: a failure in CI
(``CI`` set), a skip with the reason elsewhere.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

__all__ = ["ServerProcess", "ServerStartError", "free_port", "missing_server"]


class ServerStartError(RuntimeError):
    """The server exited or did not become ready (the message holds the end of its log)."""


def _bind(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        return int(sock.getsockname()[1])


def free_port(*, pair: bool = False) -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (with ``pair``, the next one was too)."""
    for _ in range(50):
        port = _bind(0)
        if not pair:
            return port
        if port < 65535:
            try:
                _bind(port + 1)
            except OSError:
                continue
            return port
    raise OSError("no free pair of loopback ports found")


def missing_server(message: str) -> NoReturn:
    """Fail the test when ``CI`` is set, else skip it; ``message`` says what is missing and how to install it."""
    import pytest

    if os.environ.get("CI", "") not in ("", "0", "false"):
        pytest.fail(f"{message} (CI must have it)", pytrace=False)
    pytest.skip(message)


class ServerProcess:
    """One child process serving on 127.0.0.1; ``ready()`` says when it accepts requests."""

    def __init__(self, name: str, command: Sequence[str], *, ready: Callable[[], bool],
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> None:
        self.name = name
        self.command = list(command)
        self._ready = ready
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        handle, path = tempfile.mkstemp(prefix=f"genesis-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the process and return once ``ready()`` is true; raise :class:`ServerStartError` otherwise."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise ServerStartError(f"{self.name} exited with status {code}: {self.log_tail()}")
            try:
                if self._ready():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(f"{self.name} did not become ready within {timeout:.0f}s: {self.log_tail()}")

    @property
    def running(self) -> bool:
        """Return whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, size: int = 2000) -> str:
        """Return the end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-size:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and wait for it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def close(self) -> None:
        """Stop the process and remove its log."""
        self.stop()
        self.log_path.unlink(missing_ok=True)
