"""The GitHub adapter passes the adapter contract suite, for repository and environment scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_github.testing import GitHubHarness


class TestGitHubContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[GitHubHarness]:
        harness = GitHubHarness()
        harness.start()
        yield harness
        harness.stop()


class TestGitHubEnvironmentContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[GitHubHarness]:
        harness = GitHubHarness(environment="production eu")
        harness.start()
        yield harness
        harness.stop()
