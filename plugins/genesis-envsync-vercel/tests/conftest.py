"""Fixtures for the Vercel adapter tests: a fresh emulator per test and no backoff sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import InstanceConfig, Table
from genesis_vercel.adapter import VercelAdapter
from genesis_vercel.emulator import VercelEmulator

TOKEN = "vercel_testtoken0123456789abcdefTOKEN"
TEAM = "team_acme"
PROJECT = "web"


@pytest.fixture(autouse=True)
def _no_waits(instant_retries: list[float]) -> list[float]:
    """Retries and rate-limit waits return at once (the kit's ``instant_retries`` records them)."""
    return instant_retries


@pytest.fixture
def emulator() -> Iterator[VercelEmulator]:
    """Return a running emulator (5 entries a page) holding project ``web`` of team ``team_acme``."""
    server = VercelEmulator(token=TOKEN, page_size=5)
    server.add_project(PROJECT, project_id="prj_web", team_id=TEAM)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env() -> dict[str, str]:
    """Return the environment the adapter reads ``VERCEL_TOKEN`` from."""
    return {"VERCEL_TOKEN": TOKEN}


@pytest.fixture
def make_adapter(emulator: VercelEmulator) -> Callable[..., VercelAdapter]:
    """Return a factory of adapters for project ``web`` (production, 1 s timeout, 2 retries by default)."""

    def make(name: str = "vc", **table: Any) -> VercelAdapter:
        data = {"project": PROJECT, "team_id": TEAM, "base_url": emulator.base_url, "timeout": 1.0, "retries": 2,
                **table}
        data = {k: v for k, v in data.items() if v is not None}
        return VercelAdapter(InstanceConfig(name, "vercel", Table(data, "genesis.toml", f"platforms.{name}"),
                                            Path(".")))

    return make
