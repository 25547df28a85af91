"""Entry-point module: registers the ``netlify`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_netlify.adapter.NetlifyAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import NetlifyAdapter

    return NetlifyAdapter(instance)


_EXAMPLE = """\
account_id = "REPLACE_ME"        # team slug or id (netlify api listAccountsForUser)
site_id = "REPLACE_ME"           # Site configuration > Site details > Site ID
context = "production"           # production, deploy-preview, branch-deploy, dev, branch or all
# branch = "staging"             # with context = "branch"
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``netlify`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "netlify", _make_adapter,
        description="Netlify site variables for one deploy context (API v1 env endpoints)",
        credential_env="NETLIFY_AUTH_TOKEN", supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_netlify.emulator:NetlifyEmulator",
    ))
