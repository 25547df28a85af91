"""Helpers for testing Genesis and its plugins (install ``genesis-envsync[testing]``).

Hypothesis strategies for snapshots (:mod:`.strategies`), the adapter contract
suite (:mod:`.contract`), the emulator base (:mod:`.emulator`), a fault-injecting
proxy in front of a real server (:mod:`.proxy`), child-process servers
(:mod:`.servers`) and an example adapter (:mod:`.example_adapter`) are re-exported
here lazily, so importing this package needs neither pytest nor hypothesis.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "strategies": ("env_keys", "env_values", "instance_names", "key_patterns", "scoping_options",
                   "secret_values", "snapshot", "snapshots"),
    "contract": ("AdapterContract", "PlatformHarness", "EmulatorHarness", "run_fetch", "run_write",
                 "run_write_batch", "fetch_sync", "write_sync", "write_batch_sync", "TRICKY_VALUES"),
    "emulator": ("EmulatorServer", "Fault", "Request", "Response", "FAULT_KINDS", "paginate"),
    "example_adapter": ("ExampleAdapter", "ExampleEmulator", "ExampleHarness"),
    "proxy": ("FaultProxy",),
    "servers": ("ServerProcess", "ServerStartError", "free_port", "missing_server"),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
