"""Everything this plugin takes from genesis-envsync, imported in one place."""

from __future__ import annotations

from genesis_core.errors import PlatformError
from genesis_core.http import DEFAULT_TIMEOUT, USER_AGENT, scrub_detail
from genesis_core.platforms.http_adapter import HttpPlatformAdapter
from genesis_core.platforms.model import FetchContext, InstanceConfig, Snapshot

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "FetchContext", "HttpPlatformAdapter", "InstanceConfig",
           "PlatformError", "Snapshot", "scrub_detail"]
