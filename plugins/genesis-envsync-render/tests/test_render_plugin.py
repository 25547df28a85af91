"""The distribution registers the ``render`` kind through the ``genesis`` entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from genesis_core.api import InstanceConfig, PlatformKind, Table
from genesis_render import plugin
from genesis_render.adapter import RenderAdapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "render"]
    assert [ep.value for ep in found] == ["genesis_render.plugin"]


def test_hook_registers_a_writable_render_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("render", "RENDER_API_KEY", True)
    table = Table({"kind": "render", "service_id": "srv-1"}, "genesis.toml", "platforms.web")
    adapter = kind.factory(InstanceConfig("web", "render", table, Path(".")))
    assert isinstance(adapter, RenderAdapter)
    assert adapter.base_url == "https://api.render.com"
    assert adapter.describe() == "render service srv-1"


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_render.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_render.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
