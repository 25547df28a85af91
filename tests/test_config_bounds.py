"""Config values and arguments that used to hang or crash (issue 19, item 6).

Each is now a one-line error naming the file and setting (or the argument), exit 2, before
anything is fetched. Every test runs the real ``genesis`` CLI in a subprocess with a
generous ``timeout``: before the fix, ``retries = 9223372036854775807`` retried for hours.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from genesis_core.errors import PlatformError
from genesis_core.http import Endpoint, RetryPolicy, default_client, request, set_retry_sleep
from genesis_core.platforms.model import FetchContext
from genesis_core.testing.emulator import EmulatorServer, Fault, Response
from genesis_core.testing.example_adapter import ExampleAdapter, ExampleHarness

RENDER = '[platforms.render]\nkind = "render"\nservice_id = "srv-1"\n'
DOTENV = '[platforms.local]\nkind = "dotenv"\npath = ".env"\n'
REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens, every attempt fails at once


def _genesis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RENDER_API_KEY="rnd-test-token")
    return subprocess.run([sys.executable, "-m", "genesis_core", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=20)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "internal error" not in lines[0] and "Traceback" not in proc.stderr
    return lines[0]


def _config(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".env").write_text("A=1\n")
    config = tmp_path / "genesis.toml"
    config.write_text(text)
    return config


@pytest.mark.parametrize(("table", "setting", "bound"), [
    (RENDER + f'base_url = "{REFUSED}"\nretries = 9223372036854775807\n', "platforms.render.retries", "at most 10"),
    (RENDER + f'base_url = "{REFUSED}"\nretries = 11\n', "platforms.render.retries", "at most 10"),
    (RENDER + f'base_url = "{REFUSED}"\ntimeout = 1e300\n', "platforms.render.timeout", "at most 300"),
    (RENDER + f'base_url = "{REFUSED}"\ntimeout = 1{"0" * 400}\n', "platforms.render.timeout", "at most 300"),
    (DOTENV + "[bus]\nbusy_timeout = 1e300\n", "bus.busy_timeout", "at most 3600"),
    (DOTENV + "[bus]\nhandler_timeout = 1e300\n", "bus.handler_timeout", "at most 3600"),
    (DOTENV + "[bus]\nmax_attempts = 9223372036854775807\n", "bus.max_attempts", "at most 100"),
], ids=["huge-retries", "eleven-retries", "huge-timeout", "int-beyond-float", "busy-timeout", "handler-timeout",
        "max-attempts"])
def test_an_out_of_range_number_is_a_config_error_before_any_fetch(tmp_path: Path, table: str, setting: str,
                                                                   bound: str) -> None:
    config = _config(tmp_path, table)
    line = _one_line_error(_genesis(tmp_path, "sync"))
    assert f"{config}: {setting}: must be {bound}" in line, line


TWO = DOTENV + '[platforms.copy]\nkind = "dotenv"\npath = ".env"\n'


@pytest.mark.parametrize(("table", "setting", "message"), [
    (TWO + "[engines.cascade]\npoll_interval = 1e300\n", "engines.cascade.poll_interval", "must be at most 3600"),
    (TWO + "[engines.cascade]\nping_interval = 1e300\n", "engines.cascade.ping_interval", "must be at most 3600"),
    (TWO + "[engines.autonomy]\nwindow_seconds = 1e300\n", "engines.autonomy.window_seconds",
     "must be at most 2592000"),
    (TWO + "[engines.autonomy]\ntimeout = 1e300\n", "engines.autonomy.timeout", "must be at most 3600"),
    (TWO + "[engines.truth]\ntimeout = 1e300\n", "engines.truth.timeout", "must be at most 3600"),
    (TWO + '[engines.steward]\nwebhook_url = "https://hooks.example/x"\nwebhook_timeout = 1e300\n',
     "engines.steward.webhook_timeout", "must be at most 300"),
    (TWO + '[platforms.ssm]\nkind = "aws-ssm"\npath = "/app"\nretries = 9223372036854775807\n',
     "platforms.ssm.retries", "must be at most 10"),
    (TWO + '[platforms.ssm]\nkind = "aws-ssm"\npath = "/app"\nendpoint_url = "http://[::1"\n',
     "platforms.ssm.endpoint_url", "not a valid URL"),
    (TWO + '[platforms.vault]\nkind = "vault"\npath = "app"\naddress = "http://[::1"\n',
     "platforms.vault.address", "not a valid URL"),
], ids=["cascade-poll", "cascade-ping", "autonomy-window", "autonomy-timeout", "truth-timeout", "steward-timeout",
        "aws-retries", "aws-endpoint", "vault-address"])
def test_plugin_settings_out_of_range_are_config_errors(tmp_path: Path, table: str, setting: str,
                                                        message: str) -> None:
    config = _config(tmp_path, table)
    line = _one_line_error(_genesis(tmp_path, "sync"))
    assert f"{config}: {setting}: {message}" in line, line


@pytest.mark.parametrize(("args", "message"), [
    (["events", "history", "--limit", "99999999999999999999999"], "--limit must be from 1 to 1,000,000"),
    (["events", "tail", "--interval", "1e300"], "--interval must be from 0.01 to 60 seconds"),
    (["ledger", "show", "--limit", "99999999999999999999999"], "--limit must be from 1 to 1,000,000"),
])
def test_huge_command_line_numbers_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    _config(tmp_path, TWO)
    assert _genesis(tmp_path, "sync").returncode == 0
    line = _one_line_error(_genesis(tmp_path, *args))
    assert message in line, line


@pytest.mark.parametrize("url", ["http://[::1", "https://[::1]:99999", "http://", "https://exa mple.com"])
def test_a_base_url_httpx_cannot_use_is_a_config_error(tmp_path: Path, url: str) -> None:
    config = _config(tmp_path, RENDER + f'base_url = "{url}"\n')
    line = _one_line_error(_genesis(tmp_path, "sync"))
    assert line.startswith(f"genesis: {config}: platforms.render.base_url: "), line
    assert "adapter failed" not in line


def test_a_deeply_nested_toml_list_is_a_config_error(tmp_path: Path) -> None:
    config = _config(tmp_path, "x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    line = _one_line_error(_genesis(tmp_path, "sync"))
    assert line.startswith(f"genesis: {config}: ") and "nested too deeply" in line, line


def test_a_deeply_nested_pyproject_is_a_config_error(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.genesis]\nx = " + "[" * 10_000 + "]" * 10_000 + "\n")
    line = _one_line_error(_genesis(tmp_path, "--config", str(pyproject), "sync"))
    assert "nested too deeply" in line, line


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "99999"], "--port: expected a port from 1 to 65535 (or 0 for free ports), got 99999"),
    (["--port", "-1"], "--port: expected a port from 1 to 65535 (or 0 for free ports), got -1"),
    (["render", "netlify", "--port", "65535"], "--port 65535: 2 emulators need ports 65535 to 65536"),
    (["--seconds", "nan"], "--seconds: expected 0 to 86400, got nan"),
])
def test_emulate_refuses_a_port_out_of_range(tmp_path: Path, args: list[str], message: str) -> None:
    line = _one_line_error(_genesis(tmp_path, "emulate", "--seconds", "0", *args))
    assert message in line, line


def test_emulate_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(_genesis(tmp_path, "emulate", "render", "--port", str(port), "--seconds", "0"))
    assert f"--port: cannot listen on 127.0.0.1 ports {port} to {port}" in line, line


class _Failing(EmulatorServer):
    """An API whose one route always fails: 503, or 429 with ``Retry-After: 2``."""

    platform = "failing"

    def register_routes(self) -> None:
        self.route("GET", "/x", lambda req, m: Response(200, {}))


@pytest.mark.parametrize("fault", [Fault("status", status=503), Fault("rate_limit", retry_after="2")],
                         ids=["5xx", "429"])
def test_retries_stop_at_the_retry_budget_whatever_the_attempts(fault: Fault) -> None:
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    async def main(base_url: str) -> None:
        async with default_client() as client:
            await request(client, Endpoint("failing"), "GET", f"{base_url}/x", sleep=sleep,
                          retry=RetryPolicy(attempts=1_000_000, backoff_max=2.0, max_retry_seconds=9.0))

    with _Failing(token="t") as server:
        server.inject(fault)
        with pytest.raises(PlatformError) as err:
            asyncio.run(main(server.base_url))
        assert len(server.requests) == len(waits) + 1 <= 10
    assert 0 < sum(waits) <= 9.0
    assert err.value.retryable


class _SlowToRetry(ExampleAdapter):
    """The example adapter with a retry policy whose waits add up fast: 2-4 s each, 10 s in all."""

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=10, backoff_base=4.0, backoff_max=4.0, max_retry_seconds=10.0)


def test_the_retry_budget_holds_for_all_requests_of_one_platform_in_a_run() -> None:
    """Issue 19 item 6: retry time is bounded per platform, not only per request (a paginated
    platform failing page after page must not retry each page for the whole budget)."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    harness = ExampleHarness(_SlowToRetry)
    with harness.emulator as emulator:
        emulator.inject(Fault("status", status=503))
        adapter = harness.make_adapter()

        async def main() -> int:
            ctx = FetchContext(harness.env())
            failures = 0
            try:
                for _ in range(5):  # five requests of one instance in one run, each failing with 503
                    with pytest.raises(PlatformError):
                        await adapter.request(ctx, "GET", "/v1/projects/demo/vars")
                    failures += 1
            finally:
                await ctx.aclose()
            return failures

        previous = set_retry_sleep(sleep)
        try:
            assert asyncio.run(main()) == 5
        finally:
            set_retry_sleep(previous)
        attempts = len(emulator.requests)
    assert 0 < sum(waits) <= 10.0, waits
    assert attempts == 5 + len(waits)  # every retry was paid for from the one budget
    assert len(waits) <= 5  # at 2-4 s a wait, the 10 s budget allows at most five in all
