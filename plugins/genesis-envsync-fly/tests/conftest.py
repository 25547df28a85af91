"""Fixtures for the Fly adapter tests: a running emulator with one app, and recorded retry waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from genesis_fly.emulator import FlyEmulator
from genesis_fly.testing import APP


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make genesis_core.http retries instant; return the delays it asked for, in order."""
    import genesis_core.http as http

    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setitem(http.request.__kwdefaults__, "sleep", record)
    return delays


@pytest.fixture
def emulator(waits: list[float]) -> Iterator[FlyEmulator]:
    """A started Fly emulator holding the empty app ``APP``."""
    server = FlyEmulator(token="fm2_TOKEN-canary-41c9")
    server.add_app(APP)
    server.start()
    try:
        yield server
    finally:
        server.stop()
