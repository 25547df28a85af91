"""Test helpers: build a Fly adapter for a :class:`FlyEmulator`, and the contract harness.

Needs the testing extra of genesis-envsync (``pip install 'genesis-envsync[testing]'``), as
:mod:`genesis_core.testing.contract` imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, Table
from genesis_core.testing import EmulatorHarness, fetch_sync, write_sync

from .adapter import FlyAdapter
from .emulator import FlyEmulator

__all__ = ["APP", "FlyHarness", "fetch", "make_adapter", "token_env", "write"]

APP = "acme-api"

fetch = fetch_sync
write = write_sync


def make_adapter(emulator: FlyEmulator, name: str = "fly", **table: Any) -> FlyAdapter:
    """Return a FlyAdapter for ``APP`` on ``emulator``; an override of ``None`` drops the key."""
    data: dict[str, Any] = {"kind": "fly", "app": APP, "base_url": emulator.base_url, "timeout": 1.0, "retries": 2}
    data.update(table)
    data = {key: value for key, value in data.items() if value is not None}
    return FlyAdapter(InstanceConfig(name, "fly", Table(data, "genesis.toml", f"platforms.{name}"), Path(".")))


def token_env(emulator: FlyEmulator) -> dict[str, str]:
    """Return the environment holding the emulator's token."""
    return {"FLY_API_TOKEN": emulator.token}


class FlyHarness(EmulatorHarness):
    """Drives the Fly adapter through :class:`FlyEmulator` for the adapter contract suite."""

    kind = "fly"
    page_size = None  # the secrets list is one answer
    unreadable_supported = True
    readable_values = False  # the API never returns a secret's value
    writable = True
    token = "fm2_contract-TOKEN-macaroon-5b7c"
    emulator: FlyEmulator

    def __init__(self) -> None:
        self.emulator = FlyEmulator(token=self.token)
        self.emulator.add_app(APP)

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the app's secrets (every Fly secret is unreadable through the API)."""
        self.emulator.set_secrets(APP, variables)

    def stored(self) -> dict[str, str]:
        """Return the stored secret values."""
        return self.emulator.secrets(APP)

    def make_adapter(self, **table_overrides: Any) -> FlyAdapter:
        """Return an adapter for the emulated app."""
        return make_adapter(self.emulator, **table_overrides)

    def env(self) -> dict[str, str]:
        """Return ``{"FLY_API_TOKEN": token}``."""
        return token_env(self.emulator)
