"""Fixtures for the Netlify adapter tests: a running emulator and instant retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_netlify.emulator import NetlifyEmulator
from genesis_netlify.testing import ACCOUNT_ID, SITE_ID


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries


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
