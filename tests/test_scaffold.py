"""``genesis new-adapter``: the scaffolded distribution installs, registers and passes its own tests."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from genesis_core.cli.context import CommandContext
from genesis_core.scaffold import NEW_ADAPTER_COMMAND, ScaffoldError, render_files, scaffold_adapter, validate_name

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "writing-an-adapter.md"


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GENESIS_"))}
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Scaffold ``acme-cloud`` and pip-install it into a private site dir; return ``(dist, site)``."""
    base = tmp_path_factory.mktemp("scaffold")
    scaffold_adapter("acme-cloud", base)
    dist, site = base / "genesis-envsync-acme-cloud", base / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--no-index", "--target", str(site), str(dist)],
                   check=True, capture_output=True, text=True, timeout=180)
    return dist, site


def test_scaffolded_distribution_passes_its_own_tests_unchanged(installed: tuple[Path, Path]) -> None:
    dist, site = installed
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=dist, env=_env(site), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(r"\d+ passed\b", summary), summary
    assert not re.search(r"failed|error|skipped", summary), summary


def test_scaffolded_distribution_passes_mypy_strict(installed: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy comes with genesis-envsync[testing]")
    dist, site = installed
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy-cache"),
                             "genesis_acme_cloud", "tests"],
                            cwd=dist, env=_env(site), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.startswith("Success: no issues found in 5 source files"), result.stdout


def test_installed_distribution_registers_through_the_entry_point(installed: tuple[Path, Path]) -> None:
    dist, site = installed
    code = """
import json
from importlib.metadata import entry_points
from genesis_core.plugins import build_plugin_host

(ep,) = [ep for ep in entry_points(group="genesis") if ep.name == "acme-cloud"]
host = build_plugin_host()
kind = host.platform_kinds()["acme-cloud"]
info = {i.name: i for i in host.plugin_infos()}["acme-cloud"]
module = ep.load()
print(json.dumps({"value": ep.value, "dist": ep.dist.name, "file": module.__file__,
                  "credential_env": kind.credential_env, "writes": kind.supports_write,
                  "error": info.error, "version": info.version}))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=site.parent, env=_env(site),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["value"] == "genesis_acme_cloud.plugin"
    assert found["dist"] == "genesis-envsync-acme-cloud"
    assert found["version"] == "0.1.0"
    assert Path(found["file"]).is_relative_to(site)  # the installed copy, not the source tree
    assert (found["credential_env"], found["writes"], found["error"]) == ("ACME_CLOUD_TOKEN", True, None)


def test_rendered_names() -> None:
    files = render_files("acme-cloud")
    assert sorted(files) == sorted([
        "pyproject.toml", "README.md", "genesis_acme_cloud/__init__.py", "genesis_acme_cloud/plugin.py",
        "genesis_acme_cloud/adapter.py", "genesis_acme_cloud/emulator.py", "tests/test_contract.py"])
    adapter = files["genesis_acme_cloud/adapter.py"]
    assert "class AcmeCloudAdapter(HttpPlatformAdapter):" in adapter
    assert 'kind = "acme-cloud"' in adapter and 'credential_env = "ACME_CLOUD_TOKEN"' in adapter
    pyproject = tomllib.loads(files["pyproject.toml"])
    assert pyproject["project"]["name"] == "genesis-envsync-acme-cloud"
    assert pyproject["project"]["entry-points"]["genesis"] == {"acme-cloud": "genesis_acme_cloud.plugin"}
    assert pyproject["project"]["dependencies"] == ["genesis-envsync>=0.1,<0.2"]
    assert set(pyproject["project"]["optional-dependencies"]) == {"testing"}
    for path, text in files.items():
        assert not re.search(r"\{\{[A-Za-z_]+\}\}", text), f"{path} has a placeholder left"
        if path.endswith(".py"):
            compile(text, path, "exec")


def test_custom_package_name(tmp_path: Path) -> None:
    written = scaffold_adapter("acme", tmp_path, package="acme_genesis")
    assert tmp_path / "genesis-envsync-acme" / "acme_genesis" / "adapter.py" in written
    pyproject = tomllib.loads((tmp_path / "genesis-envsync-acme" / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["genesis"] == {"acme": "acme_genesis.plugin"}
    assert "from acme_genesis.adapter import AcmeAdapter" in (
        tmp_path / "genesis-envsync-acme" / "tests" / "test_contract.py").read_text()


@pytest.mark.parametrize(("name", "message"), [
    ("Acme", "invalid adapter name 'Acme': use lowercase letters and digits"),
    ("1cloud", "invalid adapter name '1cloud'"),
    ("my cloud", "invalid adapter name 'my cloud'"),
    ("my--cloud", "invalid adapter name 'my--cloud'"),
    ("cloud-", "invalid adapter name 'cloud-'"),
    ("", "invalid adapter name ''"),
    ("../evil", "invalid adapter name '../evil'"),
    ("a" * 41, "at most 40 characters"),
    ("render", "adapter name 'render' is taken by Genesis itself"),
    ("core", "adapter name 'core' is taken by Genesis itself"),
])
def test_bad_names_are_refused_in_one_line(name: str, message: str) -> None:
    with pytest.raises(ScaffoldError) as info:
        validate_name(name)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_good_names() -> None:
    for name in ("acme", "my-cloud", "my_cloud2", "x"):
        assert validate_name(name) == name


def test_bad_package_is_refused(tmp_path: Path) -> None:
    for package in ("class", "Acme", "a-b", "1x"):
        with pytest.raises(ScaffoldError, match="invalid package name"):
            scaffold_adapter("acme", tmp_path, package=package)
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "genesis-envsync-acme").mkdir()
    (tmp_path / "genesis-envsync-acme" / "keep.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match=r"genesis-envsync-acme already exists; remove it or choose another --dest"):
        scaffold_adapter("acme", tmp_path)
    assert [p.name for p in (tmp_path / "genesis-envsync-acme").iterdir()] == ["keep.txt"]


def test_dest_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(ScaffoldError, match="is not a directory"):
        scaffold_adapter("acme", target)


def test_missing_dest_is_created(tmp_path: Path) -> None:
    written = scaffold_adapter("acme", tmp_path / "new" / "dir")
    assert all(path.is_file() for path in written)


# -- the CLI command -------------------------------------------------------------------------

def _run_command(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog=f"genesis {NEW_ADAPTER_COMMAND.name}")
    NEW_ADAPTER_COMMAND.configure(parser)
    out, err = io.StringIO(), io.StringIO()
    code = NEW_ADAPTER_COMMAND.run(parser.parse_args(argv), CommandContext(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_command_writes_and_lists_the_files(tmp_path: Path) -> None:
    code, out, err = _run_command(["acme", "--dest", str(tmp_path)])
    assert (code, err) == (0, "")
    assert (tmp_path / "genesis-envsync-acme" / "genesis_acme" / "adapter.py").is_file()
    assert "genesis-envsync-acme/genesis_acme/adapter.py" in out
    assert "pip install -e '.[testing]'" in out


def test_command_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out, err = _run_command(["Bad Name", "--dest", str(tmp_path)])
    assert (code, out) == (2, "")
    assert err.startswith("genesis: invalid adapter name 'Bad Name'") and err.count("\n") == 1
    _run_command(["acme", "--dest", str(tmp_path)])
    code, _, err = _run_command(["acme", "--dest", str(tmp_path)])
    assert code == 2 and "already exists" in err


# -- the guide ---------------------------------------------------------------------------

_FENCE = re.compile(r"(?:<!-- scaffold: (?P<path>[^ ]+) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)```", re.S)


def _blocks() -> list[tuple[str | None, str, str]]:
    return [(m["path"], m["lang"], m["body"]) for m in _FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def test_guide_shows_the_files_the_scaffold_writes() -> None:
    files = render_files("acme")
    shown = {path: body for path, _, body in _blocks() if path}
    assert set(shown) >= {"pyproject.toml", "genesis_acme/plugin.py", "genesis_acme/adapter.py",
                          "genesis_acme/emulator.py", "tests/test_contract.py"}
    for path, body in shown.items():
        assert body == files[path], f"docs/writing-an-adapter.md shows an outdated {path}"


def test_guide_code_blocks_are_real() -> None:
    blocks = _blocks()
    assert len([b for b in blocks if b[1] == "python"]) >= 6
    for index, (path, lang, body) in enumerate(blocks):
        if lang == "python":
            compile(body, f"{DOC.name} block {index} {path or ''}", "exec")
        elif lang == "toml":
            tomllib.loads(body)


def test_new_adapter_is_registered_lazily_with_the_real_command(tmp_path: Path) -> None:
    from genesis_core.plugins import build_plugin_host

    registered = build_plugin_host(entry_points=False).commands()["new-adapter"]
    assert registered is not NEW_ADAPTER_COMMAND and registered.help == NEW_ADAPTER_COMMAND.help
    parser = argparse.ArgumentParser()
    registered.configure(parser)  # resolves to the real command's arguments
    args = parser.parse_args(["acme", "--dest", str(tmp_path)])
    out = io.StringIO()
    assert registered.run(args, CommandContext(stdout=out, stderr=io.StringIO())) == 0
    assert (tmp_path / "genesis-envsync-acme" / "pyproject.toml").is_file()
