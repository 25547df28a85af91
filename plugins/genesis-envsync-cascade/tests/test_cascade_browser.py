"""The status page in a real browser (Chromium driven by Playwright; the ``chromium`` fixture comes
from the testing kit, ``genesis_core.testing.browser``): a real Cascade server on 127.0.0.1, real
``genesis sync`` runs on two ``.env`` files, a real bus.

A page that should work fails the test on any console error, uncaught exception or dialog (the
refused requests log their 401s, as browsers do). "Live within 2 s" is the bound of a wait in
the browser, not a timing assertion.

Screenshots: the test writes ``cascade-status.png`` to its tmp dir on every run; with
``GENESIS_UPDATE_SCREENSHOTS=1`` it also replaces ``docs/images/cascade-status.png`` (commit it
when the page changes). CI runs without the variable, so a clean clone stays clean; run from the
plugin's sdist, where there is no ``docs/images``, the variable does nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cascade_testkit import CANARY, DEADLINE, cli_env, commit_payload, genesis_cli, http_url, run, serving

import genesis_cascade.plugin
from genesis_core.api import configure_bus, load_config
from genesis_core.testing import build_plugin_host

# The repository's docs/images (absent when the tests run from the plugin's sdist).
DOCS_IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
# Tokens a header can carry, and one it cannot (fetch() refuses a header beyond ISO-8859-1).
TOKENS = ["browser-token-CANARY-5e1d", "bröwser-tökén-CANARY-5e1d", "браузер-токен-€-CANARY-5e1d"]
LIVE_MS = 2000  # the page must show a new commit within this bound of the wait
WAIT_MS = int(DEADLINE * 1000)  # a hang guard for everything else

# True once the page shows the newest sync as parity, with ``seq`` as its event seq.
SHOWS_PARITY_AT = """seq => document.body.dataset.state === "parity"
  && [...document.querySelectorAll("#rows tr")].some(
       tr => tr.cells[0].textContent === "Event seq" && tr.cells[1].textContent === String(seq))"""
LIVE = '() => document.getElementById("conn").textContent === "live"'
# True once the connection line says the last refresh failed (and why).
REFRESH_FAILED_WITH = """reason => document.getElementById("conn").textContent.includes(
  "last refresh failed") && document.getElementById("conn").textContent.includes(reason)"""
FAILED_LINE = re.compile(r"live; last refresh failed at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((?P<reason>[^)]+)\); "
                         r"the figures below may be out of date")
# What Chromium logs for the requests the test makes fail, and nothing else may be logged.
RECONNECTING = '() => document.getElementById("conn").textContent === "reconnecting\u2026"'
FAILED_REQUEST_LOGS = ("console.error: Failed to load resource: the server responded with a status of 401",
                       "console.error: Failed to load resource: net::ERR_FAILED")


def project(tmp_path: Path) -> Path:
    """Write ``genesis.toml`` with two dotenv platforms that drift (``SHARED`` differs, ``ONLY_A``
    is missing in beta); return the state dir."""
    (tmp_path / "a.env").write_text("SHARED=1\nONLY_A=x\n", encoding="utf-8")
    (tmp_path / "b.env").write_text("SHARED=2\n", encoding="utf-8")
    (tmp_path / "genesis.toml").write_text(textwrap.dedent("""
        [platforms.alpha]
        kind = "dotenv"
        path = "a.env"
        [platforms.beta]
        kind = "dotenv"
        path = "b.env"
        [bus]
        state_dir = "state"
    """), encoding="utf-8")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    return state_dir


def open_project_bus(state_dir: Path) -> Any:
    """Return the project's real bus with only the cascade engine loaded."""
    host = build_plugin_host(entry_points=False, plugins=(("cascade", genesis_cascade.plugin),))
    return configure_bus(load_config(state_dir.parent / "genesis.toml"), host=host)


def sync(state_dir: Path) -> int:
    """Run ``genesis sync`` in another process on the project; return its exit code."""
    done = subprocess.run(genesis_cli("sync", "--no-progress"), capture_output=True, text=True, timeout=60,
                          check=False, env=cli_env(state_dir), cwd=state_dir.parent)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode


def newest_seq(bus: Any, topic: str) -> int:
    events = bus.get_event_history(limit=1, topic=topic)
    assert events, f"no {topic} stored"
    return int(events[-1]["_genesis_seq"])


def pushed_updates(page: Any) -> list[dict[str, Any]]:
    """Return a list that fills with the ``config_update`` messages the page's WebSocket receives."""
    updates: list[dict[str, Any]] = []

    def on_frame(payload: str | bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "config_update":
            updates.append(message)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return updates


def keep_for_docs(screenshot: Path) -> None:
    """With ``GENESIS_UPDATE_SCREENSHOTS=1``, replace the docs' copy of ``screenshot`` (if the docs are here)."""
    if os.environ.get("GENESIS_UPDATE_SCREENSHOTS") == "1" and DOCS_IMAGES.is_dir():
        shutil.copyfile(screenshot, DOCS_IMAGES / screenshot.name)


def rows(text: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def test_status_page_shows_drift_and_turns_to_parity_live_when_a_sync_commits(
        tmp_path: Path, chromium: Any) -> None:
    state_dir = project(tmp_path)
    assert sync(state_dir) == 1  # drift: the page opens on it
    bus = open_project_bus(state_dir)

    async def scenario() -> None:
        async with serving(bus, poll_interval=0.25) as server, chromium.launch() as browser:
            page = await browser.new_page(viewport={"width": 900, "height": 400})
            watch = chromium.watch(page)
            updates = pushed_updates(page)
            response = await page.goto(http_url(server))
            assert response is not None and response.status == 200
            assert await page.evaluate("document.body.dataset.state") == "drift"
            shown = rows(await page.inner_text("#rows"))
            assert shown["State"] == "drift" and shown["missing in beta"] == "1", shown
            assert shown["conflicts"] == "1" and shown["Last parity"] == "never", shown
            await page.wait_for_function(LIVE, timeout=WAIT_MS)

            (tmp_path / "b.env").write_text("SHARED=1\nONLY_A=x\n", encoding="utf-8")
            assert await asyncio.to_thread(sync, state_dir) == 0  # parity: envsync.commit
            seq = newest_seq(bus, "envsync.commit")
            await page.wait_for_function(SHOWS_PARITY_AT, arg=seq, timeout=LIVE_MS)
            assert [u["seq"] for u in updates] == [seq]  # pushed over the WebSocket, not the 15 s poll
            shown = rows(await page.inner_text("#rows"))
            assert shown["State"] == "parity" and shown["missing in beta"] == "0", shown
            assert shown["Last drift"] != "never" and shown["Connected clients"] == "1", shown
            assert "parity" in await page.evaluate(
                "getComputedStyle(document.querySelector('h1'), '::after').content")
            keep_for_docs(await chromium.screenshot(page, "cascade-status.png"))
            assert watch.errors == [] and watch.dialogs == []

    try:
        run(scenario())
    finally:
        bus.close()


@pytest.mark.parametrize("token", TOKENS, ids=["ascii", "latin-1", "beyond-latin-1"])
def test_status_page_refuses_without_the_token_and_works_with_it(
        tmp_path: Path, chromium: Any, token: str) -> None:
    state_dir = project(tmp_path)
    assert sync(state_dir) == 1
    bus = open_project_bus(state_dir)

    async def scenario() -> None:
        async with serving(bus, token=token, poll_interval=0.25) as server, chromium.launch() as browser:
            refused = await browser.new_page()
            for path in ("/", "/status.json", "/?token=wrong-token"):
                response = await refused.goto(http_url(server, path))
                assert response is not None and response.status == 401, path
                assert (await refused.inner_text("body")).strip() == "a bearer token is required"
            assert server.client_count == 0
            await refused.close()

            page = await browser.new_page()
            watch = chromium.watch(page)
            updates = pushed_updates(page)
            response = await page.goto(http_url(server, f"/?token={quote(token)}"))
            assert response is not None and response.status == 200
            assert await page.evaluate("document.body.dataset.state") == "drift"
            # The WebSocket carries the token as genesis.bearer.* next to genesis.cascade.v1.
            await page.wait_for_function(LIVE, timeout=WAIT_MS)
            assert "token" not in page.url  # the page took it out of the address bar

            result = await bus.publish("envsync.commit", commit_payload())  # the in-process path
            await page.wait_for_function(SHOWS_PARITY_AT, arg=result.seq, timeout=LIVE_MS)
            assert [u["seq"] for u in updates] == [result.seq]
            content = await page.content()
            assert token not in content and CANARY not in content
            assert watch.errors == [] and watch.dialogs == []

    try:
        run(scenario())
    finally:
        bus.close()


def test_status_page_says_when_a_refresh_fails_until_one_succeeds(tmp_path: Path, chromium: Any) -> None:
    """A ``/status.json`` that answers 401 (the token changed) or not at all, while the WebSocket
    stays open: the page says its figures are stale instead of going on saying "live"."""
    state_dir = project(tmp_path)
    assert sync(state_dir) == 1
    bus = open_project_bus(state_dir)

    async def refuse(route: Any) -> None:
        await route.fulfill(status=401, body="a bearer token is required\n", content_type="text/plain")

    async def drop(route: Any) -> None:
        await route.abort()

    async def scenario() -> None:
        async with serving(bus, poll_interval=0.25) as server, chromium.launch() as browser:
            page = await browser.new_page(viewport={"width": 900, "height": 400})
            watch = chromium.watch(page)
            updates = pushed_updates(page)
            await page.goto(http_url(server))
            await page.wait_for_function(LIVE, timeout=WAIT_MS)

            for handler, reason in ((refuse, "HTTP 401: the token was refused"),
                                    (drop, "no answer from the server")):
                await page.route("**/status.json*", handler)
                result = await bus.publish("envsync.commit", commit_payload())  # the page must look again
                await page.wait_for_function(REFRESH_FAILED_WITH, arg=reason, timeout=WAIT_MS)
                assert updates[-1]["seq"] == result.seq
                line = FAILED_LINE.fullmatch(await page.inner_text("#conn"))
                assert line is not None and line["reason"] == reason, await page.inner_text("#conn")
                assert rows(await page.inner_text("#rows"))["State"] == "drift"  # what it had, not the commit
                await page.unroute("**/status.json*")

            result = await bus.publish("envsync.commit", commit_payload())
            await page.wait_for_function(SHOWS_PARITY_AT, arg=result.seq, timeout=WAIT_MS)
            await page.wait_for_function(LIVE, timeout=WAIT_MS)  # the failure is gone with the next refresh
            failed_requests = [e for e in watch.errors if e.startswith(FAILED_REQUEST_LOGS)]
            assert len(failed_requests) >= 2, watch.errors  # the browser logged both failed requests...
            assert [e for e in watch.errors if e not in failed_requests] == []  # ...and nothing else
            assert watch.dialogs == []

    try:
        run(scenario())
    finally:
        bus.close()


@pytest.mark.parametrize("own_origin_listed", [False, True], ids=["without-its-origin", "with-its-origin"])
def test_with_origins_set_the_page_connects_only_when_its_own_origin_is_listed(
        tmp_path: Path, chromium: Any, own_origin_listed: bool) -> None:
    """What docs/engines/cascade.md says: Genesis does not add the page's own origin to ``origins``."""
    state_dir = project(tmp_path)
    assert sync(state_dir) == 1
    bus = open_project_bus(state_dir)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    page_origin = f"http://127.0.0.1:{listener.getsockname()[1]}"
    origins = ("https://app.example", page_origin) if own_origin_listed else ("https://app.example",)

    async def scenario() -> None:
        async with serving(bus, sock=listener, origins=origins) as server, chromium.launch() as browser:
            page = await browser.new_page()
            watch = chromium.watch(page)
            response = await page.goto(http_url(server))
            assert response is not None and response.status == 200
            assert await page.evaluate("document.body.dataset.state") == "drift"  # served all the same
            await page.wait_for_function(LIVE if own_origin_listed else RECONNECTING, timeout=WAIT_MS)
            refused = [e for e in watch.errors if "WebSocket" in e and "403" in e]
            assert (refused != []) is not own_origin_listed, watch.errors
            assert [e for e in watch.errors if e not in refused] == [] and watch.dialogs == []

    try:
        run(scenario())
    finally:
        listener.close()
        bus.close()
