"""The distribution registers the ``netlify`` kind through the ``genesis`` entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from genesis_core.api import InstanceConfig, PlatformKind, Table
from genesis_netlify import plugin
from genesis_netlify.adapter import NetlifyAdapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "netlify"]
    assert [ep.value for ep in found] == ["genesis_netlify.plugin"]


def test_hook_registers_a_writable_netlify_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("netlify", "NETLIFY_AUTH_TOKEN", True)
    table = Table({"kind": "netlify", "account_id": "team", "site_id": "site-1"}, "genesis.toml",
                  "platforms.site")
    adapter = kind.factory(InstanceConfig("site", "netlify", table, Path(".")))
    assert isinstance(adapter, NetlifyAdapter)
    assert (adapter.base_url, adapter.context) == ("https://api.netlify.com", "production")


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_netlify.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_netlify.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
