"""Plugin discovery: entry points load one by one, broken ones are reported, registrations validated."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genesis_core import hookimpl, hookspecs
from genesis_core.platforms.model import PlatformKind
from genesis_core.plugins import build_plugin_host, disabled_names

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
from genesis_core import hookimpl

@hookimpl
def genesis_register_platforms(register):
    from genesis_core.platforms.dotenv import DotenvAdapter
    from genesis_core.platforms.model import PlatformKind
    register(PlatformKind(name="goodkind", factory=DotenvAdapter, description="test"))
"""


def test_builtins_are_registered_as_the_core_plugin() -> None:
    host = build_plugin_host(entry_points=False)
    assert "dotenv" in host.platform_kinds()
    assert {"embedded", "memory"} <= set(host.transports())
    core = [i for i in host.plugin_infos() if i.name == "core"][0]
    assert core.distribution == "genesis-envsync" and not core.broken
    assert "genesis_register_platforms" in core.hooks


def test_every_builtin_comes_in_through_the_hooks_in_builtin_plugins_order() -> None:
    from genesis_core.cli.builtin import COMMANDS
    from genesis_core.plugins import BUILTIN_PLUGINS

    host = build_plugin_host(entry_points=False)
    infos = {i.name: i for i in host.plugin_infos()}
    assert [name for name, _ in BUILTIN_PLUGINS] == ["core", "core.transports", "core.commands"]
    assert all(infos[name].builtin and not infos[name].broken for name, _ in BUILTIN_PLUGINS)
    assert infos["core.transports"].hooks == ("genesis_register_transports",)
    assert infos["core.commands"].hooks == ("genesis_register_commands",)
    assert set(host.commands()) == {name for name, _, _ in COMMANDS} | {"new-adapter"}
    assert [impl.plugin_name for impl in host.pm.hook.genesis_register_commands.get_hookimpls()] == [
        "core", "core.commands"]


class _ClashingCommand:
    @hookimpl
    def genesis_register_commands(self, register):
        from genesis_core.cli.commands import Command

        register(Command("sync", "not the real sync", lambda parser: None, lambda args, ctx: 99))


def test_a_plugin_command_that_clashes_with_a_core_command_is_refused_by_name() -> None:
    host = build_plugin_host(entry_points=False, plugins=(("clasher", _ClashingCommand()),))
    assert host.commands()["sync"].help.startswith("compare every configured platform")
    [problem] = host.problems
    assert (problem.plugin, problem.hook) == ("clasher", "genesis_register_commands")
    assert problem.error == "ValueError: Command 'sync' is already registered by 'core.commands'"


def test_genesis_plugins_lists_the_builtins_only_with_all(run_cli) -> None:
    code, out, _ = run_cli("plugins")
    assert code == 0
    assert not any(line.startswith("core") for line in out.splitlines())
    registered = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line and "  " not in line)
    assert "dotenv" in registered["platforms"].split(", ")
    assert {"embedded", "memory"} <= set(registered["transports"].split(", "))
    assert "commands: " in out and " sync" in out.split("commands: ")[1]
    code, out, _ = run_cli("plugins", "--all")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("core")}
    assert set(rows) == {"core", "core.commands", "core.transports"}
    assert "genesis-envsync " in rows["core.transports"] and "register_transports" in rows["core.transports"]
    code, out, _ = run_cli("plugins", "--all", "--json")
    import json

    builtin = {p["name"] for p in json.loads(out)["plugins"] if p["builtin"]}
    assert builtin == {"core", "core.commands", "core.transports"}


def test_broken_plugin_is_reported_and_the_rest_still_load(fake_dist) -> None:
    fake_dist("genesis-broken", {"broken": "broken_mod"}, {"broken_mod": "raise ImportError('no such thing')"})
    fake_dist("genesis-good", {"good": "good_mod"}, {"good_mod": GOOD})
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert infos["broken"].broken
    assert infos["broken"].distribution == "genesis-broken"
    assert "ImportError: no such thing" in infos["broken"].error
    assert not infos["good"].broken
    assert "goodkind" in host.platform_kinds()


def test_syntax_error_and_system_exit_in_a_plugin_do_not_crash(fake_dist) -> None:
    fake_dist("genesis-bad", {"bad1": "bad_syntax", "bad2": "bad_exit"},
              {"bad_syntax": "def (:\n", "bad_exit": "raise SystemExit(3)"})
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert "SyntaxError" in infos["bad1"].error
    assert "SystemExit" in infos["bad2"].error


def test_disable_env_blocks_plugins_by_name(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dist("genesis-good", {"good": "good_mod"}, {"good_mod": GOOD})
    monkeypatch.setenv("GENESIS_DISABLE_PLUGINS", " good , other")
    assert disabled_names() == {"good", "other"}
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert infos["good"].disabled and not infos["good"].broken
    assert "goodkind" not in host.platform_kinds()


def test_hookimpl_with_unknown_argument_is_rejected_by_check_pending(fake_dist) -> None:
    fake_dist("genesis-wrongsig", {"wrongsig": "wrong_sig"}, {"wrong_sig": """
from genesis_core import hookimpl

@hookimpl
def genesis_register_platforms(register, nonsense):
    pass
"""})
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert infos["wrongsig"].broken
    assert "nonsense" in infos["wrongsig"].error
    assert "dotenv" in host.platform_kinds()


def test_unknown_hook_name_is_rejected(fake_dist) -> None:
    fake_dist("genesis-typo", {"typo": "typo_mod"}, {"typo_mod": """
from genesis_core import hookimpl

@hookimpl
def genesis_register_platfroms(register):
    pass
"""})
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert infos["typo"].broken and "genesis_register_platfroms" in infos["typo"].error


class _Registers:
    def __init__(self, items):
        self.items = items

    @hookimpl
    def genesis_register_platforms(self, register):
        for item in self.items:
            register(item)


def test_host_validates_what_plugins_register() -> None:
    from genesis_core.platforms.dotenv import DotenvAdapter

    ok = PlatformKind(name="fine", factory=DotenvAdapter)
    host = build_plugin_host(entry_points=False, plugins=(
        ("junk", _Registers(["not a kind", ok])),
        ("dupe", _Registers([PlatformKind(name="dotenv", factory=DotenvAdapter)])),
    ))
    kinds = host.platform_kinds()
    assert kinds["fine"] is ok
    assert kinds["dotenv"].factory is not None
    problems = {(p.plugin, p.error.split(":")[0]) for p in host.problems}
    assert ("junk", "TypeError") in problems
    assert ("dupe", "ValueError") in problems


class _Raises:
    @hookimpl
    def genesis_register_engines(self, register):
        raise RuntimeError("engine plugin exploded")


def test_a_register_hook_that_raises_is_reported_not_fatal() -> None:
    host = build_plugin_host(entry_points=False, plugins=(("raiser", _Raises()),))
    assert host.engines() == {}
    assert any(p.plugin == "raiser" and "exploded" in p.error for p in host.problems)


def test_every_hook_has_a_one_line_docstring_and_is_documented() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    hooks = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("genesis_")]
    assert len(hooks) >= 5
    for name in hooks:
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn)
        assert doc and "\n" not in doc.strip(), f"{name} needs a one-line docstring"
        assert re.search(rf"^#+ `?{name}", docs, re.M), f"{name} is not documented in docs/hooks.md"


def test_hookspec_module_is_flat() -> None:
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes == []


def test_genesis_plugins_cli_flags_a_broken_plugin(fake_dist, tmp_path: Path) -> None:
    site = fake_dist("genesis-broken", {"broken": "broken_mod"}, {"broken_mod": "raise ImportError('kaput')"})
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-m", "genesis_core", "plugins"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("broken")][0]
    assert "genesis-broken" in line and "BROKEN" in line and "kaput" in line
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("how", [["--verbose"], ["-v"], "GENESIS_DEBUG"])
def test_a_broken_plugins_traceback_is_shown_on_request(fake_dist, tmp_path: Path, how) -> None:
    site = fake_dist("genesis-broken", {"broken": "broken_mod"},
                     {"broken_mod": "def load():\n    raise ImportError('kaput')\nload()\n"})
    env = dict(os.environ, PYTHONPATH=str(site))
    args = [sys.executable, "-m", "genesis_core", "plugins"]
    if how == "GENESIS_DEBUG":
        env["GENESIS_DEBUG"] = "1"
    else:
        args += how
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "genesis: plugin broken (genesis-broken) failed to load:" in proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert 'broken_mod.py", line 2, in load' in proc.stderr and "ImportError: kaput" in proc.stderr
    quiet = subprocess.run(args[:4], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(site)),
                           cwd=tmp_path, timeout=60)
    assert "Traceback" not in quiet.stderr and "kaput" in quiet.stdout


def test_listing_plugins_imports_no_engine_or_command_module() -> None:
    code = ("import sys; from genesis_core.cli.main import main; main(['plugins']); "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'sqlite3', 'httpx', "
            "'cryptography', 'websockets', 'nats', 'rich') or "
            "(m.endswith(('.engine', '.commands', '.cli', '.emulator')) "
            "and not m.startswith('genesis_core.'))); "
            "print('LOADED', loaded)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "LOADED []"


@pytest.mark.parametrize("path", ["genesis_acme.emulator", "genesis acme:Emulator", "mod:", ":Class", ""])
def test_a_platform_kind_emulator_is_a_module_colon_class_path(path: str) -> None:
    from genesis_core.platforms.dotenv import DotenvAdapter

    PlatformKind(name="fine", factory=DotenvAdapter, emulator="genesis_acme.emulator:AcmeEmulator")
    with pytest.raises(ValueError, match=re.escape(f"platform kind 'fine': emulator must be 'module:Class', "
                                                   f"got {path!r}")):
        PlatformKind(name="fine", factory=DotenvAdapter, emulator=path)


def test_lazy_engine_and_command_resolve_on_use() -> None:
    from genesis_core.cli.commands import Command
    from genesis_core.engines import Engine

    engine = Engine.lazy("probe", "genesis_core.testing.example_adapter:nonexistent")
    with pytest.raises(AttributeError):
        list(engine.subscriptions(None))  # type: ignore[arg-type]
    command = Command.lazy("probe", "help", "genesis_core.cli.cmd_plugins:COMMAND")
    import argparse

    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert parser.parse_args(["--json"]).json is True
    with pytest.raises(TypeError, match="genesis_core.cli.cmd_plugins:_run is a function, not a Command"):
        Command.lazy("probe", "help", "genesis_core.cli.cmd_plugins:_run").configure(parser)
    with pytest.raises(TypeError, match=r"make_kind\(\) returned a PlatformKind, not an Engine"):
        list(Engine.lazy("probe", "genesis_core.testing.example_adapter:make_kind").subscriptions(None))  # type: ignore[arg-type]


FUTURE = """
import sys
sys.modules["future_was_imported"] = sys.modules[__name__]
from genesis_core.api import hookimpl

@hookimpl
def genesis_register_platforms(register):
    raise AssertionError("a plugin built for another core API must not be registered")
"""


def test_a_plugin_built_for_another_core_api_is_refused_and_the_others_load(fake_dist) -> None:
    fake_dist("genesis-envsync-future", {"future": "future_mod"}, {"future_mod": FUTURE}, version="0.2.0",
              requires=("genesis-envsync>=0.2,<0.3", "httpx>=0.27"))
    fake_dist("genesis-envsync-past", {"past": "past_mod"}, {"past_mod": FUTURE}, version="0.0.9",
              requires=("genesis-envsync >=0.0, <0.1",))
    fake_dist("genesis-good", {"good": "good_mod"}, {"good_mod": GOOD},
              requires=("genesis-envsync>=0.1,<0.2", 'genesis-envsync[testing]>=9; extra == "testing"'))
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert infos["future"].broken and infos["past"].broken and not infos["good"].broken
    assert infos["future"].error == (
        "genesis-envsync-future 0.2.0 is built for plugin API 0.2 (genesis-envsync>=0.2,<0.3), but this is "
        "genesis-envsync 0.1.0 (plugin API 0.1): upgrade genesis-envsync")
    assert infos["past"].error.endswith(
        "(plugin API 0.1): install a release of genesis-envsync-past built for plugin API 0.1")
    assert "future_was_imported" not in sys.modules
    assert "goodkind" in host.platform_kinds()


def test_genesis_plugins_shows_an_incompatible_plugin_from_a_warm_cache_too(fake_dist, tmp_path: Path) -> None:
    site = fake_dist("genesis-envsync-future", {"future": "future_mod"}, {"future_mod": FUTURE}, version="0.2.0",
                     requires=("genesis-envsync>=0.2,<0.3",))
    then = time.time_ns() - 60 * 10**9
    for path in [site, *site.rglob("*")]:
        os.utime(path, ns=(then, then))
    code = ("import sys, genesis_core.discovery as d; d.SETTLE_SECONDS = -1e12\n"
            "from genesis_core.cli.main import main\n"
            "code = main(['plugins'])\n"
            "print('IMPORTED', 'packaging' in sys.modules, 'future_was_imported' in sys.modules, code)\n")
    env = {k: v for k, v in os.environ.items() if k != "GENESIS_NO_PLUGIN_CACHE"}
    env.update(PYTHONPATH=str(site), GENESIS_CACHE_DIR=str(tmp_path / "cache"))
    work = tmp_path / "work"  # not the cache's parent: a new cache directory would change its stamp
    work.mkdir()
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=work,
                           timeout=60) for _ in range(2)]
    for run, cold in zip(runs, (True, False)):
        assert run.returncode == 0, run.stderr
        [line] = [ln for ln in run.stdout.splitlines() if ln.startswith("future")]
        assert "BROKEN" in line and "is built for plugin API 0.2" in line and "genesis-envsync 0.1.0" in line
        assert run.stdout.splitlines()[-1] == f"IMPORTED {cold} False 0"
