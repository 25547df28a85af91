"""Helpers shared by the Blueprint tests: configs on disk, snapshots and seed payloads."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

from genesis_core.api import Snapshot, Variable, load_config

# Looks like a Stripe secret key, so every layer treats it as a credential.
CANARY = "sk_live_BLUEPRINTCANARY5f4e3d2c1b0a"

SEED_DRIFT: dict[str, Any] = {
    "verified_at": "2025-10-11T22:43:00Z",
    "has_drift": True,
    "missing_in_render": [],
    "missing_in_netlify": ["VAR_A", "VAR_B"],
    "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"],
    "conflicts": {"DEBUG": {"render": "false", "netlify": "true", "github": "<secret>"}},
    "summary": {"total_keys": 45, "render_count": 45, "netlify_count": 43, "github_count": 43,
                "drift_count": 5},
    "instances": ["render", "netlify", "github"],
}

SEED_COMMIT: dict[str, Any] = {
    "verified_at": "2025-10-11T22:45:00Z",
    "has_drift": False,
    "missing_in_render": [],
    "missing_in_netlify": [],
    "missing_in_github": [],
    "conflicts": {},
    "summary": {"total_keys": 45, "render_count": 45, "netlify_count": 45, "github_count": 45,
                "drift_count": 0},
    "instances": ["render", "netlify", "github"],
}


def seed(name: str) -> dict[str, Any]:
    """Return a fresh copy of a seed payload (``drift`` or ``commit``)."""
    return copy.deepcopy(SEED_DRIFT if name == "drift" else SEED_COMMIT)


def write_config(directory: Path, text: str, name: str = "genesis.toml") -> Path:
    """Write a config file (dedented) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_from(directory: Path, text: str) -> Any:
    """Write ``genesis.toml`` into ``directory`` and return the loaded ``Config``."""
    return load_config(write_config(directory, text))


def variables(values: dict[str, str | None], *, secret: frozenset[str] = frozenset()) -> dict[str, Variable]:
    """Return ``{key: Variable}`` from plain values (``None`` = unreadable)."""
    return Snapshot.from_values("x", "test", values, secret_keys=secret).variables  # type: ignore[return-value]


def snapshot(name: str, values: dict[str, str | None], *, secret: frozenset[str] = frozenset()) -> Snapshot:
    """Return a snapshot of instance ``name``."""
    return Snapshot.from_values(name, "test", values, secret_keys=secret)


def start_bus(config: Any, policy: Any) -> Any:
    """Return a real bus (SQLite store in the state dir) with only the Blueprint engine started."""
    import genesis_blueprint.plugin
    from genesis_core.api import configure_bus
    from genesis_core.testing import build_plugin_host

    host = build_plugin_host(entry_points=False, plugins=(("blueprint", genesis_blueprint.plugin),))
    return configure_bus(config, host=host, secret_policy=policy)
