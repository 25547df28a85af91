"""The process-wide bus: ``genesis_bus``, the proxy the seed's API uses, and who it points at.

``get_bus`` builds a default bus (embedded store in ``$GENESIS_HOME`` or ``./.genesis``,
the built-in Guardian policy) on first use; ``configure_bus`` installs the configured one
with ``set_bus``.  Subscriptions made through the proxy follow the bus when it is replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BusError
from .core import GenesisBus, Target, make_subscriber
from .dispatcher import Handler, Subscriber, SubscriptionHandle
from .guardian import Guardian

_lock = threading.RLock()
_current: GenesisBus | None = None
_owned = False
_proxy_subscribers: list[Subscriber] = []


def default_state_dir() -> Path:
    """Return ``$GENESIS_HOME`` or ``./.genesis`` (what ``Config.state_dir`` gives without a config)."""
    from ..config import home_state_dir

    return home_state_dir() or (Path.cwd() / ".genesis").resolve()


def build_default_bus() -> GenesisBus:
    """Return a bus on the embedded store of the default state dir with the built-in policy."""
    from .guardian import DefaultPolicy
    from .store import open_store

    return GenesisBus(open_store(default_state_dir()), Guardian.of(DefaultPolicy()))


def get_bus() -> GenesisBus:
    """Return the process bus, building the default one on first use."""
    bus = _current
    if bus is not None:
        return bus
    with _lock:
        if _current is None:
            _install(build_default_bus(), owned=True)
        assert _current is not None
        return _current


def _install(bus: GenesisBus, *, owned: bool) -> GenesisBus | None:
    global _current, _owned
    with _lock:
        previous, previous_owned = _current, _owned
        for sub in _proxy_subscribers:
            bus._attach(sub.clone())
        _current, _owned = bus, owned
    if previous is not None and previous is not bus and previous_owned:
        previous.close()
        return None
    return previous


def set_bus(bus: GenesisBus, *, owned: bool = False) -> GenesisBus | None:
    """Point ``genesis_bus`` at ``bus``; return the previous bus (``None`` if it was closed).

    Subscriptions made through ``genesis_bus`` move to the new bus.  With
    ``owned=True`` the proxy closes ``bus`` when it is replaced later; a bus the
    proxy built itself (the lazy default, or ``configure_bus``) is owned.
    """
    return _install(bus, owned=owned)


def reset_bus(*, keep_subscriptions: bool = False) -> None:
    """Forget the process bus (closing it if the proxy owns it); for tests and shutdown."""
    global _current, _owned
    with _lock:
        previous, previous_owned = _current, _owned
        _current, _owned = None, False
        if not keep_subscriptions:
            _proxy_subscribers.clear()
    if previous is not None and previous_owned:
        previous.close()


def current_bus() -> GenesisBus | None:
    """Return the process bus if one is set or built, without building one."""
    return _current


class _BusProxy:
    """``genesis_bus``: forwards to the process bus; its subscriptions follow the bus when replaced."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_bus(), name)

    def subscribe(self, topics: str | Iterable[str], handler: Handler, name: str | None = None,
                  timeout: float | None = None, *, thread: bool | None = None
                  ) -> SubscriptionHandle:
        """Subscribe on the process bus; the subscription moves with ``set_bus``/``configure_bus``."""
        with _lock:
            taken = {s.name for s in _proxy_subscribers}
            if _current is not None:
                taken |= {h.name for h in _current.subscribers()}

            def unique(base: str) -> str:
                candidate, n = base, 1
                while candidate in taken:
                    n += 1
                    candidate = f"{base}#{n}"
                return candidate

            sub = make_subscriber(topics, handler, name, timeout, thread, unique=unique)
            if sub.name in {s.name for s in _proxy_subscribers}:
                raise BusError(f"a subscriber named {sub.name!r} already exists (pass another name=)")
            if _current is not None:  # otherwise it is attached when the bus is built
                _current._attach(sub)
            _proxy_subscribers.append(sub)
            return sub.handle

    def unsubscribe(self, target: Target) -> int:
        """Unsubscribe on the process bus (and stop carrying the subscription over)."""
        with _lock:
            removed = _current.unsubscribe(target) if _current is not None else 0
            keep = []
            for sub in _proxy_subscribers:
                gone = (sub.id == target.id if isinstance(target, SubscriptionHandle)
                        else sub.id == target if isinstance(target, int)
                        else sub.name == target if isinstance(target, str)
                        else sub.handler == target)
                if not gone:
                    keep.append(sub)
            if _current is None:
                removed = len(_proxy_subscribers) - len(keep)
            _proxy_subscribers[:] = keep
            return removed

    def __repr__(self) -> str:
        return f"<genesis_bus proxy -> {_current!r}>"


genesis_bus: GenesisBus = _BusProxy()  # type: ignore[assignment]
