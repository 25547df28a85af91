"""The distribution registers aws-ssm and aws-secrets-manager lazily; init, plugins and doctor know them."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from genesis_aws import plugin
from genesis_aws.secretsmanager import SecretsManagerAdapter
from genesis_aws.ssm import SsmAdapter
from genesis_aws.testing import MotoServer, aws_env, put_json_secret
from genesis_core.api import InstanceConfig, PlatformKind, Table


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "aws"]
    assert [ep.value for ep in found] == ["genesis_aws.plugin"]


def test_hook_registers_two_writable_kinds_without_a_credential_variable() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    assert [(k.name, k.credential_env, k.supports_write) for k in registered] == [
        ("aws-ssm", None, True), ("aws-secrets-manager", None, True)]
    ssm = registered[0].factory(InstanceConfig("ssm", "aws-ssm", Table(
        {"kind": "aws-ssm", "path": "/acme/prod"}, "genesis.toml", "platforms.ssm"), Path(".")))
    sm = registered[1].factory(InstanceConfig("sm", "aws-secrets-manager", Table(
        {"kind": "aws-secrets-manager", "secret_id": "acme/prod/app"}, "genesis.toml", "platforms.sm"), Path(".")))
    assert isinstance(ssm, SsmAdapter) and ssm.describe() == "SSM path /acme/prod/"
    assert isinstance(sm, SecretsManagerAdapter) and sm.describe() == "secret acme/prod/app"


@pytest.mark.parametrize("example", [plugin.SSM_EXAMPLE, plugin.SECRETS_MANAGER_EXAMPLE])
def test_config_examples_are_valid_toml_with_placeholders(example: str) -> None:
    table = tomllib.loads(example)
    assert any("REPLACE_ME" in str(value) for value in table.values())
    uncommented = "\n".join(line.split("#", 1)[0].replace("# ", "") for line in example.splitlines())
    assert tomllib.loads(uncommented)


def test_plugin_module_does_not_import_botocore_or_the_adapters() -> None:
    code = ("import sys, genesis_aws.plugin; print(sorted(m for m in ('botocore', 'genesis_aws.ssm', "
            "'genesis_aws.secretsmanager') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_genesis_plugins_lists_both_kinds(genesis_cli: Any) -> None:
    code, out, _ = genesis_cli("plugins")
    assert code == 0
    [platforms] = [line for line in out.splitlines() if line.startswith("platforms:")]
    assert "aws-secrets-manager" in platforms and "aws-ssm" in platforms


def test_genesis_init_writes_commented_tables(genesis_cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "genesis.toml"
    code, out, _ = genesis_cli("init", "aws-ssm", "aws-secrets-manager:sm", "--output", str(target))
    assert code == 0, out
    config = tomllib.loads(target.read_text())
    assert config["platforms"]["aws_ssm"] == {"kind": "aws-ssm", "path": "/REPLACE_ME/prod/"}
    assert config["platforms"]["sm"] == {"kind": "aws-secrets-manager", "secret_id": "REPLACE_ME/prod/app"}
    assert "# credentials: the AWS SDK's own chain" in target.read_text()


def write_config(tmp_path: Path, moto: MotoServer, secret_id: str = "acme/prod/app") -> Path:
    config = tmp_path / "genesis.toml"
    config.write_text(f"""
[platforms.ssm]
kind = "aws-ssm"
path = "/acme/prod/"
region = "eu-west-1"
endpoint_url = "{moto.url}"

[platforms.sm]
kind = "aws-secrets-manager"
secret_id = "{secret_id}"
region = "eu-west-1"
endpoint_url = "{moto.url}"
""")
    return config


def test_doctor_checks_credentials_and_reads_each_instance(moto: MotoServer, tmp_path: Path, genesis_cli: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    moto.client("ssm").put_parameter(Name="/acme/prod/A", Value="1", Type="String")
    put_json_secret(moto.client("secretsmanager"), "acme/prod/app", json.dumps({"A": "1", "B": "2"}))
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    code, out, _ = genesis_cli("--config", str(write_config(tmp_path, moto)), "doctor")
    assert code == 0, out
    assert ("ok    ssm: AWS credentials from the environment variables AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, region eu-west-1") in out
    assert "ok    ssm: read 1 key(s)" in out
    assert "ok    sm: read 2 key(s)" in out


def test_doctor_reports_missing_credentials_and_a_missing_secret(moto: MotoServer, tmp_path: Path,
                                                                 genesis_cli: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, moto, secret_id="acme/prod/typo")
    code, out, _ = genesis_cli("--config", str(config), "doctor")
    assert code == 2
    assert "FAIL  ssm: no AWS credentials found" in out
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    code, out, _ = genesis_cli("--config", str(config), "doctor")
    assert code == 2
    assert "FAIL  sm: secret 'acme/prod/typo' not found in eu-west-1" in out
    assert "fix: check region, endpoint_url and the identifiers in [platforms.sm]" in out


def test_a_missing_moto_fails_in_ci_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from genesis_aws.testing import start_moto

    monkeypatch.setenv("MOTO_SERVER_BIN", "/nonexistent/moto_server")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        start_moto()
    assert "moto_server not found: pip install 'moto[server]'" in str(failed.value)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        start_moto()


def test_moto_moves_to_another_port_when_its_port_was_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import genesis_aws.testing as testing

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        ports = iter([taken])
        free_port = testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda **kw: next(ports, None) or free_port(**kw))
        server = testing.start_moto()
        try:
            assert server.port != taken
            assert server.client("ssm").describe_parameters()["Parameters"] == []
        finally:
            server.stop()
