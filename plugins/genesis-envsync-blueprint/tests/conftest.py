"""Fixtures for the Blueprint tests: an isolated state dir, a secret policy, an in-process CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helper module next to this file (pytest's import mode may not put this directory on sys.path).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated(genesis_home: Path, fresh_plugin_host: None) -> Path:
    """Give every test its own GENESIS_HOME and a fresh plugin host (fixtures from genesis_core.testing)."""
    return genesis_home


@pytest.fixture
def policy():
    """Return a secret policy with a fixed test key."""
    from genesis_core.api import SecretPolicy

    return SecretPolicy(fingerprint_key=b"blueprint-tests-key-0123456789ab")


@pytest.fixture
def run_cli(genesis_cli, monkeypatch: pytest.MonkeyPatch):
    """Return ``run(cwd, *args) -> (exit_code, stdout, stderr)`` running ``genesis`` in-process."""

    def run(cwd: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        return genesis_cli(*args)

    return run
