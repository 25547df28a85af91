"""The process-wide bus: ``genesis_bus``, the proxy the seed's API uses, and who it points at.

On first use without ``configure_bus``/``set_bus``, ``get_bus`` builds the bus ``genesis``
would build in this directory: it runs the CLI's own code path (``CommandContext().bus``:
the configuration found as the CLI finds it, ``GENESIS_CONFIG`` honoured, the installed
plugins, ``configure_bus``), so ``[bus] transport``, ``state_dir``, ``[guardian]`` and the
engines apply.  Without a configuration file it builds the default bus (embedded store in
``$GENESIS_HOME`` or ``./.genesis``, the built-in Guardian policy, no engines).  A broken
configuration raises its ``ConfigError``; it never falls back.  Subscriptions made through
the proxy follow the bus when it is replaced.  The slot itself is in ``slot.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BusError
from . import slot
from .core import GenesisBus, Target, make_subscriber
from .dispatcher import Handler, SubscriptionHandle
from .guardian import Guardian
from .slot import current_bus, reset_bus, set_bus

__all__ = ["build_default_bus", "build_process_bus", "current_bus", "default_state_dir", "genesis_bus",
           "get_bus", "reset_bus", "set_bus"]

_building = False


def default_state_dir() -> Path:
    """Return ``$GENESIS_HOME`` or ``./.genesis`` (what ``Config.state_dir`` gives without a config)."""
    from ..config import home_state_dir

    return home_state_dir() or (Path.cwd() / ".genesis").resolve()


def build_default_bus() -> GenesisBus:
    """Return a bus on the embedded store of the default state dir with the built-in policy."""
    from .guardian import DefaultPolicy
    from .store import open_store

    return GenesisBus(open_store(default_state_dir()), Guardian.of(DefaultPolicy()))


def build_process_bus() -> GenesisBus:
    """Return a new process bus built as ``genesis`` builds it here, installed (and owned) by the proxy.

    Raises ``ConfigError`` for a configuration that cannot be read or used, ``PluginError``
    when an engine fails to start.
    """
    from ..cli.context import CommandContext

    context = CommandContext()
    if context.config.source is None:  # no genesis.toml: the default bus, as before
        bus = build_default_bus()
        set_bus(bus, owned=True)
        return bus
    return context.bus  # configure_bus, exactly as a command gets it; it installs the bus


def get_bus() -> GenesisBus:
    """Return the process bus, building it (``build_process_bus``) on first use."""
    global _building
    bus = slot.current_bus()
    if bus is not None:
        return bus
    with slot.lock:
        if slot.current_bus() is None:
            if _building:  # an engine or plugin starting up used genesis_bus
                raise BusError("genesis_bus was used while the process bus was being built; "
                               "an engine should publish through the bus it is started with")
            _building = True
            try:
                build_process_bus()
            finally:
                _building = False
        current = slot.current_bus()
        assert current is not None
        return current


class _BusProxy:
    """``genesis_bus``: forwards to the process bus; its subscriptions follow the bus when replaced."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_bus(), name)

    def subscribe(self, topics: str | Iterable[str], handler: Handler, name: str | None = None,
                  timeout: float | None = None, *, thread: bool | None = None
                  ) -> SubscriptionHandle:
        """Subscribe on the process bus; the subscription moves with ``set_bus``/``configure_bus``."""
        with slot.lock:
            current = slot.current_bus()
            taken = {s.name for s in slot.proxy_subscribers}
            if current is not None:
                taken |= {h.name for h in current.subscribers()}

            def unique(base: str) -> str:
                candidate, n = base, 1
                while candidate in taken:
                    n += 1
                    candidate = f"{base}#{n}"
                return candidate

            sub = make_subscriber(topics, handler, name, timeout, thread, unique=unique)
            if sub.name in {s.name for s in slot.proxy_subscribers}:
                raise BusError(f"a subscriber named {sub.name!r} already exists (pass another name=)")
            if current is not None:  # otherwise it is attached when the bus is built
                current._attach(sub)
            slot.proxy_subscribers.append(sub)
            return sub.handle

    def unsubscribe(self, target: Target) -> int:
        """Unsubscribe on the process bus (and stop carrying the subscription over)."""
        with slot.lock:
            current = slot.current_bus()
            removed = current.unsubscribe(target) if current is not None else 0
            keep = []
            for sub in slot.proxy_subscribers:
                gone = (sub.id == target.id if isinstance(target, SubscriptionHandle)
                        else sub.id == target if isinstance(target, int)
                        else sub.name == target if isinstance(target, str)
                        else sub.handler == target)
                if not gone:
                    keep.append(sub)
            if current is None:
                removed = len(slot.proxy_subscribers) - len(keep)
            slot.proxy_subscribers[:] = keep
            return removed

    def __repr__(self) -> str:
        return f"<genesis_bus proxy -> {slot.current_bus()!r}>"


genesis_bus: GenesisBus = _BusProxy()  # type: ignore[assignment]
