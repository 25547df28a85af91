"""Fixtures for the Render adapter tests: a running emulator and instant retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from genesis_render.emulator import RenderEmulator
from genesis_render.testing import SERVICE_ID


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
def emulator(waits: list[float]) -> Iterator[RenderEmulator]:
    """A started Render emulator holding an empty service ``SERVICE_ID``."""
    server = RenderEmulator(token="rnd_TOKEN_canary_7f3a9")
    server.set_env(SERVICE_ID, {})
    server.start()
    try:
        yield server
    finally:
        server.stop()
