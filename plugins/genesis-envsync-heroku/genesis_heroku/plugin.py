"""Entry-point module: registers the ``heroku`` platform kind (imports stay lazy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def _make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_heroku.adapter.HerokuAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import HerokuAdapter

    return HerokuAdapter(instance)


_EXAMPLE = """\
app = "REPLACE_ME"                # the app's name (or id), as in `heroku apps`
# every config change is a release that restarts the app: Genesis writes one app's keys in one change
# base_url = "https://api.heroku.com"
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., Any]) -> None:
    """Register the ``heroku`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        "heroku", _make_adapter,
        description="Heroku app config vars (Platform API v3; add-on values read, never written)",
        credential_env="HEROKU_API_KEY", supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_heroku.emulator:HerokuEmulator",
    ))
