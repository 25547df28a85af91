"""Shared fixtures: an isolated state dir for every test, and fake installed distributions."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GENESIS_HOME at a fresh directory and keep plugin selection deterministic."""
    home = tmp_path / "genesis-home"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.delenv("GENESIS_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return home


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return a function that installs a fake distribution with ``genesis`` entry points on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "0.1") -> Path:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[genesis]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        for module in modules:
            sys.modules.pop(module, None)
        return site

    yield make
    os.environ.pop("GENESIS_TEST_SITE", None)


@pytest.fixture(autouse=True)
def _fresh_plugin_host():
    """Forget the cached plugin host so each test sees the distributions it installs."""
    from genesis_core.plugins import get_plugin_host

    get_plugin_host.cache_clear()
    yield
    get_plugin_host.cache_clear()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Return a function running ``genesis ARGS`` in-process: ``(exit_code, stdout, stderr)``."""
    from genesis_core.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
