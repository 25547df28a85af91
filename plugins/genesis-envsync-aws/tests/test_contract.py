"""Both AWS adapters pass the adapter contract against moto (IAM authentication on) behind a fault proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_aws.testing import (
    MotoServer,
    SecretsManagerHarness,
    SsmHarness,
    start_moto,
    zero_backoff,
)
from genesis_core.testing import AdapterContract


@pytest.fixture(scope="module")
def contract_moto() -> Iterator[MotoServer]:
    """A moto server of this module's own: the harnesses switch its IAM authentication on."""
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    zero_backoff(monkeypatch)


class TestSsmContract(AdapterContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, contract_moto: MotoServer) -> Iterator[SsmHarness]:
        harness = SsmHarness(contract_moto)
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()


class TestSecretsManagerContract(AdapterContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, contract_moto: MotoServer) -> Iterator[SecretsManagerHarness]:
        harness = SecretsManagerHarness(contract_moto)
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
