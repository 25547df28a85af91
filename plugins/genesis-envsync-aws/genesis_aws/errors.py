"""Turn botocore's exceptions into one-line ``PlatformError`` messages that say what to fix.

Nothing of the exception is copied blindly: AWS messages are cut to their first
sentence, stripped of any XML, and scrubbed of what was sent (a value) and of
anything credential-like before they are quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs
from botocore import exceptions as boto

from genesis_core.api import PlatformError, scrub_detail

#: Error codes that mean AWS did not accept the credentials themselves.
REJECTED_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "IncompleteSignature", "IncompleteSignatureException", "AuthFailure",
    "MissingAuthenticationToken", "MissingAuthenticationTokenException", "NotAuthorized", "401",
})
#: Error codes of temporary credentials that ran out.
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
#: Error codes of a request the credentials may not make.
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "KMSAccessDeniedException", "403"})
#: Error codes of throttling (retried by the SDK's standard mode before they get here).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "SlowDown",
    "ProvisionedThroughputExceededException", "LimitExceededException", "429",
})
#: Where credentials came from, by botocore's ``Credentials.method``.
_SOURCES = {
    "env": "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "explicit": "explicitly given keys",
    "shared-credentials-file": "profile {profile!r} of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, "
                               "default ~/.aws/credentials)",
    "config-file": "profile {profile!r} of the AWS config file (AWS_CONFIG_FILE, default ~/.aws/config)",
    "sso": "the SSO session of profile {profile!r} (renew it with `aws sso login --profile {profile}`)",
    "assume-role": "the role profile {profile!r} assumes",
    "assume-role-with-web-identity": "web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)",
    "custom-process": "the credential_process of profile {profile!r}",
    "container-role": "the container's role (ECS/EKS credentials endpoint)",
    "iam-role": "the instance role (EC2 instance metadata)",
}
_MAX_DETAIL = 160
_XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)
_XML_CODE = re.compile(r"<Code>(.*?)</Code>", re.S)


@attrs.frozen
class CallContext:
    """What an error message needs to know about the failed call."""

    instance: str
    operation: str
    target: str
    iam_action: str
    profile: str | None = None
    credential_method: str | None = None
    aws_session_token: bool = False
    sent: tuple[str, ...] = attrs.field(default=(), repr=False)
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)


def credential_source(method: str | None, profile: str | None, session_token: bool = False) -> str:
    """Return where the credentials came from, in words (never the credentials themselves)."""
    if method is None:
        return "the AWS credential chain"
    text = _SOURCES.get(method, f"the credential provider {method!r}").format(profile=profile or "default")
    if method == "env" and session_token:
        text = text.replace(" and AWS_SECRET_ACCESS_KEY", ", AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN")
    return text


def error_parts(exc: boto.ClientError) -> tuple[str, str, int | None]:
    """Return ``(code, message, HTTP status)`` of a ClientError; a code hidden in an XML body is found."""
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if "<" in message:  # a server (or a proxy) answered XML where JSON was expected
        found_code = _XML_CODE.search(message)
        found_message = _XML_MESSAGE.search(message)
        if found_code and (not code or code.isdigit()):
            code = found_code.group(1).strip()
        message = found_message.group(1).strip() if found_message else ""
    return code, message, status if isinstance(status, int) else None


def short_detail(message: str, sent: Iterable[str] = (), secrets: Iterable[str] = ()) -> str:
    """Return AWS's message cut to one sentence, scrubbed of values, credentials and markup."""
    if not message or message.lstrip().startswith("<"):
        return ""
    first = " ".join(message.split("\n\n")[0].split())
    detail = scrub_detail(first, list(sent), tuple(s for s in secrets if s))
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL - 1].rstrip() + "…"
    return detail


def translate(exc: BaseException, call: CallContext, *, attempts: int) -> PlatformError:
    """Return the ``PlatformError`` for ``exc`` raised while making ``call``."""
    name = call.instance
    source = credential_source(call.credential_method, call.profile, call.aws_session_token)
    if isinstance(exc, boto.ClientError):
        return _client_error(exc, call, source, attempts)
    if isinstance(exc, boto.PartialCredentialsError):
        missing = str(getattr(exc, "kwargs", {}).get("cred_var") or "a variable")
        where = str(getattr(exc, "kwargs", {}).get("provider") or "the credential source")
        if where == "env":
            where = "the environment"
        return PlatformError(name, f"incomplete AWS credentials in {where}: {missing} is missing "
                                   "(set it, or unset AWS_ACCESS_KEY_ID to use a profile)")
    if isinstance(exc, boto.NoCredentialsError):
        return PlatformError(name, "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                                   "or AWS_PROFILE (or profile = \"...\" in the table) for a profile, SSO or role; "
                                   "on AWS, attach an instance or task role")
    if isinstance(exc, boto.ProfileNotFound):
        profile = str(getattr(exc, "kwargs", {}).get("profile") or call.profile or "")
        return PlatformError(name, f"AWS profile {profile!r} is not defined in the AWS config or credentials "
                                   "file (check profile / AWS_PROFILE and AWS_CONFIG_FILE)")
    if isinstance(exc, boto.NoRegionError):
        return PlatformError(name, "no AWS region: set region = \"...\" in the table, AWS_REGION, or a region "
                                   "in the profile")
    if isinstance(exc, boto.InvalidRegionError):
        region = str(getattr(exc, "kwargs", {}).get("region_name") or "")
        return PlatformError(name, f"invalid AWS region name {region!r} (check region / AWS_REGION)")
    if isinstance(exc, (boto.SSOTokenLoadError, boto.UnauthorizedSSOTokenError, boto.TokenRetrievalError)):
        return PlatformError(name, f"the AWS SSO session has expired or was never started: run "
                                   f"`aws sso login --profile {call.profile or 'default'}`")
    if isinstance(exc, boto.CredentialRetrievalError):
        provider = str(getattr(exc, "kwargs", {}).get("provider") or "the credential provider")
        return PlatformError(name, f"could not get AWS credentials from {provider} (check the profile's "
                                   "role, SSO or credential_process settings)")
    if isinstance(exc, (boto.ConnectTimeoutError, boto.ReadTimeoutError)):
        return PlatformError(name, f"timed out talking to AWS ({call.operation}) after {attempts} attempt(s)",
                             retryable=True)
    if isinstance(exc, boto.SSLError):
        return PlatformError(name, "TLS verification of the AWS endpoint failed (check endpoint_url and "
                                   "AWS_CA_BUNDLE)")
    if isinstance(exc, boto.EndpointConnectionError):
        url = str(getattr(exc, "kwargs", {}).get("endpoint_url") or "the endpoint")
        host = re.sub(r"^[a-z]+://", "", url).split("/")[0]
        return PlatformError(name, f"could not connect to {host} (connection refused or unreachable; check "
                                   "region and endpoint_url)", retryable=True)
    if isinstance(exc, (boto.ConnectionClosedError, boto.HTTPClientError, boto.ConnectionError)):
        return PlatformError(name, f"network error talking to AWS ({call.operation}, {type(exc).__name__}) "
                                   f"after {attempts} attempt(s)", retryable=True)
    if isinstance(exc, boto.ResponseParserError):
        return PlatformError(name, f"unexpected response shape from AWS ({call.operation}): the answer "
                                   "could not be parsed")
    if isinstance(exc, boto.BotoCoreError):
        return PlatformError(name, f"AWS SDK error calling {call.operation} ({type(exc).__name__})")
    raise TypeError(f"not a botocore exception: {type(exc).__name__}")


def _client_error(exc: boto.ClientError, call: CallContext, source: str, attempts: int) -> PlatformError:
    code, message, status = error_parts(exc)
    detail = short_detail(message, call.sent, call.secrets)
    why = f" ({detail})" if detail else ""
    name = call.instance
    if code in REJECTED_CODES or status == 401:
        return PlatformError(name, f"AWS rejected the credentials ({code or status}): check {source}",
                             status=status)
    if code in EXPIRED_CODES:
        return PlatformError(name, f"the AWS credentials have expired ({code}): renew {source}", status=status)
    if code in DENIED_CODES or (status == 403 and not code.endswith("NotFoundException")):
        return PlatformError(name, f"access denied ({code or status}): {call.operation} on {call.target} is not "
                                   f"allowed{why}; the credentials from {source} need {call.iam_action}",
                             status=status)
    if code in THROTTLING_CODES:
        return PlatformError(name, f"throttled by AWS ({code}) after {attempts} attempt(s) of "
                                   f"{call.operation}; try again later", status=status, retryable=True)
    if status is not None and status >= 500:
        named = f", {code}" if code and not code.isdigit() else ""
        return PlatformError(name, f"AWS server error (HTTP {status}{named}) after {attempts} attempt(s) of "
                                   f"{call.operation}", status=status, retryable=True)
    if status == 404 and (not code or code.isdigit()):
        return PlatformError(name, f"not found (HTTP 404) calling {call.operation}: check {call.target}, region "
                                   "and endpoint_url", status=status)
    return PlatformError(name, f"{call.operation} on {call.target} failed: {code or f'HTTP {status}'}{why}",
                         status=status)


def is_code(exc: BaseException, *codes: str) -> bool:
    """Return whether ``exc`` is a ClientError with one of ``codes``."""
    return isinstance(exc, boto.ClientError) and error_parts(exc)[0] in codes


def response_value(response: Any, key: str) -> Any:
    """Return ``response[key]`` of a botocore answer (``None`` when absent or not a dict)."""
    return response.get(key) if isinstance(response, dict) else None
