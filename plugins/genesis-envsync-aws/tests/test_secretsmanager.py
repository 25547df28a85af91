"""The aws-secrets-manager adapter against moto: JSON secrets, byte-for-byte writes, concurrent writers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from genesis_aws.secretsmanager import SecretsManagerAdapter
from genesis_aws.testing import (
    AwsFaultProxy,
    MotoServer,
    aws_env,
    make_adapter,
    operations,
    put_json_secret,
)
from genesis_core.api import ConfigError, PlatformError
from genesis_core.testing import fetch_sync, write_sync

SECRET = "acme/prod/app"
ENV = aws_env()
CANARY = "canary-sm-value-91ce2a"


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[AwsFaultProxy]:
    server = AwsFaultProxy(moto.url).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


@pytest.fixture
def sm(moto: MotoServer) -> Any:
    """A botocore Secrets Manager client talking to moto directly."""
    return moto.client("secretsmanager")


def adapter(proxy: AwsFaultProxy, **table: Any) -> SecretsManagerAdapter:
    return make_adapter(SecretsManagerAdapter, "sm", secret_id=SECRET, endpoint_url=proxy.base_url,
                        timeout=10.0, retries=2, **table)


def current(sm: Any) -> tuple[str, str]:
    # By stage: after UpdateSecretVersionStage moto's stage-less GetSecretValue still answers the old default.
    answer = sm.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")
    return answer["VersionId"], answer["SecretString"]


def stages(sm: Any) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=SECRET)["VersionIdsToStages"])


# -- reading -------------------------------------------------------------------------------------

def test_fetch_returns_every_member_as_secret(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"DATABASE_URL": "postgres://db", "API_KEY": CANARY, "EMPTY": ""}))
    snapshot = fetch_sync(adapter(proxy), ENV)
    assert snapshot.values() == {"DATABASE_URL": "postgres://db", "API_KEY": CANARY, "EMPTY": ""}
    assert snapshot.secret_keys() == frozenset({"DATABASE_URL", "API_KEY", "EMPTY"})
    assert operations(proxy.requests) == ["GetSecretValue"]
    assert proxy.requests[0].json() == {"SecretId": SECRET, "VersionStage": "AWSCURRENT"}


def test_an_empty_object_is_an_empty_snapshot(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, "{}")
    assert fetch_sync(adapter(proxy), ENV).values() == {}


@pytest.mark.parametrize(("text", "expected"), [
    ("not json", "is not a JSON object of KEY -> string (not a JSON object)"),
    ('["A", "B"]', "(not a JSON object)"),
    ("null", "(not a JSON object)"),
    ('{"A": "1"} trailing', "text after the JSON object"),
    ('{"A": "1", "A": "2"}', "member 'A' appears more than once"),
    ('{"host": "db", "port": 5432, "ssl": true, "extra": null, "nested": {"x": "y"}}',
     "every value must be a string: 'extra' is null, 'nested' is dict, 'port' is int and 1 more"),
])
def test_a_secret_that_is_not_a_json_object_of_strings_is_an_error(sm: Any, proxy: AwsFaultProxy, text: str,
                                                                   expected: str) -> None:
    put_json_secret(sm, SECRET, text)
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(proxy), ENV)
    message = str(caught.value)
    assert message.startswith("sm: secret acme/prod/app: ")
    assert expected in message
    assert "5432" not in message and "db" not in message.replace("acme/prod/app", "")


def test_a_binary_secret_is_an_error(sm: Any, proxy: AwsFaultProxy) -> None:
    sm.create_secret(Name=SECRET, SecretBinary=b"\x00\x01binary")
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(proxy), ENV)
    assert "is a binary secret" in str(caught.value)


def test_a_missing_secret_is_resource_not_found(proxy: AwsFaultProxy) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(proxy), ENV)
    assert str(caught.value) == ("sm: secret 'acme/prod/app' not found in eu-west-1 (check secret_id, region and "
                                 "the account the credentials belong to)")
    with pytest.raises(PlatformError):
        write_sync(adapter(proxy), ENV, "A", "1")
    assert "PutSecretValue" not in operations(proxy.requests)


# -- writing -------------------------------------------------------------------------------------

def test_a_write_changes_one_member_and_keeps_every_other_byte(sm: Any, proxy: AwsFaultProxy) -> None:
    original = '{\n  "B_FIRST": "caf\\u00e9",\n  "A_SECOND":"x",\n  "URL": "https:\\/\\/example"\n}'
    put_json_secret(sm, SECRET, original)
    target = adapter(proxy)
    write_sync(target, ENV, "A_SECOND", CANARY)
    assert current(sm)[1] == original.replace('"A_SECOND":"x"', f'"A_SECOND":"{CANARY}"')
    write_sync(target, ENV, "NEW_KEY", "n\u00e9w\n")
    assert current(sm)[1] == original.replace('"A_SECOND":"x"', f'"A_SECOND":"{CANARY}"').replace(
        '"https:\\/\\/example"', '"https:\\/\\/example",\n  "NEW_KEY": "n\\u00e9w\\n"')
    assert fetch_sync(target, ENV).values() == {"B_FIRST": "caf\u00e9", "A_SECOND": CANARY,
                                                 "URL": "https://example", "NEW_KEY": "n\u00e9w\n"}


def test_json_round_trip_of_tricky_values(sm: Any, proxy: AwsFaultProxy) -> None:
    values = {"QUOTES": "'a' \"b\"", "NEWLINES": "l1\nl2\r\n", "UNICODE": "\u65e5\u672c \U0001f680",
              "BACKSLASH": "C:\\path\\n", "JSONISH": '{"k": [1, 2]}', "EMPTY": ""}
    put_json_secret(sm, SECRET, "{}")
    target = adapter(proxy)
    for key, value in values.items():
        write_sync(target, ENV, key, value)
    assert json.loads(current(sm)[1]) == values
    assert fetch_sync(target, ENV).values() == values


def test_put_secret_value_carries_a_client_request_token_and_becomes_current(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"A": "1"}))
    before, _ = current(sm)
    write_sync(adapter(proxy), ENV, "B", "2")
    [put] = [r.json() for r in proxy.requests if r.headers["x-amz-target"].endswith("PutSecretValue")]
    token = put["ClientRequestToken"]
    assert str(uuid.UUID(token)) == token
    assert set(put) == {"SecretId", "SecretString", "ClientRequestToken"}
    assert current(sm)[0] == token
    assert stages(sm)[before] == ["AWSPREVIOUS"]
    assert operations(proxy.requests) == ["GetSecretValue", "PutSecretValue", "DescribeSecret"]


def test_a_concurrent_writer_is_detected_and_their_version_restored(moto: MotoServer, sm: Any,
                                                                    proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"A": "1", "B": "1"}))
    target = adapter(proxy)
    client = target.connect(ENV).client
    theirs: list[str] = []

    def other_writer(**kwargs: Any) -> None:  # another client writes between our read and our write
        if not theirs:
            theirs.append(put_json_secret(sm, SECRET, json.dumps({"A": "1", "B": "theirs"})))

    client.meta.events.register_first("before-call.secretsmanager.PutSecretValue", other_writer)
    try:
        with pytest.raises(PlatformError) as caught:
            write_sync(target, ENV, "A", "ours")
    finally:
        client.meta.events.unregister("before-call.secretsmanager.PutSecretValue", other_writer)
    assert "conflict: another writer changed secret acme/prod/app while A was being written" in str(caught.value)
    version, text = current(sm)
    assert version == theirs[0]
    assert stages(sm)[theirs[0]] == ["AWSCURRENT"]
    assert json.loads(text) == {"A": "1", "B": "theirs"}
    assert operations(proxy.requests) == ["GetSecretValue", "PutSecretValue", "DescribeSecret",
                                          "UpdateSecretVersionStage"]
    assert fetch_sync(target, ENV).values() == {"A": "1", "B": "theirs"}


def test_a_secret_changed_since_the_read_is_a_conflict(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"A": "1"}))
    target = adapter(proxy)
    fetch_sync(target, ENV)
    put_json_secret(sm, SECRET, json.dumps({"A": "1", "B": "someone"}))
    version_before = current(sm)[0]
    with pytest.raises(PlatformError) as caught:
        write_sync(target, ENV, "A", "ours")
    assert "conflict: secret acme/prod/app changed since Genesis read it" in str(caught.value)
    assert current(sm)[0] == version_before
    assert "PutSecretValue" not in operations(proxy.requests)


def test_consecutive_writes_after_a_read_are_not_conflicts(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"A": "1"}))
    target = adapter(proxy)
    fetch_sync(target, ENV)
    for key in ("B", "C", "D"):
        write_sync(target, ENV, key, key.lower())
    assert json.loads(current(sm)[1]) == {"A": "1", "B": "b", "C": "c", "D": "d"}
    assert set(operations(proxy.requests)) == {"GetSecretValue", "PutSecretValue", "DescribeSecret"}


def test_a_secret_this_kind_cannot_read_is_never_edited(sm: Any, proxy: AwsFaultProxy) -> None:
    put_json_secret(sm, SECRET, json.dumps({"port": 5432}))
    with pytest.raises(PlatformError):
        write_sync(adapter(proxy), ENV, "A", "1")
    assert json.loads(current(sm)[1]) == {"port": 5432}


@pytest.mark.parametrize("secret_id", ["has space", "x" * 3000])
def test_a_bad_secret_id_is_a_config_error(secret_id: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(SecretsManagerAdapter, "sm", secret_id=secret_id)
    assert "platforms.sm.secret_id" in str(caught.value)
