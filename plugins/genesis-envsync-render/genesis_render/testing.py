"""Test helpers: build a Render adapter for a :class:`RenderEmulator`, and the contract harness.

Needs the testing extra of genesis-envsync (``pip install 'genesis-envsync[testing]'``), as
:mod:`genesis_core.testing.contract` imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import EmulatorHarness, fetch_sync, write_sync

from .adapter import PAGE_SIZE, RenderAdapter
from .emulator import RenderEmulator

__all__ = ["GROUP_ID", "SERVICE_ID", "RenderHarness", "fetch", "make_adapter", "token_env", "write"]

SERVICE_ID = "srv-ct6vn35j0q5s700ckga0"
GROUP_ID = "evg-crbps4bqf0us73dfggr0"

fetch = fetch_sync
write = write_sync


def make_adapter(emulator: RenderEmulator, name: str = "render-web", **table: Any) -> RenderAdapter:
    """Return a RenderAdapter for ``SERVICE_ID`` on ``emulator``; an override of ``None`` drops the key."""
    data: dict[str, Any] = {"kind": "render", "service_id": SERVICE_ID, "base_url": emulator.base_url,
                            "timeout": 1.0, "retries": 2}
    data.update(table)
    data = {key: value for key, value in data.items() if value is not None}
    instance = InstanceConfig(name, "render", Table(data, "genesis.toml", f"platforms.{name}"), Path("."))
    return RenderAdapter(instance)


def token_env(emulator: RenderEmulator) -> dict[str, str]:
    """Return the environment holding the emulator's token."""
    return {"RENDER_API_KEY": emulator.token}


class RenderHarness(EmulatorHarness):
    """Drives the Render adapter through :class:`RenderEmulator` for the adapter contract suite."""

    emulator: RenderEmulator

    kind = "render"
    page_size = PAGE_SIZE
    unreadable_supported = False  # Render's API returns every value
    writable = True
    token = "rnd_contract_TOKEN_4e1c"

    def __init__(self) -> None:
        self.emulator = RenderEmulator(token=self.token)
        self.emulator.set_env(SERVICE_ID, {})

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the service's variables (Render has no unreadable values)."""
        if list(unreadable):
            raise ValueError("Render's API returns every value: nothing can be seeded unreadable")
        self.emulator.set_env(SERVICE_ID, variables)

    def stored(self) -> dict[str, str]:
        """Return the service's variables as the emulator holds them."""
        return self.emulator.env(SERVICE_ID)

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter for the emulated service."""
        return make_adapter(self.emulator, **table_overrides)

    def env(self) -> dict[str, str]:
        """Return ``{"RENDER_API_KEY": token}``."""
        return token_env(self.emulator)
