"""Fixtures for the Railway adapter tests: recorded retry waits."""

from __future__ import annotations

import pytest


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make genesis_core.http retries instant; return the delays it asked for, in order."""
    import genesis_core.http as http

    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setitem(http.request.__kwdefaults__, "sleep", record)
    return delays
