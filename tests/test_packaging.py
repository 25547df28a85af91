"""Every distribution in the repository carries the same release metadata.

The core is ``genesis-envsync`` and each plugin ``genesis-envsync-<name>`` in
``plugins/genesis-envsync-<name>/``; each ships the root LICENSE and a
``py.typed``, takes its version from one module, and pins the core's minor
release (its plugin API version).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from genesis_core import __version__

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
REQUIRED_CLASSIFIERS = {
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Typing :: Typed",
}


def _project(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))


def _core_range() -> str:
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 1}"


def _package(pyproject: dict) -> str:
    (package,) = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return package


def test_there_are_plugins_to_check() -> None:
    assert len(PLUGINS) >= 10


@pytest.mark.parametrize("dist", [ROOT, *PLUGINS], ids=lambda p: p.name if p != ROOT else "core")
def test_release_metadata(dist: Path) -> None:
    pyproject = _project(dist)
    project = pyproject["project"]
    expected_name = "genesis-envsync" if dist == ROOT else dist.name
    assert project["name"] == expected_name
    assert expected_name.startswith("genesis-envsync")
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert (dist / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    assert set(project["classifiers"]) >= REQUIRED_CLASSIFIERS
    assert {"Homepage", "Source", "Issues", "Documentation", "Changelog"} <= set(project["urls"])
    assert project["requires-python"] == ">=3.11"
    # One version source: dynamic, read from the package by hatch.
    assert "version" not in project and project["dynamic"] == ["version"]
    version_file = dist / pyproject["tool"]["hatch"]["version"]["path"]
    assert re.search(r'^__version__ = "(\d+\.\d+\.\d+)"$', version_file.read_text(), re.M)
    assert (dist / _package(pyproject) / "py.typed").is_file()


@pytest.mark.parametrize("dist", PLUGINS, ids=lambda p: p.name)
def test_plugins_pin_the_core_minor_and_share_its_version(dist: Path) -> None:
    pyproject = _project(dist)
    project = pyproject["project"]
    core_pins = [dep for dep in project["dependencies"] if re.match(r"genesis-envsync\b(?!-)", dep)]
    assert core_pins == [f"genesis-envsync{_core_range()}"]
    version_file = dist / pyproject["tool"]["hatch"]["version"]["path"]
    assert f'__version__ = "{__version__}"' in version_file.read_text(), "versions move in lockstep"
    assert "POSIX" in " ".join(project["classifiers"]) or "OS Independent" in " ".join(project["classifiers"])
    assert set(project["optional-dependencies"]) == {"testing"}


@pytest.mark.parametrize("dist", PLUGINS, ids=lambda p: p.name)
def test_posix_classifier_where_fcntl_is_used(dist: Path) -> None:
    package = dist / _package(_project(dist))
    uses_fcntl = any("import fcntl" in path.read_text(encoding="utf-8") for path in package.rglob("*.py"))
    classifiers = set(_project(dist)["project"]["classifiers"])
    assert ("Operating System :: POSIX" in classifiers) == uses_fcntl


def test_all_extra_installs_every_plugin_in_the_repository() -> None:
    extra = _project(ROOT)["project"]["optional-dependencies"]["all"]
    assert sorted(extra) == sorted(f"{dist.name}{_core_range()}" for dist in PLUGINS)


def test_requirements_all_lists_every_distribution() -> None:
    lines = [line.strip() for line in (ROOT / "requirements-all.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert sorted(lines) == sorted(["./", *(f"./plugins/{dist.name}" for dist in PLUGINS)])
