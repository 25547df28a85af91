"""Fixtures for the Heroku adapter tests: a running emulator with one app, and recorded retry waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from genesis_heroku.emulator import HerokuEmulator
from genesis_heroku.testing import APP


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
def emulator(waits: list[float]) -> Iterator[HerokuEmulator]:
    """A started Heroku emulator holding the empty app ``APP``."""
    server = HerokuEmulator(token="heroku-TOKEN-canary-41c9")
    server.add_app(APP)
    server.start()
    try:
        yield server
    finally:
        server.stop()
