"""Everything this plugin takes from genesis-envsync, imported in one place."""

from __future__ import annotations

from genesis_core.api import (
    HTTP_DEFAULT_TIMEOUT as DEFAULT_TIMEOUT,
)
from genesis_core.api import (
    HTTP_USER_AGENT as USER_AGENT,
)
from genesis_core.api import (
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    scrub_detail,
    url_problem,
)

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "FetchContext", "HttpPlatformAdapter", "InstanceConfig",
           "PlatformError", "Snapshot", "scrub_detail", "url_problem"]
