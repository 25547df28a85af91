"""Entry-point module: registers the ``vercel`` platform kind (imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_vercel.adapter.VercelAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import VercelAdapter

    return VercelAdapter(instance)


_EXAMPLE = """\
project = "REPLACE_ME"           # project id or name
# team_id = "team_..."
target = "production"            # production, preview or development
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., None]) -> None:
    """Register the ``vercel`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        name="vercel",
        factory=make_adapter,
        description="Vercel project environment variables of one target (production, preview or development)",
        credential_env="VERCEL_TOKEN",
        supports_write=True,
        config_example=_EXAMPLE,
    ))
