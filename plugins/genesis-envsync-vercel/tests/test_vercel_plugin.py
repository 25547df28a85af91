"""Registration through the ``genesis`` entry point, cheap imports and config validation."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import ConfigError, InstanceConfig, PlatformKind, Table
from genesis_vercel import plugin
from genesis_vercel.adapter import VercelAdapter


def build(**table: Any) -> VercelAdapter:
    return VercelAdapter(InstanceConfig("vc", "vercel", Table(table, "genesis.toml", "platforms.vc"), Path(".")))


def test_hook_registers_the_vercel_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("vercel", "VERCEL_TOKEN", True)
    adapter = kind.factory(InstanceConfig("site", "vercel", Table({"project": "web"}), Path(".")))
    assert isinstance(adapter, VercelAdapter) and adapter.name == "site"


def test_entry_point_is_installed_and_the_plugin_host_sees_it() -> None:
    from genesis_core.testing import build_plugin_host

    names = {ep.name: ep.value for ep in entry_points(group="genesis")}
    assert names.get("vercel") == "genesis_vercel.plugin"
    assert build_plugin_host().platform_kinds()["vercel"].factory is plugin.make_adapter


def test_entry_point_module_imports_nothing_heavy() -> None:
    code = ("import sys, genesis_vercel.plugin; "
            "print(sorted(m for m in ('httpx', 'genesis_vercel.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_defaults_and_description() -> None:
    adapter = build(project="web")
    assert (adapter.base_url, adapter.target, adapter.team_id, adapter.git_branch) == (
        "https://api.vercel.com", "production", None, None)
    assert adapter.describe() == "vercel project web (production)"
    branch = build(project="prj_1", team_id="team_2", target="preview", git_branch="staging")
    assert branch.describe() == "vercel project prj_1 of team team_2 (preview, branch staging)"


@pytest.mark.parametrize(("table", "key", "message"), [
    ({}, "project", "is required"),
    ({"project": "a/b"}, "project", "project id"),
    ({"project": "web", "target": "staging"}, "target", "expected one of production, preview, development"),
    ({"project": "web", "team_id": ""}, "team_id", "must not be empty"),
    ({"project": "web", "git_branch": "main"}, "git_branch", "only for target = \"preview\""),
    ({"project": "web", "target": "preview", "git_branch": " "}, "git_branch", "must not be empty"),
    ({"project": "web", "teamId": "t"}, "teamId", "unknown key"),
])
def test_bad_tables_name_file_and_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(**table)
    assert str(info.value).startswith(f"genesis.toml: platforms.vc.{key}: ")
    assert message in str(info.value)
