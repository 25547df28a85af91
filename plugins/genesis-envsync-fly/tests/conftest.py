"""Fixtures for the Fly adapter tests: a running emulator with one app, and recorded retry waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_fly.emulator import FlyEmulator
from genesis_fly.testing import APP


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries


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
