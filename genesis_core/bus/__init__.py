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

from typing import Any

from .core import (
    BLOCKED_TOPIC,
    BoundBus,
    GenesisBus,
    PublishResult,
    RetryReport,
    current_bus,
    genesis_bus,
    get_bus,
    reset_bus,
    set_bus,
)
from .dispatcher import HandlerFailure, SubscriptionHandle
from .envelope import Envelope
from .guardian import Decision, DefaultPolicy, Guardian
from .topics import topic_matches
from .transport import DeadLetter, DeadLetterStore, Transport, TransportKind

__all__ = [
    "BLOCKED_TOPIC", "BoundBus", "DeadLetter", "DeadLetterStore", "Decision", "DefaultPolicy",
    "Envelope", "GenesisBus", "Guardian", "HandlerFailure", "PublishResult", "RetryReport",
    "SubscriptionHandle", "Transport", "TransportKind", "configure_bus", "current_bus",
    "genesis_bus", "get_bus", "reset_bus", "set_bus", "topic_matches",
]


def __getattr__(name: str) -> Any:
    if name == "configure_bus":
        from .setup import configure_bus

        return configure_bus
    raise AttributeError(f"module 'genesis_core.bus' has no attribute {name!r}")
