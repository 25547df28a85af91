"""A plugin's tests run from its sdist, away from this repository.

Each plugin's sdist ships its ``tests/``; a packager (or a user checking a download) runs them
from the unpacked archive, where nothing of this repository's root is. The ``chromium`` fixture
the browser tests use comes from the testing kit (``genesis_core.testing.browser``, registered
through ``pytest11``), not from a root ``conftest.py``. Here the cascade and steward sdists are
built and unpacked into a tmp dir, and ``pytest`` runs there in a subprocess with this venv's
Python: every test collects, and the browser tests get the fixture (with ``GENESIS_CHROMIUM``
naming a binary that does not exist and ``CI`` unset, the fixture skips them saying so; without
the fixture they would error with "fixture 'chromium' not found").
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BROWSER_TESTS = {"cascade": "tests/test_cascade_browser.py", "steward": "tests/test_steward_browser.py"}


def unpacked_sdist(plugin: str, tmp_path: Path) -> Path:
    """Build ``plugin``'s sdist, unpack it into ``tmp_path``; return the unpacked directory."""
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(out)],
                          cwd=ROOT / "plugins" / f"genesis-envsync-{plugin}", capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            archive.extractall(tmp_path / "unpacked", filter="data")
        else:  # pragma: no cover - our own archive, just built
            archive.extractall(tmp_path / "unpacked")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert not (unpacked / "conftest.py").exists() and not (unpacked.parent / "conftest.py").exists()
    return unpacked


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this venv's pytest in ``directory`` with no browser to find and ``CI`` unset."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "PYTEST_ADDOPTS") and not k.startswith("GENESIS_")}
    env["GENESIS_CHROMIUM"] = str(directory / "no-such-chromium")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=directory, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("plugin", sorted(BROWSER_TESTS))
def test_the_browser_tests_of_an_unpacked_sdist_get_the_chromium_fixture(plugin: str, tmp_path: Path) -> None:
    unpacked = unpacked_sdist(plugin, tmp_path)
    collected = pytest_in(unpacked, "--collect-only", "-q", "tests")
    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-2000:]
    assert f"{BROWSER_TESTS[plugin]}::" in collected.stdout

    done = pytest_in(unpacked, "-rs", BROWSER_TESTS[plugin])
    output = done.stdout + done.stderr
    assert "fixture 'chromium' not found" not in output, output[-4000:]
    assert done.returncode == 0, output[-4000:]
    assert " skipped" in output and " passed" not in output and " error" not in output, output[-4000:]
    assert "GENESIS_CHROMIUM=" in output and "no-such-chromium is not an executable" in output, output[-4000:]


def test_the_testing_kit_and_its_pytest_plugin_load_without_playwright() -> None:
    code = ("import sys; import genesis_core.testing as kit, genesis_core.testing.pytest_plugin; "
            "kit.Chromium, kit.PageWatch, kit.find_chromium; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'playwright'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
