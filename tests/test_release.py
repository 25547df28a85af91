"""The release machinery: CI and release workflows, tox, and the lockstep version script.

Every list is derived from the repository (the distributions from the pyproject files, the
Python versions from the core's classifiers), so adding a plugin or a Python version without
updating a workflow fails here.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def _project(directory: Path) -> dict[str, Any]:
    return tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))["project"]


DISTRIBUTIONS = [_project(ROOT)["name"], *(_project(p)["name"] for p in PLUGINS)]
PYTHONS = sorted((m[1] for c in _project(ROOT)["classifiers"]
                  if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c))),
                 key=lambda v: int(v.split(".")[1]))


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("jobs"), dict), name
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(data: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return data["jobs"][job]["steps"]


def runs(data: dict[str, Any], job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(data, job))


def uses(data: dict[str, Any], job: str) -> list[str]:
    return [step["uses"] for step in steps(data, job) if "uses" in step]


def test_the_lists_derived_from_the_repository() -> None:
    assert DISTRIBUTIONS[0] == "genesis-envsync" and len(DISTRIBUTIONS) == len(PLUGINS) + 1 >= 11
    assert PYTHONS == ["3.11", "3.12", "3.13"]


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_workflow_parses_and_reads_no_secret_but_its_own(name: str) -> None:
    data = workflow(name)
    assert data["on"] and data["permissions"] == {"contents": "read"}
    for job in data["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
    assert "secrets." not in (WORKFLOWS / name).read_text()  # trusted publishing: no token anywhere


def test_ci_runs_the_readme_test_command_on_every_supported_python() -> None:
    data = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(data["on"])
    job = data["jobs"]["test"]
    assert [str(v) for v in job["strategy"]["matrix"]["python-version"]] == PYTHONS
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    commands = runs(data, "test")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && .venv/bin/pip install tox && .venv/bin/tox" in readme
    assert "python -m venv .venv" in commands and ".venv/bin/pip install tox" in commands
    assert re.search(r'\.venv/bin/tox -e "py\$\{PYTHON_VERSION//\./\}" --skip-missing-interpreters false', commands)
    assert "nats-server" in commands  # or the NATS tests would be skipped
    assert "apt-get install -y -qq chromium" in commands  # or the browser tests would fail for want of it


def test_tox_runs_every_supported_python_and_installs_every_plugin() -> None:
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    env_list = [e.strip() for e in tox["tox"]["env_list"].split(",")]
    assert env_list == [f"py{v.replace('.', '')}" for v in PYTHONS] + ["lint"]  # so `tox` runs the lint too
    assert tox["tox"]["skip_missing_interpreters"] == "true"
    deps = tox["testenv"]["deps"].split()
    assert "-e{toxinidir}[testing]" in deps
    assert sorted(deps[1:]) == sorted(f"-e{{toxinidir}}/plugins/{p.name}[testing]" for p in PLUGINS)
    lint = tox["testenv:lint"]["commands"].split("\n")
    assert [line.split()[0] for line in lint if line.strip()] == ["ruff", "mypy"]


def test_release_builds_checks_and_publishes_every_distribution() -> None:
    data = workflow("release.yml")
    assert data["on"] == {"push": {"tags": ["v*"]}}
    assert data["env"]["DISTRIBUTIONS"].split() == DISTRIBUTIONS
    build = runs(data, "build")
    assert 'python scripts/release.py check --tag "$GITHUB_REF_NAME"' in build
    assert 'for name in $DISTRIBUTIONS; do' in build and "python -m build --outdir dist" in build
    assert "python scripts/release.py dists dist" in build
    assert "twine check --strict dist/*" in build
    publish = data["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses(data, "publish"))
    assert "id-token" not in str(data["jobs"]["build"].get("permissions", {}))


def test_releasing_md_documents_the_procedure() -> None:
    text = (ROOT / "RELEASING.md").read_text(encoding="utf-8")
    for needed in ("python scripts/release.py bump", "python scripts/release.py check", "git tag -a v",
                   "trusted publish", "release.yml", *DISTRIBUTIONS):
        assert needed in text, needed


# -- scripts/release.py ------------------------------------------------------------------------

def release(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60)


def test_the_repository_is_in_lockstep() -> None:
    done = release("check")
    assert done.returncode == 0, done.stderr
    shown = release("show").stdout.split()
    assert [name for name in shown if name.startswith("genesis-envsync")] == DISTRIBUTIONS


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".tox", "__pycache__", "*.egg-info", "build", "dist", ".genesis", "genesis-demo"))
    return target


def test_bump_moves_every_version_and_pin_together(copy: Path) -> None:
    done = release("bump", "0.2.0", root=copy)
    assert done.returncode == 0, done.stderr
    assert release("check", "--tag", "v0.2.0", root=copy).returncode == 0
    assert 'tag v0.1.0 does not match version 0.2.0' in release("check", "--tag", "v0.1.0", root=copy).stderr
    assert '__version__ = "0.2.0"' in (copy / "genesis_core" / "_version.py").read_text()
    assert 'API_VERSION = "0.2"' in (copy / "genesis_core" / "_version.py").read_text()
    assert (copy / "docs" / "api-surface.txt").read_text().startswith("# genesis_core plugin API 0.2\n")
    for plugin in PLUGINS:
        text = (copy / "plugins" / plugin.name / "pyproject.toml").read_text()
        assert '"genesis-envsync>=0.2,<0.3"' in text and "<0.2" not in text
    core = (copy / "pyproject.toml").read_text()
    assert '"genesis-envsync-render>=0.2,<0.3"' in core and "<0.2" not in core
    assert '"genesis-envsync>=0.2,<0.3"' in (copy / "examples" / "github-actions" / "genesis-sync.yml").read_text()
    assert 'testing = ["genesis-envsync[testing]>=0.2,<0.3"]' in (copy / "docs" / "writing-an-adapter.md").read_text()
    # A patch release moves the versions and keeps the pins.
    assert release("bump", "0.2.1", root=copy).returncode == 0
    assert release("check", "--tag", "v0.2.1", root=copy).returncode == 0
    assert 'API_VERSION = "0.2"' in (copy / "genesis_core" / "_version.py").read_text()
    assert "<0.3" in (copy / "pyproject.toml").read_text()


def test_check_names_a_distribution_out_of_step(copy: Path) -> None:
    version_file = copy / "plugins" / "genesis-envsync-truth" / "genesis_truth" / "__init__.py"
    version_file.write_text(version_file.read_text().replace('__version__ = "', '__version__ = "9', 1))
    pyproject = copy / "plugins" / "genesis-envsync-render" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("genesis-envsync>=", "genesis-envsync>=9", 1))
    version = copy / "genesis_core" / "_version.py"
    version.write_text(version.read_text().replace('API_VERSION = "', 'API_VERSION = "9', 1))
    done = release("check", root=copy)
    assert done.returncode == 1
    assert "genesis-envsync-truth is 9" in done.stderr
    assert "genesis_core/_version.py: API_VERSION is 90.1, expected 0.1" in done.stderr
    assert "plugins/genesis-envsync-render/pyproject.toml: genesis-envsync>=90.1" in done.stderr
    assert release("bump", "1.0", root=copy).returncode != 0


def test_dists_wants_one_wheel_and_one_sdist_of_each(tmp_path: Path) -> None:
    version = __import__("genesis_core").__version__
    for name in DISTRIBUTIONS:
        stem = f"{name.replace('-', '_')}-{version}"
        (tmp_path / f"{stem}-py3-none-any.whl").touch()
        (tmp_path / f"{stem}.tar.gz").touch()
    assert release("dists", str(tmp_path)).returncode == 0
    (tmp_path / f"genesis_envsync_render-{version}.tar.gz").unlink()
    (tmp_path / "genesis_core-0.0.6.tar.gz").touch()
    done = release("dists", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"missing: genesis_envsync_render-{version}.tar.gz",
                                        "unexpected: genesis_core-0.0.6.tar.gz"]


def test_readme_holds_exactly_two_set_up_commands() -> None:
    """A fresh clone needs Python 3.11+ and one of two lines: the demo, or the whole test suite."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -r requirements-all.txt && .venv/bin/genesis demo",
        "python3 -m venv .venv && .venv/bin/pip install tox && .venv/bin/tox",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "git clone" in ci and "python3 -m venv .venv && .venv/bin/pip install -q tox && .venv/bin/tox" in ci


def test_ci_runs_the_lint() -> None:
    job = workflow("ci.yml")["jobs"]["lint"]
    commands = "\n".join(step.get("run", "") for step in job["steps"])
    assert ".venv/bin/tox -e lint" in commands
