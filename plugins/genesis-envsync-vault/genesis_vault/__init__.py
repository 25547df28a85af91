"""Genesis platform adapter for HashiCorp Vault and OpenBao (KV version 2)."""

from __future__ import annotations

__version__ = "0.1.0"
