"""Missing-plugin hints: the first-party table, and the one line each missing piece produces.

The table (``genesis_core.first_party``) must name every command, platform kind, engine and
transport that the plugins in this repository register, with the right distribution.  With a
plugin missing, ``genesis heal``, ``kind = "render"``, ``genesis emulate render``, ``genesis
serve``... each end with exit 2 and one line that says which distribution to install.
(tests/test_index_install.py checks the same lines in a venv that really lacks the plugins.)
"""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest

from genesis_core import first_party
from genesis_core.plugins import build_plugin_host

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def _entry_points(dist: Path) -> dict[str, str]:
    project = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return dict(project["entry-points"]["genesis"])


def _registered(host: object) -> dict[str, set[str]]:
    return {"commands": set(host.commands()), "kinds": set(host.platform_kinds()),  # type: ignore[attr-defined]
            "engines": set(host.engines()), "transports": set(host.transports())}  # type: ignore[attr-defined]


TABLES = {"commands": first_party.COMMANDS, "kinds": first_party.KINDS, "engines": first_party.ENGINES,
          "transports": first_party.TRANSPORTS}


def test_every_plugin_in_the_repository_has_an_entry_point() -> None:
    assert len(PLUGINS) >= 10 and all(_entry_points(dist) for dist in PLUGINS)


@pytest.mark.parametrize("dist", PLUGINS, ids=lambda p: p.name)
def test_the_table_names_what_each_plugin_registers(dist: Path) -> None:
    """Load the core plus this one plugin: what it adds is in the table under its distribution."""
    every_name = {name for other in PLUGINS for name in _entry_points(other)}
    own = set(_entry_points(dist))
    core = _registered(build_plugin_host(entry_points=False))
    alone = build_plugin_host(disabled=frozenset(every_name - own))
    assert not alone.broken() and not alone.problems
    added = {what: names - core[what] for what, names in _registered(alone).items()}
    assert any(added.values()), f"{dist.name} registers nothing"
    for what, names in added.items():
        for name in names:
            assert TABLES[what].get(name) == dist.name, f"first_party.{what.upper()}[{name!r}] should be {dist.name}"
    for what, table in TABLES.items():  # no stale entry for a distribution that lives here
        listed = {name for name, owner in table.items() if owner == dist.name}
        assert listed <= added[what], f"first_party.{what.upper()} lists {listed - added[what]} for {dist.name}"


def test_emulated_kinds_are_the_kinds_that_name_an_emulator() -> None:
    """``genesis emulate`` names a missing plugin for these kinds: each registers an importable emulator."""
    from genesis_core.demo.emulators import emulated_kinds, emulator_class

    kinds = build_plugin_host().platform_kinds()
    offered = emulated_kinds(kinds)
    assert tuple(offered) == first_party.EMULATED_KINDS
    assert all(emulator_class(kind, kinds).platform == kind for kind in offered)


def test_distributions_being_added_elsewhere_are_listed() -> None:
    assert first_party.KINDS["aws-ssm"] == first_party.KINDS["aws-secrets-manager"] == "genesis-envsync-aws"
    assert {first_party.KINDS[k] for k in ("vault", "heroku", "fly", "railway")} == {
        "genesis-envsync-vault", "genesis-envsync-heroku", "genesis-envsync-fly", "genesis-envsync-railway"}
    every = {dist for table in TABLES.values() for dist in table.values()}
    assert all(dist.startswith("genesis-envsync-") for dist in every)


# -- with the plugins missing ---------------------------------------------------------------

@pytest.fixture
def core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process look like one with only genesis-envsync installed."""
    import genesis_core.plugins

    monkeypatch.setattr(genesis_core.plugins, "get_plugin_host", lambda: build_plugin_host(entry_points=False))
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name.startswith("genesis-envsync-"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    for package in ("genesis_render", "genesis_netlify", "genesis_github"):
        for module in [package, f"{package}.emulator", *(m for m in sys.modules if m.startswith(f"{package}."))]:
            monkeypatch.setitem(sys.modules, module, None)  # import fails, as if not installed


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("argv", "dist"), [
    (["heal"], "genesis-envsync-autonomy"),
    (["heal", "--apply", "--only", "render"], "genesis-envsync-autonomy"),
    (["--role", "ci", "ledger", "verify"], "genesis-envsync-truth"),
    (["serve"], "genesis-envsync-cascade"),
    (["blueprint", "check"], "genesis-envsync-blueprint"),
    (["steward", "report"], "genesis-envsync-steward"),
    (["worker"], "genesis-envsync-nats"),
])
def test_a_missing_plugin_command_names_its_distribution(core_only: None, run_cli, argv: list[str],
                                                         dist: str) -> None:
    from genesis_core.cli.app import first_positional

    code, out, err = run_cli(*argv)
    assert code == 2 and out == ""
    line = _one_line(err)
    assert line.startswith(f"genesis: `genesis {first_positional(argv)}` needs {dist}"), line
    assert line.endswith(f"which is not installed: pip install {dist}"), line
    assert "invalid choice" not in err


def test_an_unknown_command_is_still_argparse_s_error(core_only: None, run_cli) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("nosuchcommand")
    assert exc.value.code == 2


def test_a_disabled_plugin_says_so_instead_of_install(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESIS_DISABLE_PLUGINS", "autonomy")
    code, _, err = run_cli("heal")
    assert code == 2
    assert "remove autonomy from GENESIS_DISABLE_PLUGINS" in _one_line(err)


def test_a_broken_plugin_is_not_reported_as_missing(run_cli, fake_dist) -> None:
    """Installed but failing to import: reinstalling would not help, so say what happened."""
    fake_dist("genesis-envsync-autonomy", {"autonomy": "broken_autonomy"},
              {"broken_autonomy": "raise ImportError('boom')\n"}, version="0.1.0")  # found before the real one
    code, _, err = run_cli("heal")
    assert code == 2
    line = _one_line(err)
    assert "genesis-envsync-autonomy, which is installed but failed to load (ImportError: boom)" in line
    assert "pip install" not in line


def test_a_render_instance_without_the_render_plugin(core_only: None, run_cli, tmp_path: Path) -> None:
    (tmp_path / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n[platforms.web]\nkind = "render"\n'
                                           'service_id = "srv-1"\n')
    (tmp_path / ".env").write_text("A=1\n")
    code, out, err = run_cli("--config", str(tmp_path / "genesis.toml"), "sync")
    assert code == 2
    line = _one_line(err)
    assert line.endswith("genesis.toml: platforms.web.kind: platform kind 'render' needs genesis-envsync-render, "
                         "which is not installed: pip install genesis-envsync-render"), line


def test_init_with_a_kind_that_is_not_installed(core_only: None, run_cli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("init", "vault")
    assert code == 2 and _one_line(err).endswith(
        "platform kind 'vault' needs genesis-envsync-vault, which is not installed: pip install genesis-envsync-vault")
    assert not (tmp_path / "genesis.toml").exists()


def test_emulate_render_without_the_render_plugin(core_only: None, run_cli) -> None:
    code, out, err = run_cli("emulate", "render", "--seconds", "0")
    assert code == 2 and out == ""
    assert _one_line(err) == ("genesis: the render emulator needs genesis-envsync-render, which is not installed: "
                              "pip install genesis-envsync-render")


def test_the_demo_names_the_distributions_it_needs(core_only: None, run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert code == 2
    line = _one_line(err)
    assert "pip install genesis-envsync-render genesis-envsync-netlify genesis-envsync-github" in line
    assert "genesis-envsync-autonomy" in line


def test_a_nats_bus_without_the_nats_plugin(core_only: None, run_cli, tmp_path: Path) -> None:
    (tmp_path / "genesis.toml").write_text('[bus]\ntransport = "nats"\n')
    code, _, err = run_cli("--config", str(tmp_path / "genesis.toml"), "publish", "x.y")
    assert code == 2
    assert _one_line(err).endswith(
        "unknown transport 'nats' (known: embedded, memory); pip install genesis-envsync-nats")


def test_doctor_names_engine_tables_whose_engine_is_missing(core_only: None, run_cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n[engines.truth]\n'
                                           '[engines.autonomy]\nenabled = false\n[engines.mine]\nx = 1\n')
    code, out, _ = run_cli("--config", str(tmp_path / "genesis.toml"), "doctor", "--offline")
    assert code == 2
    assert ("FAIL  [engines.truth] is configured but the truth engine is not available\n"
            "        fix: the truth engine needs genesis-envsync-truth, which is not installed: "
            "pip install genesis-envsync-truth") in out
    assert "[engines.autonomy]" not in out  # enabled = false: not wanted here
    assert "FAIL  [engines.mine] is configured but no installed plugin provides an engine named 'mine'" in out
    assert "2 problem(s) found" in out


# -- genesis doctor and the unrelated genesis-core distribution -------------------------------

def test_doctor_reports_the_unrelated_genesis_core_distribution(run_cli, fake_dist, tmp_path: Path) -> None:
    site = fake_dist("genesis-core", {}, {}, version="0.0.6")
    (site / "genesis_core-0.0.6.dist-info" / "top_level.txt").write_text("genesis_core\n")
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n')
    code, out, _ = run_cli("--config", str(tmp_path / "genesis.toml"), "doctor", "--offline")
    assert code == 2
    assert out.startswith("install\n  ok    genesis-envsync 0.1.0\n  FAIL  genesis-core 0.0.6 is installed here too")
    assert "also ships the genesis_core package" in out
    assert ('fix: pip uninstall genesis-core genesis-envsync, then pip install genesis-envsync '
            '(or "genesis-envsync[all]")') in out
    assert "1 problem(s) found" in out


def test_any_other_distribution_shipping_genesis_core_is_found(fake_dist) -> None:
    site = fake_dist("acme-fork", {}, {}, version="2.0")
    (site / "acme_fork-2.0.dist-info" / "top_level.txt").write_text("genesis_core\n")
    assert ("acme-fork", "2.0") in first_party.clashing_distributions()


def test_doctor_without_a_clash_says_which_genesis_is_installed(run_cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n')
    code, out, _ = run_cli("--config", str(tmp_path / "genesis.toml"), "doctor", "--offline")
    assert code == 0, out
    assert out.startswith("install\n  ok    genesis-envsync 0.1.0\nconfig\n")
    assert first_party.clashing_distributions() == []


# -- a platform kind whose plugin is not there, as `genesis sync` (a real process) says it -----

AWS_CONFIG = '[platforms.local]\nkind = "dotenv"\n[platforms.params]\nkind = "aws-ssm"\nregion = "eu-west-1"\n'


def _sync_process(tmp_path: Path, *, env: dict[str, str] | None = None,
                  python_args: tuple[str, ...] = ("-m", "genesis_core")) -> tuple[int, str, str]:
    """Run ``genesis sync`` in a subprocess on a project with an ``aws-ssm`` platform."""
    import os
    import subprocess

    project = tmp_path / "project"
    project.mkdir()
    (project / "genesis.toml").write_text(AWS_CONFIG)
    (project / ".env").write_text("A=1\n")
    run_env = dict(os.environ, GENESIS_HOME=str(tmp_path / "home"), GENESIS_CACHE_DIR=str(tmp_path / "cache"),
                   **(env or {}))
    run_env.pop("GENESIS_DEBUG", None)
    done = subprocess.run([sys.executable, *python_args, "sync"], capture_output=True, text=True,
                          env=run_env, cwd=project, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_sync_with_the_aws_plugin_broken_says_it_failed_to_load(fake_dist, tmp_path: Path) -> None:
    """The aws plugin is named ``aws`` but registers ``aws-ssm``: still named as broken, not as missing."""
    site = fake_dist("genesis-envsync-aws", {"aws": "broken_aws"},
                     {"broken_aws": "raise ImportError('no module named boto_kaput')\n"},
                     version="0.1.0")  # found before the real one
    code, out, err = _sync_process(tmp_path, env={"PYTHONPATH": str(site)})
    assert (code, out) == (2, "")
    line = _one_line(err)
    assert line.endswith("platforms.params.kind: platform kind 'aws-ssm' comes with genesis-envsync-aws, which is "
                         "installed but failed to load (ImportError: no module named boto_kaput); "
                         "`genesis plugins` shows every plugin's state"), line
    assert "not installed" not in line and "pip install" not in line


def test_sync_with_the_aws_plugin_disabled_says_so(tmp_path: Path) -> None:
    code, out, err = _sync_process(tmp_path, env={"GENESIS_DISABLE_PLUGINS": "aws"})
    assert (code, out) == (2, "")
    line = _one_line(err)
    assert line.endswith("platforms.params.kind: platform kind 'aws-ssm' comes with genesis-envsync-aws, whose "
                         "plugin 'aws' is disabled: remove aws from GENESIS_DISABLE_PLUGINS"), line
    assert "None" not in line and "pip install" not in line


def test_sync_without_the_aws_plugin_says_what_to_install(tmp_path: Path) -> None:
    """A process whose site-packages really lacks genesis-envsync-aws (every other entry linked in)."""
    import sysconfig

    site = tmp_path / "site"
    site.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("genesis_envsync_aws-", "_editable_impl_genesis_envsync_aws.")):
            (site / entry.name).symlink_to(entry)
    code, out, err = _sync_process(tmp_path, python_args=(
        "-S", "-c", f"import site, sys; site.addsitedir({str(site)!r}); "
        "from genesis_core.cli.main import main; sys.exit(main())"))
    assert (code, out) == (2, "")
    line = _one_line(err)
    assert line.endswith("platforms.params.kind: platform kind 'aws-ssm' needs genesis-envsync-aws, which is not "
                         "installed: pip install genesis-envsync-aws"), line
