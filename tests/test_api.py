"""The plugin API: what plugins import, the checked-in surface and its version, no import circles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import genesis_core.api as api
import genesis_core.testing as kit
from genesis_core import _surface
from genesis_core._version import API_VERSION, __version__
from genesis_core.scaffold import render_files

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(path for path in (ROOT / "plugins").iterdir() if (path / "pyproject.toml").is_file())
def plugin_files() -> list[Path]:
    return sorted(path for plugin in PLUGINS for path in plugin.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: str(p.relative_to(ROOT / "plugins")))
def test_plugins_import_only_the_api_and_the_testing_kit(path: Path, outside_the_api) -> None:
    assert outside_the_api(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(ROOT)} uses core internals; import them from genesis_core.api "
        "(or genesis_core.testing in tests), adding to the API if a plugin really needs them")


def test_the_import_walk_sees_every_kind_of_import(outside_the_api) -> None:
    source = '''
from typing import TYPE_CHECKING
from genesis_core import hookimpl
from genesis_core.api import Table
if TYPE_CHECKING:
    from genesis_core.config import Config
def late():
    import genesis_core.bus.core
    from genesis_core.testing import Fault
    return Command.lazy("x", "y", "genesis_core.cli.cmd_sync:COMMAND")
'''
    assert outside_the_api(source) == [
        "line 3: genesis_core.hookimpl", "line 6: genesis_core.config", "line 8: genesis_core.bus.core",
        "line 10: the string 'genesis_core.cli.cmd_sync:COMMAND'"]


def test_the_scaffold_imports_only_the_api_and_the_testing_kit(outside_the_api) -> None:
    files = render_files("acme")
    python = {path: text for path, text in files.items() if path.endswith(".py")}
    assert len(python) == 5
    for path, text in python.items():
        assert outside_the_api(text) == [], path


# -- the surface ------------------------------------------------------------------------------------

def test_the_api_matches_the_checked_in_surface_list() -> None:
    version, lines = _surface.recorded()
    current = _surface.surface()
    if lines != current:
        import difflib

        diff = "\n".join(difflib.unified_diff(lines, current, "docs/api-surface.txt", "the code", lineterm="", n=0))
        if version == API_VERSION:
            pytest.fail(f"the plugin API changed but API_VERSION is still {API_VERSION}: bump the core's minor "
                        "version (and every plugin's genesis-envsync requirement), then run "
                        f"`python -m genesis_core._surface --write`\n{diff}")
        pytest.fail(f"docs/api-surface.txt records API {version}, the code is {API_VERSION}: run "
                    f"`python -m genesis_core._surface --write`\n{diff}")
    assert version == API_VERSION, "run `python -m genesis_core._surface --write` after bumping API_VERSION"


def test_the_surface_tool_refuses_a_changed_surface_under_the_same_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = tmp_path / "api-surface.txt"
    recorded.write_text(_surface.HEADER.format(version=API_VERSION) + "\n[genesis_core.api] 1 names\nold = 1\n")
    monkeypatch.setattr(_surface, "SURFACE_FILE", recorded)
    assert _surface.main(["--write"]) == 1
    assert "old = 1" in recorded.read_text()
    assert _surface.main(["--write", "--same-version"]) == 0
    assert recorded.read_text() == _surface.render(API_VERSION)


def test_the_surface_lists_signatures_and_members() -> None:
    lines = _surface.surface()
    assert f"[genesis_core.api] {len(api.__all__)} names" in lines
    assert f"[genesis_core.testing] {len(kit.__all__)} names" in lines
    assert any(line.startswith("class PlatformKind(name: 'str', factory: ") for line in lines)
    assert "    @overload def str(self, key: 'builtins.str') -> 'builtins.str'" in lines
    assert any(line.startswith("def configure_bus(config: 'Config', *, host: 'HostLike'") for line in lines)


def test_every_name_of_the_api_is_documented_in_the_hook_reference() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", text))
    assert [name for name in [*api.__all__, *kit.__all__] if name not in documented] == []


def test_api_version_is_the_cores_minor_release() -> None:
    major, minor, *_ = __version__.split(".")
    assert major == "0", "after 1.0 decide how API_VERSION follows the core version"
    assert API_VERSION == f"{major}.{minor}" == api.API_VERSION


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_every_plugin_requires_the_api_it_is_built_for(plugin: Path) -> None:
    major, minor = (int(part) for part in API_VERSION.split("."))
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    core = [req for req in project["dependencies"] if re.match(r"genesis-envsync\s*[<>=!~]", req)]
    assert core == [f"genesis-envsync>={major}.{minor},<{major}.{minor + 1}"]


# -- the module itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [api, kit], ids=["api", "testing"])
def test_every_export_resolves_and_is_seen_by_type_checkers(module: object) -> None:
    names = set(module.__all__)  # type: ignore[attr-defined]
    for name in names:
        assert getattr(module, name) is not None
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    typed = {alias.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names if alias.asname and not alias.asname.startswith("_")}
    typed |= {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name) and target.id.isidentifier()
              and target.id in names}
    assert typed == names, "the TYPE_CHECKING imports and the export table differ"
    with pytest.raises(AttributeError):
        module.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_api_for_a_hook_marker_loads_nothing_else() -> None:
    code = ("import sys; from genesis_core.api import hookimpl; "
            "print(sorted(m for m in sys.modules if m.startswith('genesis_core')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(["genesis_core", "genesis_core._markers", "genesis_core._version",
                                       "genesis_core.api"])


# -- import circles -----------------------------------------------------------------------------------

def _graph(root: Path, package: str) -> dict[str, set[str]]:
    """Return ``{module: modules of package it imports}``, counting every import (type-only ones too)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package_parts[: len(package_parts) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith(package):
                    edges[name].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_type_only_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    (package / "b.py").write_text("def f():\n    from pkg import a\n")
    assert _cycles(_graph(package, "pkg")) == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("package", ["genesis_core", *(next(p.glob("genesis_*")).name for p in PLUGINS)])
def test_no_module_imports_itself_through_others(package: str) -> None:
    root = ROOT / package if package == "genesis_core" else next(ROOT.glob(f"plugins/*/{package}"))
    cycles = _cycles(_graph(root, package))
    if package == "genesis_core":
        # A command's run() takes a CommandContext, whose host is a PluginHost, whose commands()
        # returns Commands: three types that name each other, so three modules that import each
        # other for type checking only.  Nothing imports another of them at run time.
        assert cycles in ([], [["genesis_core.cli.commands", "genesis_core.cli.context", "genesis_core.hookspecs",
                                "genesis_core.plugins"]]), cycles
    else:
        assert cycles == []
