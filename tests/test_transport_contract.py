"""The core's transports pass the transport contract: ``embedded`` (SQLite) and ``memory``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import MemoryTransport, SqliteTransport, Transport
from genesis_core.testing import TransportContract, TransportHarness


class EmbeddedHarness(TransportHarness):
    """The SQLite store of a state directory: durable, shared by every process that opens it."""

    name = "embedded"

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir

    def open(self) -> Transport:
        return SqliteTransport(self.directory / "events.db", durability="normal")

    def factory_table(self) -> Mapping[str, Any]:
        return {"durability": "normal"}

    def state_dir(self) -> Path:
        return self.directory


class MemoryHarness(TransportHarness):
    """One object's memory: neither durable nor shared."""

    name = "memory"
    durable = False
    shared = False

    def open(self) -> Transport:
        return MemoryTransport()

    def factory_table(self) -> Mapping[str, Any]:
        return {}


class TestEmbeddedTransport(TransportContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[EmbeddedHarness]:
        harness = EmbeddedHarness(tmp_path / "state")
        harness.directory.mkdir()
        yield harness
        harness.close()


class TestMemoryTransport(TransportContract):
    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        harness = MemoryHarness()
        yield harness
        harness.close()
