"""The Railway adapter passes the adapter contract suite, with a project token and with an account token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_railway.testing import RailwayAccountHarness, RailwayHarness


class TestRailwayContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[RailwayHarness]:
        harness = RailwayHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()


class TestRailwayContractWithAnAccountTokenOnSharedVariables(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[RailwayHarness]:
        harness = RailwayAccountHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
