"""The distribution registers the ``fly`` kind through the ``genesis`` entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from genesis_core.api import InstanceConfig, PlatformKind, Table
from genesis_fly import plugin
from genesis_fly.adapter import FlyAdapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "fly"]
    assert [ep.value for ep in found] == ["genesis_fly.plugin"]


def test_hook_registers_a_writable_fly_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("fly", "FLY_API_TOKEN", True)
    assert 'app = "REPLACE_ME"' in kind.config_example
    adapter = kind.factory(InstanceConfig("fly", "fly", Table({"kind": "fly", "app": "acme-api"},
                                                             "genesis.toml", "platforms.fly"), Path(".")))
    assert isinstance(adapter, FlyAdapter) and not adapter.supports_batch_write
    assert adapter.base_url == "https://api.machines.dev"
    assert adapter.describe() == "fly app acme-api"


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_fly.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_fly.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
