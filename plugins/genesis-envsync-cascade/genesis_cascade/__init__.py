"""Genesis Cascade: tell connected frontends over a WebSocket when the configuration changed."""

from __future__ import annotations

__version__ = "0.1.0"
