"""Fixtures for the AWS adapter tests: one moto server for the session, reset before every test.

moto in server mode (``pip install 'moto[server]'``) is the AWS these tests talk
to; without it they fail in CI and are skipped elsewhere, saying what to install.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genesis_aws.testing import MotoServer, start_moto, zero_backoff


@pytest.fixture(autouse=True)
def _isolated(genesis_home: object, fresh_plugin_host: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh GENESIS_HOME; no ambient AWS configuration; botocore never asks instance metadata."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoServer]:
    """One moto server for the whole session (authentication off)."""
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto(moto_session: MotoServer) -> MotoServer:
    """The session's moto server, emptied (every parameter, secret and IAM user forgotten)."""
    moto_session.reset()
    return moto_session


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """botocore's retries wait 0 s; return the attempt numbers it backed off after."""
    return zero_backoff(monkeypatch)
