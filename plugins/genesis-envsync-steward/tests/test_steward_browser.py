"""Steward's HTML report in a real browser (Chromium driven by Playwright; the ``chromium`` fixture
comes from the testing kit, ``genesis_core.testing.browser``): the report file the engine writes
when a real bus delivers ``envsync.drift``, opened from disk as a person opens it.

Screenshots: the test writes ``steward-report.png`` to its tmp dir on every run; with
``GENESIS_UPDATE_SCREENSHOTS=1`` it also replaces ``docs/images/steward-report.png`` (commit it
when the report changes). CI runs without the variable, so a clean clone stays clean; run from the
plugin's sdist, where there is no ``docs/images``, the variable does nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from _steward_support import config_from, drift, start_bus

from genesis_core.api import reset_bus

# The repository's docs/images (absent when the tests run from the plugin's sdist).
DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
XSS_KEY = "<img src=x onerror=alert(1)>"
FLAG_KEY = "<img src=y onerror=window.__genesisXss=1>"
BREAKOUT = "</code></td><script>window.__genesisXss=2</script>"


@pytest.fixture(autouse=True)
def _reset_process_bus():
    yield
    reset_bus()


def keep_for_docs(screenshot: Path) -> None:
    """With ``GENESIS_UPDATE_SCREENSHOTS=1``, replace the docs' copy of ``screenshot`` (if the docs are here)."""
    if os.environ.get("GENESIS_UPDATE_SCREENSHOTS") == "1" and DOCS_IMAGES.is_dir():
        shutil.copyfile(screenshot, DOCS_IMAGES / screenshot.name)


def written_report(tmp_path: Path, policy: Any, payload: dict[str, Any]) -> Path:
    """Publish ``payload`` as ``envsync.drift`` on a real bus with Steward; return the HTML it wrote."""
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    result = asyncio.run(bus.publish("envsync.drift", payload))
    assert result.ok and result.delivered == ("steward:steward",)
    report = config.state_dir / "reports" / f"drift-{result.seq}.html"
    assert report.is_file()
    return report


async def table(page: Any, heading: str) -> list[list[str]]:
    """Return the cell texts of the table right after the ``<h2>`` starting with ``heading``."""
    return await page.evaluate("""heading => {
        const h2 = [...document.querySelectorAll("h2")].find(h => h.textContent.startsWith(heading));
        const table = h2 && h2.nextElementSibling;
        if (!table || table.tagName !== "TABLE") return null;
        return [...table.rows].map(row => [...row.cells].map(cell => cell.textContent));
    }""", heading)


def test_html_report_renders_its_tables(tmp_path: Path, policy: Any, chromium: Any) -> None:
    report = written_report(tmp_path, policy, drift())

    async def scenario() -> None:
        async with chromium.launch() as browser:
            page = await browser.new_page(viewport={"width": 900, "height": 400})
            watch = chromium.watch(page)
            await page.goto(report.as_uri())
            assert await page.inner_text("h1") == "Genesis: drift detected, 5 differences across 3 platforms"
            assert await table(page, "Platforms") == [
                ["Platform", "Kind", "Keys", "Missing", "Status", "Time"],
                ["render", "render", "45", "0", "ok", "0.41s"],
                ["netlify", "netlify", "43", "2", "ok", "0.52s"],
                ["github", "github", "43", "2", "ok", "0.33s"],
            ]
            assert await table(page, "Conflicting values") == [
                ["Key", "render", "netlify", "github"],
                ["DEBUG", "false", "true", "<secret>"],
            ]
            assert await page.locator("li").all_inner_texts() == [
                "netlify lacks 2: VAR_A, VAR_B", "github lacks 2: AUTO_DIAGNOSE, CORS_ALLOW_ALL"]
            keep_for_docs(await chromium.screenshot(page, "steward-report.png"))
            assert watch.errors == [] and watch.dialogs == []

    asyncio.run(scenario())


@pytest.mark.parametrize("csp", ["report's CSP", "CSP bypassed"])
def test_a_key_made_of_html_renders_as_text_and_runs_nothing(
        tmp_path: Path, policy: Any, chromium: Any, csp: str) -> None:
    """With the page's CSP bypassed, only the escaping stands between the key and a script run."""
    payload = drift(missing_in_netlify=["VAR_A", XSS_KEY, BREAKOUT])
    payload["conflicts"][XSS_KEY] = {"render": FLAG_KEY, "netlify": "true", "github": "x"}
    report = written_report(tmp_path, policy, payload)

    async def scenario() -> None:
        async with chromium.launch() as browser:
            context = await browser.new_context(bypass_csp=csp == "CSP bypassed")
            page = await context.new_page()
            watch = chromium.watch(page)
            await page.goto(report.as_uri())
            await page.wait_for_load_state("load")
            assert watch.dialogs == [] and await page.evaluate("window.__genesisXss") is None
            assert watch.errors == []  # with the CSP on, an injected <img> would be refused with an error
            assert await page.evaluate("document.querySelectorAll('img, script, svg, iframe').length") == 0
            conflicts = await table(page, "Conflicting values")
            assert [XSS_KEY, FLAG_KEY, "true", "x"] in conflicts
            missing = await page.locator("li").all_inner_texts()
            assert f"netlify lacks 3: VAR_A, {XSS_KEY}, {BREAKOUT}" in missing

    asyncio.run(scenario())


def hostile(slot: str) -> str:
    """Return markup that sets ``window.__genesisXss`` to ``slot`` if the page ever runs it."""
    return f"<img src=x onerror=window.__genesisXss='{slot}'>\"'<b>{slot}</b>"


def test_markup_in_any_field_of_an_event_renders_as_text(tmp_path: Path, policy: Any, chromium: Any) -> None:
    """Platform names, kinds, statuses, errors, the environment and the times are text too, in
    both the report of one sync and the one across environments."""
    platform = hostile("platform")
    payload = drift(environment=hostile("environment"), verified_at=hostile("verified_at"),
                    instances=["render", platform], **{f"missing_in_{platform}": [hostile("missing")]})
    payload["platforms"] = {
        "render": {"kind": hostile("kind"), "status": "error", "error": hostile("error")},
        platform: {"kind": "netlify", "status": hostile("status"), "keys": 1},
    }
    payload["conflicts"] = {"DEBUG": {"render": hostile("value"), platform: "x"}}
    across = {"verified_at": hostile("across_verified_at"), "has_drift": True,
              "environments": ["production", hostile("across_environment")],
              "missing": {"production": [], hostile("across_environment"): [hostile("across_key")]},
              "conflicts": {hostile("across_conflict"): {"production": hostile("across_value")}}}
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    seqs = [asyncio.run(bus.publish(topic, data)).seq
            for topic, data in (("envsync.drift", payload), ("envsync.cross_drift", across))]
    reports = [config.state_dir / "reports" / f"drift-{seq}.html" for seq in seqs]
    slots = [("environment", "kind", "error", "platform", "status", "missing", "value", "verified_at"),
             ("across_environment", "across_key", "across_conflict", "across_value", "across_verified_at")]

    async def scenario() -> None:
        async with chromium.launch() as browser:
            context = await browser.new_context(bypass_csp=True)
            for report, shown in zip(reports, slots, strict=True):
                page = await context.new_page()
                watch = chromium.watch(page)
                await page.goto(report.as_uri())
                assert watch.dialogs == [] and await page.evaluate("window.__genesisXss") is None, report.name
                assert await page.evaluate("document.querySelectorAll('img, b, script').length") == 0
                assert watch.errors == []
                text = await page.inner_text("body")
                assert [slot for slot in shown if hostile(slot) not in text] == [], report.name

    asyncio.run(scenario())


def test_the_watch_sees_console_errors_exceptions_and_dialogs(chromium: Any) -> None:
    """The checks above would pass vacuously if the watch saw nothing: show that it sees each kind."""
    async def scenario() -> None:
        async with chromium.launch() as browser:
            page = await browser.new_page()
            watch = chromium.watch(page)
            await page.set_content("""<img src=x onerror="alert(1)">
                <script>console.error("bad"); throw new Error("boom")</script>""")
            assert watch.dialogs == ["alert: 1"]
            assert "console.error: bad" in watch.errors
            assert any("boom" in error for error in watch.errors)

    asyncio.run(scenario())
