"""The Netlify adapter passes the adapter contract suite against its emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_netlify.testing import NetlifyHarness


class TestNetlifyContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[NetlifyHarness]:
        harness = NetlifyHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
