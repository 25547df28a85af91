"""The Genesis event bus.

```python
from genesis_core.bus import genesis_bus
result = await genesis_bus.publish("envsync.drift", {"has_drift": True})
genesis_bus.subscribe("envsync.*", handler)
genesis_bus.get_event_history(limit=10)
```

See ``docs/bus.md``.  Only light modules are imported here; the SQLite store
is imported when a bus first needs it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "core": ("BLOCKED_TOPIC", "BoundBus", "GenesisBus"),
    "results": ("PublishResult", "RetryReport"),
    "process": ("current_bus", "genesis_bus", "get_bus", "reset_bus", "set_bus"),
    "dispatcher": ("HandlerFailure", "SubscriptionHandle"),
    "envelope": ("Envelope",),
    "guardian": ("Decision", "DefaultPolicy", "Guardian"),
    "topics": ("topic_matches",),
    "transport": ("DeadLetter", "DeadLetterStore", "Transport", "TransportKind"),
    "setup": ("configure_bus",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    # Lazy, so importing genesis_core.bus.transport (as plugins do to register) stays cheap.
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'genesis_core.bus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
