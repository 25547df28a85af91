"""Test helpers: the contract-suite harness for the GitHub adapter (needs pytest).

``GitHubHarness`` drives :class:`~genesis_github.emulator.GitHubEmulator` for
:class:`genesis_core.testing.contract.AdapterContract`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genesis_core.api import InstanceConfig, PlatformAdapter, Table
from genesis_core.testing import EmulatorHarness
from genesis_github.adapter import VARIABLES_PER_PAGE, GitHubAdapter
from genesis_github.emulator import GitHubEmulator


class GitHubHarness(EmulatorHarness):
    """Readable values are Actions variables; unreadable ones are Actions secrets."""

    emulator: GitHubEmulator

    kind = "github"
    page_size = VARIABLES_PER_PAGE
    unreadable_supported = True
    writable = True
    token = "ghp_contractToken0123456789abcdef"

    def __init__(self, repository: str = "acme/contract", environment: str | None = None) -> None:
        self.repository = repository
        self.environment = environment
        self.emulator = GitHubEmulator(token=self.token)
        self.emulator.add_repo(repository)
        if environment is not None:
            self.emulator.add_environment(repository, environment)

    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        hidden = set(unreadable)
        self.emulator.clear(self.repository, environment=self.environment)
        for key, value in variables.items():
            if key in hidden:
                self.emulator.set_secret(self.repository, key, value, environment=self.environment)
            else:
                self.emulator.set_variable(self.repository, key, value, environment=self.environment)

    def stored(self) -> dict[str, str]:
        return {**self.emulator.variables(self.repository, environment=self.environment),
                **self.emulator.secrets(self.repository, environment=self.environment)}

    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        data: dict[str, Any] = {"repository": self.repository, "base_url": self.emulator.base_url,
                                "timeout": 1.0, "retries": 2}
        if self.environment is not None:
            data["environment"] = self.environment
        data.update(table_overrides)
        return GitHubAdapter(InstanceConfig("github-contract", "github",
                                            Table(data, "genesis.toml", "platforms.github-contract"), Path(".")))

    def env(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": self.token}
