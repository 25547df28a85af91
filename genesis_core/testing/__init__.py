"""Helpers for testing Genesis and its plugins (install ``genesis-core[testing]``).

Hypothesis strategies for snapshots live in :mod:`genesis_core.testing.strategies`
and are re-exported here lazily, so importing this package needs no hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    name: "strategies"
    for name in ("env_keys", "env_values", "instance_names", "key_patterns", "scoping_options",
                 "secret_values", "snapshot", "snapshots")
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
