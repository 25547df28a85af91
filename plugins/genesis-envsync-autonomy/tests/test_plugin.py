"""The plugin as installed: entry point, registration, a light entry module, no secret in logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib.metadata import entry_points

from genesis_core.testing import Fault


def test_the_entry_point_registers_the_engine_and_the_heal_command() -> None:
    from genesis_core.testing import build_plugin_host

    [ep] = [ep for ep in entry_points(group="genesis") if ep.name == "autonomy"]
    assert ep.value == "genesis_autonomy.plugin"
    host = build_plugin_host()
    assert "autonomy" in host.engines() and "heal" in host.commands()
    assert not [p for p in host.problems if p.plugin == "autonomy"]


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, genesis_autonomy.plugin\n"
            "heavy = ['httpx', 'rich', 'nacl', 'genesis_core.sync', 'genesis_autonomy.engine',"
            " 'genesis_autonomy.plan', 'genesis_autonomy.commands']\n"
            "print(','.join(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_heal_help_lists_its_options(project) -> None:
    import pytest

    with pytest.raises(SystemExit) as exited:
        project.run("heal", "--help")
    assert exited.value.code == 0
    out = project.capsys.readouterr().out
    assert "--apply" in out and "--only" in out and "--json" in out


def test_no_secret_reaches_the_logs(project, caplog, canary) -> None:
    caplog.set_level(logging.DEBUG)
    project.netlify.inject(Fault("status", status=500, path=r"/api/v1/accounts/[^/]+/env/.+"))
    assert project.run("heal", "--apply")[0] == 1
    project.netlify.clear_faults()
    assert project.run("heal", "--apply")[0] == 0
    assert canary not in caplog.text
    for record in caplog.records:
        assert canary not in repr(record.args)
