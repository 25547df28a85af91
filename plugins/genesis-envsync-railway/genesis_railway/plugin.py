"""Entry-point module: registers the ``railway`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_railway.adapter.RailwayAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import RailwayAdapter

    return RailwayAdapter(instance)


_EXAMPLE = """\
project_id = "REPLACE_ME"         # project settings (or the dashboard URL: /project/<id>)
environment_id = "REPLACE_ME"     # the environment's id (?environmentId=<id> in the dashboard URL)
service_id = "REPLACE_ME"         # leave this line out for the environment's shared variables
# token_kind = "account"          # for a RAILWAY_API_TOKEN-style token (default: a project token)
# redeploy = false                # true: every write redeploys (default: skipDeploys, effective at the next deploy)
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``railway`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "railway", _make_adapter,
        description="Railway service or shared variables (public GraphQL API; references compared as written)",
        credential_env="RAILWAY_TOKEN", supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_railway.emulator:RailwayEmulator",
    ))
