"""pytest fixtures for testing Genesis and its plugins (loaded automatically through ``pytest11``).

None is autouse: a test suite opts in, typically with one autouse fixture in its
``conftest.py`` that requests ``genesis_home`` and ``fresh_plugin_host``. ``chromium`` (a real
browser for page tests) comes from :mod:`.browser`, which imports Playwright only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .browser import chromium as chromium
from .browser import chromium_executable as chromium_executable

#: Variables that would make a test depend on the machine it runs on.
_UNSET = ("GENESIS_DISABLE_PLUGINS", "GITHUB_STEP_SUMMARY", "GENESIS_FINGERPRINT_KEY", "GENESIS_LOG_LEVEL",
          "GENESIS_NO_PLUGIN_CACHE")


@pytest.fixture
def genesis_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a fresh state directory, set as ``GENESIS_HOME``, with machine-dependent variables unset.

    The plugin discovery cache goes to a fresh ``GENESIS_CACHE_DIR`` next to it, never the user's.
    """
    home = tmp_path / "genesis-home"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.setenv("GENESIS_CACHE_DIR", str(tmp_path / "genesis-cache"))
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def fresh_plugin_host() -> Iterator[None]:
    """Forget the cached plugin host before and after the test, so it sees what the test installs."""
    from genesis_core.plugins import get_plugin_host

    get_plugin_host.cache_clear()
    yield
    get_plugin_host.cache_clear()


@pytest.fixture
def genesis_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Return ``run(*args) -> (exit_code, stdout, stderr)`` running ``genesis ARGS`` in this process."""
    from genesis_core.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def instant_retries() -> Iterator[list[float]]:
    """Make every retry of ``genesis_core.http`` return at once; yield the delays asked for, in order.

    Backoffs and rate-limit waits (``Retry-After``, reset headers) are recorded
    instead of slept, so a retry test is fast and can check how long the adapter
    would have waited.  The real wait is restored afterwards.
    """
    import asyncio

    from genesis_core.http import set_retry_sleep

    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(float(delay))
        await asyncio.sleep(0)

    previous = set_retry_sleep(record)
    try:
        yield delays
    finally:
        set_retry_sleep(previous)
