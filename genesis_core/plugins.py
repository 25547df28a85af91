"""Load plugins and give the rest of Genesis a typed view of what they registered.

The core's own ``BUILTIN_PLUGINS`` are registered first, then the entry points
of the group ``genesis``, one at a time: a plugin that fails to import, is
built for another core API, clashes with another's name or implements a hook
wrongly is recorded as broken (name, distribution, error and traceback) and
the others still load.  ``GENESIS_DISABLE_PLUGINS`` (a comma list of names)
keeps plugins out.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from ._markers import ENTRY_POINT_GROUP, PROJECT_NAME
from .errors import one_line

if TYPE_CHECKING:
    from .bus.transport import TransportKind
    from .cli.commands import Command
    from .engines import Engine
    from .platforms.model import PlatformKind

T = TypeVar("T")
CORE_PLUGIN_NAME = "core"
CORE_DISTRIBUTION = "genesis-envsync"
DISABLE_ENV = "GENESIS_DISABLE_PLUGINS"

#: The core's own plugins, registered before any installed one and through the same hooks
#: (datasette's built-in plugins): ``(plugin name, module)``.  Modules are named, not imported
#: here, so this module depends on neither the command line nor the bus.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    (CORE_PLUGIN_NAME, "genesis_core.builtin"),          # the dotenv platform, genesis new-adapter
    ("core.transports", "genesis_core.bus.plugin"),      # the embedded and memory transports
    ("core.commands", "genesis_core.cli.builtin"),       # sync, init, doctor, demo, emulate, plugins...
)


@attrs.frozen
class PluginInfo:
    """One plugin as ``genesis plugins`` lists it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = ()
    error: str | None = None
    disabled: bool = False
    #: One of the core's ``BUILTIN_PLUGINS`` (``genesis plugins`` lists them with ``--all``).
    builtin: bool = False
    #: The formatted traceback of the failure (``genesis plugins --verbose``, ``GENESIS_DEBUG=1``).
    traceback: str | None = attrs.field(default=None, eq=False, repr=False)

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
    traceback: str | None = attrs.field(default=None, eq=False, repr=False)


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


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
        self._cache: dict[str, dict[str, Any]] = {}

    # -- loading ------------------------------------------------------------------------
    def add_plugin(self, plugin: object, name: str, *, distribution: str = CORE_DISTRIBUTION,
                   version: str = "", builtin: bool = False) -> bool:
        """Register ``plugin`` under ``name``; return False (and record why) if that fails."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a plugin must never take the host down
            self._infos[name] = PluginInfo(name, distribution, version, error=one_line(exc, every_line=True),
                                           builtin=builtin, traceback=_traceback(exc))
            return False
        self._infos[name] = PluginInfo(name, distribution, version, builtin=builtin)
        self._cache.clear()
        return True

    def load_builtins(self) -> None:
        """Register the core's ``BUILTIN_PLUGINS``, in order, before anything installed."""
        import importlib

        from ._version import __version__

        for name, module in BUILTIN_PLUGINS:
            self.add_plugin(importlib.import_module(module), name, version=__version__, builtin=True)

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
            if ep.api_error is not None:  # built for another core: not even imported
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version, error=ep.api_error)
                continue
            try:
                plugin = ep.load()
            except BaseException as exc:  # import errors of any kind, even SystemExit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._infos[ep.name] = PluginInfo(ep.name, dist_name, version,
                                                  error=one_line(exc, every_line=True),
                                                  traceback=_traceback(exc))
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
                self._infos[name] = attrs.evolve(old, error=one_line(exc, every_line=True),
                                                 traceback=_traceback(exc))
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
        """Call each implementation of ``hook_name`` on its own; return what they registered by name.

        The register hooks are called one implementation at a time (not through
        ``pm.hook``), in registration order, so a plugin that raises or registers
        nonsense is recorded as a ``RegistrationProblem`` and the others still count.
        """
        cached = self._cache.get(hook_name)
        if cached is not None:
            return cached
        found: dict[str, T] = {}
        owners: dict[str, str] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: the core first
            plugin_name = impl.plugin_name

            def register(item: object, _plugin: str = plugin_name) -> None:
                if not isinstance(item, kind):
                    raise TypeError(f"expected a {kind.__name__}, got {type(item).__name__}")
                name = key(item)
                if name in found:
                    raise ValueError(f"{kind.__name__} {name!r} is already registered by {owners[name]!r}")
                found[name] = item
                owners[name] = _plugin

            def checked(item: object, _plugin: str = plugin_name,
                        _register: Callable[[object, str], None] = register) -> None:
                try:
                    _register(item, _plugin)
                except (TypeError, ValueError) as exc:
                    self.problems.append(RegistrationProblem(_plugin, hook_name, one_line(exc, every_line=True)))

            try:
                impl.function(register=checked)
            except Exception as exc:
                self.problems.append(RegistrationProblem(plugin_name, hook_name, one_line(exc, every_line=True),
                                                         traceback=_traceback(exc)))
        self._cache[hook_name] = found
        return found

    def platform_kinds(self) -> dict[str, PlatformKind]:
        """Return ``{kind name: PlatformKind}``."""
        from .platforms.model import PlatformKind

        return self._collect("genesis_register_platforms", PlatformKind, lambda k: k.name)

    def engines(self) -> dict[str, Engine]:
        """Return ``{engine name: Engine}``."""
        from .engines import Engine

        return self._collect("genesis_register_engines", Engine, lambda e: e.name)

    def transports(self) -> dict[str, TransportKind]:
        """Return ``{transport name: TransportKind}``."""
        from .bus.transport import TransportKind

        return self._collect("genesis_register_transports", TransportKind, lambda t: t.name)

    def commands(self) -> dict[str, Command]:
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
