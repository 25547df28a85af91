"""End to end against real servers: ``.env`` + SSM + Secrets Manager (moto) + Vault (OpenBao).

``genesis sync`` reports the exact drift, ``genesis heal --apply`` converges it with
one write per key (checked on the servers: other parameters untouched, the
SecureString type and KMS key kept, Vault's version history kept), and the next
sync finds parity.  Every request goes through a recording proxy, so the writes
are counted where they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genesis_core.testing.proxy import FaultProxy

CANARY = "sk_live_e2e_canary_4b7d0c19aa"
LOCAL = {
    "DATABASE_URL": "postgres://app@prod-db:5432/app",
    "API_KEY": CANARY,
    "LOG_LEVEL": "info",
    "FEATURE_X": "on",
}


class Servers:
    """moto and OpenBao, each behind a recording proxy, seeded with drifted copies of LOCAL."""

    def __init__(self) -> None:
        from genesis_aws.testing import AwsFaultProxy, start_moto
        from genesis_vault.testing import start_bao

        self.moto = start_moto()
        try:
            self.bao = start_bao()
        except BaseException:
            self.moto.stop()
            raise
        self.aws_proxy = AwsFaultProxy(self.moto.url).start()
        self.vault_proxy = FaultProxy(self.bao.url).start()
        self.ssm = self.moto.client("ssm")
        self.sm = self.moto.client("secretsmanager")

    def stop(self) -> None:
        self.aws_proxy.stop()
        self.vault_proxy.stop()
        self.moto.stop()
        self.bao.stop()

    def seed(self) -> None:
        from genesis_aws.testing import put_json_secret

        self.ssm.put_parameter(Name="/acme/prod/DATABASE_URL", Value="postgres://app@old-db:5432/app",
                               Type="SecureString", KeyId="alias/acme-prod", Description="primary database")
        self.ssm.put_parameter(Name="/acme/prod/LOG_LEVEL", Value="info", Type="String")
        self.ssm.put_parameter(Name="/acme/prod/nested/DEEP", Value="not a direct child", Type="String")
        self.ssm.put_parameter(Name="/acme/staging/DATABASE_URL", Value="postgres://staging", Type="SecureString")
        put_json_secret(self.sm, "acme/prod/app", json.dumps(
            {"DATABASE_URL": LOCAL["DATABASE_URL"], "LOG_LEVEL": "debug", "API_KEY": CANARY}, indent=2))
        put_json_secret(self.sm, "acme/staging/app", json.dumps({"LOG_LEVEL": "debug"}))
        self.bao.kv_put("acme/prod", {"DATABASE_URL": "postgres://old", "API_KEY": CANARY})
        self.bao.kv_put("acme/prod", {"DATABASE_URL": LOCAL["DATABASE_URL"], "API_KEY": CANARY, "LOG_LEVEL": "info"})
        self.bao.kv_put("acme/staging", {"LOG_LEVEL": "debug"})

    def parameters(self, path: str) -> dict[str, dict[str, Any]]:
        """Return ``{name: {Type, Value, Version, KeyId...}}`` of every parameter below ``path`` (recursive)."""
        found: dict[str, dict[str, Any]] = {}
        token = None
        while True:
            kwargs: dict[str, Any] = {"Path": path, "Recursive": True, "WithDecryption": True, "MaxResults": 10}
            if token:
                kwargs["NextToken"] = token
            answer = self.ssm.get_parameters_by_path(**kwargs)
            for item in answer["Parameters"]:
                [meta] = self.ssm.describe_parameters(ParameterFilters=[
                    {"Key": "Name", "Option": "Equals", "Values": [item["Name"]]}])["Parameters"]
                found[item["Name"]] = {"Type": item["Type"], "Value": item["Value"], "Version": item["Version"],
                                       "KeyId": meta.get("KeyId"), "Description": meta.get("Description")}
            token = answer.get("NextToken")
            if not token:
                return found

    def secret_text(self, secret_id: str) -> str:
        return str(self.sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])

    def aws_writes(self) -> list[tuple[str, Any]]:
        from genesis_aws.testing import operation

        return [(operation(r), r.json()) for r in self.aws_proxy.requests
                if not operation(r).startswith(("Get", "Describe", "List"))]

    def vault_writes(self) -> list[tuple[str, Any]]:
        return [(r.method, r.json()) for r in self.vault_proxy.requests if r.method != "GET"]


@pytest.fixture
def servers() -> Iterator[Servers]:
    running = Servers()
    try:
        running.seed()
        yield running
    finally:
        running.stop()


@pytest.fixture
def project(servers: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from genesis_aws.testing import aws_env

    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text("".join(f"{key}={json.dumps(value)}\n" for key, value in LOCAL.items()))
    (root / "genesis.toml").write_text(f"""
[platforms.local]
kind = "dotenv"
path = ".env"

[platforms.ssm]
kind = "aws-ssm"
path = "/acme/prod/"
region = "eu-west-1"
endpoint_url = "{servers.aws_proxy.base_url}"

[platforms.sm]
kind = "aws-secrets-manager"
secret_id = "acme/prod/app"
region = "eu-west-1"
endpoint_url = "{servers.aws_proxy.base_url}"

[platforms.vault]
kind = "vault"
address = "{servers.vault_proxy.base_url}"
path = "acme/prod"

[engines.autonomy]
reference = "local"
overwrite_conflicts = true
""")
    for name in list(__import__("os").environ):
        if name.startswith(("AWS_", "VAULT_")):
            monkeypatch.delenv(name)
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULT_TOKEN", servers.bao.token)
    monkeypatch.setenv("GENESIS_DISABLE_PLUGINS", "blueprint,cascade,steward,truth")
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from genesis_core.bus import reset_bus
    from genesis_core.cli.main import main
    from genesis_core.plugins import get_plugin_host

    get_plugin_host.cache_clear()
    capsys.readouterr()
    try:
        code = main(list(args))
    finally:
        reset_bus()
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_reports_exact_drift_and_heal_converges_with_one_write_per_key(
        servers: Servers, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ssm_before = servers.parameters("/acme")
    vault_versions_before = servers.bao.kv_versions("acme/prod")
    sm_staging_before = servers.secret_text("acme/staging/app")

    code, out, err = run(capsys, "sync", "--json")
    assert code == 1, err
    drift = json.loads(out)
    assert drift["missing_in_ssm"] == ["API_KEY", "FEATURE_X"]
    assert drift["missing_in_sm"] == ["FEATURE_X"]
    assert drift["missing_in_vault"] == ["FEATURE_X"]
    assert drift["missing_in_local"] == []
    assert sorted(drift["conflicts"]) == ["DATABASE_URL", "LOG_LEVEL"]
    assert drift["summary"]["drift_count"] == 6
    assert {name: p["status"] for name, p in drift["platforms"].items()} == {
        "local": "ok", "ssm": "ok", "sm": "ok", "vault": "ok"}

    code, out, err = run(capsys, "heal", "--apply")
    assert code == 0, out + err
    assert "6 of 6 key(s) healed" in out

    # One write per key, to each store, with its own single-key call.
    puts = [(op, body["Name"]) for op, body in servers.aws_writes() if op == "PutParameter"]
    assert sorted(puts) == [("PutParameter", f"/acme/prod/{key}") for key in ("API_KEY", "DATABASE_URL", "FEATURE_X")]
    secret_puts = [op for op, _ in servers.aws_writes() if op == "PutSecretValue"]
    assert len(secret_puts) == 2
    assert {op for op, _ in servers.aws_writes()} == {"PutParameter", "PutSecretValue"}
    assert servers.vault_writes() == [("PATCH", {"data": {"FEATURE_X": "on"}, "options": {"cas": 2}})]

    # SSM: the SecureString kept its type, KMS key and description; nothing else changed.
    ssm_after = servers.parameters("/acme")
    database = ssm_after["/acme/prod/DATABASE_URL"]
    assert (database["Type"], database["KeyId"], database["Description"], database["Value"], database["Version"]) == (
        "SecureString", "alias/acme-prod", "primary database", LOCAL["DATABASE_URL"], 2)
    assert (ssm_after["/acme/prod/API_KEY"]["Type"], ssm_after["/acme/prod/API_KEY"]["Value"]) == ("SecureString",
                                                                                                  CANARY)
    assert (ssm_after["/acme/prod/FEATURE_X"]["Type"], ssm_after["/acme/prod/FEATURE_X"]["Value"]) == ("String", "on")
    for name in ("/acme/prod/LOG_LEVEL", "/acme/prod/nested/DEEP",
                 "/acme/staging/DATABASE_URL"):
        assert ssm_after[name] == ssm_before[name]

    # Secrets Manager: two members changed in place, the rest of the text byte for byte as it was.
    expected = json.dumps({"DATABASE_URL": LOCAL["DATABASE_URL"], "LOG_LEVEL": "info", "API_KEY": CANARY,
                           "FEATURE_X": "on"}, indent=2)
    assert servers.secret_text("acme/prod/app") == expected
    assert servers.secret_text("acme/staging/app") == sm_staging_before

    # Vault: one new version; the history before it is still there and readable.
    versions_after = servers.bao.kv_versions("acme/prod")
    assert sorted(versions_after) == [1, 2, 3]
    assert {n: versions_after[n]["created_time"] for n in (1, 2)} == {
        n: vault_versions_before[n]["created_time"] for n in (1, 2)}
    assert servers.bao.kv_get("acme/prod", version=1)[1] == {"DATABASE_URL": "postgres://old", "API_KEY": CANARY}
    assert servers.bao.kv_get("acme/prod") == (3, LOCAL)
    assert servers.bao.kv_get("acme/staging") == (1, {"LOG_LEVEL": "debug"})

    code, out, err = run(capsys, "sync")
    assert code == 0, out + err
    assert "Parity" in out


def test_a_store_that_cannot_be_read_stops_every_write(servers: Servers, project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.testing.emulator import Fault

    servers.vault_proxy.inject(Fault("status", status=403))
    code, out, err = run(capsys, "heal", "--apply")
    assert code == 2
    assert "vault: permission denied (HTTP 403)" in err
    assert "nothing was written" in err
    assert servers.aws_writes() == [] and servers.vault_writes() == []
    assert CANARY not in out + err


# -- the "try it locally" blocks of the platform pages ------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs" / "platforms"


def try_block(page: str) -> str:
    """Return the ``sh`` block under "Try it locally" of ``docs/platforms/PAGE``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text[text.index("## Try it locally"):]
    return section[section.index("```sh\n") + len("```sh\n"):section.index("\n```", section.index("```sh\n"))]


def runnable(block: str, replacements: dict[str, str]) -> tuple[str, list[int]]:
    """Return the block as a script (servers and pip left out) and the exit codes its comments promise."""
    lines, expected = [], []
    for line in block.splitlines():
        if line.startswith("pip install") or line.rstrip().endswith("&"):
            continue  # the test installs and starts the servers itself
        for old, new in replacements.items():
            line = line.replace(old, new)
        if line.startswith("genesis "):
            command, _, comment = line.partition("#")
            code = comment.strip().removeprefix("exit ").split(":")[0]
            expected.append(int(code))
            line = f'{command.strip()}; echo "__exit__ $?"'
        lines.append(line)
    return "\n".join(lines) + "\n", expected


def run_block(script: str, tmp_path: Path) -> tuple[list[int], str]:
    import os
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "VAULT_", "BAO_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               GENESIS_HOME=str(tmp_path / "home"), AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.pop("GENESIS_DISABLE_PLUGINS", None)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    output = done.stdout + done.stderr
    codes = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("__exit__ ")]
    return codes, output


@pytest.mark.parametrize("page", ["aws-ssm.md", "aws-secrets-manager.md"])
def test_the_aws_try_it_blocks_run_against_moto(page: str, tmp_path: Path) -> None:
    from genesis_aws.testing import start_moto

    moto = start_moto()
    try:
        script, expected = runnable(try_block(page), {"127.0.0.1:5000": f"127.0.0.1:{moto.port}"})
        codes, output = run_block(script, tmp_path)
    finally:
        moto.stop()
    assert expected == [1, 0, 0]
    assert codes == expected, output
    assert "Traceback" not in output and "s3cret" not in output


def test_the_vault_try_it_block_runs_against_openbao(tmp_path: Path) -> None:
    from genesis_core.testing.servers import missing_server
    from genesis_vault.testing import BaoServer

    try:
        bao = BaoServer(token="dev-only-token").start()
    except FileNotFoundError as exc:
        missing_server(str(exc))
    try:
        script, expected = runnable(try_block("vault.md"), {"127.0.0.1:8200": f"127.0.0.1:{bao.port}"})
        codes, output = run_block(script, tmp_path)
        versions = bao.kv_versions("demo/app")
    finally:
        bao.stop()
    assert expected == [1, 0, 0]
    assert codes == expected, output
    assert sorted(versions) == [1, 2]
    assert "Traceback" not in output and "s3cret" not in output
