"""``genesis_bus`` used without ``configure_bus`` is the bus ``genesis`` builds (issue 19, item 9).

Each test runs the seed's own API (``await genesis_bus.publish(...)``) in a child Python
process inside a throw-away project, then looks at where the event went.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from genesis_core.bus import genesis_bus
    from genesis_core.errors import GenesisError

    async def main():
        result = await genesis_bus.publish("envsync.init", {"source": "render"})
        names = sorted(s.name for s in genesis_bus.subscribers())
        print(json.dumps({"status": result.status, "subscribers": names}))

    try:
        asyncio.run(main())
    except GenesisError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
""")

PROBE_ENGINE = """
import os
from genesis_core import hookimpl
from genesis_core.engines import Engine, Subscription

def _seen(event):
    with open(os.environ["PROBE_OUT"], "a") as out:
        out.write(event["_genesis_topic"] + "\\n")

@hookimpl
def genesis_register_engines(register):
    register(Engine("probe", lambda ctx: [Subscription(("envsync.*",), _seen, "seen")]))
"""


def _env(tmp_path: Path, **changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GENESIS_HOME", "GENESIS_CONFIG", "GENESIS_ROLE", "GENESIS_DISABLE_PLUGINS")}
    env["GENESIS_CACHE_DIR"] = str(tmp_path / "cache")
    env.update(changes)
    return env


def _publish(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _history(cwd: Path, env: dict[str, str]) -> list[str]:
    """Return the topics ``genesis events history`` shows in ``cwd`` (the CLI's view of the store)."""
    done = subprocess.run([sys.executable, "-m", "genesis_core", "events", "history", "--json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["_genesis_topic"] for line in done.stdout.splitlines()]


def _project(directory: Path, toml: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "genesis.toml").write_text(textwrap.dedent(toml))
    return directory


def test_the_process_bus_follows_the_projects_genesis_toml_and_starts_its_engines(
        tmp_path: Path, fake_dist) -> None:
    site = fake_dist("genesis-probe", {"probe": "probe_mod"}, {"probe_mod": PROBE_ENGINE})
    project = _project(tmp_path / "project", """
        [bus]
        state_dir = "custom-state"
    """)
    env = _env(tmp_path, PYTHONPATH=str(site), PROBE_OUT=str(tmp_path / "probe.txt"))
    done = _publish(project, env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "delivered"
    assert "probe:seen" in result["subscribers"]  # the installed plugins' engines, as `genesis` starts them
    assert (tmp_path / "probe.txt").read_text() == "envsync.init\n"
    assert (project / "custom-state" / "events.db").is_file()
    assert not (project / ".genesis").exists()  # not the embedded default
    assert _history(project, env) == ["envsync.init"]  # the CLI reads the same store


def test_genesis_config_names_the_configuration(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", """
        [bus]
        state_dir = "shared-state"
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(tmp_path, GENESIS_CONFIG=str(project / "genesis.toml"))
    done = _publish(elsewhere, env)
    assert done.returncode == 0, done.stderr
    assert (project / "shared-state" / "events.db").is_file()
    assert not (elsewhere / ".genesis").exists()
    assert _history(elsewhere, env) == ["envsync.init"]  # the CLI honours GENESIS_CONFIG too


def test_without_a_configuration_the_default_bus_is_unchanged(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _publish(empty, _env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "delivered", "subscribers": []}
    assert (empty / ".genesis" / "events.db").is_file()
    home = tmp_path / "home"
    done = _publish(empty, _env(tmp_path, GENESIS_HOME=str(home)))
    assert done.returncode == 0, done.stderr
    assert (home / "events.db").is_file()


@pytest.mark.parametrize("toml, expected", [
    ('[bus]\ntransport = "carrier-pigeon"\n', "bus.transport: unknown transport 'carrier-pigeon'"),
    ("[bus\n", "genesis.toml"),
])
def test_a_broken_configuration_is_an_error_not_a_fallback(tmp_path: Path, toml: str, expected: str) -> None:
    project = _project(tmp_path / "project", toml)
    done = _publish(project, _env(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("ConfigError: ") and expected in line and str(project / "genesis.toml") in line
    assert not (project / ".genesis").exists()


def test_a_missing_genesis_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "genesis.toml"
    done = _publish(tmp_path, _env(tmp_path, GENESIS_CONFIG=str(missing)))
    assert done.returncode == 2
    assert done.stderr.strip() == f"ConfigError: {missing}: file not found (named by GENESIS_CONFIG)"
    assert not (tmp_path / ".genesis").exists()


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """Start a real ``nats-server -js`` on 127.0.0.1 (as the genesis-envsync-nats tests do)."""
    pytest.importorskip("genesis_nats", reason="needs genesis-envsync-nats installed")
    binary = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.access(binary, os.X_OK):
        pytest.skip("nats-server binary not found (install nats-server or set NATS_SERVER_BIN)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "nats.log").open("wb")
    server = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "nats")],
                              stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while "Server is ready" not in (tmp_path / "nats.log").read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def test_a_project_on_nats_publishes_to_nats(tmp_path: Path, nats_url: str) -> None:
    project = _project(tmp_path / "project", f"""
        [bus]
        transport = "nats"
        url = "{nats_url}"
        connect_timeout = 5
    """)
    env = _env(tmp_path)
    done = _publish(project, env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "delivered"
    assert not (project / ".genesis" / "events.db").exists()  # no embedded store on the side
    assert _history(project, env) == ["envsync.init"]  # `genesis` reads it back from the stream


def test_the_cli_reads_genesis_config_below_the_config_option(tmp_path: Path, run_cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESIS_CONFIG", str(tmp_path / "gone.toml"))
    code, out, err = run_cli("events", "stats", "--json")
    assert (code, out) == (2, "")
    assert err == f"genesis: {tmp_path / 'gone.toml'}: file not found (named by GENESIS_CONFIG)\n"
    project = _project(tmp_path / "project", "[bus]\ntransport = \"memory\"\n")
    code, out, err = run_cli("--config", str(project / "genesis.toml"), "events", "stats", "--json")
    assert (code, json.loads(out), err) == (0, {}, "")  # --config wins


EAGER_ENGINE = """
from genesis_core import hookimpl
from genesis_core.bus import genesis_bus
from genesis_core.engines import Engine

def _subscriptions(ctx):
    genesis_bus.get_event_history(limit=1)  # should use ctx.bus
    return []

@hookimpl
def genesis_register_engines(register):
    register(Engine("eager", _subscriptions))
"""


def test_an_engine_using_genesis_bus_while_it_is_built_gets_an_error_not_a_recursion(
        tmp_path: Path, fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    from genesis_core.bus import current_bus, genesis_bus, reset_bus
    from genesis_core.errors import BusError

    fake_dist("genesis-eager", {"eager": "eager_mod"}, {"eager_mod": EAGER_ENGINE})
    monkeypatch.chdir(_project(tmp_path / "project", ""))
    reset_bus()
    try:
        with pytest.raises(BusError, match="while the process bus was being built"):
            genesis_bus.get_event_history(limit=1)
        assert current_bus() is None
    finally:
        reset_bus()
