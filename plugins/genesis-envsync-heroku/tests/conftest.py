"""Fixtures for the Heroku adapter tests: a running emulator with one app, and recorded retry waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_heroku.emulator import HerokuEmulator
from genesis_heroku.testing import APP


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries


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
