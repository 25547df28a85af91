"""Genesis Steward: drift reports (Markdown, JSON, HTML), step summaries and signed webhooks."""

from __future__ import annotations

__version__ = "0.1.0"
