"""Everything this plugin takes from genesis-envsync, imported in one place."""

from __future__ import annotations

from genesis_core.api import (
           COMMON_KEYS,
           ConfigError,
           FetchContext,
           InstanceConfig,
           PlatformAdapter,
           PlatformError,
           Snapshot,
           Table,
           scrub_detail,
           url_problem,
)

__all__ = ["COMMON_KEYS", "ConfigError", "FetchContext", "InstanceConfig", "PlatformAdapter", "PlatformError",
           "Snapshot", "Table", "scrub_detail", "url_problem"]
