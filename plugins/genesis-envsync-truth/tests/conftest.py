"""Fixtures for the genesis-envsync-truth tests: isolated state and no ambient signing key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helper module next to this file (the import mode in use may not put this directory on sys.path).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GENESIS_HOME at a fresh directory and drop any GENESIS_TRUTH_KEY from the environment."""
    home = tmp_path / "genesis-home"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.delenv("GENESIS_TRUTH_KEY", raising=False)
    monkeypatch.delenv("GENESIS_DISABLE_PLUGINS", raising=False)
    return home


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
