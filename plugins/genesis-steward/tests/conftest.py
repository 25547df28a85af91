"""Fixtures for the Steward tests: an isolated state dir, a secret policy, an in-process CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helper module next to this file (pytest's import mode may not put this directory on sys.path).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GENESIS_HOME at a fresh directory and keep the environment deterministic."""
    home = tmp_path / "genesis-home"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.delenv("GENESIS_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GENESIS_FINGERPRINT_KEY", raising=False)
    return home


@pytest.fixture(autouse=True)
def _fresh_plugin_host():
    """Forget the cached plugin host between tests."""
    from genesis_core.plugins import get_plugin_host

    get_plugin_host.cache_clear()
    yield
    get_plugin_host.cache_clear()


@pytest.fixture
def policy():
    """Return a secret policy with a fixed test key."""
    from genesis_core.secrets import SecretPolicy

    return SecretPolicy(fingerprint_key=b"steward-tests-key-0123456789abcd")


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Return ``run(cwd, *args) -> (exit_code, stdout, stderr)`` running ``genesis`` in-process."""
    from genesis_core.cli.main import main

    def run(cwd: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
