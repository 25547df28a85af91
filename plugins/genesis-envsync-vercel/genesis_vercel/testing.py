"""Test helpers: the contract-suite harness for the Vercel adapter (needs pytest).

``VercelHarness`` drives :class:`~genesis_vercel.emulator.VercelEmulator` for
:class:`genesis_core.testing.contract.AdapterContract`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import EmulatorHarness
from genesis_vercel.adapter import VercelAdapter
from genesis_vercel.emulator import VercelEmulator


class VercelHarness(EmulatorHarness):
    """Readable values are ``encrypted`` entries; unreadable ones are ``sensitive`` entries.

    Every seeded entry serves the harness target only; :meth:`stored` reads that target.
    """

    emulator: VercelEmulator

    kind = "vercel"
    unreadable_supported = True
    writable = True
    token = "vercel_contractToken0123456789abcdef"

    def __init__(self, *, target: str = "production", team_id: str | None = "team_contract",
                 page_size: int = 10) -> None:
        self.target = target
        self.team_id = team_id
        self.page_size = page_size  # the emulator's page size (Vercel sizes pages itself)
        self.emulator = VercelEmulator(token=self.token, page_size=page_size)
        self.project_id = self.emulator.add_project("contract-app", team_id=team_id)

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        hidden = set(unreadable)
        self.emulator.clear(self.project_id)
        for key, value in variables.items():
            kind = "sensitive" if key in hidden else "encrypted"
            self.emulator.add_env(self.project_id, key, value, type=kind, target=[self.target])

    def stored(self) -> dict[str, str]:
        return self.emulator.values(self.project_id, self.target)

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        data: dict[str, Any] = {"project": "contract-app", "target": self.target,
                                "base_url": self.emulator.base_url, "timeout": 1.0, "retries": 2}
        if self.team_id is not None:
            data["team_id"] = self.team_id
        data.update(table_overrides)
        return VercelAdapter(InstanceConfig("vercel-contract", "vercel",
                                            Table(data, "genesis.toml", "platforms.vercel-contract"), Path(".")))

    def env(self) -> dict[str, str]:
        return {"VERCEL_TOKEN": self.token}
