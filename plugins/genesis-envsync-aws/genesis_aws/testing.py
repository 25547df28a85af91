"""Test helpers: moto in server mode as the AWS the tests talk to, a fault proxy, the contract harnesses.

Needs the testing extra (``pip install 'genesis-envsync-aws[testing]'``: pytest,
hypothesis and ``moto[server]``).  Nothing here is emulated by Genesis: the
adapters talk to a real ``moto_server`` process on 127.0.0.1, through a
:class:`AwsFaultProxy` when a test injects failures.

``MOTO_SERVER_BIN`` names the ``moto_server`` executable to use; by default the
one installed next to this Python, then ``python -m moto.server``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import botocore.session

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import (
    TRICKY_VALUES,
    Fault,
    FaultProxy,
    PlatformHarness,
    Request,
    Response,
    ServerProcess,
    ServerStartError,
    free_port,
    missing_server,
)

from .secretsmanager import SecretsManagerAdapter
from .ssm import PAGE_SIZE, SsmAdapter

__all__ = [
    "AwsFaultProxy", "MotoServer", "REGION", "SecretsManagerHarness", "SsmHarness", "aws_env", "make_adapter",
    "moto_command", "operation", "operations", "start_moto", "zero_backoff",
]

REGION = "eu-west-1"
#: Operations the harness reports as ``GET`` (AWS JSON APIs send every call as ``POST /``).
_READ_PREFIXES = ("Get", "Describe", "List")
_ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def moto_command(port: int) -> list[str] | None:
    """Return the command that serves moto on ``127.0.0.1:port``, or ``None`` when moto is not installed."""
    configured = os.environ.get("MOTO_SERVER_BIN")
    if configured:
        return [configured, "-H", "127.0.0.1", "-p", str(port)] if os.access(configured, os.X_OK) else None
    beside = Path(sys.executable).with_name("moto_server")
    binary = str(beside) if os.access(beside, os.X_OK) else shutil.which("moto_server")
    if binary:
        return [binary, "-H", "127.0.0.1", "-p", str(port)]
    if importlib.util.find_spec("moto") is not None and importlib.util.find_spec("flask") is not None:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return None


def aws_env(access_key: str = "testing", secret_key: str = "testing", **extra: str) -> dict[str, str]:
    """Return an environment holding only these credentials: no profile files, no instance metadata."""
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", **extra}


@attrs.frozen
class Credentials:
    """An IAM user's access key made on the moto server."""

    access_key: str
    secret_key: str = attrs.field(repr=False)


class MotoServer:
    """One ``moto_server`` process on a free loopback port (IAM authentication off until :meth:`set_auth`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = self._process()
        self._admin: Credentials | None = None

    def _process(self) -> ServerProcess:
        command = moto_command(self.port)
        if command is None:
            raise FileNotFoundError("moto_server not found: pip install 'moto[server]' "
                                    "(the testing extra of genesis-envsync-aws), or set MOTO_SERVER_BIN")
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MOTO_"))}
        env.update(aws_env())
        return ServerProcess("moto", command, ready=self._ready, env=env)

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2) as answer:
            return bool(answer.status == 200)

    def start(self) -> MotoServer:
        """Start moto and wait until it answers (on another free port if the first was taken meanwhile)."""
        for attempt in range(3):
            try:
                self.process.start()
                return self
            except ServerStartError as exc:
                if "address already in use" not in str(exc).lower() or attempt == 2:
                    raise
                self.process.close()
                self.port = free_port()
                self.process = self._process()
        raise AssertionError("not reached")

    def stop(self) -> None:
        """Stop moto and remove its log."""
        self.process.close()

    def _post(self, path: str, body: bytes = b"") -> Any:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"null")

    def reset(self) -> None:
        """Forget every resource (parameters, secrets, IAM users); authentication is switched off."""
        self.set_auth(False)
        self._post("/moto-api/reset")
        self._admin = None

    def set_auth(self, enabled: bool) -> None:
        """Switch moto's IAM authentication and authorization on (signatures and policies checked) or off."""
        self._post("/moto-api/reset-auth", b"0" if enabled else b"inf")

    def client(self, service: str, credentials: Credentials | None = None, *, region: str = REGION) -> Any:
        """Return a botocore client talking to moto directly (not through a proxy)."""
        credentials = credentials or self._admin or Credentials("testing", "testing")
        session = botocore.session.Session()
        return session.create_client(service, region_name=region, endpoint_url=self.url,
                                     aws_access_key_id=credentials.access_key,
                                     aws_secret_access_key=credentials.secret_key)

    def user(self, name: str, actions: Iterable[str] | str, resource: str = "*") -> Credentials:
        """Create an IAM user allowed ``actions`` (authentication must be off) and return its access key."""
        iam = self.client("iam", Credentials("testing", "testing"))
        action_list = [actions] if isinstance(actions, str) else list(actions)
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="genesis-test", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action_list, "Resource": resource}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def admin(self) -> Credentials:
        """Return (creating it once, authentication off) an IAM user allowed everything."""
        if self._admin is None:
            self._admin = self.user("genesis-admin", "*")
        return self._admin


def start_moto() -> MotoServer:
    """Return a started :class:`MotoServer`; fail (in CI) or skip with the reason when moto is missing."""
    try:
        server = MotoServer()
    except FileNotFoundError as exc:
        missing_server(str(exc))
        raise  # not reached: missing_server fails or skips the test
    return server.start()


def zero_backoff(monkeypatch: Any) -> list[int]:
    """Make botocore's standard-mode retries wait 0 s; return the attempt numbers it backed off after."""
    from botocore.retries import standard

    attempts: list[int] = []

    def delay(self: Any, context: Any) -> float:
        attempts.append(int(context.attempt_number))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay)
    return attempts


def operation(request: Request) -> str:
    """Return the AWS operation of a recorded request (``GetParametersByPath``), from ``X-Amz-Target``."""
    target = request.headers.get("x-amz-target", "")
    return target.rpartition(".")[2]


def operations(requests: Iterable[Request]) -> list[str]:
    """Return the operations of ``requests``, in order."""
    return [operation(r) for r in requests]


class AwsFaultProxy(FaultProxy):
    """A :class:`FaultProxy` whose injected throttling and wrong shapes look like AWS's JSON protocol."""

    platform = "aws"

    def _fault_response(self, fault: Fault, request: Request) -> Response | None:
        if fault.kind == "rate_limit":  # AWS throttles with a 400 and an error code, not a bare 429
            return Response(400, {"__type": "ThrottlingException", "message": "Rate exceeded"},
                            content_type="application/x-amz-json-1.1")
        return super()._fault_response(fault, request)

    def wrong_shape(self, request: Request) -> Response:
        """Return valid JSON that is not the operation's documented output."""
        return Response(200, {"Unexpected": {"Parameters": "not-a-list"}}, content_type="application/x-amz-json-1.1")


A = TypeVar("A", bound=PlatformAdapter)


def make_adapter(kind: type[A], name: str = "aws-test", **table: Any) -> A:
    """Return an adapter of class ``kind`` for ``table`` (a value of ``None`` drops the key)."""
    data = {"kind": kind.kind, "region": REGION, **table}
    data = {key: value for key, value in data.items() if value is not None}
    return kind(InstanceConfig(name, kind.kind, Table(data, "genesis.toml", f"platforms.{name}"), Path(".")))


class _AwsHarness(PlatformHarness):
    """A harness whose platform is moto, with IAM authentication on, behind an :class:`AwsFaultProxy`."""

    adapter_class: type[PlatformAdapter]
    fast_failure_overrides = {"timeout": 0.5, "retries": 0}
    #: The adapters speak AWS's protocol with their own client and error wording (throttling, access
    #: denied, AWS's error codes), not genesis_core.http's: the fault table checks errors and attempts.
    http_errors = False

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.proxy = AwsFaultProxy(moto.url)
        self.credentials: Credentials | None = None
        self.token = ""

    def start(self) -> None:
        """Start the proxy; create the admin user; switch moto's authentication on."""
        self.proxy.start()
        self.moto.set_auth(False)
        self.credentials = self.moto.admin()
        self.token = self.credentials.secret_key
        self.moto.set_auth(True)

    def stop(self) -> None:
        """Switch authentication off and stop the proxy."""
        self.moto.set_auth(False)
        self.proxy.stop()

    def client(self, service: str) -> Any:
        """Return an admin client talking to moto directly."""
        return self.moto.client(service, self.credentials)

    def env(self) -> dict[str, str]:
        """Return the admin user's access key (and no profile files, no instance metadata)."""
        assert self.credentials is not None, "start() the harness first"
        return aws_env(self.credentials.access_key, self.credentials.secret_key)

    def inject(self, fault: Fault) -> None:
        """Inject a fault into the proxy."""
        self.proxy.inject(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.proxy.clear_faults()

    def requests(self) -> list[Request]:
        """Return the recorded requests, reads (``Get*``/``Describe*``/``List*``) reported as ``GET``."""
        return [attrs.evolve(r, method="GET") if operation(r).startswith(_READ_PREFIXES) else r
                for r in self.proxy.requests]

    def spoiled_answers(self) -> int | None:
        """Return how many answers the proxy's item faults have spoiled."""
        return self.proxy.spoiled

    def table(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Return the common table: the proxy as ``endpoint_url`` (the kit's ``base_url`` maps onto it)."""
        table: dict[str, Any] = {"endpoint_url": self.proxy.base_url, "timeout": 5.0, "retries": 2}
        for key, value in overrides.items():
            table["endpoint_url" if key == "base_url" else key] = value
        return table


class SsmHarness(_AwsHarness):
    """The ``aws-ssm`` adapter against moto: the parameters below :attr:`path`."""

    kind = "aws-ssm"
    adapter_class = SsmAdapter
    page_size = PAGE_SIZE
    unreadable_supported = False  # WithDecryption returns every value
    writable = True
    path = "/genesis/contract/"

    def tricky_values(self) -> dict[str, str]:
        """Return the kit's values without the empty string (SSM refuses an empty parameter value)."""
        return {key: value for key, value in TRICKY_VALUES.items() if value != ""}

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the parameters below :attr:`path` (as ``String``)."""
        if list(unreadable):
            raise ValueError("SSM returns every value (WithDecryption): nothing can be seeded unreadable")
        ssm = self.client("ssm")
        names = [p["Name"] for p in _all_parameters(ssm, self.path)]
        for start in range(0, len(names), 10):
            ssm.delete_parameters(Names=names[start:start + 10])
        for key, value in variables.items():
            ssm.put_parameter(Name=self.path + key, Value=value, Type="String", Overwrite=True)

    def stored(self) -> dict[str, str]:
        """Return ``{key: value}`` of the parameters below :attr:`path`, decrypted."""
        return {p["Name"][len(self.path):]: p["Value"] for p in _all_parameters(self.client("ssm"), self.path)}

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter for :attr:`path` through the proxy (``allow_empty``: the kit seeds empty paths)."""
        return make_adapter(SsmAdapter, path=self.path, allow_empty=True, **self.table(table_overrides))


def _all_parameters(ssm: Any, path: str) -> Iterator[dict[str, Any]]:
    """Yield every parameter below ``path`` (recursive, decrypted)."""
    token = None
    while True:
        params: dict[str, Any] = {"Path": path.rstrip("/"), "Recursive": True, "WithDecryption": True,
                                  "MaxResults": 10}
        if token:
            params["NextToken"] = token
        answer = ssm.get_parameters_by_path(**params)
        yield from answer["Parameters"]
        token = answer.get("NextToken")
        if not token:
            return


class SecretsManagerHarness(_AwsHarness):
    """The ``aws-secrets-manager`` adapter against moto: the members of :attr:`secret_id`."""

    kind = "aws-secrets-manager"
    adapter_class = SecretsManagerAdapter
    page_size = None  # one GetSecretValue
    unreadable_supported = False
    writable = True
    secret_id = "genesis/contract/app"

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Make the secret's current version the JSON object ``variables``."""
        if list(unreadable):
            raise ValueError("Secrets Manager returns every value: nothing can be seeded unreadable")
        put_json_secret(self.client("secretsmanager"), self.secret_id, json.dumps(dict(variables)))

    def stored(self) -> dict[str, str]:
        """Return the members of the secret's current version."""
        text = self.client("secretsmanager").get_secret_value(SecretId=self.secret_id)["SecretString"]
        value = json.loads(text)
        assert isinstance(value, dict)
        return value

    def sent_keys(self, request: Request, before: Mapping[str, str], written: Iterable[str]) -> set[str]:
        """Return the members a ``PutSecretValue`` changes or drops: the secret is one JSON document, written
        whole, so it repeats the other members; what it may not do is change them."""
        if operation(request) != "PutSecretValue":
            return super().sent_keys(request, before, written)
        text = json.loads(request.body).get("SecretString") or "{}"
        sent = json.loads(text)
        return ({name for name, value in sent.items() if before.get(name) != value}
                | {name for name in before if name not in sent})

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter for :attr:`secret_id` through the proxy."""
        return make_adapter(SecretsManagerAdapter, secret_id=self.secret_id, **self.table(table_overrides))


def put_json_secret(client: Any, secret_id: str, text: str) -> str:
    """Create ``secret_id`` holding ``text``, or make ``text`` its new current version; return the VersionId."""
    try:
        return str(client.put_secret_value(SecretId=secret_id, SecretString=text)["VersionId"])
    except client.exceptions.ResourceNotFoundException:
        return str(client.create_secret(Name=secret_id, SecretString=text)["VersionId"])
