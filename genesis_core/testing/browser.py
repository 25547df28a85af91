"""The ``chromium`` fixture: a real Chromium for tests of pages a person opens.

A plugin that serves or writes a page (Cascade's status page, Steward's HTML report, a
third-party engine's dashboard) tests it in a real browser: the system's Chromium (Debian's
``chromium`` package: ``apt-get install chromium``) driven by Playwright's Python package over
the DevTools protocol. Playwright's own browser download is never used. ``GENESIS_CHROMIUM``
names another Chromium or Chrome binary. When the browser or the ``playwright`` package
(``pip install 'genesis-envsync[browser]'``) is missing, a test asking for ``chromium`` fails
with ``CI`` set and is skipped elsewhere, with the reason and the command that installs it.

Playwright is imported inside the fixture and :meth:`Chromium.launch`, never when this module
is, so the pytest plugin that registers the fixtures loads without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .servers import missing_server

#: Where to look for a browser when ``GENESIS_CHROMIUM`` is unset, in order.
CANDIDATES = ("/usr/bin/chromium", "chromium", "google-chrome", "google-chrome-stable", "chromium-browser")


def find_chromium() -> str | None:
    """Return the browser to drive: ``$GENESIS_CHROMIUM``, else the first candidate found, else ``None``."""
    named = os.environ.get("GENESIS_CHROMIUM")
    if named:
        return shutil.which(named)
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class PageWatch:
    """What a page did that a person would notice: console errors, uncaught exceptions, dialogs.

    ``errors`` holds ``"console.error: TEXT"``, ``"console.assert: TEXT"`` and ``"uncaught: EXC"``
    lines, ``dialogs`` ``"TYPE: MESSAGE"`` lines (each dialog is dismissed).
    """

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "assert"):
            self.errors.append(f"console.{message.type}: {message.text}")

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()


class Chromium:
    """Launches the browser and keeps screenshots; what the ``chromium`` fixture returns."""

    def __init__(self, executable: str, tmp_path: Path) -> None:
        self.executable = executable
        self.tmp_path = tmp_path

    @contextlib.asynccontextmanager
    async def launch(self) -> AsyncIterator[Any]:
        """Yield a headless Playwright ``Browser`` running this Chromium; closed on the way out."""
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=self.executable, headless=True,
                args=["--disable-dev-shm-usage", "--no-first-run", "--disable-gpu"])
            try:
                yield browser
            finally:
                await browser.close()

    @staticmethod
    def watch(page: Any) -> PageWatch:
        """Return a ``PageWatch`` recording ``page``'s console errors, exceptions and dialogs."""
        return PageWatch(page)

    async def screenshot(self, page: Any, name: str) -> Path:
        """Save a full-page screenshot as ``name`` in the test's tmp dir and return its path."""
        path = self.tmp_path / name
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Return the Chromium binary; fail (``CI`` set) or skip when it or Playwright is missing."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing_server("the browser tests need the playwright package: pip install playwright "
                       "(or 'genesis-envsync[browser]'; no browser download needed, the system's Chromium is used)")
    found = find_chromium()
    if found is None:
        named = os.environ.get("GENESIS_CHROMIUM")
        where = f"GENESIS_CHROMIUM={named} is not an executable" if named else "no chromium on PATH"
        missing_server(f"the browser tests need Chromium ({where}): apt-get install chromium, "
                       "or set GENESIS_CHROMIUM to a Chromium or Chrome binary")
    return found


@pytest.fixture
def chromium(chromium_executable: str, tmp_path: Path) -> Chromium:
    """Return a ``Chromium`` that launches the browser and keeps screenshots in ``tmp_path``."""
    return Chromium(chromium_executable, tmp_path)
