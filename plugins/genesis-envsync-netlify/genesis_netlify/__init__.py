"""Genesis platform adapter for Netlify (https://www.netlify.com)."""

from __future__ import annotations

__version__ = "0.1.0"
