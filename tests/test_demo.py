"""`genesis demo` runs the whole flow on emulators; `genesis emulate` serves them until stopped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from genesis_core.api import PlatformKind, hookimpl
from genesis_core.testing import EmulatorServer, Response

pytest.importorskip("genesis_autonomy", reason="the demo needs every plugin (pip install -r requirements-all.txt)")


def test_demo_runs_end_to_end_and_leaves_its_state(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENESIS_HOME")
    directory = tmp_path / "demo"
    code, out, err = run_cli("demo", "--dir", str(directory))
    assert code == 0, out[-3000:] + err
    assert "The demo completed: drift found, recorded, reported, healed and verified." in out
    assert "Drift:" in out and "Parity:" in out and "ledger ok" in out
    secrets = [line.split("=", 1)[1].strip("'") for line in (directory / ".env").read_text().splitlines()
               if line.startswith(("STRIPE_SECRET_KEY", "JWT_SECRET", "AWS_SECRET_ACCESS_KEY"))]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in out + err
    # The state stays behind for `genesis events history` and friends.
    code, out, _ = run_cli("--config", str(directory / "genesis.toml"), "events", "history", "--json", "--limit", "100")
    topics = [json.loads(line)["_genesis_topic"] for line in out.splitlines()]
    assert topics.count("envsync.drift") == 1
    assert topics.index("envsync.commit") > topics.index("autonomy.heal.applied") > topics.index("envsync.drift")
    assert "autonomy.heal.applied" in topics and "blueprint.warning" in topics
    assert (directory / ".genesis" / "reports" / "latest.md").exists()


def test_demo_refuses_a_directory_it_did_not_make(run_cli, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    code, _, err = run_cli("demo", "--dir", str(tmp_path))
    assert code == 2 and "was not made by `genesis demo`" in err
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_emulate_serves_until_stopped(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "genesis_core", "emulate", "render", "--seconds", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=dict(os.environ))
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        line = proc.stdout.readline()
        url = re.search(r'base_url = "([^"]+)"', line).group(1)
        token = re.search(r"RENDER_API_KEY=(\S+)", line).group(1)
        request = urllib.request.Request(f"{url}/v1/services/srv-demo0acmeshop0api/env-vars?limit=100",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            items = json.load(response)
        assert any(item["envVar"]["key"] == "APP_NAME" for item in items)
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_emulate_writes_the_env_its_emulators_were_seeded_with(tmp_path: Path) -> None:
    """`--env .env`: the emulated Render service holds exactly the .env's values (secrets included)."""
    from dotenv import dotenv_values

    proc = subprocess.Popen([sys.executable, "-m", "genesis_core", "emulate", "render", "--env", ".env",
                             "--seconds", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        url = re.search(r'base_url = "([^"]+)"', lines[1]).group(1)
        token = re.search(r"RENDER_API_KEY=(\S+)", lines[1]).group(1)
        assert lines[3].startswith("wrote .env: the demo app's 31 variables")
        request = urllib.request.Request(f"{url}/v1/services/srv-demo0acmeshop0api/env-vars?limit=100",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            seeded = {item["envVar"]["key"]: item["envVar"]["value"] for item in json.load(response)}
        proc.terminate()
        out = proc.stdout.read()  # the rest, from the same buffered reader (communicate() would skip its buffer)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    written = dotenv_values(tmp_path / ".env")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert seeded == {k: v for k, v in written.items() if k != "FEATURE_RECOMMENDATIONS"}  # Render's drift
    assert written["STRIPE_SECRET_KEY"].startswith("sk_live_")
    assert written["STRIPE_SECRET_KEY"] not in "".join(lines) + out  # written to the file, never printed
    assert "[platforms.render]" in out and "[platforms.netlify]" not in out


def test_emulate_env_replaces_only_a_file_it_wrote(tmp_path: Path, run_cli) -> None:
    mine = tmp_path / ".env"
    mine.write_text("REAL_SECRET=keep-me\n")
    code, out, err = run_cli("emulate", "render", "--env", str(mine), "--seconds", "0")
    assert code == 2 and out == ""
    assert "the file exists and was not written by Genesis' demo" in err and len(err.splitlines()) == 1
    assert mine.read_text() == "REAL_SECRET=keep-me\n"
    ours = tmp_path / "demo.env"
    for _ in range(2):  # the second run replaces what the first wrote
        code, out, _ = run_cli("emulate", "render", "--env", str(ours), "--seconds", "0")
        assert code == 0 and f"wrote {ours}" in out
    assert ours.read_text().startswith("# acme-shop: the reference environment (Genesis demo)\n")


def test_the_follow_up_commands_the_demo_prints_work_where_it_ran(tmp_path: Path) -> None:
    """With GENESIS_HOME set, every command printed after "Explore what it left behind" still
    finds the demo's state when run in the same environment (issue 19, item 10)."""
    elsewhere = tmp_path / "my-genesis-home"
    env = dict(os.environ, GENESIS_HOME=str(elsewhere), GENESIS_CACHE_DIR=str(tmp_path / "cache"))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    demo = subprocess.run([sys.executable, "-m", "genesis_core", "demo", "--dir", str(tmp_path / "the demo")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr
    lines = demo.stdout.splitlines()
    follow_ups = [line.strip() for line in lines[lines.index(next(
        line for line in lines if line.startswith("Explore what it left behind"))) + 1:]]
    assert len(follow_ups) == 5 and all(" genesis --config " in f" {line}" for line in follow_ups)
    outputs = {}
    for line in follow_ups:
        done = subprocess.run(line, shell=True, env=env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}{done.stderr}"
        outputs[line.rsplit("genesis.toml", 1)[1].strip(" '\"")] = done.stdout
    assert "ledger ok" in outputs["ledger verify"]
    assert "envsync.drift" in outputs["events history"]
    assert not elsewhere.exists()  # the follow-ups did not start a second, empty state dir



class ThirdPartyEmulator(EmulatorServer):
    """A third party's emulator; remembers each start and the answer it gave a request to itself."""

    platform = "acme-cloud"
    started: ClassVar[list[tuple[str, int]]] = []  # (token, status)

    def register_routes(self) -> None:
        self.route("GET", "/ping", lambda req, m: Response(200, {"pong": True}))

    def start(self) -> ThirdPartyEmulator:
        super().start()
        ping = urllib.request.Request(f"{self.base_url}/ping", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(ping, timeout=10) as answer:
            self.started.append((self.token, answer.status))
        return self


class AcmePlugin:
    """A third-party plugin: the ``acme-cloud`` kind, with an emulator for `genesis emulate`."""

    @staticmethod
    @hookimpl
    def genesis_register_platforms(register: Callable[[PlatformKind], None]) -> None:
        from genesis_core.platforms.dotenv import DotenvAdapter  # any adapter: only the emulator is used

        register(PlatformKind("acme-cloud", DotenvAdapter, credential_env="ACME_TOKEN",
                              emulator=f"{__name__}:ThirdPartyEmulator"))


def test_emulate_starts_a_third_party_kinds_emulator(run_cli, fresh_plugin_host: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import genesis_core.plugins

    host = genesis_core.plugins.build_plugin_host(plugins=(("acme", AcmePlugin),))
    monkeypatch.setattr(genesis_core.plugins, "get_plugin_host", lambda: host)
    ThirdPartyEmulator.started.clear()
    code, out, err = run_cli("emulate", "acme-cloud", "--seconds", "0")
    assert code == 0, err
    [(token, status)] = ThirdPartyEmulator.started
    assert status == 200 and token.startswith("demo-acme-cloud-")
    assert re.search(rf'  acme-cloud base_url = "http://127\.0\.0\.1:\d+"   export ACME_TOKEN={token}\n', out), out
    assert re.search(r'\[platforms\.acme-cloud\]\nbase_url = "http://127\.0\.0\.1:\d+"\n', out), out
    code, _, err = run_cli("emulate", "acme-cloud", "dokku")
    assert code == 2 and "no emulator for dokku (choose from render, netlify, github, heroku, fly, railway, " \
                          "acme-cloud)" in err, err


@pytest.mark.parametrize(("path", "expected"), [
    ("genesis_acme_missing.emulator:AcmeEmulator", "cannot be loaded (ModuleNotFoundError: No module named "
                                                   "'genesis_acme_missing')"),
    ("genesis_core.testing.emulator:Nothing", "cannot be loaded (AttributeError: "),
    ("genesis_core.testing.emulator:Request", "is not an EmulatorServer subclass"),
])
def test_an_emulator_that_cannot_be_loaded_is_one_line(run_cli, fresh_plugin_host: None, path: str, expected: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import genesis_core.plugins
    from genesis_core.platforms.dotenv import DotenvAdapter

    class Broken:
        @staticmethod
        @hookimpl
        def genesis_register_platforms(register: Callable[[PlatformKind], None]) -> None:
            register(PlatformKind("acme-cloud", DotenvAdapter, emulator=path))

    host = genesis_core.plugins.build_plugin_host(plugins=(("acme", Broken),))
    monkeypatch.setattr(genesis_core.plugins, "get_plugin_host", lambda: host)
    code, out, err = run_cli("emulate", "acme-cloud", "--seconds", "0")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"genesis: the acme-cloud emulator {path!r} ") and expected in err, err
