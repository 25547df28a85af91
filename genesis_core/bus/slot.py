"""Which bus is the process bus: the slot ``genesis_bus`` reads, and replacing what is in it.

Kept apart from ``process.py`` so that ``setup.configure_bus`` can install a bus without
importing the module that, on first use, builds one through the CLI's ``configure_bus``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import GenesisBus
    from .dispatcher import Subscriber

lock = threading.RLock()
"""Held while the process bus is read-modified (re-entrant: building a bus installs it)."""
proxy_subscribers: list[Subscriber] = []
"""Subscriptions made through ``genesis_bus``; each new process bus gets a copy."""
_current: GenesisBus | None = None
_owned = False


def current_bus() -> GenesisBus | None:
    """Return the process bus if one is set or built, without building one."""
    return _current


def set_bus(bus: GenesisBus, *, owned: bool = False) -> GenesisBus | None:
    """Point ``genesis_bus`` at ``bus``; return the previous bus (``None`` if it was closed).

    Subscriptions made through ``genesis_bus`` move to the new bus.  With
    ``owned=True`` the proxy closes ``bus`` when it is replaced later; a bus the
    proxy built itself (on first use, or ``configure_bus``) is owned.
    """
    global _current, _owned
    with lock:
        previous, previous_owned = _current, _owned
        for sub in proxy_subscribers:
            bus._attach(sub.clone())
        _current, _owned = bus, owned
    if previous is not None and previous is not bus and previous_owned:
        previous.close()
        return None
    return previous


def reset_bus(*, keep_subscriptions: bool = False) -> None:
    """Forget the process bus (closing it if the proxy owns it); for tests and shutdown."""
    global _current, _owned
    with lock:
        previous, previous_owned = _current, _owned
        _current, _owned = None, False
        if not keep_subscriptions:
            proxy_subscribers.clear()
    if previous is not None and previous_owned:
        previous.close()
