"""Fixtures for the GitHub adapter tests: a fresh emulator per test and no backoff sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import InstanceConfig, Table
from genesis_github.adapter import GitHubAdapter
from genesis_github.emulator import GitHubEmulator

TOKEN = "ghp_testtoken0123456789abcdefTOKEN"
REPO = "acme/web"


@pytest.fixture(autouse=True)
def _no_waits(instant_retries: list[float]) -> list[float]:
    """Retries and rate-limit waits return at once (the kit's ``instant_retries`` records them)."""
    return instant_retries


@pytest.fixture
def emulator() -> Iterator[GitHubEmulator]:
    """Return a running emulator holding the empty repository ``acme/web``."""
    server = GitHubEmulator(token=TOKEN)
    server.add_repo(REPO)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env() -> dict[str, str]:
    """Return the environment the adapter reads ``GITHUB_TOKEN`` from."""
    return {"GITHUB_TOKEN": TOKEN}


@pytest.fixture
def make_adapter(emulator: GitHubEmulator) -> Callable[..., GitHubAdapter]:
    """Return a factory of adapters for ``acme/web`` on the emulator (1 s timeout, 2 retries by default)."""

    def make(name: str = "gh", **table: Any) -> GitHubAdapter:
        data = {"repository": REPO, "base_url": emulator.base_url, "timeout": 1.0, "retries": 2, **table}
        return GitHubAdapter(InstanceConfig(name, "github", Table(data, "genesis.toml", f"platforms.{name}"),
                                            Path(".")))

    return make
