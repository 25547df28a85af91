"""``genesis serve`` as a user runs it: a real process, a real client, a sync from another process."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
from pathlib import Path
from typing import Any

from cascade_testkit import (
    CANARY,
    DEADLINE,
    cli_env,
    commit_payload,
    genesis_cli,
    http_get,
    publish_in_subprocess,
    recv_json,
    run,
)
from websockets.asyncio.client import connect

TOKEN = "cli-token-CANARY-31c9"
LISTENING = re.compile(r"listening on ws://127\.0\.0\.1:(\d+)/ws")


async def _start_serve(state_dir: Path, *args: str, env: dict[str, str]) -> tuple[Any, int]:
    process = await asyncio.create_subprocess_exec(
        *genesis_cli("serve", "--port", "0", *args), env=env, cwd=state_dir.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(process.stdout.readline(), DEADLINE)
    match = LISTENING.search(line.decode())
    if match is None:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"genesis serve did not start: {line!r} {err[-2000:]!r}")
    return process, int(match.group(1))


def test_genesis_serve_pushes_a_sync_from_another_process_and_stops_cleanly(state_dir: Path) -> None:
    env = {**cli_env(state_dir), "GENESIS_CASCADE_TOKEN": TOKEN}

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], str, int, str]:
        process, port = await _start_serve(state_dir, env=env)
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers) as ws:
                hello = await recv_json(ws)
                await asyncio.to_thread(publish_in_subprocess, state_dir, "envsync.commit",
                                        commit_payload())
                update = await recv_json(ws)
            page = (await http_get(f"http://127.0.0.1:{port}/", headers))[2]
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
        return hello, update, page, process.returncode, (out + err).decode()

    hello, update, page, code, output = run(scenario())
    assert hello == {"type": "hello", "seq": None, "timestamp": None}
    assert update["type"] == "config_update" and isinstance(update["seq"], int)
    assert f"(seq {update['seq']})" in page and 'data-state="parity"' in page
    assert code == 0
    assert "cascade: stopped" in output
    assert "$GENESIS_CASCADE_TOKEN" in output  # says a token is required, by name only
    for secret in (TOKEN, CANARY):
        assert secret not in output and secret not in page and secret not in json.dumps(update)


def test_genesis_serve_reports_a_busy_port_in_one_line(state_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_cli(state_dir, "serve", "--port", str(port))
    assert done[0] == 2
    assert done[2].lower().strip().splitlines() == [
        f"genesis: cannot listen on 127.0.0.1:{port}: address already in use"]


def test_genesis_serve_rejects_a_bad_table_and_a_blank_token(state_dir: Path) -> None:
    config = state_dir.parent / "genesis.toml"
    config.write_text("[engines.cascade]\nprot = 1\n", encoding="utf-8")
    typo = _run_cli(state_dir, "serve")
    config.write_text("", encoding="utf-8")
    blank = _run_cli(state_dir, "serve", extra_env={"GENESIS_CASCADE_TOKEN": " "})
    assert typo[0] == 2 and typo[2].count("\n") == 1
    assert "genesis.toml: engines.cascade.prot: unknown key" in typo[2]
    assert blank[0] == 2 and "$GENESIS_CASCADE_TOKEN is set but empty" in blank[2]
    assert "Traceback" not in typo[2] + blank[2]


def _run_cli(state_dir: Path, *args: str, extra_env: dict[str, str] | None = None
             ) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run(genesis_cli(*args), env={**cli_env(state_dir), **(extra_env or {})},
                          cwd=state_dir.parent, capture_output=True, text=True, timeout=30,
                          check=False)
    return done.returncode, done.stdout, done.stderr
