"""Test helpers: build a Railway adapter for a :class:`RailwayEmulator`, and the contract harnesses.

Needs the testing extra of genesis-envsync (``pip install 'genesis-envsync[testing]'``), as
:mod:`genesis_core.testing.contract` imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, Table
from genesis_core.testing import EmulatorHarness, Request, fetch_sync, write_sync

from .adapter import RailwayAdapter
from .emulator import RailwayEmulator

__all__ = ["ENVIRONMENT", "PROJECT", "PROJECT_TOKEN", "SERVICE", "RailwayHarness", "RailwayAccountHarness",
           "fetch", "graphql_operations", "make_adapter", "token_env", "write"]

PROJECT = "2f5c61c4-6a0e-4a53-9c58-0d1e2f3a4b5c"
ENVIRONMENT = "7a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"
SERVICE = "c0ffee00-1234-4abc-8def-0123456789ab"
PROJECT_TOKEN = "railway-project-token-4c1e"

fetch = fetch_sync
write = write_sync


def make_adapter(emulator: RailwayEmulator, name: str = "railway", **table: Any) -> RailwayAdapter:
    """Return a RailwayAdapter for ``SERVICE`` on ``emulator``; an override of ``None`` drops the key."""
    data: dict[str, Any] = {"kind": "railway", "project_id": PROJECT, "environment_id": ENVIRONMENT,
                            "service_id": SERVICE, "base_url": emulator.base_url, "timeout": 1.0, "retries": 2}
    data.update(table)
    data = {key: value for key, value in data.items() if value is not None}
    return RailwayAdapter(InstanceConfig(name, "railway", Table(data, "genesis.toml", f"platforms.{name}"),
                                         Path(".")))


def token_env(token: str = PROJECT_TOKEN) -> dict[str, str]:
    """Return the environment holding a project token."""
    return {"RAILWAY_TOKEN": token}


def new_emulator(account_token: str = "railway-account-token-9b2d") -> RailwayEmulator:
    """Return an emulator (not started) holding ``PROJECT``/``ENVIRONMENT`` with the service ``api`` and a database."""
    emulator = RailwayEmulator(token=account_token)
    emulator.add_environment(PROJECT, ENVIRONMENT, services={SERVICE: "api", "db-service": "Postgres"})
    emulator.add_project_token(PROJECT, ENVIRONMENT, PROJECT_TOKEN)
    return emulator


def graphql_operations(requests: Iterable[Request]) -> list[str]:
    """Return the first root field of every recorded GraphQL request (``variables``, ``variableUpsert``...)."""
    import re

    found = []
    for request in requests:
        body = request.json() if request.body else None
        query = body.get("query", "") if isinstance(body, dict) else ""
        match = re.search(r"\{\s*(\w+)", query)
        found.append(match[1] if match else "")
    return found


class RailwayHarness(EmulatorHarness):
    """Drives the Railway adapter (project token) through :class:`RailwayEmulator` for the contract suite."""

    kind = "railway"
    page_size = None  # ``variables`` answers one map
    unreadable_supported = False  # every value is returned
    writable = True
    token = PROJECT_TOKEN
    emulator: RailwayEmulator

    def __init__(self) -> None:
        self.emulator = new_emulator()

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the service's variables (Railway has no unreadable values)."""
        if list(unreadable):
            raise ValueError("Railway's API returns every value: nothing can be seeded unreadable")
        self.emulator.set_variables(PROJECT, ENVIRONMENT, variables, service_id=SERVICE)

    def stored(self) -> dict[str, str]:
        """Return the service's variables as written."""
        return self.emulator.variables(PROJECT, ENVIRONMENT, SERVICE)

    def make_adapter(self, **table_overrides: Any) -> RailwayAdapter:
        """Return an adapter for the emulated service."""
        return make_adapter(self.emulator, **table_overrides)

    def env(self) -> dict[str, str]:
        """Return ``{"RAILWAY_TOKEN": project token}``."""
        return token_env(self.token)


class RailwayAccountHarness(RailwayHarness):
    """The same, with an account token (``token_kind = "account"``, ``RAILWAY_API_TOKEN``) on shared variables."""

    token = "railway-account-token-9b2d"

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the environment's shared variables."""
        if list(unreadable):
            raise ValueError("Railway's API returns every value: nothing can be seeded unreadable")
        self.emulator.set_variables(PROJECT, ENVIRONMENT, variables)

    def stored(self) -> dict[str, str]:
        """Return the environment's shared variables as written."""
        return self.emulator.variables(PROJECT, ENVIRONMENT)

    def make_adapter(self, **table_overrides: Any) -> RailwayAdapter:
        """Return an adapter for the shared variables, with an account token."""
        return make_adapter(self.emulator, **{"token_kind": "account", "service_id": None, **table_overrides})

    def env(self) -> dict[str, str]:
        """Return ``{"RAILWAY_API_TOKEN": account token}``."""
        return {"RAILWAY_API_TOKEN": self.token}
