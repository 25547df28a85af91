"""Fault injection: every emulated platform failing in every way a real API does.

Each case runs a real ``genesis sync`` (in-process, all installed plugins and
engines loaded) against a local ``.env`` and one emulated platform that
misbehaves, and checks the promises of the core issue: exit 2, the platform
instance named on stderr and in an ``envsync.error`` event, no drift or commit
published, no write request sent to the platform, and neither the token nor a
secret value seeded on the platform anywhere in the output, the event store,
the other state files or the DEBUG logs.

Retry waits are recorded instead of slept (the testing kit's ``instant_retries``
fixture, through ``genesis_core.http.set_retry_sleep``), so the suite stays fast
and can check that a ``Retry-After`` was honoured.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from typing import Any

import attrs
import pytest

KINDS = ("render", "netlify", "github", "vercel")
PAGINATED = frozenset({"render", "github", "vercel"})  # Netlify's getEnvVars has no pagination
FAULTS = (
    "timeout", "connection_refused", "connection_reset", "http_500", "html_502", "http_401", "http_403",
    "http_404", "429_retry_after", "429_no_retry_after", "malformed_json", "wrong_shape",
    "endless_repeating_cursor", "endless_advancing_cursor", "huge_50mb", "huge_50mb_unannounced",
    "rejected_token", "missing_token", "redirect_to_other_host",
)
CASES = [(kind, fault) for kind in KINDS for fault in FAULTS
         if kind in PAGINATED or not fault.startswith("endless")]

#: What the error message must say for each fault (the fault reached the intended code path).
EXPECTED_REASON = {
    "timeout": r"timed out",
    "connection_refused": r"could not connect|connection refused",
    "connection_reset": r"network error|disconnect|connection|closed",
    "http_500": r"HTTP 500",
    "html_502": r"HTTP 502",
    "http_401": r"HTTP 401",
    "http_403": r"HTTP 403",
    "http_404": r"HTTP 404",
    "429_retry_after": r"rate limit|HTTP 429",
    "429_no_retry_after": r"rate limit|HTTP 429",
    "malformed_json": r"malformed JSON",
    "wrong_shape": r"shape",
    "endless_repeating_cursor": r"paginat|paging|twice|repeat|loop",
    "endless_advancing_cursor": r"paginat|paging|did not end",
    "huge_50mb": r"too large",
    "huge_50mb_unannounced": r"too large",
    "rejected_token": r"HTTP 40[13]",  # Vercel answers a bad token with 403
    "missing_token": r"no credentials",
    "redirect_to_other_host": r"HTTP 30[1-8]|redirect",
}
#: Faults a read retries (network errors, 5xx, 429): ``retries + 1`` attempts; every other fault: one.
RETRIED = frozenset({"timeout", "connection_reset", "http_500", "html_502", "429_retry_after",
                     "429_no_retry_after"})
RETRIES = 1
RETRY_AFTER_SECONDS = "7"
TIMEOUT_SECONDS = 0.5  # the platform table's timeout; the emulator holds its answer longer
LOADED_MACHINE_TIMEOUT_SECONDS = 20.0  # the timeout for faults that are not about timing out
RENDER_ENDLESS_PAGES = 40  # Render's own cap is 10,000 pages (about 12 s here): lowered for the suite
INSTANCE = {"render": "render_web", "netlify": "netlify_site", "github": "gh_actions", "vercel": "vercel_app"}


# -- emulators with a pagination that never ends -----------------------------------------------------

def endless_emulator(kind: str, mode: str, robust: Any) -> Any:
    """Return an emulator of ``kind`` whose env-var listing never ends (``repeat`` or ``advance``)."""
    from genesis_core.testing.emulator import Response

    base = robust.emulator_class(kind)
    if kind == "github":
        emulator = base()
        emulator.endless_links = "same" if mode == "repeat" else "advance"
        return emulator
    counter = itertools.count(1)
    if kind == "render":
        class EndlessRender(base):  # type: ignore[misc, valid-type]
            """Render whose cursor chain never reaches the empty page."""

            def _list_service(self, request: Any, match: Any) -> Any:
                if mode == "repeat":  # ignore the cursor: the same first page, the same cursors, forever
                    request = attrs.evolve(request, query={k: v for k, v in request.query.items()
                                                           if k != "cursor"})
                    return super()._list_service(request, match)
                n = next(counter)
                return Response(200, [{"envVar": {"key": f"ENDLESS_{n}", "value": "x"}, "cursor": f"cur{n}"}])

        return EndlessRender()
    if kind == "vercel":
        if mode == "repeat":
            emulator = base()
            emulator.endless_pagination = "same"
            return emulator

        class EndlessVercel(base):  # type: ignore[misc, valid-type]
            """Vercel whose ``pagination.next`` always points to one more, older page."""

            def _list(self, request: Any, match: Any, proj: Any) -> Any:
                n = next(counter)
                entry = {"id": f"env_endless_{n:08d}", "key": f"ENDLESS_{n}", "type": "encrypted",
                         "target": ["production"], "value": "x", "decrypted": True,
                         "createdAt": 10**12 - n, "updatedAt": 10**12 - n}
                return Response(200, {"envs": [entry],
                                      "pagination": {"count": 1, "next": 10**12 - n - 1, "prev": 10**12 - n}})

        return EndlessVercel()
    raise AssertionError(kind)


class UnannouncedHugeServer:
    """A raw HTTP server answering 200 with 50 MB of JSON and no Content-Length (close-delimited)."""

    SIZE = 50 * 1024 * 1024

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.request_lines: list[str] = []
        self.bytes_sent = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            self.request_lines.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                             b'{"pad": "')
                block = b"x" * (1024 * 1024)
                for _ in range(self.SIZE // len(block)):
                    conn.sendall(block)
                    self.bytes_sent += len(block)
                conn.sendall(b'"}')
            except OSError:  # the client stopped reading: what a size limit does
                pass

    def close(self) -> None:
        self.sock.close()


class RedirectingServer:
    """Answers every GET with a 302 to a second server (another origin) that records what reaches it."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.captured: list[dict[str, str]] = []
        captured = self.captured

        class Capture(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                captured.append({"path": self.path, **dict(self.headers)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"[]")

        self.capture = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
        other = f"http://localhost:{self.capture.server_address[1]}"

        class Redirect(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", other + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.redirect = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        for server in (self.capture, self.redirect):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.redirect.server_address[1]}"

    def close(self) -> None:
        for server in (self.capture, self.redirect):
            server.shutdown()
            server.server_close()


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture
def waits(instant_retries: list[float]) -> list[float]:
    """Record every retry/rate-limit wait of ``genesis_core.http.request`` instead of sleeping."""
    return instant_retries


@attrs.define
class Setup:
    """A project with a local ``.env`` and one emulated platform, in parity until a fault is injected."""

    project: Any
    platform: Any
    canary: str
    local_text: str
    extra_server: Any = None
    wrong_token: str | None = None


def make_setup(genesis_project: Any, robust: Any, kind: str, emulator: Any = None) -> Setup:
    """Return the local ``.env`` and the ``kind`` platform holding the same four variables, a canary among them."""
    canary = "sk_live_" + robust.random(28)
    values = {"APP_NAME": "robust", "PAYMENT_API_TOKEN": canary, "SUPPORT_NOTES": canary, "DEBUG": "false"}
    local_path = genesis_project.add_local(values)
    platform = genesis_project.add_platform(kind, INSTANCE[kind], emulator)
    platform.seed(values)
    return Setup(genesis_project, platform, canary, local_path.read_text(encoding="utf-8"))


def inject(setup: Setup, fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the platform fail with ``fault`` on every request."""
    from genesis_core.testing.emulator import Fault

    emulator = setup.platform.emulator
    simple = {
        "timeout": Fault("timeout", delay=TIMEOUT_SECONDS * 3),
        "connection_reset": Fault("reset"),
        "http_500": Fault("status", status=500),
        "html_502": Fault("html502"),
        "http_401": Fault("status", status=401),
        "http_403": Fault("status", status=403),
        "http_404": Fault("status", status=404),
        "429_retry_after": Fault("rate_limit", status=429, retry_after=RETRY_AFTER_SECONDS),
        "429_no_retry_after": Fault("rate_limit", status=429),
        "malformed_json": Fault("malformed_json"),
        "wrong_shape": Fault("wrong_shape"),
        "huge_50mb": Fault("huge"),
    }
    if fault in simple:
        emulator.inject(simple[fault])
    elif fault == "rejected_token":
        setup.wrong_token = setup.platform.token[:4] + "WRONG" + setup.platform.token[9:]
        monkeypatch.setenv(setup.platform.token_env, setup.wrong_token)
    elif fault == "missing_token":
        monkeypatch.delenv(setup.platform.token_env)
    elif fault == "connection_refused":
        setup.platform.base_url_override = f"http://127.0.0.1:{closed_port()}"
    elif fault in ("huge_50mb_unannounced", "redirect_to_other_host"):
        server = UnannouncedHugeServer() if fault == "huge_50mb_unannounced" else RedirectingServer()
        setup.extra_server = server
        setup.platform.base_url_override = server.base_url
    elif fault == "endless_advancing_cursor" and setup.platform.kind == "render":
        import genesis_render.adapter

        monkeypatch.setattr(genesis_render.adapter, "MAX_PAGES", RENDER_ENDLESS_PAGES)
    elif not fault.startswith("endless"):
        raise AssertionError(fault)


def secrets_of(setup: Setup) -> dict[str, str]:
    """Return ``{label: value}`` of everything in ``setup`` that must never be shown."""
    found = {"the platform token": setup.platform.token, "the canary value": setup.canary}
    if setup.wrong_token:
        found["the rejected token"] = setup.wrong_token
    return found


def assert_no_leaks(setup: Setup, robust: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Fail naming every place (output, state file, DEBUG log) that holds a secret of ``setup``."""
    places: dict[str, Any] = dict(setup.project.outputs)
    places.update(robust.state_files(setup.project.state_dir))
    places["DEBUG logs"] = robust.log_text(caplog)
    leaks = robust.find_leaks(secrets_of(setup), places)
    assert not leaks, "secret leaked: " + "; ".join(leaks)


# -- the baseline: each setup is healthy without a fault -------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_without_a_fault_the_setup_syncs_to_parity(kind: str, genesis_project: Any, robust: Any,
                                                   waits: list[float], debug_logs: Any) -> None:
    setup = make_setup(genesis_project, robust, kind)
    genesis_project.write_config(timeout=TIMEOUT_SECONDS, retries=RETRIES)
    code, out, err = genesis_project.run("sync", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["has_drift"] is False
    assert payload["platforms"][setup.platform.name]["keys"] == 4
    assert genesis_project.topics()[-1] == "envsync.commit"
    assert setup.platform.writes() == []
    assert_no_leaks(setup, robust, debug_logs)


# -- every fault on every platform ------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "fault"), CASES, ids=[f"{k}-{f}" for k, f in CASES])
def test_a_failing_platform_stops_the_sync_with_exit_2_and_leaks_nothing(
        kind: str, fault: str, genesis_project: Any, robust: Any, waits: list[float],
        debug_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = None
    if fault.startswith("endless"):
        emulator = endless_emulator(kind, "repeat" if "repeating" in fault else "advance", robust)
    setup = make_setup(genesis_project, robust, kind, emulator)
    inject(setup, fault, monkeypatch)
    # Only the timeout fault needs the short timeout; every other fault answers (or fails) at
    # once, and a tight timeout there would make the case depend on the machine's load (a 50 MB
    # answer on a busy machine can take longer than 0.5 s to start).
    timeout = TIMEOUT_SECONDS if fault == "timeout" else LOADED_MACHINE_TIMEOUT_SECONDS
    genesis_project.write_config(timeout=timeout, retries=RETRIES)
    name = setup.platform.name
    try:
        code, out, err = genesis_project.run("sync", "--json")
    finally:
        if setup.extra_server is not None:
            setup.extra_server.close()

    assert code == 2, f"exit {code}, stderr: {err}"
    assert "Traceback" not in out + err
    payload = json.loads(out)
    assert payload["type"] == "sync_error"
    assert payload["failed"] == [name]
    reason = payload["errors"][name]
    assert re.search(EXPECTED_REASON[fault], reason, re.IGNORECASE), reason
    assert payload["platforms"]["local"]["status"] == "ok"
    assert "missing_in_" + name not in payload and "conflicts" not in payload, "no drift may be reported"
    error_lines = [line for line in err.splitlines() if line.startswith(f"genesis: {name}: ")]
    assert error_lines, f"stderr does not name the instance {name}: {err!r}"
    assert "<html" not in err.lower() and "<html" not in reason.lower()
    if fault in ("http_401", "rejected_token", "missing_token"):
        assert setup.platform.token_env in reason, "the error must say which credential to check"
    if fault == "429_retry_after":
        assert float(RETRY_AFTER_SECONDS) in waits, f"Retry-After was not honoured (waits: {waits})"

    events = genesis_project.history()
    topics = [e["_genesis_topic"] for e in events]
    assert topics.count("envsync.error") == 1, topics
    assert not {"envsync.drift", "envsync.commit"} & set(topics), topics
    assert not [t for t in topics if t.startswith("autonomy.heal")], topics
    error = next(e for e in events if e["_genesis_topic"] == "envsync.error")
    assert error["failed"] == [name] and name in error["errors"]

    assert setup.platform.writes() == [], "a failed read must stop every write"
    assert all(r.method == "GET" for r in setup.platform.requests())
    attempts = len(setup.platform.requests())
    if fault in ("connection_refused", "missing_token"):
        assert attempts == 0
    elif fault == "huge_50mb_unannounced":
        assert attempts == 0
        lines = setup.extra_server.request_lines
        assert len(lines) == 1 and lines[0].startswith("GET "), lines
        assert setup.extra_server.bytes_sent < UnannouncedHugeServer.SIZE, "the whole 50 MB body was read"
    elif fault == "redirect_to_other_host":
        assert attempts == 0
        assert setup.extra_server.captured == [], "a redirect to another origin was followed (with the token)"
    elif fault == "endless_advancing_cursor" and kind == "render":
        assert attempts == RENDER_ENDLESS_PAGES
    elif fault in RETRIED:
        assert attempts == RETRIES + 1, f"{fault}: {attempts} requests, expected {RETRIES + 1} (bounded retries)"
    elif not fault.startswith("endless"):
        assert attempts == 1, f"{fault} must not be retried ({attempts} requests)"
    assert (genesis_project.root / ".env").read_text(encoding="utf-8") == setup.local_text
    assert_no_leaks(setup, robust, debug_logs)


# -- the same through a real process, in the table and Markdown formats -------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_real_genesis_process_reports_the_failed_platform_in_every_format_even_logging_at_debug(
        kind: str, genesis_project: Any, robust: Any) -> None:
    setup = make_setup(genesis_project, robust, kind)
    from genesis_core.testing.emulator import Fault

    setup.platform.emulator.inject(Fault("html502"))
    genesis_project.write_config(timeout=TIMEOUT_SECONDS, retries=0)
    name = setup.platform.name
    for fmt, debug in (("table", False), ("markdown", False), ("json", True)):
        code, out, err = genesis_project.run_process("sync", "--format", fmt, debug_logging=debug)
        assert code == 2, err
        assert f"genesis: {name}: server error (HTTP 502)" in err
        assert "Traceback" not in out + err and "<html" not in (out + err).lower()
        assert name in out, f"the {fmt} output does not show the failed instance"
    assert setup.platform.writes() == []
    places = {**genesis_project.outputs, **robust.state_files(genesis_project.state_dir)}
    leaks = robust.find_leaks(secrets_of(setup), places)
    assert not leaks, "secret leaked: " + "; ".join(leaks)


# -- one broken platform among healthy ones, with automatic healing armed ------------------------------------

def armed_project(genesis_project: Any, robust: Any) -> tuple[list[Any], str]:
    """Four platforms lacking a key the local ``.env`` has, and Autonomy set to heal drift on its own."""
    canary = "sk_live_" + robust.random(28)
    values = {"APP_NAME": "robust", "PAYMENT_API_TOKEN": canary}
    genesis_project.add_local({**values, "ONLY_LOCAL": "1"})  # drift: the others lack ONLY_LOCAL
    platforms = [genesis_project.add_platform(kind, INSTANCE[kind]) for kind in KINDS]
    for platform in platforms:
        platform.seed(values)
    genesis_project.sections["engines.autonomy"] = {"reference": "local", "auto_heal": True,
                                                    "overwrite_conflicts": True}
    genesis_project.sections["guardian.roles.engine"] = {"allow": [">"]}  # let the engine apply heals
    genesis_project.write_config(timeout=TIMEOUT_SECONDS, retries=RETRIES)
    return platforms, canary


def test_control_without_a_fault_the_armed_project_heals_every_platform(
        genesis_project: Any, robust: Any, waits: list[float]) -> None:
    platforms, _ = armed_project(genesis_project, robust)
    code, _, err = genesis_project.run("sync")
    assert code == 1, err
    assert "autonomy.heal.applied" in genesis_project.topics()
    for platform in platforms:
        assert platform.writes(), f"{platform.name} was not healed: the armed setup would not prove anything"


def test_one_failing_platform_among_four_stops_every_write_and_names_only_itself(
        genesis_project: Any, robust: Any, waits: list[float], debug_logs: Any) -> None:
    from genesis_core.testing.emulator import Fault

    platforms, canary = armed_project(genesis_project, robust)
    broken = platforms[2]
    broken.emulator.inject(Fault("status", status=503))

    code, out, err = genesis_project.run("sync", "--json")

    assert code == 2, err
    payload = json.loads(out)
    assert payload["failed"] == [broken.name]
    assert [line.split(":")[1].strip() for line in err.splitlines() if line.startswith("genesis: ")] \
        == [broken.name]
    assert all(payload["platforms"][p.name]["status"] == "ok" for p in platforms if p is not broken)
    topics = genesis_project.topics()
    assert "envsync.error" in topics and "envsync.drift" not in topics
    assert not [t for t in topics if t.startswith("autonomy.heal")], topics
    for platform in platforms:
        assert platform.writes() == [], f"{platform.name} was written although {broken.name} failed"
    places = {**genesis_project.outputs, **robust.state_files(genesis_project.state_dir),
              "DEBUG logs": robust.log_text(debug_logs)}
    secrets = {"the canary value": canary, **{f"the {p.kind} token": p.token for p in platforms}}
    leaks = robust.find_leaks(secrets, places)
    assert not leaks, "secret leaked: " + "; ".join(leaks)
