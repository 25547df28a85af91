"""The testing kit: what a plugin's tests (and its emulators) may import from Genesis.

Together with :mod:`genesis_core.api` this is the documented surface for plugin
authors (``docs/api-surface.txt`` lists both).  It holds the adapter contract
suite and its harnesses (:mod:`.contract`), the transport contract suite
(:mod:`.transport_contract`), the emulator base (:mod:`.emulator`), a
fault-injecting proxy in front of a real server (:mod:`.proxy`), child-process
servers (:mod:`.servers`), a real Chromium for page tests (:mod:`.browser`),
hypothesis strategies for snapshots (:mod:`.strategies`), an example adapter
(:mod:`.example_adapter`) and helpers to run ``genesis`` and a plugin host
inside a test.  Names are imported on first
use, so importing this package (as a plugin's emulator does) needs neither
pytest nor hypothesis; the contract suites need pytest (``pip install
'genesis-envsync[testing]'``).  The pytest fixtures (``genesis_home``,
``fresh_plugin_host``, ``genesis_cli``, ``instant_retries``, ``chromium``) are
registered through the ``pytest11`` entry point; ``chromium`` needs Playwright
(``pip install 'genesis-envsync[browser]'``) only when a test asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

#: Where each name lives (module inside ``genesis_core``).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "testing.strategies": ("env_keys", "env_values", "environment_names", "environments", "instance_names",
                           "key_patterns", "scoping_options", "secret_values", "snapshot", "snapshots"),
    "testing.contract": ("AdapterContract", "CASED_VALUES", "EmulatorHarness", "FAULT_CASES", "FaultCase",
                         "PlatformHarness", "TRICKY_VALUES", "WRITE_FAULT_CASES", "WRITE_METHODS", "closed_port",
                         "fetch_sync", "run_fetch", "run_write", "run_write_batch",
                         "write_batch_sync", "write_sync"),
    "testing.transport_contract": ("TransportContract", "TransportHarness"),
    "testing.emulator": ("FAULT_KINDS", "ITEM_FAULTS", "EmulatorServer", "Fault", "RateLimit", "RateUsage",
                         "Request", "Response", "Throttle", "iter_routes", "paginate", "spoil_item"),
    "testing.example_adapter": ("ExampleAdapter", "ExampleEmulator", "ExampleHarness"),
    "testing.proxy": ("FaultProxy",),
    "testing.servers": ("ServerProcess", "ServerStartError", "free_port", "missing_server"),
    "testing.running": ("build_plugin_host", "genesis_main", "reset_plugin_host"),
    "testing.builders": ("instance_config",),
    "testing.browser": ("Chromium", "PageWatch", "find_chromium"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)

if TYPE_CHECKING:  # what a type checker sees; at run time each name is imported on first use
    from .browser import Chromium as Chromium
    from .browser import PageWatch as PageWatch
    from .browser import find_chromium as find_chromium
    from .builders import instance_config as instance_config
    from .contract import CASED_VALUES as CASED_VALUES
    from .contract import FAULT_CASES as FAULT_CASES
    from .contract import TRICKY_VALUES as TRICKY_VALUES
    from .contract import WRITE_FAULT_CASES as WRITE_FAULT_CASES
    from .contract import WRITE_METHODS as WRITE_METHODS
    from .contract import AdapterContract as AdapterContract
    from .contract import EmulatorHarness as EmulatorHarness
    from .contract import FaultCase as FaultCase
    from .contract import PlatformHarness as PlatformHarness
    from .contract import closed_port as closed_port
    from .contract import fetch_sync as fetch_sync
    from .contract import run_fetch as run_fetch
    from .contract import run_write as run_write
    from .contract import run_write_batch as run_write_batch
    from .contract import write_batch_sync as write_batch_sync
    from .contract import write_sync as write_sync
    from .emulator import FAULT_KINDS as FAULT_KINDS
    from .emulator import ITEM_FAULTS as ITEM_FAULTS
    from .emulator import EmulatorServer as EmulatorServer
    from .emulator import Fault as Fault
    from .emulator import RateLimit as RateLimit
    from .emulator import RateUsage as RateUsage
    from .emulator import Request as Request
    from .emulator import Response as Response
    from .emulator import Throttle as Throttle
    from .emulator import iter_routes as iter_routes
    from .emulator import paginate as paginate
    from .emulator import spoil_item as spoil_item
    from .example_adapter import ExampleAdapter as ExampleAdapter
    from .example_adapter import ExampleEmulator as ExampleEmulator
    from .example_adapter import ExampleHarness as ExampleHarness
    from .proxy import FaultProxy as FaultProxy
    from .running import build_plugin_host as build_plugin_host
    from .running import genesis_main as genesis_main
    from .running import reset_plugin_host as reset_plugin_host
    from .servers import ServerProcess as ServerProcess
    from .servers import ServerStartError as ServerStartError
    from .servers import free_port as free_port
    from .servers import missing_server as missing_server
    from .strategies import env_keys as env_keys
    from .strategies import env_values as env_values
    from .strategies import environment_names as environment_names
    from .strategies import environments as environments
    from .strategies import instance_names as instance_names
    from .strategies import key_patterns as key_patterns
    from .strategies import scoping_options as scoping_options
    from .strategies import secret_values as secret_values
    from .strategies import snapshot as snapshot
    from .strategies import snapshots as snapshots
    from .transport_contract import TransportContract as TransportContract
    from .transport_contract import TransportHarness as TransportHarness
else:
    def __getattr__(name: str) -> object:
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(f"genesis_core.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
