"""Entry-point module: registers the ``render`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_render.adapter.RenderAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import RenderAdapter

    return RenderAdapter(instance)


_EXAMPLE = """\
# service_id = "srv-..."        # Dashboard > your service > Settings (or env_group_id = "evg-...")
service_id = "srv-REPLACE_ME"
# base_url = "https://api.render.com"
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``render`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "render", _make_adapter,
        description="Render service or environment group variables (API v1)",
        credential_env="RENDER_API_KEY", supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_render.emulator:RenderEmulator",
    ))
