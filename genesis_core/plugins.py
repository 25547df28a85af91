"""Load plugins and give the rest of Genesis a typed view of what they registered.

Entry points of the group ``genesis`` are loaded one at a time: a plugin that
fails to import, clashes with another's name or implements a hook wrongly is
recorded as broken (name, distribution, error) and the others still load.
``GENESIS_DISABLE_PLUGINS`` (a comma list of names) keeps plugins out.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from ._markers import ENTRY_POINT_GROUP, PROJECT_NAME
from .errors import one_line

T = TypeVar("T")
CORE_PLUGIN_NAME = "core"
DISABLE_ENV = "GENESIS_DISABLE_PLUGINS"


@attrs.frozen
class PluginInfo:
    """One plugin as ``genesis plugins`` lists it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = ()
    error: str | None = None
    disabled: bool = False

    @property
    def broken(self) -> bool:
        """Return whether the plugin failed to load or to register."""
        return self.error is not None


@attrs.frozen
class RegistrationProblem:
    """Something a plugin registered that the core refused."""

    plugin: str
    hook: str
    error: str


def disabled_names(environ: dict[str, str] | None = None) -> frozenset[str]:
    """Return the plugin names listed in ``GENESIS_DISABLE_PLUGINS``."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


class PluginHost:
    """A typed facade over the pluggy manager: what is installed and what it registered."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm = pm or make_plugin_manager()
        self._infos: dict[str, PluginInfo] = {}
        self.problems: list[RegistrationProblem] = []
        self._cache: dict[str, Any] = {}

    # -- loading ------------------------------------------------------------------------
    def add_plugin(self, plugin: object, name: str, *, distribution: str = "genesis-envsync",
                   version: str = "") -> bool:
        """Register ``plugin`` under ``name``; return False (and record why) if that fails."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a plugin must never take the host down
            self._infos[name] = PluginInfo(name, distribution, version, error=one_line(exc, every_line=True))
            return False
        self._infos[name] = PluginInfo(name, distribution, version)
        self._cache.clear()
        return True

    def load_builtins(self) -> None:
        """Register the core's own plugin (embedded transport, dotenv platform...)."""
        from . import builtin
        from ._version import __version__

        self.add_plugin(builtin, CORE_PLUGIN_NAME, version=__version__)

    def load_entry_points(self, *, disabled: frozenset[str] | None = None) -> None:
        """Load every ``genesis`` entry point one by one, recording the broken ones."""
        from .discovery import find_entry_points

        disabled = disabled_names() if disabled is None else disabled
        for ep in find_entry_points(ENTRY_POINT_GROUP):
            dist_name, version = ep.distribution, ep.version
            if ep.name in disabled:
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version, disabled=True)
                continue
            if ep.name in self._infos or self.pm.has_plugin(ep.name):
                if not self._infos.get(ep.name, PluginInfo("", "", "")).disabled:
                    self._infos[f"{ep.name}@{dist_name}"] = PluginInfo(
                        ep.name, dist_name, version,
                        error=f"name clash: a plugin named {ep.name!r} is already loaded")
                continue
            try:
                plugin = ep.load()
            except BaseException as exc:  # import errors of any kind, even SystemExit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version, error=one_line(exc, every_line=True))
                continue
            self.add_plugin(plugin, ep.name, distribution=dist_name, version=version)
        self._check_pending()

    def _check_pending(self) -> None:
        """Run ``pm.check_pending()``, unregistering (and reporting) each offending plugin."""
        for _ in range(100):
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) if exc.plugin is not None else None
                if name is None:
                    raise
                self.pm.unregister(exc.plugin)
                old = self._infos.get(name) or PluginInfo(name, "?", "")
                self._infos[name] = attrs.evolve(old, error=one_line(exc, every_line=True))
                self._cache.clear()

    # -- what is installed --------------------------------------------------------------
    def plugin_infos(self) -> list[PluginInfo]:
        """Return every plugin seen, loaded or broken or disabled, sorted by name."""
        infos = []
        for key, info in sorted(self._infos.items()):
            plugin = self.pm.get_plugin(key)
            if plugin is not None:
                hooks = tuple(sorted(
                    caller.name for caller in (self.pm.get_hookcallers(plugin) or [])))
                info = attrs.evolve(info, hooks=hooks)
            infos.append(info)
        return infos

    def broken(self) -> list[PluginInfo]:
        """Return the plugins that failed to load."""
        return [info for info in self.plugin_infos() if info.broken]

    # -- what plugins registered --------------------------------------------------------
    def _collect(self, hook_name: str, kind: type[T], key: Callable[[T], str]) -> dict[str, T]:
        if hook_name in self._cache:
            return self._cache[hook_name]
        found: dict[str, T] = {}
        owners: dict[str, str] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: the core first
            plugin_name = impl.plugin_name

            def register(item: Any, _plugin: str = plugin_name) -> None:
                if not isinstance(item, kind):
                    raise TypeError(f"expected a {kind.__name__}, got {type(item).__name__}")
                name = key(item)
                if name in found:
                    raise ValueError(f"{kind.__name__} {name!r} is already registered by {owners[name]!r}")
                found[name] = item
                owners[name] = _plugin

            def checked(item: Any, _plugin: str = plugin_name, _register: Any = register) -> None:
                try:
                    _register(item)
                except (TypeError, ValueError) as exc:
                    self.problems.append(RegistrationProblem(_plugin, hook_name, one_line(exc, every_line=True)))

            try:
                impl.function(register=checked)
            except Exception as exc:
                self.problems.append(RegistrationProblem(plugin_name, hook_name, one_line(exc, every_line=True)))
        self._cache[hook_name] = found
        return found

    def platform_kinds(self) -> dict[str, Any]:
        """Return ``{kind name: PlatformKind}``."""
        from .platforms.model import PlatformKind

        return self._collect("genesis_register_platforms", PlatformKind, lambda k: k.name)

    def engines(self) -> dict[str, Any]:
        """Return ``{engine name: Engine}``."""
        from .engines import Engine

        return self._collect("genesis_register_engines", Engine, lambda e: e.name)

    def transports(self) -> dict[str, Any]:
        """Return ``{transport name: TransportKind}``."""
        from .bus.transport import TransportKind

        return self._collect("genesis_register_transports", TransportKind, lambda t: t.name)

    def commands(self) -> dict[str, Any]:
        """Return ``{command name: Command}``."""
        from .cli.commands import Command

        return self._collect("genesis_register_commands", Command, lambda c: c.name)


def make_plugin_manager() -> pluggy.PluginManager:
    """Return a pluggy manager for project ``genesis`` with the hook specs added."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def build_plugin_host(*, entry_points: bool = True, plugins: tuple[tuple[str, object], ...] = (),
                      disabled: frozenset[str] | None = None) -> PluginHost:
    """Return a new host with the core's built-ins, installed plugins and ``plugins`` given."""
    host = PluginHost()
    host.load_builtins()
    for name, plugin in plugins:
        host.add_plugin(plugin, name, distribution="(in-process)")
    if entry_points:
        host.load_entry_points(disabled=disabled)
    else:
        host._check_pending()
    return host


@functools.lru_cache(maxsize=1)
def get_plugin_host() -> PluginHost:
    """Return the process-wide host with every installed plugin loaded (built once)."""
    return build_plugin_host()
