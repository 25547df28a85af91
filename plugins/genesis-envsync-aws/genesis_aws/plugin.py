"""Entry-point module: registers the ``aws-ssm`` and ``aws-secrets-manager`` kinds (botocore loads lazily)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_ssm(instance: InstanceConfig) -> PlatformAdapter:
    """Return an :class:`~genesis_aws.ssm.SsmAdapter` for one ``[platforms.NAME]`` table."""
    from .ssm import SsmAdapter

    return SsmAdapter(instance)


def _make_secrets_manager(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_aws.secretsmanager.SecretsManagerAdapter` for one table."""
    from .secretsmanager import SecretsManagerAdapter

    return SecretsManagerAdapter(instance)


_CREDENTIALS = """\
# credentials: the AWS SDK's own chain, as the AWS CLI uses it: AWS_PROFILE or profile below,
#   AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO (`aws sso login`), or an instance/task role
# region = "eu-west-1"          # default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region
# profile = "prod"              # a named profile of ~/.aws/config
# endpoint_url = "http://127.0.0.1:5000"   # moto, LocalStack, a VPC endpoint
"""

SSM_EXAMPLE = """\
path = "/REPLACE_ME/prod/"      # the parameter hierarchy; a key is the parameter name below it
# recursive = false             # true: parameters in sub-paths too (keys then hold /)
# allow_empty = false           # true: an empty path is not an error (to fill a new path)
# kms_key_id = "alias/REPLACE_ME"   # KMS key for new SecureString parameters (default aws/ssm)
""" + _CREDENTIALS

SECRETS_MANAGER_EXAMPLE = """\
secret_id = "REPLACE_ME/prod/app"   # name or ARN of one secret holding a JSON object of KEY -> string
""" + _CREDENTIALS


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register ``aws-ssm`` and ``aws-secrets-manager``."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "aws-ssm", _make_ssm,
        description="AWS Systems Manager Parameter Store: the parameters below one path",
        credential_env=None, supports_write=True, config_example=SSM_EXAMPLE,
    ))
    register(PlatformKind(
        "aws-secrets-manager", _make_secrets_manager,
        description="AWS Secrets Manager: one secret holding a JSON object of variables",
        credential_env=None, supports_write=True, config_example=SECRETS_MANAGER_EXAMPLE,
    ))
