"""Genesis Blueprint: check an application's environment variables against a schema."""

from __future__ import annotations

__version__ = "0.1.0"
