"""Fixtures for the Railway adapter tests: recorded retry waits."""

from __future__ import annotations

import pytest


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries
