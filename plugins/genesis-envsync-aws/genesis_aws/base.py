"""What the two AWS adapters share: the table keys, the connection, calls off the event loop, doctor checks.

Every AWS call is blocking (botocore), so an adapter runs each whole operation
(a paginated read, a read-modify-write) in a worker thread with
:func:`asyncio.to_thread`; the event loop stays free and ``genesis sync`` still
reads every instance concurrently.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
from botocore import exceptions as boto

from genesis_core.api import (
    COMMON_KEYS,
    CredentialCheck,
    FetchContext,
    InstanceConfig,
    PlatformAdapter,
    PlatformError,
    url_problem,
)

from . import session as sessions
from .errors import CallContext, error_parts, translate

#: Table keys both AWS kinds read.
AWS_KEYS = frozenset({"region", "profile", "endpoint_url", "timeout", "retries"})
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_PROFILE = re.compile(r"^[A-Za-z0-9_.@+:/-]{1,128}$")


@attrs.frozen
class Connection:
    """One instance's botocore client and what error messages say about its credentials."""

    instance: str
    session: Any
    client: Any = attrs.field(repr=False)
    profile: str | None
    region: str
    attempts: int
    session_token: bool = False
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)

    def call(self, operation: str, *, target: str, iam_action: str, sent: tuple[str, ...] = (),
             passthrough: frozenset[str] = frozenset(), **params: Any) -> Any:
        """Call ``operation`` (``GetParametersByPath``...) with ``params``; raise ``PlatformError`` on failure.

        A ``ClientError`` whose code is in ``passthrough`` is raised as it is, for the caller to handle.
        """
        method = getattr(self.client, _snake(operation))
        try:
            return method(**params)
        except boto.ClientError as exc:
            if passthrough and error_parts(exc)[0] in passthrough:
                raise
            raise self.error(exc, operation, target, iam_action, sent) from None
        except boto.BotoCoreError as exc:
            raise self.error(exc, operation, target, iam_action, sent) from None

    def error(self, exc: BaseException, operation: str, target: str, iam_action: str,
              sent: tuple[str, ...] = ()) -> PlatformError:
        """Return the one-line ``PlatformError`` for ``exc``."""
        call = CallContext(self.instance, operation, target, iam_action, profile=self.profile,
                           credential_method=sessions.credential_method(self.session),
                           aws_session_token=self.session_token, sent=sent, secrets=self.secrets)
        return translate(exc, call, attempts=self.attempts)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class AwsAdapter(PlatformAdapter):
    """Base of the ``aws-ssm`` and ``aws-secrets-manager`` adapters."""

    #: The botocore service name (``ssm``, ``secretsmanager``).
    service: ClassVar[str]
    #: Adapter-specific table keys (besides COMMON_KEYS and AWS_KEYS).
    table_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        table.check_known(COMMON_KEYS | AWS_KEYS | self.table_keys)
        self.region: str | None = table.str("region", None)
        if self.region is not None and not _REGION.match(self.region):
            raise table.error("region", f"expected an AWS region like eu-west-1, got {self.region!r}")
        self.profile: str | None = table.str("profile", None)
        if self.profile is not None and not _PROFILE.match(self.profile):
            raise table.error("profile", f"expected the name of an AWS profile, got {self.profile!r}")
        self.endpoint_url: str | None = table.str("endpoint_url", None)
        if self.endpoint_url is not None:
            self.endpoint_url = self.endpoint_url.rstrip("/")
            if not re.match(r"^https?://[^/\s]+", self.endpoint_url):
                raise table.error("endpoint_url", f"expected an http(s) URL, got {self.endpoint_url!r}")
            problem = url_problem(self.endpoint_url)
            if problem is not None:
                raise table.error("endpoint_url", problem)
        self.timeout: float = table.float("timeout", 30.0, minimum=0.05, maximum=300)
        self.retries: int = table.int("retries", 3, minimum=0, maximum=10)

    # -- connecting -----------------------------------------------------------------------
    def connect(self, env: Mapping[str, str]) -> Connection:
        """Return the connection for ``env`` (blocking: run it in a worker thread)."""
        probe = Connection(self.name, None, None, self.profile, self.region or "", self.retries + 1)
        try:
            session = sessions.session_for(env, self.profile)
            region = sessions.resolve_region(session, env, self.region)
            if region is None:
                raise boto.NoRegionError()
            if not _REGION.match(region):
                raise boto.InvalidRegionError(region_name=region)
            if self.endpoint_url is None and not sessions.known_region(session, self.service, region):
                raise PlatformError(self.name, f"unknown AWS region {region!r}: not a region where "
                                               f"{self.service_title} is offered (check region, AWS_REGION or "
                                               "the profile's region; a region newer than the installed botocore "
                                               "needs `pip install -U botocore`)")
            sessions.install_credentials(session, env, region)
            client = sessions.client_for(self.service, session, region=region, endpoint_url=self.endpoint_url,
                                         timeout=self.timeout, retries=self.retries)
        except (boto.BotoCoreError, boto.ClientError) as exc:
            raise probe.error(exc, "connect", self.describe(), "credentials") from None
        secrets = tuple(env[name] for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if env.get(name))
        return Connection(self.name, session, client, self.profile, region, self.retries + 1,
                          session_token=bool(env.get("AWS_SESSION_TOKEN")), secrets=secrets)

    @property
    def service_title(self) -> str:
        """Return the service's name in words."""
        return {"ssm": "SSM Parameter Store", "secretsmanager": "Secrets Manager"}.get(self.service, self.service)

    async def in_thread(self, function: Any, *args: Any) -> Any:
        """Return ``function(*args)`` run in a worker thread (the event loop keeps serving other instances)."""
        return await asyncio.to_thread(function, *args)

    # -- genesis doctor -------------------------------------------------------------------
    async def check_credentials(self, ctx: FetchContext) -> CredentialCheck:
        """Return where the AWS credentials come from, or why there are none (``genesis doctor``).

        Resolves the SDK's credential chain in a worker thread; sends no request to the service.
        """
        checked: CredentialCheck = await self.in_thread(self._credential_check, ctx.env)
        return checked

    def _credential_check(self, env: Mapping[str, str]) -> CredentialCheck:
        """Return :meth:`check_credentials`'s answer (blocking: run it in a worker thread)."""
        try:
            connection = self.connect(env)
            credentials = connection.session.get_credentials()
        except PlatformError as exc:
            return CredentialCheck(False, exc.reason,
                                   "see docs/platforms for where AWS credentials and the region come from")
        except (boto.BotoCoreError, boto.ClientError) as exc:
            error = Connection(self.name, None, None, self.profile, self.region or "", 1).error(
                exc, "resolve credentials", self.describe(), "credentials")
            return CredentialCheck(False, error.reason, "see docs/platforms for where AWS credentials come from")
        if credentials is None:
            return CredentialCheck(False, "no AWS credentials found", (
                "export AWS_PROFILE=... (or add profile = \"...\" to the table), or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY; on AWS attach a role"))
        from .errors import credential_source

        source = credential_source(getattr(credentials, "method", None), self.profile or env.get("AWS_PROFILE"),
                                   bool(env.get("AWS_SESSION_TOKEN")))
        return CredentialCheck(True, f"AWS credentials from {source}, region {connection.region}")

    def doctor_hint(self) -> str:
        """Return what ``genesis doctor`` suggests for a failed read."""
        return (f"check region, endpoint_url and the identifiers in [platforms.{self.name}], and that the "
                "credentials have the IAM permissions listed in docs/platforms")
