"""The core's own plugin ``core``: the ``dotenv`` platform and ``genesis new-adapter``.

One of the ``BUILTIN_PLUGINS`` (``genesis_core.plugins``), registered through the
same hooks as any installed plugin; the transports are ``bus/plugin.py``'s and the
other commands ``cli/builtin.py``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._markers import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from .cli.commands import Command
    from .platforms.model import InstanceConfig, PlatformAdapter, PlatformKind


def _make_dotenv_adapter(instance: InstanceConfig) -> PlatformAdapter:
    """Return a :class:`~genesis_core.platforms.dotenv.DotenvAdapter` for one ``[platforms.NAME]`` table."""
    from .platforms.dotenv import DotenvAdapter

    return DotenvAdapter(instance)


_DOTENV_EXAMPLE = '''paths = [".env"]                 # later files override earlier ones, e.g. [".env", ".env.local"]
# dialect = "python"             # read as your app's loader does: python, node, dotenvx or compose
# optional = false               # a missing file is an error unless optional = true
# exclude = ["VITE_*"]           # keys this platform is not expected to have'''


@hookimpl
def genesis_register_platforms(register: Callable[[PlatformKind], None]) -> None:
    """Register the ``dotenv`` platform kind (its adapter module is imported when an instance is built)."""
    from .platforms.model import PlatformKind

    register(PlatformKind(
        name="dotenv",
        factory=_make_dotenv_adapter,
        description="local .env files read as python-dotenv, Node dotenv, dotenvx or Compose do; later paths override",
        credential_env=None,
        supports_write=True,
        config_example=_DOTENV_EXAMPLE,
    ))


@hookimpl
def genesis_register_commands(register: Callable[[Command], None]) -> None:
    """Register ``genesis new-adapter`` (``scaffold`` is imported only when the command is used)."""
    from .cli.commands import Command

    register(Command.lazy("new-adapter", "create a plugin distribution for a new platform adapter",
                          "genesis_core.scaffold:NEW_ADAPTER_COMMAND"))
