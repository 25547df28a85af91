"""Entry-point module: registers the ``fly`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_fly.adapter.FlyAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import FlyAdapter

    return FlyAdapter(instance)


_EXAMPLE = """\
app = "REPLACE_ME"                # the Fly app, as in `fly apps list`
# secret values are write-only: Genesis sees names, and a write is staged until the next deploy
# base_url = "https://api.machines.dev"
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``fly`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "fly", _make_adapter,
        description="Fly.io app secrets (Machines API; values write-only, writes staged until the next deploy)",
        credential_env="FLY_API_TOKEN", supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_fly.emulator:FlyEmulator",
    ))
