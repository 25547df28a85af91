"""Genesis platform adapter for Fly.io (https://fly.io)."""

from __future__ import annotations

__version__ = "0.1.0"
