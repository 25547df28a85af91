"""pluggy markers for the ``genesis`` project."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "genesis"
ENTRY_POINT_GROUP = "genesis"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
