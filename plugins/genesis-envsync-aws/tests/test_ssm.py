"""The aws-ssm adapter against moto: pagination, SecureString, surgical writes, conflicts, refusals."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from genesis_aws import ssm as ssm_module
from genesis_aws.ssm import SsmAdapter
from genesis_aws.testing import (
    AwsFaultProxy,
    MotoServer,
    aws_env,
    make_adapter,
    operations,
)
from genesis_core.api import ConfigError, FetchContext, PlatformError
from genesis_core.testing import (
    EmulatorServer,
    Request,
    Response,
    fetch_sync,
    write_sync,
)

PATH = "/acme/prod/"
ENV = aws_env()
CANARY = "canary-ssm-value-5e0b7c"
ALLOWED_OPERATIONS = {"GetParametersByPath", "DescribeParameters", "PutParameter"}


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[AwsFaultProxy]:
    """A recording (and fault-injecting) proxy in front of moto."""
    server = AwsFaultProxy(moto.url).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


@pytest.fixture
def ssm(moto: MotoServer) -> Any:
    """A botocore SSM client talking to moto directly (for seeding and checking)."""
    return moto.client("ssm")


def adapter(proxy: EmulatorServer, **table: Any) -> SsmAdapter:
    return make_adapter(SsmAdapter, "ssm", path=PATH, endpoint_url=proxy.base_url, timeout=10.0, retries=2,
                        **table)


def put(ssm: Any, key: str, value: str, type_: str = "String", **extra: Any) -> None:
    ssm.put_parameter(Name=PATH + key, Value=value, Type=type_, Overwrite=True, **extra)


def described(ssm: Any, key: str) -> dict[str, Any]:
    [item] = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [PATH + key]}])["Parameters"]
    return dict(item)


def value_of(ssm: Any, key: str) -> str:
    return str(ssm.get_parameter(Name=PATH + key, WithDecryption=True)["Parameter"]["Value"])


def path_requests(proxy: EmulatorServer) -> list[Request]:
    return [r for r in proxy.requests if r.headers.get("x-amz-target", "").endswith("GetParametersByPath")]


# -- reading -------------------------------------------------------------------------------------

@pytest.mark.parametrize("count", [1, 10, 11, 25])
def test_fetch_follows_next_token_past_ten_parameters(moto: MotoServer, ssm: Any, proxy: AwsFaultProxy,
                                                      count: int) -> None:
    values = {f"KEY_{i:03d}": f"value-{i}" for i in range(count)}
    for key, value in values.items():
        put(ssm, key, value)
    snapshot = fetch_sync(adapter(proxy), ENV)

    assert snapshot.values() == values
    pages = [r.json() for r in path_requests(proxy)]
    full_pages = -(-count // 10)
    assert full_pages <= len(pages) <= full_pages + 1  # (an empty last page is AWS's right)
    assert all(p["MaxResults"] == 10 and p["WithDecryption"] is True and p["Recursive"] is False
               and p["Path"] == "/acme/prod" for p in pages)
    assert "NextToken" not in pages[0]
    assert all("NextToken" in p for p in pages[1:])
    assert len({p.get("NextToken") for p in pages}) == len(pages)


def test_securestring_is_decrypted_and_secret_others_follow_the_policy(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "DB_PASSWORD", CANARY, "SecureString", KeyId="alias/acme-prod")
    put(ssm, "HOSTS", "a.example,b.example", "StringList")
    put(ssm, "MODE", "production")
    snapshot = fetch_sync(adapter(proxy), ENV)

    assert snapshot.values() == {"DB_PASSWORD": CANARY, "HOSTS": "a.example,b.example", "MODE": "production"}
    assert snapshot.secret_keys() == frozenset({"DB_PASSWORD"})
    assert CANARY not in repr(snapshot)


def test_only_direct_children_unless_recursive(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "TOP", "t")
    put(ssm, "sub/DEEP", "d")
    ssm.put_parameter(Name="/acme/prodution/OTHER", Value="x", Type="String")
    assert fetch_sync(adapter(proxy), ENV).values() == {"TOP": "t"}
    assert fetch_sync(adapter(proxy, recursive=True), ENV).values() == {"TOP": "t", "sub/DEEP": "d"}


def test_an_empty_path_is_an_error_naming_it_unless_allow_empty(proxy: AwsFaultProxy) -> None:
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(proxy), ENV)
    assert str(caught.value) == ("ssm: no parameters below /acme/prod/ in eu-west-1 (check path and region; "
                                 "set allow_empty = true to fill a new path)")
    assert fetch_sync(adapter(proxy, allow_empty=True), ENV).values() == {}


class ScriptedSsm(EmulatorServer):
    """An 'SSM' answering GetParametersByPath pages from ``pages(request_body)`` (for broken servers)."""

    def __init__(self, pages: Any) -> None:
        self.pages = pages
        super().__init__(token="")

    def handle(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append(request)
        return Response(200, self.pages(request.json()), content_type="application/x-amz-json-1.1")


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[ScriptedSsm] = []

    def start(pages: Any) -> ScriptedSsm:
        server = ScriptedSsm(pages)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def parameter(key: str, value: str = "v", type_: str = "String", version: int = 1) -> dict[str, Any]:
    return {"Name": PATH + key, "Type": type_, "Value": value, "Version": version}


def test_a_repeated_next_token_is_an_error(scripted: Any) -> None:
    counter = iter(range(1000))
    server = scripted(lambda body: {"Parameters": [parameter(f"K{next(counter)}")], "NextToken": "same"})
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(server), ENV)
    assert "does not advance" in str(caught.value)
    assert len(server.requests) == 2


def test_a_token_chain_that_never_ends_is_an_error(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ssm_module, "MAX_PAGES", 4)
    counter = iter(range(1000))
    server = scripted(lambda body: {"Parameters": [parameter(f"K{next(counter)}")], "NextToken": f"t{next(counter)}"})
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(server), ENV)
    assert "did not end after 4 pages" in str(caught.value)
    assert len(server.requests) == 4


@pytest.mark.parametrize(("page", "expected"), [
    ({"Parameters": [parameter(f"K{i}") for i in range(11)]}, "11 parameters, more than the 10 asked for"),
    ({"Parameters": [parameter("A"), parameter("A")]}, "listed twice"),
    ({"Parameters": [{"Name": "/elsewhere/A", "Type": "String", "Value": "v", "Version": 1}]}, "is not below"),
    ({"Parameters": [parameter("A", type_="Weird")]}, "unknown Type"),
    ({"Parameters": [{"Name": PATH + "A", "Type": "String", "Version": 1}]}, "no string Value"),
    ({"Parameters": [parameter("sub/A")]}, "not a direct child"),
    ({"Parameters": [parameter("A")], "NextToken": 7}, "NextToken"),
    ({}, "no Parameters list"),
], ids=["overflow", "duplicate", "outside", "type", "value", "child", "token-type", "empty"])
def test_answers_of_the_wrong_shape_are_errors(scripted: Any, page: dict[str, Any], expected: str) -> None:
    server = scripted(lambda body: page)
    with pytest.raises(PlatformError) as caught:
        fetch_sync(adapter(server), ENV)
    assert expected in str(caught.value)


# -- writing -------------------------------------------------------------------------------------

def test_overwrite_keeps_securestring_type_and_key_and_touches_nothing_else(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "DB_PASSWORD", "old-secret", "SecureString", KeyId="alias/acme-prod", Description="the database")
    put(ssm, "HOSTS", "a,b", "StringList")
    for i in range(12):
        put(ssm, f"KEEP_{i:02d}", f"keep-{i}")
    before = {p["Name"]: (p["Type"], p["Value"], p["Version"])
              for p in ssm.get_parameters_by_path(Path="/acme/prod", WithDecryption=True, MaxResults=10)["Parameters"]}
    target = adapter(proxy)
    fetch_sync(target, ENV)
    write_sync(target, ENV, "DB_PASSWORD", CANARY, secret=False)  # the policy's opinion cannot demote it

    meta = described(ssm, "DB_PASSWORD")
    assert (meta["Type"], meta["KeyId"], meta["Version"], meta.get("Description")) == (
        "SecureString", "alias/acme-prod", 2, "the database")
    assert value_of(ssm, "DB_PASSWORD") == CANARY
    for name, (type_, value, version) in before.items():
        if name != PATH + "DB_PASSWORD":
            current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
            assert (current["Type"], current["Value"], current["Version"]) == (type_, value, version)
    writes = [op for op in operations(proxy.requests) if op not in ("GetParametersByPath",)]
    assert writes == ["DescribeParameters", "PutParameter"]
    [put_request] = [r for r in proxy.requests if r.headers["x-amz-target"].endswith("PutParameter")]
    assert put_request.json() == {"Name": PATH + "DB_PASSWORD", "Value": CANARY, "Type": "SecureString",
                                  "KeyId": "alias/acme-prod", "Overwrite": True, "Tier": "Standard",
                                  "DataType": "text", "Description": "the database"}


def test_overwrite_keeps_string_and_stringlist_types(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "PLAIN", "old")
    put(ssm, "LIST", "a,b", "StringList")
    target = adapter(proxy)
    write_sync(target, ENV, "PLAIN", "new", secret=True)
    write_sync(target, ENV, "LIST", "a,b,c", secret=False)
    assert (described(ssm, "PLAIN")["Type"], value_of(ssm, "PLAIN")) == ("String", "new")
    assert (described(ssm, "LIST")["Type"], value_of(ssm, "LIST")) == ("StringList", "a,b,c")


def test_new_keys_are_securestring_when_secret_else_string(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "EXISTING", "x")
    target = adapter(proxy, kms_key_id="alias/new-secrets")
    write_sync(target, ENV, "API_TOKEN", CANARY, secret=True)
    write_sync(target, ENV, "LOG_LEVEL", "info", secret=False)
    token = described(ssm, "API_TOKEN")
    assert (token["Type"], token["KeyId"]) == ("SecureString", "alias/new-secrets")
    assert described(ssm, "LOG_LEVEL")["Type"] == "String"
    assert fetch_sync(target, ENV).values() == {"EXISTING": "x", "API_TOKEN": CANARY, "LOG_LEVEL": "info"}
    creates = [r.json() for r in proxy.requests if r.headers["x-amz-target"].endswith("PutParameter")]
    assert [c["Overwrite"] for c in creates] == [False, False]


def test_only_single_parameter_calls_are_made(ssm: Any, proxy: AwsFaultProxy) -> None:
    for i in range(15):
        put(ssm, f"K{i:02d}", str(i))
    target = adapter(proxy)
    fetch_sync(target, ENV)
    for i in range(3):
        write_sync(target, ENV, f"K{i:02d}", f"changed-{i}")
    write_sync(target, ENV, "NEW", "n")
    assert set(operations(proxy.requests)) <= ALLOWED_OPERATIONS
    assert len([op for op in operations(proxy.requests) if op == "PutParameter"]) == 4


@pytest.mark.parametrize("key", ["has space", "", "bad/slash", "ünicode", "semi;colon", "x" * 1100])
def test_an_invalid_parameter_name_is_refused_before_any_request(proxy: AwsFaultProxy, key: str) -> None:
    with pytest.raises(PlatformError) as caught:
        write_sync(adapter(proxy), ENV, key, "v")
    assert "nothing was sent" in str(caught.value)
    assert proxy.requests == []


def test_slashes_are_allowed_in_keys_only_when_recursive(ssm: Any, proxy: AwsFaultProxy) -> None:
    write_sync(adapter(proxy, recursive=True), ENV, "sub/KEY", "v")
    assert value_of(ssm, "sub/KEY") == "v"


def test_an_empty_value_is_refused_before_any_request(proxy: AwsFaultProxy) -> None:
    with pytest.raises(PlatformError) as caught:
        write_sync(adapter(proxy), ENV, "EMPTY", "")
    assert "SSM cannot store an empty value ('EMPTY')" in str(caught.value)
    assert proxy.requests == []


def test_a_parameter_changed_since_the_read_is_a_conflict(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "RACE", "original")
    target = adapter(proxy)
    fetch_sync(target, ENV)
    put(ssm, "RACE", "someone else")
    with pytest.raises(PlatformError) as caught:
        write_sync(target, ENV, "RACE", "ours")
    assert "conflict: /acme/prod/RACE changed (version 1 -> 2) since Genesis read it" in str(caught.value)
    assert value_of(ssm, "RACE") == "someone else"
    assert "PutParameter" not in operations(proxy.requests)


def test_a_parameter_created_since_the_read_is_a_conflict(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "OTHER", "x")
    target = adapter(proxy)
    fetch_sync(target, ENV)
    put(ssm, "NEW", "someone else")
    with pytest.raises(PlatformError) as caught:
        write_sync(target, ENV, "NEW", "ours")
    assert "/acme/prod/NEW was created since Genesis read it" in str(caught.value)
    assert value_of(ssm, "NEW") == "someone else"


def test_a_parameter_created_between_describe_and_put_is_a_conflict(moto: MotoServer, ssm: Any,
                                                                    proxy: AwsFaultProxy) -> None:
    target = adapter(proxy)
    client = target.connect(ENV).client

    def other_writer(**kwargs: Any) -> None:
        put(ssm, "LATE", "someone else")

    client.meta.events.register_first("before-call.ssm.PutParameter", other_writer)
    try:
        with pytest.raises(PlatformError) as caught:
            write_sync(target, ENV, "LATE", "ours")
    finally:
        client.meta.events.unregister("before-call.ssm.PutParameter", other_writer)
    assert "/acme/prod/LATE was created by someone else" in str(caught.value)
    assert value_of(ssm, "LATE") == "someone else"


def test_writes_follow_their_own_versions(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "A", "1")
    target = adapter(proxy)
    fetch_sync(target, ENV)
    for value in ("2", "3", "4"):
        write_sync(target, ENV, "A", value)
    assert (value_of(ssm, "A"), described(ssm, "A")["Version"]) == ("4", 4)


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "message"), [
    ({"path": "acme/prod"}, "platforms.ssm.path: expected a parameter hierarchy starting with /"),
    ({"path": "/acme//prod/"}, "is not a parameter path"),
    ({"path": "/acme/pr od/"}, "is not a parameter path"),
    ({"path": "/acme/", "region": "EU WEST"}, "platforms.ssm.region: expected an AWS region"),
    ({"path": "/acme/", "endpoint_url": "localhost:5000"}, "platforms.ssm.endpoint_url: expected an http(s) URL"),
    ({"path": "/acme/", "pth": "typo"}, "platforms.ssm.pth: unknown key"),
    ({}, "platforms.ssm.path"),
])
def test_bad_tables_are_config_errors(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter(SsmAdapter, "ssm", **table)
    assert message in str(caught.value)


def test_path_is_normalised() -> None:
    assert make_adapter(SsmAdapter, "ssm", path="/acme/prod").prefix == "/acme/prod/"
    assert make_adapter(SsmAdapter, "ssm", path="/acme/prod").api_path == "/acme/prod"
    assert make_adapter(SsmAdapter, "ssm", path="/").api_path == "/"


# -- concurrency ---------------------------------------------------------------------------------

class BarrierProxy(AwsFaultProxy):
    """Holds every GetParametersByPath until ``parties`` of them are waiting at once (else times out)."""

    def __init__(self, upstream: str, parties: int) -> None:
        super().__init__(upstream)
        self.barrier = threading.Barrier(parties, timeout=20)
        self.met = threading.Event()

    def forward(self, request: Request) -> Response:
        if request.headers.get("x-amz-target", "").endswith("GetParametersByPath") and not self.met.is_set():
            self.barrier.wait()  # raises BrokenBarrierError (the proxy answers 502) if the other never comes
            self.met.set()
        return super().forward(request)


def test_instances_are_read_concurrently_off_the_event_loop(moto: MotoServer, ssm: Any) -> None:
    put(ssm, "A", "1")
    ssm.put_parameter(Name="/acme/staging/B", Value="2", Type="String")
    barrier = BarrierProxy(moto.url, parties=2).start()
    try:
        prod = adapter(barrier)
        staging = make_adapter(SsmAdapter, "staging", path="/acme/staging/", endpoint_url=barrier.base_url,
                               retries=0, timeout=30.0)
        ticks: list[int] = []

        async def run() -> list[Any]:
            ctx = FetchContext(env=ENV)

            async def ticker() -> None:
                while not barrier.met.is_set():
                    ticks.append(1)
                    await asyncio.sleep(0.01)

            try:
                results = await asyncio.gather(prod.fetch(ctx), staging.fetch(ctx), ticker())
            finally:
                await ctx.aclose()
            return results[:2]

        first, second = asyncio.run(run())
    finally:
        barrier.stop()
    assert (first.values(), second.values()) == ({"A": "1"}, {"B": "2"})
    assert barrier.met.is_set()  # both requests were in flight at the same time
    assert ticks  # and the event loop kept running meanwhile


def test_request_bodies_carry_no_credentials(ssm: Any, proxy: AwsFaultProxy) -> None:
    put(ssm, "A", "1")
    fetch_sync(adapter(proxy), aws_env("AKIAEXAMPLEKEY000001", "secret-canary-key-3f9d"))
    request = path_requests(proxy)[0]
    assert "secret-canary-key-3f9d" not in json.dumps(request.headers) + request.body.decode()
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEKEY000001/")
