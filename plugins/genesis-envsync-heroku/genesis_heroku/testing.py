"""Test helpers: build a Heroku adapter for a :class:`HerokuEmulator`, and the contract harness.

Needs the testing extra of genesis-envsync (``pip install 'genesis-envsync[testing]'``), as
:mod:`genesis_core.testing.contract` imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, Table
from genesis_core.testing import (
    EmulatorHarness,
    Request,
    fetch_sync,
    write_batch_sync,
    write_sync,
)

from .adapter import HerokuAdapter
from .emulator import HerokuEmulator

__all__ = ["APP", "HerokuHarness", "fetch", "make_adapter", "patches", "token_env", "write", "write_batch"]

APP = "acme-api"

fetch = fetch_sync
write = write_sync
write_batch = write_batch_sync


def make_adapter(emulator: HerokuEmulator, name: str = "heroku", **table: Any) -> HerokuAdapter:
    """Return a HerokuAdapter for ``APP`` on ``emulator``; an override of ``None`` drops the key."""
    data: dict[str, Any] = {"kind": "heroku", "app": APP, "base_url": emulator.base_url, "timeout": 1.0,
                            "retries": 2}
    data.update(table)
    data = {key: value for key, value in data.items() if value is not None}
    return HerokuAdapter(InstanceConfig(name, "heroku", Table(data, "genesis.toml", f"platforms.{name}"), Path(".")))


def token_env(emulator: HerokuEmulator) -> dict[str, str]:
    """Return the environment holding the emulator's token."""
    return {"HEROKU_API_KEY": emulator.token}


def patches(requests: Iterable[Request]) -> list[dict[str, Any]]:
    """Return the JSON bodies of the recorded ``PATCH .../config-vars`` requests."""
    return [request.json() for request in requests
            if request.method == "PATCH" and request.path.endswith("/config-vars")]


class HerokuHarness(EmulatorHarness):
    """Drives the Heroku adapter through :class:`HerokuEmulator` for the adapter contract suite."""

    kind = "heroku"
    page_size = None  # config vars come in one object (add-on attachments are ranged: see the platform tests)
    unreadable_supported = False  # Heroku's API returns every value
    writable = True
    token = "heroku-contract-TOKEN-8d2e"
    emulator: HerokuEmulator

    def __init__(self) -> None:
        self.emulator = HerokuEmulator(token=self.token)
        self.emulator.add_app(APP)

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the app's config vars (Heroku has no unreadable values)."""
        if list(unreadable):
            raise ValueError("Heroku's API returns every value: nothing can be seeded unreadable")
        self.emulator.set_config(APP, variables)

    def stored(self) -> dict[str, str]:
        """Return the app's config vars as the emulator holds them."""
        return self.emulator.config(APP)

    def make_adapter(self, **table_overrides: Any) -> HerokuAdapter:
        """Return an adapter for the emulated app."""
        return make_adapter(self.emulator, **table_overrides)

    def env(self) -> dict[str, str]:
        """Return ``{"HEROKU_API_KEY": token}``."""
        return token_env(self.emulator)

    def written_values(self, request: Request) -> dict[str, Any] | None:
        """Return the body of a ``PATCH .../config-vars`` (the only request that writes)."""
        found = patches([request])
        return found[0] if found else None
