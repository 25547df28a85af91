"""Everything this plugin takes from genesis-envsync, imported in one place."""

from __future__ import annotations

from genesis_core.config import Table
from genesis_core.errors import ConfigError, PlatformError
from genesis_core.http import scrub_detail
from genesis_core.platforms.http_adapter import COMMON_KEYS
from genesis_core.platforms.model import FetchContext, InstanceConfig, PlatformAdapter, Snapshot

__all__ = ["COMMON_KEYS", "ConfigError", "FetchContext", "InstanceConfig", "PlatformAdapter", "PlatformError",
           "Snapshot", "Table", "scrub_detail"]
