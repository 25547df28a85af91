"""Test helpers: build a Netlify adapter for a :class:`NetlifyEmulator`, and the contract harness.

Needs the testing extra of genesis-envsync (``pip install 'genesis-envsync[testing]'``), as
:mod:`genesis_core.testing.contract` imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import EmulatorHarness, fetch_sync, write_sync

from .adapter import NetlifyAdapter
from .emulator import NetlifyEmulator

__all__ = ["ACCOUNT_ID", "SITE_ID", "NetlifyHarness", "fetch", "make_adapter", "token_env", "write"]

ACCOUNT_ID = "genesis-team"
SITE_ID = "3970e0fe-8564-4903-9a55-c5f8de49fb8b"

fetch = fetch_sync
write = write_sync


def make_adapter(emulator: NetlifyEmulator, name: str = "netlify-prod", **table: Any) -> NetlifyAdapter:
    """Return a NetlifyAdapter for ``SITE_ID`` on ``emulator``; an override of ``None`` drops the key."""
    data: dict[str, Any] = {"kind": "netlify", "account_id": ACCOUNT_ID, "site_id": SITE_ID,
                            "base_url": emulator.base_url, "timeout": 1.0, "retries": 2}
    data.update(table)
    data = {key: value for key, value in data.items() if value is not None}
    instance = InstanceConfig(name, "netlify", Table(data, "genesis.toml", f"platforms.{name}"), Path("."))
    return NetlifyAdapter(instance)


def token_env(emulator: NetlifyEmulator) -> dict[str, str]:
    """Return the environment holding the emulator's token."""
    return {"NETLIFY_AUTH_TOKEN": emulator.token}


class NetlifyHarness(EmulatorHarness):
    """Drives the Netlify adapter (context ``production``) through :class:`NetlifyEmulator`."""

    emulator: NetlifyEmulator

    kind = "netlify"
    page_size = None  # getEnvVars does not paginate
    unreadable_supported = True  # is_secret values outside the dev context
    writable = True
    token = "nfp_contract_TOKEN_91d2"

    def __init__(self) -> None:
        self.emulator = NetlifyEmulator(token=self.token)
        self.emulator.add_site(ACCOUNT_ID, SITE_ID)

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the site's variables with production values; ``unreadable`` keys are secrets."""
        self.emulator.set_env(ACCOUNT_ID, SITE_ID, variables, context="production", secret_keys=unreadable)

    def stored(self) -> dict[str, str]:
        """Return the values a production deploy sees (secrets in clear)."""
        return self.emulator.env(ACCOUNT_ID, SITE_ID, "production")

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter for the emulated site, context production."""
        return make_adapter(self.emulator, **table_overrides)

    def env(self) -> dict[str, str]:
        """Return ``{"NETLIFY_AUTH_TOKEN": token}``."""
        return token_env(self.emulator)
