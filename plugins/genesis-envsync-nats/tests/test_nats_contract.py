"""The NATS transport passes the transport contract against a real ``nats-server -js``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import Transport
from genesis_core.testing import TransportContract, TransportHarness

pytestmark = pytest.mark.nats  # each test starts its own nats-server (see conftest.py)


class NatsHarness(TransportHarness):
    """One JetStream stream on a fresh server: durable, and shared by every transport on it."""

    name = "nats"

    def __init__(self, kit: Any, url: str, state_dir: Path) -> None:
        self.kit = kit
        self.url = url
        self.directory = state_dir

    def open(self) -> Transport:
        transport: Transport = self.kit.make_transport(self.url, self.directory)
        return transport

    def factory_table(self) -> Mapping[str, Any]:
        return dict(self.kit.nats_table(self.url))

    def state_dir(self) -> Path:
        return self.directory


class TestNatsTransport(TransportContract):
    @pytest.fixture
    def harness(self, nats_server: Any, tmp_path: Path, kit: Any) -> Iterator[NatsHarness]:
        harness = NatsHarness(kit, nats_server.url, tmp_path / "state")
        yield harness
        harness.close()
