"""A heal killed with ``kill -9`` half-way leaves a record of what it wrote (issue 19, item 8).

A real ``genesis heal --apply`` subprocess heals two keys into a Render emulator on 127.0.0.1.
The emulator answers the first write and holds the second until the test has killed the
process (it signals when the second write arrives, so the kill lands between the two writes
without any sleep).  The next ``genesis heal`` must say what the interrupted heal had already
applied; ``genesis heal --apply`` records it as ``autonomy.heal.failed`` (status
``interrupted``) and stops reporting it.  No value is in any output, event or state file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesis_core.testing import Request, Response

FIRST, SECOND = "A_FIRST_KEY", "B_SECOND_KEY"
CANARY = "canary-crash-7f3e9b1d2c-do-not-leak"
SERVICE_ID = "srv-crash0001"
TOKEN = "rnd_crash_test_token"
WRITE_PATH = re.compile(rf"/v1/services/{SERVICE_ID}/env-vars/(\w+)")


def _gated_render() -> object:
    from genesis_render.emulator import RenderEmulator

    class GatedRender(RenderEmulator):
        """Answers the first single-key write; holds the second until ``release``, then drops it."""

        def __init__(self) -> None:
            super().__init__(token=TOKEN)
            self.second_write = threading.Event()
            self.release = threading.Event()
            self.writes: list[str] = []

        def handle(self, request: Request) -> Response | None:
            match = WRITE_PATH.fullmatch(request.path)
            if request.method == "PUT" and match:
                self.writes.append(match.group(1))
                if len(self.writes) == 2:
                    self.second_write.set()
                    self.release.wait(120)
                    return None  # the process that sent it is dead: nothing is written
            return super().handle(request)

    return GatedRender()


@pytest.fixture
def render() -> Iterator[object]:
    emulator = _gated_render()
    emulator.start()  # type: ignore[attr-defined]
    emulator.set_env(SERVICE_ID, {"LOG_LEVEL": "info"})  # type: ignore[attr-defined]
    try:
        yield emulator
    finally:
        emulator.release.set()  # type: ignore[attr-defined]
        emulator.stop()  # type: ignore[attr-defined]


@pytest.fixture
def project(tmp_path: Path, render: object) -> tuple[Path, dict[str, str]]:
    """Return the project directory and the environment of its ``genesis`` subprocesses."""
    root = tmp_path / "app"
    root.mkdir()
    (root / ".env").write_text(f"{FIRST}={CANARY}\n{SECOND}={CANARY}-2\nLOG_LEVEL=info\n", encoding="utf-8")
    (root / "genesis.toml").write_text(f"""\
[platforms.local]
kind = "dotenv"
path = ".env"

[platforms.render]
service_id = "{SERVICE_ID}"
base_url = "{render.base_url}"
retries = 0
timeout = 60

[engines.autonomy]
reference = "local"
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(GENESIS_HOME=str(tmp_path / "state"), GENESIS_ROLE="operator", RENDER_API_KEY=TOKEN)
    return root, env


def genesis(root: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``genesis ARGS`` as a real subprocess in ``root``; return ``(code, stdout, stderr)``."""
    done = subprocess.run([sys.executable, "-m", "genesis_core", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def kill_between_the_two_writes(root: Path, env: dict[str, str], render: object) -> str:
    """Start ``genesis heal --apply``, SIGKILL it once the second write reached Render; return its stderr."""
    stderr = root / "heal-stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "genesis_core", "heal", "--apply"], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            arrived = render.second_write.wait(120)  # type: ignore[attr-defined]
            assert arrived, f"the second write never arrived: {stderr.read_text()[-2000:]}"
            assert proc.poll() is None
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    render.release.set()  # type: ignore[attr-defined]
    return stderr.read_text(errors="replace")


def test_a_heal_killed_half_way_is_reported_by_the_next_heal(project: tuple[Path, dict[str, str]],
                                                             render: object) -> None:
    root, env = project
    killed_err = kill_between_the_two_writes(root, env, render)
    assert render.writes == [FIRST, SECOND]  # type: ignore[attr-defined]
    assert FIRST in render.env(SERVICE_ID) and SECOND not in render.env(SERVICE_ID)  # type: ignore[attr-defined]

    code, history, _ = genesis(root, env, "events", "history", "--topic", "autonomy.heal.write", "--json")
    assert code == 0
    writes = [json.loads(line) for line in history.splitlines()]
    assert [(w["instance"], w["key"], w["action"]) for w in writes] == [("render", FIRST, "create")]
    assert writes[0]["fingerprint"].startswith("<secret fp:")
    heal_id = writes[0]["heal_id"]

    code, out, err = genesis(root, env, "heal")
    assert code == 1, err  # the second key is still to be written
    assert f"Interrupted heal {heal_id} (cli, reference local): already applied before it stopped" in out
    assert re.search(rf"^  render {FIRST} \(create\) at \d{{4}}-\d\d-\d\dT", out, re.M), out
    assert f"+ {SECOND} = " in out and f"+ {FIRST} = " not in out

    code, plan_json, json_err = genesis(root, env, "heal", "--json")
    assert code == 1, json_err
    (interrupted,) = json.loads(plan_json)["interrupted"]
    assert interrupted["heal_id"] == heal_id
    assert [(w["instance"], w["key"], w["action"], w["fingerprint"]) for w in interrupted["writes"]] == [
        ("render", FIRST, "create", writes[0]["fingerprint"])]

    code, applied, applied_err = genesis(root, env, "heal", "--apply")
    assert code == 0, applied + applied_err
    assert "recorded as autonomy.heal.failed (status interrupted)" in applied
    assert "2 of 2 key(s) healed" not in applied and "1 of 1 key(s) healed" in applied
    code, failed, _ = genesis(root, env, "events", "history", "--topic", "autonomy.heal.failed", "--json")
    (closing,) = [json.loads(line) for line in failed.splitlines()]
    assert closing["heal_id"] == heal_id and closing["status"] == "interrupted"
    assert closing["closed_by"] == "genesis heal --apply"
    assert [(r["instance"], r["key"], r["written"]) for r in closing["results"]] == [("render", FIRST, True)]

    code, again, again_err = genesis(root, env, "heal")
    assert code == 0, again_err
    assert "Interrupted heal" not in again

    for output in (killed_err, history, out, err, plan_json, json_err, applied, applied_err, failed, again):
        assert CANARY not in output
    for path in Path(env["GENESIS_HOME"]).rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
