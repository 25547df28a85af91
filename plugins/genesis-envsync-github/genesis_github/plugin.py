"""Entry-point module: registers the ``github`` platform kind (imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from genesis_core.api import InstanceConfig, PlatformAdapter


def make_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_github.adapter.GitHubAdapter` for one ``[platforms.NAME]`` table."""
    from .adapter import GitHubAdapter

    return GitHubAdapter(instance)


_EXAMPLE = """\
repository = "OWNER/REPO"
# environment = "production"     # compare an environment's secrets and variables instead
# include_secrets = true         # secret names only: GitHub never returns their values
# base_url = "https://api.github.com"   # GitHub Enterprise: https://HOST/api/v3
"""


@hookimpl
def genesis_register_platforms(register: Callable[..., None]) -> None:
    """Register the ``github`` kind."""
    from genesis_core.api import PlatformKind

    register(PlatformKind(
        name="github",
        factory=make_adapter,
        description="GitHub Actions secrets (names only) and variables of a repository or environment",
        credential_env="GITHUB_TOKEN",
        supports_write=True,
        config_example=_EXAMPLE, emulator="genesis_github.emulator:GitHubEmulator",
        case_sensitive=False,  # GitHub stores secret and variable names upper-cased
    ))
