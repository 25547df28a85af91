"""Registration through the ``genesis`` entry point, cheap imports and config validation."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import ConfigError, InstanceConfig, PlatformKind, Table
from genesis_github import plugin
from genesis_github.adapter import GitHubAdapter


def build(**table: Any) -> GitHubAdapter:
    return GitHubAdapter(InstanceConfig("gh", "github", Table(table, "genesis.toml", "platforms.gh"), Path(".")))


def test_hook_registers_the_github_kind() -> None:
    registered: list[PlatformKind] = []
    plugin.genesis_register_platforms(registered.append)
    [kind] = registered
    assert (kind.name, kind.credential_env, kind.supports_write) == ("github", "GITHUB_TOKEN", True)
    adapter = kind.factory(InstanceConfig("ci", "github", Table({"repository": "a/b"}), Path(".")))
    assert isinstance(adapter, GitHubAdapter) and adapter.name == "ci"


def test_entry_point_is_installed_and_the_plugin_host_sees_it() -> None:
    from genesis_core.testing import build_plugin_host

    names = {ep.name: ep.value for ep in entry_points(group="genesis")}
    assert names.get("github") == "genesis_github.plugin"
    kinds = build_plugin_host().platform_kinds()
    assert kinds["github"].factory is plugin.make_adapter


def test_entry_point_module_imports_nothing_heavy() -> None:
    code = ("import sys, genesis_github.plugin; "
            "print(sorted(m for m in ('httpx', 'nacl', 'genesis_github.adapter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_defaults_and_description() -> None:
    adapter = build(repository="acme/web")
    assert adapter.base_url == "https://api.github.com"
    assert (adapter.include_secrets, adapter.include_variables, adapter.environment) == (True, True, None)
    assert adapter.describe() == "github repository acme/web"
    assert adapter.scope_path == "/repos/acme/web/actions"
    assert build(repository="acme/web", environment="prod/eu").scope_path == "/repos/acme/web/environments/prod%2Feu"


@pytest.mark.parametrize(("table", "key", "message"), [
    ({}, "repository", "is required"),
    ({"repository": "acme"}, "repository", "owner/name"),
    ({"repository": "acme/web/extra"}, "repository", "owner/name"),
    ({"repository": "acme/.."}, "repository", "owner/name"),
    ({"repository": "acme/web", "environment": " "}, "environment", "must not be empty"),
    ({"repository": "acme/web", "include_secrets": False, "include_variables": False}, "include_variables",
     "nothing to read"),
    ({"repository": "acme/web", "include_secrets": "no"}, "include_secrets", "true or false"),
    ({"repository": "acme/web", "base_url": "api.github.com"}, "base_url", "http(s) URL"),
    ({"repository": "acme/web", "repo": "typo"}, "repo", "unknown key"),
])
def test_bad_tables_name_file_and_key(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(**table)
    assert str(info.value).startswith(f"genesis.toml: platforms.gh.{key}: ")
    assert message in str(info.value)
