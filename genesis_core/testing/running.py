"""Run ``genesis`` and a plugin host inside a test process."""

from __future__ import annotations

from collections.abc import Sequence

from ..plugins import PluginHost
from ..plugins import build_plugin_host as _build_plugin_host

__all__ = ["build_plugin_host", "genesis_main", "reset_plugin_host"]


def genesis_main(argv: Sequence[str]) -> int:
    """Run ``genesis ARGV`` in this process and return its exit code (output goes to ``sys.stdout``/``stderr``).

    The plugin host is the process-wide one (``reset_plugin_host`` forgets it);
    the ``genesis_cli`` fixture wraps this and captures the output.
    """
    from ..cli.main import main

    return main(list(argv))


def build_plugin_host(*, entry_points: bool = True, plugins: tuple[tuple[str, object], ...] = (),
                      disabled: frozenset[str] | None = None) -> PluginHost:
    """Return a new plugin host: the core's built-ins, the installed plugins (unless ``entry_points=False``)
    and ``plugins`` given as ``(name, module or object)`` pairs, registered as if installed."""
    return _build_plugin_host(entry_points=entry_points, plugins=plugins, disabled=disabled)


def reset_plugin_host() -> None:
    """Forget the process-wide plugin host, so the next command loads the plugins again."""
    from ..plugins import get_plugin_host

    get_plugin_host.cache_clear()
