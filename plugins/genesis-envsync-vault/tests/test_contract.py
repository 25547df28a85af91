"""The Vault adapter passes the adapter contract against a real OpenBao dev server behind a fault proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_core.testing import AdapterContract
from genesis_vault.testing import BaoServer, VaultHarness


@pytest.fixture(autouse=True)
def _instant_retries(waits: list[float]) -> None:
    """genesis_core.http retries without waiting."""


class TestVaultContract(AdapterContract):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, bao_session: BaoServer) -> Iterator[VaultHarness]:
        harness = VaultHarness(bao_session)
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()
