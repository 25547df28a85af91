"""Genesis platform adapter for Heroku (https://www.heroku.com)."""

from __future__ import annotations

__version__ = "0.1.0"
