"""botocore sessions and clients built from a run's environment, and quiet SDK loggers.

Credentials, profiles, SSO, assume-role, container and instance roles are all
botocore's own: this module only makes botocore read the environment Genesis
hands the adapter (``ctx.env``, which is ``os.environ`` in a real run) instead of
reaching for ``os.environ`` itself, and configures the client (standard retry
mode, timeouts).  Signing is botocore's SigV4; nothing here touches it.

botocore logs request headers (the signature, ``X-Amz-Security-Token``) and
bodies (values) at DEBUG, and urllib3 logs connections: :func:`quiet_sdk_loggers`
pins those loggers at WARNING so ``genesis --log-level debug`` never prints them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.configprovider import (
    BOTOCORE_DEFAUT_SESSION_VARIABLES,
    ConfigChainFactory,
)
from botocore.credentials import (
    ContainerProvider,
    EnvProvider,
    create_credential_resolver,
)
from botocore.exceptions import BotoCoreError

from . import __version__

#: Loggers of the AWS SDK and its HTTP stack; never below WARNING (DEBUG shows signatures and bodies).
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")

_lock = threading.Lock()
_sessions: dict[tuple[Any, ...], botocore.session.Session] = {}
_clients: dict[tuple[Any, ...], Any] = {}
_credential_chains: set[int] = set()


def quiet_sdk_loggers() -> None:
    """Pin the SDK's loggers at WARNING (their children inherit it), whatever the root level is."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_sdk_loggers()


def aws_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Return the ``AWS_*`` variables of ``env`` (all botocore reads from an environment)."""
    return {name: value for name, value in env.items() if name.startswith("AWS_")}


def _read_environment(session: botocore.session.Session, env: Mapping[str, str]) -> None:
    """Make every setting botocore takes from environment variables come from ``env``."""
    factory = ConfigChainFactory(session=session, environ=env)
    store = session.get_component("config_store")
    for name, (config_key, env_vars, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items():
        store.set_config_provider(name, factory.create_config_chain(
            instance_name=name, env_var_names=env_vars, config_property_names=config_key,
            default=default, conversion_func=convert))


def _use_environment_credentials(session: botocore.session.Session, env: Mapping[str, str],
                                 region: str | None) -> None:
    """Install botocore's default credential chain, its environment providers reading ``env``."""
    resolver = create_credential_resolver(session, region_name=region)
    for index, provider in enumerate(resolver.providers):
        if isinstance(provider, EnvProvider):
            resolver.providers[index] = EnvProvider(environ=env)
        elif isinstance(provider, ContainerProvider):
            resolver.providers[index] = ContainerProvider(environ=env)
    session.register_component("credential_provider", resolver)


def session_for(env: Mapping[str, str], profile: str | None) -> botocore.session.Session:
    """Return the (cached) session for these ``AWS_*`` variables and profile.

    Instances that share credentials share a session, so an assume-role or SSO
    session is resolved (and an MFA code asked for) once per run.
    """
    aws_env = aws_environment(env)
    key = (tuple(sorted(aws_env.items())), profile)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = botocore.session.Session()
            session.user_agent_extra = f"genesis-envsync/{__version__}"
            _read_environment(session, aws_env)
            if profile is not None:
                session.set_config_variable("profile", profile)
            _sessions[key] = session
        return session


def install_credentials(session: botocore.session.Session, env: Mapping[str, str], region: str | None) -> None:
    """Give ``session`` botocore's default credential chain reading ``env`` (once; the first region is kept).

    botocore itself creates the chain with the region of the session's first
    client (for STS and SSO calls); so does this.
    """
    with _lock:
        if id(session) in _credential_chains:
            return
        _use_environment_credentials(session, aws_environment(env), region)
        _credential_chains.add(id(session))


def resolve_region(session: botocore.session.Session, env: Mapping[str, str], configured: str | None) -> str | None:
    """Return the region: the table's, else ``AWS_REGION``, else botocore's (``AWS_DEFAULT_REGION``, profile)."""
    if configured:
        return configured
    if env.get("AWS_REGION"):
        return env["AWS_REGION"]
    region = session.get_config_variable("region")
    return str(region) if region else None


def known_region(session: botocore.session.Session, service: str, region: str) -> bool:
    """Return whether ``region`` is a region where the installed botocore knows ``service``."""
    for partition in session.get_available_partitions():
        if region in session.get_available_regions(service, partition_name=partition):
            return True
    return False


def client_for(service: str, session: botocore.session.Session, *, region: str, endpoint_url: str | None,
               timeout: float, retries: int) -> Any:
    """Return the (cached) botocore client: standard retry mode, ``retries + 1`` attempts in all."""
    quiet_sdk_loggers()
    key = (id(session), service, region, endpoint_url, timeout, retries)
    with _lock:
        client = _clients.get(key)
        if client is None:
            config = Config(
                retries={"mode": "standard", "total_max_attempts": retries + 1},
                connect_timeout=min(timeout, 10.0), read_timeout=timeout,
                max_pool_connections=10,
            )
            client = session.create_client(service, region_name=region, endpoint_url=endpoint_url,
                                           config=config)
            _clients[key] = client
        return client


def credential_method(session: botocore.session.Session | None) -> str | None:
    """Return how the session's credentials were found (``env``, ``sso``, ``iam-role``...), if they were."""
    if session is None:
        return None
    try:
        credentials = session.get_credentials()
    except BotoCoreError:  # only for the wording of an error message already being raised
        return None
    return getattr(credentials, "method", None) if credentials is not None else None
