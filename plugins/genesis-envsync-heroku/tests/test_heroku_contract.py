"""The Heroku adapter passes the adapter contract suite against its emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_heroku.testing import HerokuHarness


class TestHerokuContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[HerokuHarness]:
        harness = HerokuHarness()
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
