"""Where AWS credentials and the region come from, and the one-line errors when they are wrong.

Authorization tests switch moto's IAM authentication on, so AccessDenied and a
rejected signature come from the server, as they would from AWS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genesis_aws.secretsmanager import SecretsManagerAdapter
from genesis_aws.ssm import SsmAdapter
from genesis_aws.testing import (
    AwsFaultProxy,
    MotoServer,
    aws_env,
    make_adapter,
    operations,
    put_json_secret,
)
from genesis_core.api import PlatformError
from genesis_core.testing import Fault, fetch_sync, write_sync

PATH = "/acme/prod/"
SECRET = "acme/prod/app"


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[AwsFaultProxy]:
    server = AwsFaultProxy(moto.url).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


@pytest.fixture
def seeded(moto: MotoServer) -> MotoServer:
    moto.client("ssm").put_parameter(Name=PATH + "A", Value="1", Type="String")
    put_json_secret(moto.client("secretsmanager"), SECRET, json.dumps({"A": "1"}))
    return moto


@pytest.fixture
def auth(seeded: MotoServer) -> Iterator[MotoServer]:
    """moto with IAM authentication and authorization on (off again afterwards)."""
    yield seeded
    seeded.set_auth(False)


def ssm_adapter(proxy: AwsFaultProxy, **table: Any) -> SsmAdapter:
    return make_adapter(SsmAdapter, "ssm", **{"path": PATH, "endpoint_url": proxy.base_url, "retries": 2, **table})


def sm_adapter(proxy: AwsFaultProxy, **table: Any) -> SecretsManagerAdapter:
    return make_adapter(SecretsManagerAdapter, "sm",
                        **{"secret_id": SECRET, "endpoint_url": proxy.base_url, "retries": 2, **table})


def failure(run: Any) -> str:
    with pytest.raises(PlatformError) as caught:
        run()
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- authorization (moto's IAM on) ---------------------------------------------------------------

def test_access_denied_on_read_names_the_action(auth: MotoServer, proxy: AwsFaultProxy) -> None:
    nobody = auth.user("nobody", ["sts:GetCallerIdentity"])
    auth.set_auth(True)
    env = aws_env(nobody.access_key, nobody.secret_key)
    text = failure(lambda: fetch_sync(ssm_adapter(proxy), env))
    assert text.startswith("ssm: access denied (AccessDenied): GetParametersByPath on SSM path /acme/prod/ is not "
                           "allowed (User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: "
                           "ssm:GetParametersByPath)")
    assert text.endswith("the credentials from the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                         "need ssm:GetParametersByPath (and kms:Decrypt on the key of any SecureString)")
    assert "secretsmanager:GetSecretValue" in failure(lambda: fetch_sync(sm_adapter(proxy), env))


def test_access_denied_on_write_changes_nothing(auth: MotoServer, proxy: AwsFaultProxy) -> None:
    reader = auth.user("reader", ["ssm:GetParametersByPath", "ssm:DescribeParameters",
                                  "secretsmanager:GetSecretValue"])
    auth.set_auth(True)
    env = aws_env(reader.access_key, reader.secret_key)
    assert fetch_sync(ssm_adapter(proxy), env).values() == {"A": "1"}
    text = failure(lambda: write_sync(ssm_adapter(proxy), env, "A", "changed"))
    assert "access denied (AccessDenied): PutParameter on /acme/prod/A is not allowed" in text
    assert "need ssm:PutParameter" in text
    text = failure(lambda: write_sync(sm_adapter(proxy), env, "A", "changed"))
    assert "need secretsmanager:PutSecretValue" in text
    auth.set_auth(False)
    assert auth.client("ssm").get_parameter(Name=PATH + "A")["Parameter"]["Value"] == "1"


def test_exactly_the_documented_actions_are_enough(auth: MotoServer, proxy: AwsFaultProxy) -> None:
    """The IAM actions docs/platforms lists for reading and writing (moto checks them, not the resources)."""
    ssm_user = auth.user("ssm-writer", ["ssm:GetParametersByPath", "ssm:DescribeParameters", "ssm:PutParameter"])
    sm_user = auth.user("sm-writer", ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                                      "secretsmanager:DescribeSecret"])
    auth.set_auth(True)
    ssm_env = aws_env(ssm_user.access_key, ssm_user.secret_key)
    sm_env = aws_env(sm_user.access_key, sm_user.secret_key)
    write_sync(ssm_adapter(proxy), ssm_env, "A", "2")
    write_sync(ssm_adapter(proxy), ssm_env, "NEW", "n", secret=True)
    assert fetch_sync(ssm_adapter(proxy), ssm_env).values() == {"A": "2", "NEW": "n"}
    write_sync(sm_adapter(proxy), sm_env, "B", "2")
    assert fetch_sync(sm_adapter(proxy), sm_env).values() == {"A": "1", "B": "2"}


@pytest.mark.parametrize(("access_key", "code"), [("known", "SignatureDoesNotMatch"),
                                                  ("AKIAUNKNOWNKEY000001", "InvalidClientTokenId")])
def test_rejected_credentials_say_where_they_came_from(auth: MotoServer, proxy: AwsFaultProxy, access_key: str,
                                                       code: str) -> None:
    user = auth.user("someone", ["ssm:*"])
    auth.set_auth(True)
    env = aws_env(user.access_key if access_key == "known" else access_key, "wrong-secret-canary-0d3e")
    text = failure(lambda: fetch_sync(ssm_adapter(proxy), env))
    assert text == (f"ssm: AWS rejected the credentials ({code}): check the environment variables "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    assert len(proxy.requests) == 1  # an authentication failure is not retried


# -- credentials and region, before any request ---------------------------------------------------

def test_no_credentials_is_an_error_before_any_request(seeded: MotoServer, proxy: AwsFaultProxy) -> None:
    env = aws_env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    text = failure(lambda: fetch_sync(ssm_adapter(proxy), env))
    assert text.startswith("ssm: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                           "AWS_PROFILE")
    assert proxy.requests == []


def test_half_of_a_key_pair_names_the_missing_variable(seeded: MotoServer, proxy: AwsFaultProxy) -> None:
    env = aws_env()
    del env["AWS_SECRET_ACCESS_KEY"]
    text = failure(lambda: write_sync(sm_adapter(proxy), env, "A", "x"))
    assert "incomplete AWS credentials in the environment: AWS_SECRET_ACCESS_KEY is missing" in text
    assert proxy.requests == []


def test_credentials_come_from_the_run_environment_not_os_environ(seeded: MotoServer, proxy: AwsFaultProxy,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMOSENVIRON001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-os-environ")
    fetch_sync(ssm_adapter(proxy), aws_env("AKIAFROMCTXENV000001", "from-ctx-env"))
    assert "Credential=AKIAFROMCTXENV000001/" in proxy.requests[0].headers["authorization"]


def write_profiles(tmp_path: Path, credentials: str, config: str = "") -> dict[str, str]:
    (tmp_path / "credentials").write_text(credentials)
    (tmp_path / "config").write_text(config)
    env = aws_env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_CONFIG_FILE=str(tmp_path / "config"))
    return env


def test_a_named_profile_from_the_table_or_aws_profile(seeded: MotoServer, proxy: AwsFaultProxy,
                                                       tmp_path: Path) -> None:
    env = write_profiles(tmp_path, "[prod]\naws_access_key_id = AKIAPROFILEPROD00001\naws_secret_access_key = p\n"
                                   "[other]\naws_access_key_id = AKIAPROFILEOTHER0001\naws_secret_access_key = o\n")
    fetch_sync(ssm_adapter(proxy, profile="prod"), env)
    fetch_sync(ssm_adapter(proxy), {**env, "AWS_PROFILE": "other"})
    keys = [r.headers["authorization"].split("Credential=")[1].split("/")[0] for r in proxy.requests]
    assert keys == ["AKIAPROFILEPROD00001", "AKIAPROFILEOTHER0001"]


def test_a_profile_in_the_table_wins_over_environment_keys(seeded: MotoServer, proxy: AwsFaultProxy,
                                                           tmp_path: Path) -> None:
    env = write_profiles(tmp_path, "[prod]\naws_access_key_id = AKIAPROFILEPROD00001\naws_secret_access_key = p\n")
    env.update(AWS_ACCESS_KEY_ID="AKIAENVIRONMENT00001", AWS_SECRET_ACCESS_KEY="e")
    fetch_sync(ssm_adapter(proxy, profile="prod"), env)
    assert "Credential=AKIAPROFILEPROD00001/" in proxy.requests[0].headers["authorization"]


def test_an_unknown_profile_is_an_error(seeded: MotoServer, proxy: AwsFaultProxy, tmp_path: Path) -> None:
    env = write_profiles(tmp_path, "[prod]\naws_access_key_id = AKIAPROFILEPROD00001\naws_secret_access_key = p\n")
    text = failure(lambda: fetch_sync(ssm_adapter(proxy, profile="prdo"), env))
    assert text.startswith("ssm: AWS profile 'prdo' is not defined in the AWS config or credentials file")
    assert proxy.requests == []


def test_an_expired_sso_session_says_to_log_in(seeded: MotoServer, proxy: AwsFaultProxy, tmp_path: Path) -> None:
    env = write_profiles(tmp_path, "", "[profile sso-dev]\nsso_start_url = https://acme.awsapps.com/start\n"
                                       "sso_region = eu-west-1\nsso_account_id = 123456789012\n"
                                       "sso_role_name = Developer\nregion = eu-west-1\n")
    env["HOME"] = str(tmp_path)  # no SSO token cache there
    text = failure(lambda: fetch_sync(ssm_adapter(proxy, profile="sso-dev"), env))
    assert "run `aws sso login --profile sso-dev`" in text
    assert proxy.requests == []


def test_the_region_comes_from_the_table_then_aws_region_then_the_profile(seeded: MotoServer, tmp_path: Path,
                                                                          proxy: AwsFaultProxy) -> None:
    def region_of(adapter: SsmAdapter, env: dict[str, str]) -> str:
        return adapter.connect(env).region

    env = write_profiles(tmp_path, "[default]\naws_access_key_id = AKIAX\naws_secret_access_key = x\n",
                         "[default]\nregion = ap-southeast-2\n")
    assert region_of(ssm_adapter(proxy, region=None), env) == "ap-southeast-2"
    assert region_of(ssm_adapter(proxy, region=None), {**env, "AWS_DEFAULT_REGION": "us-east-2"}) == "us-east-2"
    assert region_of(ssm_adapter(proxy, region=None), {**env, "AWS_REGION": "eu-central-1",
                                                       "AWS_DEFAULT_REGION": "us-east-2"}) == "eu-central-1"
    assert region_of(ssm_adapter(proxy, region="eu-west-3"), {**env, "AWS_REGION": "eu-central-1"}) == "eu-west-3"


def test_no_region_is_an_error_before_any_request(seeded: MotoServer, proxy: AwsFaultProxy) -> None:
    text = failure(lambda: fetch_sync(ssm_adapter(proxy, region=None), aws_env()))
    assert text == ('ssm: no AWS region: set region = "..." in the table, AWS_REGION, or a region in the profile')
    assert proxy.requests == []


def test_an_unknown_region_is_an_error_before_any_request() -> None:
    adapter = make_adapter(SsmAdapter, "ssm", path=PATH, region="eu-wset-1")
    text = failure(lambda: fetch_sync(adapter, aws_env()))
    assert text.startswith("ssm: unknown AWS region 'eu-wset-1': not a region where SSM Parameter Store is offered")
    adapter = make_adapter(SecretsManagerAdapter, "sm", secret_id=SECRET, region=None)
    text = failure(lambda: fetch_sync(adapter, {**aws_env(), "AWS_REGION": "moon-1"}))
    assert "unknown AWS region 'moon-1'" in text


def test_a_custom_endpoint_accepts_any_region_name(seeded: MotoServer, proxy: AwsFaultProxy) -> None:
    assert fetch_sync(ssm_adapter(proxy, region="eu-west-1"), aws_env()).values() == {"A": "1"}
    assert ssm_adapter(proxy, region="local-1").connect(aws_env()).region == "local-1"


# -- throttling and the standard retry mode --------------------------------------------------------

def test_throttling_is_retried_by_the_sdk(seeded: MotoServer, proxy: AwsFaultProxy, backoffs: list[int]) -> None:
    proxy.inject(Fault("rate_limit", times=2))
    assert fetch_sync(ssm_adapter(proxy), aws_env()).values() == {"A": "1"}
    assert operations(proxy.requests) == ["GetParametersByPath"] * 3
    assert backoffs == [1, 2]


def test_throttling_that_does_not_stop_is_an_error(seeded: MotoServer, proxy: AwsFaultProxy,
                                                   backoffs: list[int]) -> None:
    proxy.inject(Fault("rate_limit"))
    text = failure(lambda: fetch_sync(sm_adapter(proxy, retries=3), aws_env()))
    assert text == "sm: throttled by AWS (ThrottlingException) after 4 attempt(s) of GetSecretValue; try again later"
    assert len(proxy.requests) == 4


def test_server_errors_are_retried_then_reported(seeded: MotoServer, proxy: AwsFaultProxy,
                                                 backoffs: list[int]) -> None:
    proxy.inject(Fault("status", status=503))
    text = failure(lambda: fetch_sync(ssm_adapter(proxy, retries=1), aws_env()))
    assert text == "ssm: AWS server error (HTTP 503) after 2 attempt(s) of GetParametersByPath"


def test_an_unreachable_endpoint_is_a_network_error() -> None:
    from genesis_core.testing import free_port

    adapter = make_adapter(SsmAdapter, "ssm", path=PATH, endpoint_url=f"http://127.0.0.1:{free_port()}",
                           retries=0, timeout=2.0)
    text = failure(lambda: fetch_sync(adapter, aws_env()))
    assert "could not connect to 127.0.0.1:" in text


def test_os_environ_is_not_read_for_credentials_when_the_run_has_none(seeded: MotoServer, proxy: AwsFaultProxy,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMOSENVIRON001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-os-environ")
    env = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    assert "no AWS credentials found" in failure(lambda: fetch_sync(ssm_adapter(proxy), env))
