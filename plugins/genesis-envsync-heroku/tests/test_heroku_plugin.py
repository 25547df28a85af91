"""The distribution registers the ``heroku`` kind through the ``genesis`` entry point, lazily."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from genesis_core.api import InstanceConfig, PlatformKind, Table
from genesis_heroku import plugin
from genesis_heroku.adapter import HerokuAdapter


def test_entry_point_points_at_the_plugin_module() -> None:
    found = [ep for ep in entry_points(group="genesis") if ep.name == "heroku"]
    assert [ep.value for ep in found] == ["genesis_heroku.plugin"]


def test_hook_registers_a_writable_heroku_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("heroku", "HEROKU_API_KEY", True)
    assert 'app = "REPLACE_ME"' in kind.config_example
    adapter = kind.factory(InstanceConfig("web", "heroku", Table({"kind": "heroku", "app": "acme-api"},
                                                                "genesis.toml", "platforms.web"), Path(".")))
    assert isinstance(adapter, HerokuAdapter) and adapter.supports_batch_write
    assert adapter.base_url == "https://api.heroku.com"
    assert adapter.describe() == "heroku app acme-api"


def test_plugin_module_does_not_import_httpx_or_the_adapter() -> None:
    code = ("import sys, genesis_heroku.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_heroku.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
