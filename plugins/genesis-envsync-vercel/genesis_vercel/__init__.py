"""Genesis adapter for Vercel project environment variables.

Importing this package is cheap: the adapter (httpx) is imported only when an
instance is built.
"""

from __future__ import annotations

__version__ = "0.1.0"
