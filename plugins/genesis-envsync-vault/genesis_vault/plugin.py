"""Entry-point module: registers the ``vault`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_vault.adapter.VaultAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import VaultAdapter

    return VaultAdapter(instance)


EXAMPLE = """\
path = "REPLACE_ME/prod"        # one KV v2 secret whose keys are the application's variables
# mount = "secret"              # the KV version 2 mount
# address = "https://vault.example:8200"   # default: VAULT_ADDR
# namespace = "team-a"          # default: VAULT_NAMESPACE (none: no X-Vault-Namespace header)
# ca_cert = "/etc/ssl/vault-ca.pem"        # default: VAULT_CACERT
# allow_empty = false           # true: a secret that does not exist yet is empty (the first write creates it)
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``vault`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "vault", _make_adapter,
        description="HashiCorp Vault or OpenBao: one KV version 2 secret",
        credential_env="VAULT_TOKEN", supports_write=True, config_example=EXAMPLE,
    ))
