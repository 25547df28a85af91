"""The Vercel adapter passes the adapter contract suite (a team project, and a personal one in preview)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_vercel.testing import VercelHarness


class TestVercelContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[VercelHarness]:
        harness = VercelHarness()
        harness.start()
        yield harness
        harness.stop()


class TestVercelPersonalPreviewContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[VercelHarness]:
        harness = VercelHarness(target="preview", team_id=None, page_size=7)
        harness.start()
        yield harness
        harness.stop()
