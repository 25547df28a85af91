"""Canaries: AWS credentials and values never reach output or logs, ``--log-level debug`` included.

botocore logs the signed request headers (``X-Amz-Security-Token`` carries the
session token) and the request and response bodies (values) at DEBUG; the
adapters pin the SDK's loggers at WARNING so none of that is ever emitted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesis_aws.secretsmanager import SecretsManagerAdapter
from genesis_aws.ssm import SsmAdapter
from genesis_aws.testing import MotoServer, aws_env, make_adapter, put_json_secret
from genesis_core.api import PlatformError
from genesis_core.testing import fetch_sync, write_sync

ACCESS_KEY = "AKIACANARY0000000001"
SECRET_KEY = "secret-key-canary-6b1f0e9d2c"
SESSION_TOKEN = "session-token-canary-FwoGZXIvYXdzE"
VALUE = "value-canary-0c77a4e1"
SECURE_VALUE = "secure-value-canary-d41d8c"


def canaries() -> dict[str, str]:
    return {"secret key": SECRET_KEY, "session token": SESSION_TOKEN, "value": VALUE, "secure value": SECURE_VALUE}


def seed(moto: MotoServer) -> None:
    ssm = moto.client("ssm")
    ssm.put_parameter(Name="/canary/app/PLAIN", Value=VALUE, Type="String")
    ssm.put_parameter(Name="/canary/app/SECURE", Value=SECURE_VALUE, Type="SecureString")
    put_json_secret(moto.client("secretsmanager"), "canary/app", json.dumps({"TOKEN": SECURE_VALUE, "URL": VALUE}))


def test_sdk_loggers_stay_quiet_at_debug(moto: MotoServer, caplog: pytest.LogCaptureFixture,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    seed(moto)
    caplog.set_level(logging.DEBUG)  # the root logger, as --log-level debug sets it
    env = aws_env(ACCESS_KEY, SECRET_KEY, AWS_SESSION_TOKEN=SESSION_TOKEN)
    ssm = make_adapter(SsmAdapter, "ssm", path="/canary/app/", endpoint_url=moto.url)
    sm = make_adapter(SecretsManagerAdapter, "sm", secret_id="canary/app", endpoint_url=moto.url)
    assert fetch_sync(ssm, env).values() == {"PLAIN": VALUE, "SECURE": SECURE_VALUE}
    assert fetch_sync(sm, env).values() == {"TOKEN": SECURE_VALUE, "URL": VALUE}
    write_sync(ssm, env, "WRITTEN", SECURE_VALUE, secret=True)
    write_sync(sm, env, "WRITTEN", VALUE)
    with pytest.raises(PlatformError) as caught:
        write_sync(ssm, env, "bad name", SECURE_VALUE)

    for name in ("botocore", "boto3", "urllib3"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
    out, err = capfd.readouterr()
    logged = "\n".join([caplog.text, *(repr(r.args) for r in caplog.records)])
    for label, secret in canaries().items():
        for where, text in (("logs", logged), ("stdout", out), ("stderr", err), ("error", str(caught.value))):
            assert secret not in text, f"the {label} leaked into {where}"


def test_cli_at_log_level_debug_prints_no_credential_or_value(moto: MotoServer, tmp_path: Path) -> None:
    seed(moto)
    (tmp_path / ".env").write_text(f"PLAIN={VALUE}\nLOCAL_ONLY=x\n")
    (tmp_path / "genesis.toml").write_text(f"""
[platforms.local]
kind = "dotenv"
path = ".env"

[platforms.ssm]
kind = "aws-ssm"
path = "/canary/app/"
region = "eu-west-1"
endpoint_url = "{moto.url}"

[platforms.sm]
kind = "aws-secrets-manager"
secret_id = "canary/app"
region = "eu-west-1"
endpoint_url = "{moto.url}"
""")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(aws_env(ACCESS_KEY, SECRET_KEY, AWS_SESSION_TOKEN=SESSION_TOKEN))
    env["GENESIS_HOME"] = str(tmp_path / "home")
    outputs = {}
    for command in (["sync"], ["sync", "--json"], ["doctor"]):
        done = subprocess.run([sys.executable, "-m", "genesis_core", "--log-level", "debug", *command],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        outputs[" ".join(command)] = done.stdout + done.stderr
        assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "DEBUG" in outputs["sync"]  # debug logging was really on
    assert "ssm" in outputs["sync"] and "sm" in outputs["sync"]
    for command, text in outputs.items():
        for label, secret in canaries().items():
            assert secret not in text, f"the {label} leaked into the output of genesis {command}"
