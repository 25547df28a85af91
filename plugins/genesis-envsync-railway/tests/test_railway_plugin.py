"""The distribution registers the ``railway`` kind through the ``genesis`` entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from genesis_core.api import InstanceConfig, PlatformKind, Table
from genesis_railway import plugin
from genesis_railway.adapter import RailwayAdapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "railway"]
    assert [ep.value for ep in found] == ["genesis_railway.plugin"]


def test_hook_registers_a_writable_railway_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("railway", "RAILWAY_TOKEN", True)
    assert 'project_id = "REPLACE_ME"' in kind.config_example
    table = Table({"kind": "railway", "project_id": "p1", "environment_id": "e1"}, "genesis.toml", "platforms.rw")
    adapter = kind.factory(InstanceConfig("rw", "railway", table, Path(".")))
    assert isinstance(adapter, RailwayAdapter)
    assert adapter.base_url == "https://backboard.railway.com"
    assert (adapter.token_kind, adapter.token_env, adapter.redeploy) == ("project", "RAILWAY_TOKEN", False)
    assert adapter.describe() == "railway shared variables of environment e1 of project p1"


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_railway.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_railway.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
