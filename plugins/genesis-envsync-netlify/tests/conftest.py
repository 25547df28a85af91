"""Fixtures for the Netlify adapter tests: a running emulator and instant retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from genesis_netlify.emulator import NetlifyEmulator
from genesis_netlify.testing import ACCOUNT_ID, SITE_ID


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
def emulator(waits: list[float]) -> Iterator[NetlifyEmulator]:
    """A started Netlify emulator with the empty site ``SITE_ID`` in ``ACCOUNT_ID``."""
    server = NetlifyEmulator(token="nfp_TOKEN_canary_5c2e8")
    server.add_site(ACCOUNT_ID, SITE_ID)
    server.start()
    try:
        yield server
    finally:
        server.stop()
