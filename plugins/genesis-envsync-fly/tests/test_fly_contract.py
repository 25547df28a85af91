"""The Fly adapter passes the adapter contract suite against its emulator (macaroon and Bearer tokens)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_fly.testing import FlyHarness


class BearerHarness(FlyHarness):
    """An older, non-macaroon token: sent as ``Authorization: Bearer``."""

    token = "legacy-fly-token-CONTRACT-0a9f"


class TestFlyContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[FlyHarness]:
        harness = FlyHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()


class TestFlyContractWithABearerToken(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[FlyHarness]:
        harness = BearerHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
