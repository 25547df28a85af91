"""The Render adapter passes the adapter contract suite against its emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_render.testing import RenderHarness


class TestRenderContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[RenderHarness]:
        harness = RenderHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
