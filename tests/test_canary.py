"""Canary: secret values planted on every platform never appear in any output of any command.

One project: a local ``.env`` and the Render, Netlify, GitHub and Vercel
emulators, every installed engine enabled (Truth, Blueprint with a schema the
secrets break, Steward with a step summary and a webhook, Autonomy, Cascade).
The canaries sit under secret-looking keys, under a neutral key whose value
looks like a credential, inside a database URL, and as unreadable platform
secrets; several platforms disagree on them so they turn up as conflicts.

Then every command runs (table, ``--json``, Markdown, reports in every format,
ledger, events, heal with ``--apply``) in-process with every logger at DEBUG,
and a few in real processes (one with DEBUG logging switched on, since the CLI
has no log-level option).  A Cascade server runs in-process with a real
WebSocket client while a sync reaches parity.  Finally every captured byte is
searched for every canary and credential: stdout, stderr, logs, every file in
the state dir (SQLite with its WAL, ledger, reports, processed databases),
the step summary, the webhook bodies, WebSocket frames, the status page and
the files commands wrote.  Raw, URL-encoded, base64 and hex spellings count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

KINDS = ("render", "netlify", "github", "vercel")
LOCAL_ONLY = "LOCAL_ONLY"


class Canaries:
    """The planted values, each random per run so no other test or file can contain them."""

    def __init__(self, robust: Any) -> None:
        r = robust.random
        self.credential = "sk_live_" + r(30)                  # looks like a credential wherever it is
        self.credential_render = "sk_live_" + r(30)           # a conflicting value of the same key
        self.credential_vercel = "sk_live_" + r(30)
        self.plain = "canaryplainvalue" + r(12).lower()       # only its key name says it is secret
        self.db_password = "canarypw" + r(16)
        self.webhook_path = "canaryhook" + r(16)               # a webhook URL is itself a credential
        self.webhook_key = "canaryhmac" + r(24)
        self.cascade_token = "canaryws" + r(24)

    def values(self) -> dict[str, str]:
        return dict(vars(self).items())


def reference_values(c: Canaries) -> dict[str, str]:
    """Return what the local ``.env`` (the reference) holds."""
    return {
        "APP_NAME": "robust",
        "DEBUG": "false",
        "PAYMENT_API_TOKEN": c.credential,
        "SUPPORT_NOTES": c.credential,
        "SESSION_SECRET": c.plain,
        "DATABASE_URL": f"postgres://app:{c.db_password}@db.internal:5432/app",
        LOCAL_ONLY: "yes",
    }


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording every request Steward's webhook sends."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CascadeHarness:
    """A Cascade server and a real WebSocket client on a private event loop in a thread."""

    def __init__(self, state_dir: Path, token: str) -> None:
        self.state_dir = state_dir
        self.token = token
        self.frames: list[str] = []
        self.http_bodies: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Any = None
        self.bus: Any = None
        self.client: Any = None
        self.reader: Any = None

    def call(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        import websockets

        from genesis_cascade.auth import SUBPROTOCOL, encode_subprotocol_token
        from genesis_cascade.server import CascadeServer
        from genesis_cascade.settings import CascadeSettings
        from genesis_core.bus import GenesisBus
        from genesis_core.bus.guardian import DefaultPolicy, Guardian
        from genesis_core.bus.store import open_store

        # Its own bus on the same store, never installed as the process bus (the CLI replaces that one).
        self.bus = GenesisBus(open_store(self.state_dir), Guardian.of(DefaultPolicy()))
        settings = CascadeSettings(host="127.0.0.1", port=0, poll_interval=0.05, ping_interval=None,
                                   ping_timeout=None, close_timeout=1.0)
        self.server = CascadeServer(settings, bus=self.bus, token=self.token)
        await self.server.start()
        quiet = logging.getLogger("canary_test.ws_client")  # the test's own client: not a product log
        quiet.propagate = False
        quiet.disabled = True
        # The browser way of presenting the token: base64url inside a sub-protocol.
        self.client = await websockets.connect(
            f"ws://127.0.0.1:{self.server.port}/ws", logger=quiet,
            subprotocols=[SUBPROTOCOL, encode_subprotocol_token(self.token)])
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        import websockets

        try:
            async for message in self.client:
                self.frames.append(message if isinstance(message, str) else message.decode("utf-8", "replace"))
        except websockets.ConnectionClosed:
            pass

    def start(self) -> None:
        self.call(self._start())

    def wait_for_update(self, seq: int, timeout: float = 15.0) -> dict[str, Any]:
        """Return the ``config_update`` frame for commit ``seq`` (fails after ``timeout`` seconds)."""
        async def wait() -> dict[str, Any]:
            while True:
                for frame in self.frames:
                    data = json.loads(frame)
                    if data.get("type") == "config_update" and data.get("seq") == seq:
                        return data
                await asyncio.sleep(0.02)
        return self.call(asyncio.wait_for(wait(), timeout), timeout + 5)

    def fetch_pages(self) -> None:
        """GET the status page and status.json with the bearer token; keep the bodies."""
        import urllib.request

        for path in ("/", "/status.json"):
            request = urllib.request.Request(f"http://127.0.0.1:{self.server.port}{path}",
                                             headers={"Authorization": f"Bearer {self.token}"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
                self.http_bodies.append(response.read().decode("utf-8", "replace"))

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()
        if self.bus is not None:
            self.bus.close()

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


# -- the project -----------------------------------------------------------------------------------------

def seed_drift(platforms: dict[str, Any], c: Canaries) -> None:
    """Seed each platform differently from the reference, with canaries in conflicts and secrets."""
    ref = reference_values(c)
    common = {k: v for k, v in ref.items() if k != LOCAL_ONLY}
    platforms["render"].seed({**common, "PAYMENT_API_TOKEN": c.credential_render, "DEBUG": "true"})
    platforms["netlify"].seed(common, unreadable=["PAYMENT_API_TOKEN"])
    platforms["github"].seed(common, unreadable=["PAYMENT_API_TOKEN", "SESSION_SECRET"])
    platforms["vercel"].seed({**common, "SUPPORT_NOTES": c.credential_vercel}, unreadable=["PAYMENT_API_TOKEN"])


def seed_parity(platforms: dict[str, Any], c: Canaries) -> None:
    """Seed every platform with exactly the reference (secret ones unreadable where the platform can)."""
    ref = reference_values(c)
    platforms["render"].seed(ref)
    platforms["netlify"].seed(ref, unreadable=["PAYMENT_API_TOKEN"])
    platforms["github"].seed(ref, unreadable=["PAYMENT_API_TOKEN", "SESSION_SECRET"])
    platforms["vercel"].seed(ref, unreadable=["PAYMENT_API_TOKEN"])


@pytest.fixture
def canary_project(genesis_project: Any, robust: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                   instant_retries: list[float]):
    """Yield ``(project, platforms, canaries, webhook, step_summary)``: the drifted project, ready to run.

    Retry waits are not what this test is about: they return at once (``instant_retries``).
    """
    c = Canaries(robust)
    project = genesis_project
    project.add_local(reference_values(c))
    platforms = {kind: project.add_platform(kind, kind) for kind in KINDS}
    seed_drift(platforms, c)
    webhook = WebhookReceiver()
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    monkeypatch.setenv("ROBUST_WEBHOOK_URL", f"{webhook.base_url}/hooks/{c.webhook_path}")
    monkeypatch.setenv("ROBUST_WEBHOOK_KEY", c.webhook_key)
    monkeypatch.setenv("GENESIS_CASCADE_TOKEN", c.cascade_token)
    project.sections.update({
        "engines.autonomy": {"reference": "local", "overwrite_conflicts": True},
        "engines.steward": {"webhook_url_env": "ROBUST_WEBHOOK_URL", "webhook_secret_env": "ROBUST_WEBHOOK_KEY",
                            "webhook_attempts": 1, "webhook_timeout": 5.0},
        "engines.blueprint": {"required": [LOCAL_ONLY, "APP_NAME"], "min_keys": 3},
        # rules the canaries break, so a check that printed offending values would print them
        "engines.blueprint.keys.SUPPORT_NOTES": {"type": "int"},
        "engines.blueprint.keys.PAYMENT_API_TOKEN": {"type": "int"},
        "engines.blueprint.keys.SESSION_SECRET": {"one_of": ["a", "b"]},
        "engines.blueprint.keys.DATABASE_URL": {"type": "email"},
    })
    project.write_config(timeout=5.0, retries=1)
    try:
        yield project, platforms, c, webhook, step_summary
    finally:
        webhook.close()


def test_no_canary_in_any_output_of_any_command(canary_project: Any, robust: Any, debug_logs: Any,
                                                tmp_path: Path) -> None:
    project, platforms, c, webhook, step_summary = canary_project
    written_files: dict[str, Path] = {}

    # -- drift: sync in every format, in-process and in real processes ------------------------------
    code, out, err = project.run("sync")
    assert code == 1, err
    assert "Drift" in out and "PAYMENT_API_TOKEN" in out
    code, out, err = project.run("sync", "--json")
    assert code == 1, err
    drift = json.loads(out)
    assert drift["has_drift"] is True and drift["missing_in_render"] == [LOCAL_ONLY]
    assert "PAYMENT_API_TOKEN" in drift["conflicts"] and "SUPPORT_NOTES" in drift["conflicts"]
    shown = drift["conflicts"]["PAYMENT_API_TOKEN"]
    assert shown["local"] != shown["render"] and shown["local"].startswith("<secret")
    assert shown["github"] == "<secret>"
    assert drift["conflicts"]["DEBUG"] == {"local": "false", "render": "true", "netlify": "false",
                                           "github": "false", "vercel": "false"}
    code, out, err = project.run("sync", "--format", "markdown")
    assert code == 1, err
    assert "PAYMENT_API_TOKEN" in out
    code, out, err = project.run("sync", "--mask-all", "--json")
    assert code == 1, err
    code, _, err = project.run_process("sync", "--json")
    assert code == 1, err
    code, _, err = project.run_process("sync", "--format", "markdown", debug_logging=True)
    assert code == 1, err
    assert "DEBUG " in err, "the DEBUG wrapper logged nothing"

    drift_events = [e for e in project.history() if e["_genesis_topic"] == "envsync.drift"]
    assert drift_events, "no envsync.drift stored"
    drift_seq = drift_events[-1]["_genesis_seq"]

    # -- events --------------------------------------------------------------------------------------
    for args in (("events", "history", "--json"), ("events", "history", "--cloudevents"),
                 ("events", "history"), ("events", "export", "-"), ("events", "stats", "--json"),
                 ("events", "dead-letters", "--json")):
        code, out, err = project.run(*args)
        assert code == 0, f"{args}: {err}"
    export = tmp_path / "export.jsonl"
    assert project.run("events", "export", str(export))[0] == 0
    written_files["events export file"] = export

    # -- Truth ---------------------------------------------------------------------------------------
    code, out, err = project.run("ledger", "show", "--json")
    assert code == 0, err
    recorded = json.loads(out)
    assert any(entry.get("topic") == "envsync.drift" for entry in recorded), out[:500]
    assert project.run("ledger", "show")[0] == 0
    code, out, err = project.run("ledger", "verify")
    assert code == 0, out + err
    assert project.run("ledger", "verify", "--json")[0] == 0
    code, out, err = project.run("ledger", "prove", str(drift_seq))
    assert code == 0, err
    proof_file = tmp_path / "proof.json"
    assert project.run("ledger", "prove", str(drift_seq), "--output", str(proof_file))[0] == 0
    written_files["ledger proof file"] = proof_file
    assert project.run("ledger", "checkpoint")[0] == 0

    # -- Steward -------------------------------------------------------------------------------------
    for fmt in ("md", "json", "html"):
        code, out, err = project.run("steward", "report", "--format", fmt)
        assert code == 0, err
        assert "PAYMENT_API_TOKEN" in out, f"the {fmt} report does not show the conflict"
        target = tmp_path / f"report.{fmt}"
        assert project.run("steward", "report", "--format", fmt, "--output", str(target))[0] == 0
        written_files[f"steward report file ({fmt})"] = target
    assert step_summary.read_text(encoding="utf-8").strip(), "Steward wrote no step summary"
    assert webhook.received, "Steward sent no webhook"

    # -- Blueprint -----------------------------------------------------------------------------------
    code, out, err = project.run("blueprint", "check", "--json")
    assert code == 1, out + err
    assert "SUPPORT_NOTES" in out and "PAYMENT_API_TOKEN" in out, "the broken rules were not reported"
    code, out, err = project.run("blueprint", "check")
    assert code == 1, out + err
    schema = tmp_path / "learned.schema.toml"
    code, out, err = project.run("blueprint", "init", "--output", str(schema))
    assert code == 0, err
    assert schema.is_file()
    written_files["blueprint init schema"] = schema

    # -- plugins -------------------------------------------------------------------------------------
    code, out, err = project.run("plugins")
    assert code == 0 and "autonomy" in out and "cascade" in out

    # -- Autonomy: plan, JSON plan, then apply -------------------------------------------------------
    code, out, err = project.run("heal")
    assert code == 1, out + err
    code, out, err = project.run("heal", "--json")
    assert code == 1, out + err
    code, _, err = project.run_process("heal", debug_logging=True)
    assert code == 1, err
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert any(p.writes() for p in platforms.values()), "heal --apply wrote nothing"
    assert platforms["render"].emulator.env(robust.SERVICE_ID)["PAYMENT_API_TOKEN"] == c.credential

    # -- parity: a sync that reaches envsync.commit while a Cascade client listens ---------------------
    seed_parity(platforms, c)
    cascade = CascadeHarness(project.state_dir, c.cascade_token)
    try:
        cascade.start()
        code, out, err = project.run("sync")
        assert code == 0, out + err
        commits = [e for e in project.history() if e["_genesis_topic"] == "envsync.commit"]
        assert commits, "no envsync.commit stored"
        commit_seq = commits[-1]["_genesis_seq"]
        update = cascade.wait_for_update(commit_seq)
        assert update["type"] == "config_update"
        cascade.fetch_pages()
        code, out, err = project.run("ledger", "prove", str(commit_seq))
        assert code == 0, err
        assert project.run("ledger", "verify")[0] == 0
        state_while_serving = robust.state_files(project.state_dir)  # WAL still open by the server's bus
    finally:
        cascade.stop()
    assert cascade.frames and json.loads(cascade.frames[0])["type"] == "hello"

    # -- search everything ---------------------------------------------------------------------------
    secrets = {f"canary {name}": value for name, value in c.values().items()}
    secrets.update({f"the {p.kind} token": p.token for p in platforms.values()})
    # The webhook URL does reach the DEBUG logs (httpx logs it): a known bug with its own strict
    # xfail below; every other secret is searched in the logs, and the URL in every other output.
    log_places = {name: text for name, text in project.outputs.items() if "DEBUG-logging" in name}
    log_places["DEBUG logs (in-process)"] = robust.log_text(debug_logs)
    log_secrets = {label: value for label, value in secrets.items() if label != "canary webhook_path"}
    log_leaks = robust.find_leaks(log_secrets, log_places)
    assert not log_leaks, "secret leaked into logs:\n" + "\n".join(log_leaks)
    places: dict[str, Any] = {name: text for name, text in project.outputs.items() if name not in log_places}
    places.update(robust.state_files(project.state_dir))
    places.update({f"{name} (while serving)": data for name, data in state_while_serving.items()})
    places["GITHUB_STEP_SUMMARY"] = step_summary.read_bytes()
    for i, request in enumerate(webhook.received):
        places[f"webhook body {i}"] = request["body"]
        places[f"webhook headers {i}"] = json.dumps(dict(request["headers"].items()))
    for i, frame in enumerate(cascade.frames):
        places[f"WebSocket frame {i}"] = frame
    for i, body in enumerate(cascade.http_bodies):
        places[f"Cascade status page {i}"] = body
    for label, path in written_files.items():
        places[label] = path.read_bytes()
    for path in project.root.rglob("*"):
        if path.is_file() and path.name != ".env":
            places[f"project file {path.relative_to(project.root)}"] = path.read_bytes()
    # Not outputs, so not searched: the .env the test wrote and the webhook URL the report is sent to.
    leaks = robust.find_leaks(secrets, places)
    assert not leaks, "secret leaked:\n" + "\n".join(leaks)
    for request in webhook.received:
        signature = request["headers"].get("X-Genesis-Signature", "")
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature), "the webhook is not signed"


def test_the_steward_webhook_url_never_reaches_the_logs(genesis_project: Any, robust: Any,
                                                        monkeypatch: pytest.MonkeyPatch, debug_logs: Any) -> None:
    hook_secret = "canaryhook" + robust.random(20)
    webhook = WebhookReceiver()
    try:
        genesis_project.add_local({"A": "1", "B": "2"})
        (genesis_project.root / ".env.other").write_text("A=1\n", encoding="utf-8")
        monkeypatch.setenv("ROBUST_WEBHOOK_URL", f"{webhook.base_url}/services/{hook_secret}")
        genesis_project.sections["platforms.other"] = {"kind": "dotenv", "path": ".env.other"}
        genesis_project.sections["engines.steward"] = {"webhook_url_env": "ROBUST_WEBHOOK_URL",
                                                       "webhook_attempts": 1}
        genesis_project.write_config()
        code, _, err = genesis_project.run("sync")
        assert code == 1, err
        assert webhook.received, "Steward sent no webhook"
    finally:
        webhook.close()
    places = {**genesis_project.outputs, "DEBUG logs": robust.log_text(debug_logs)}
    leaks = robust.find_leaks({"the webhook URL's secret path": hook_secret}, places)
    assert not leaks, "; ".join(leaks)


@pytest.mark.parametrize("failure", ["connection_refused", "http_500"])
def test_a_failing_webhook_never_shows_its_url(failure: str, genesis_project: Any, robust: Any,
                                               monkeypatch: pytest.MonkeyPatch, debug_logs: Any) -> None:
    import socket

    hook_secret = "canaryhook" + robust.random(20)
    webhook: Any = None
    if failure == "connection_refused":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    else:
        class Failing(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        webhook = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
        threading.Thread(target=webhook.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        base = f"http://127.0.0.1:{webhook.server_address[1]}"
    try:
        genesis_project.add_local({"A": "1", "B": "2"})
        (genesis_project.root / ".env.other").write_text("A=1\n", encoding="utf-8")
        monkeypatch.setenv("ROBUST_WEBHOOK_URL", f"{base}/services/{hook_secret}?token={hook_secret}")
        genesis_project.sections["platforms.other"] = {"kind": "dotenv", "path": ".env.other"}
        genesis_project.sections["engines.steward"] = {"webhook_url_env": "ROBUST_WEBHOOK_URL",
                                                       "webhook_attempts": 2, "webhook_backoff": 0.01,
                                                       "webhook_timeout": 2.0}
        genesis_project.write_config()
        code, _, err = genesis_project.run("sync")
        assert code == 1, err
        failed = [e for e in genesis_project.history() if e["_genesis_topic"] == "steward.webhook_failed"]
        assert failed, "Steward did not report the failed webhook"
        assert failed[0]["target"].startswith("http://127.0.0.1:")
    finally:
        if webhook is not None:
            webhook.shutdown()
            webhook.server_close()
    places: dict[str, Any] = {**genesis_project.outputs, **robust.state_files(genesis_project.state_dir)}
    if failure == "connection_refused":  # no answer, so httpx logs no request line (see the xfail above)
        places["DEBUG logs"] = robust.log_text(debug_logs)
    leaks = robust.find_leaks({"the webhook URL's secret path": hook_secret}, places)
    assert not leaks, "; ".join(leaks)
