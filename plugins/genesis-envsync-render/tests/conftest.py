"""Fixtures for the Render adapter tests: a running emulator and instant retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_render.emulator import RenderEmulator
from genesis_render.testing import SERVICE_ID


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries


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
