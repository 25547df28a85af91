"""Installing from a package index works: every distribution built, checked, served and installed.

Once per session: build an sdist of every distribution, then each wheel from its unpacked sdist
(so an sdist that misses a file fails here), run ``twine check --strict`` on all of them, and lay
the wheels out as a PEP 503 simple index served over HTTP on 127.0.0.1. Then, in a fresh venv,
``pip install --index-url http://127.0.0.1:PORT/simple/ genesis-envsync-truth`` (everything else
from the normal index, as pip is configured on this machine or a CI runner), and use it:
``genesis plugins``, a dotenv-only ``genesis sync``, ``genesis ledger verify``, the missing-plugin
hints of the plugins it lacks; then ``pip install "genesis-envsync[all]"`` lists every plugin.

Needs the normal package index (for httpx, cryptography...; pip's cache is used) and takes
about a minute.
"""

from __future__ import annotations

import functools
import hashlib
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
DIRECTORIES = [ROOT, *PLUGINS]
PYPI = "https://pypi.org/simple"


def _name(directory: Path) -> str:
    return tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]


def canonical(name: str) -> str:
    """Return the PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert done.returncode == 0, (f"{' '.join(map(str, args))} exited {done.returncode}\n"
                                      f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


# -- the build -------------------------------------------------------------------------------

@attrs.frozen
class Built:
    sdists: dict[str, Path]
    wheels: dict[str, Path]


def build_one(directory: Path, out: Path, work: Path) -> tuple[Path, Path]:
    """Build ``directory``'s sdist, then its wheel from the unpacked sdist; return both paths."""
    sdist_dir, wheel_dir = out / "sdist", out / "wheel"
    before = set(sdist_dir.glob("*.tar.gz")) if sdist_dir.exists() else set()
    run(sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", sdist_dir, cwd=directory)
    (sdist,) = set(sdist_dir.glob("*.tar.gz")) - before
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            archive.extractall(work, filter="data")
        else:  # pragma: no cover - our own archive, just built
            archive.extractall(work)
    (unpacked,) = [p for p in work.iterdir() if p.name == sdist.name.removesuffix(".tar.gz")]
    before = set(wheel_dir.glob("*.whl")) if wheel_dir.exists() else set()
    run(sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", wheel_dir, cwd=unpacked)
    (wheel,) = set(wheel_dir.glob("*.whl")) - before
    return sdist, wheel


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Build every distribution once per session (sdist, then the wheel from it)."""
    out = tmp_path_factory.mktemp("dists")
    sdists, wheels = {}, {}
    for directory in DIRECTORIES:
        work = tmp_path_factory.mktemp(f"unpacked-{directory.name}")
        sdists[_name(directory)], wheels[_name(directory)] = build_one(directory, out, work)
    return Built(sdists, wheels)


def pip_index_options() -> tuple[str, list[str]]:
    """Return the index pip uses here and the extra indexes its configuration adds.

    On this machine or a CI runner pip may be configured (``pip config list``: files and
    ``PIP_*`` variables); naming our index on the command line replaces that configuration's
    index options, so they are passed on again.
    """
    listed = run(sys.executable, "-m", "pip", "config", "list").stdout
    index, extras = None, []
    for line in listed.splitlines():
        match = re.fullmatch(r"(?P<scope>[^.]*)\.(?P<key>[\w-]+)='(?P<value>.*)'", line.strip())
        if match is None:
            continue
        if match["key"] == "index-url" and (index is None or match["scope"] == ":env:"):
            index = match["value"]
        elif match["key"] == "extra-index-url":
            extras += match["value"].split()
    return index or PYPI, list(dict.fromkeys(extras))


# -- the index -------------------------------------------------------------------------------

def write_simple_index(wheels: list[Path], root: Path) -> None:
    """Lay ``wheels`` out under ``root/simple/`` as a PEP 503 index (hashes and Requires-Python)."""
    projects: dict[str, list[Path]] = {}
    for wheel in wheels:
        projects.setdefault(canonical(wheel.name.split("-")[0]), []).append(wheel)
    simple = root / "simple"
    for project, files in projects.items():
        page = simple / project
        page.mkdir(parents=True)
        links = []
        for wheel in files:
            shutil.copy2(wheel, page / wheel.name)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            links.append(f'<a href="{wheel.name}#sha256={digest}" data-requires-python="{html.escape(">=3.11")}">'
                         f"{wheel.name}</a><br>")
        (page / "index.html").write_text(
            f"<!DOCTYPE html><html><body><h1>Links for {project}</h1>{''.join(links)}</body></html>\n")
    (simple / "index.html").write_text(
        "<!DOCTYPE html><html><body>"
        + "".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(projects)) + "</body></html>\n")


@pytest.fixture(scope="session")
def index_url(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the built wheels as a simple index on 127.0.0.1; return its ``/simple/`` URL."""
    root = tmp_path_factory.mktemp("index")
    write_simple_index(list(built.wheels.values()), root)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


# -- the tests -------------------------------------------------------------------------------

def test_every_distribution_builds_and_passes_twine_check(built: Built, tmp_path: Path) -> None:
    names = [_name(d) for d in DIRECTORIES]
    assert sorted(built.wheels) == sorted(built.sdists) == sorted(names)
    tools = tmp_path / "tools"
    run(sys.executable, "-m", "venv", tools)
    run(bin_dir(tools) / "python", "-m", "pip", "install", "--quiet", "twine")
    files = [*built.sdists.values(), *built.wheels.values()]
    done = run(bin_dir(tools) / "python", "-m", "twine", "check", "--strict", *files)
    assert done.stdout.count("PASSED") == len(files) == 2 * len(names), done.stdout


@pytest.mark.parametrize("directory", PLUGINS, ids=lambda p: p.name)
def test_each_plugin_sdist_holds_its_tests_and_their_reference_data(built: Built, directory: Path) -> None:
    with tarfile.open(built.sdists[_name(directory)]) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    tests = {str(p.relative_to(directory)) for p in (directory / "tests").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert tests and tests <= members, sorted(tests - members)
    assert {"LICENSE", "README.md", "pyproject.toml"} <= members


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment, with nothing of Genesis in it."""
    target = tmp_path_factory.mktemp("venv") / "venv"
    run(sys.executable, "-m", "venv", target)
    return target


def pip_install(venv: Path, index_url: str, report: Path, *requirements: str) -> list[dict[str, Any]]:
    """Install from our index (and the normal one for everything else); return pip's install report."""
    normal, extras = pip_index_options()
    options = ["--index-url", index_url, "--extra-index-url", normal]
    for extra in extras:
        options += ["--extra-index-url", extra]
    run(bin_dir(venv) / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--report", report, *options, *requirements)
    return json.loads(report.read_text())["install"]


def genesis(venv: Path, *args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESIS_", "VIRTUAL_ENV", "PYTHON"))}
    env["GENESIS_HOME"] = str(cwd / ".genesis")
    env["GENESIS_CACHE_DIR"] = str(cwd / ".cache")
    done = run(bin_dir(venv) / "genesis", *args, cwd=cwd, env=env, check=False, timeout=120)
    assert done.returncode == code, f"genesis {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def ours_came_from(items: list[dict[str, Any]], index_url: str) -> dict[str, str]:
    """Return ``{name: version}`` of our distributions pip installed, checking each came from our index."""
    found = {}
    for item in items:
        name = canonical(item["metadata"]["name"])
        if name.startswith("genesis-envsync"):
            assert item["download_info"]["url"].startswith(index_url), item["download_info"]["url"]
            found[name] = item["metadata"]["version"]
        assert name != "genesis-core"
    return found


def test_install_truth_from_the_index_then_sync_and_verify(venv: Path, index_url: str, tmp_path: Path) -> None:
    from genesis_core import __version__

    installed = ours_came_from(pip_install(venv, index_url, tmp_path / "report.json", "genesis-envsync-truth"),
                               index_url)
    assert installed == {"genesis-envsync": __version__, "genesis-envsync-truth": __version__}

    project = tmp_path / "app"
    project.mkdir()
    (project / ".env").write_text("APP_NAME=shop\nPORT=8080\nDATABASE_URL=postgres://u:p4ss-Zr8q@db/shop\n")
    (project / ".env.production").write_text((project / ".env").read_text())
    (project / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n\n'
                                          '[platforms.production]\nkind = "dotenv"\npath = ".env.production"\n')
    plugins = json.loads(genesis(venv, "plugins", "--all", "--json", cwd=project).stdout)
    assert {(p["name"], p["distribution"], p["version"], p["status"]) for p in plugins["plugins"]} == {
        ("core", "genesis-envsync", __version__, "ok"), ("core.commands", "genesis-envsync", __version__, "ok"),
        ("core.transports", "genesis-envsync", __version__, "ok"),
        ("truth", "genesis-envsync-truth", __version__, "ok")}
    assert genesis(venv, "plugins", cwd=project).stdout.splitlines()[0].startswith("truth")
    assert "everything looks good" in genesis(venv, "doctor", "--offline", cwd=project).stdout
    synced = genesis(venv, "sync", cwd=project, code=0)
    assert "Parity: 3 keys consistent across 2 platforms" in synced.stdout
    assert "p4ss-Zr8q" not in synced.stdout + synced.stderr
    verified = genesis(venv, "ledger", "verify", cwd=project)
    assert verified.stdout.startswith("ledger ok: 1 entries")

    # What this venv lacks is named, one line each, exit 2.
    for args, dist in ((["heal"], "genesis-envsync-autonomy"), (["serve"], "genesis-envsync-cascade"),
                       (["emulate", "render"], "genesis-envsync-render")):
        done = genesis(venv, *args, cwd=project, code=2)
        assert done.stderr.strip().endswith(f"which is not installed: pip install {dist}"), done.stderr
        assert len(done.stderr.splitlines()) == 1 and done.stdout == ""
    (project / "genesis.toml").write_text('[platforms.local]\nkind = "dotenv"\n[platforms.web]\nkind = "render"\n'
                                          'service_id = "srv-1"\n')
    done = genesis(venv, "sync", cwd=project, code=2)
    assert done.stderr.strip().endswith("pip install genesis-envsync-render") and len(done.stderr.splitlines()) == 1


def test_the_all_extra_installs_every_plugin(venv: Path, index_url: str, tmp_path: Path) -> None:
    from genesis_core import __version__

    ours_came_from(pip_install(venv, index_url, tmp_path / "report.json", "genesis-envsync[all]"), index_url)
    listed = json.loads(genesis(venv, "plugins", "--all", "--json", cwd=tmp_path).stdout)
    assert {p["distribution"] for p in listed["plugins"]} == {_name(d) for d in DIRECTORIES}
    assert all(p["status"] == "ok" and p["version"] == __version__ for p in listed["plugins"]), listed["plugins"]
    assert listed["problems"] == []
    freeze = run(bin_dir(venv) / "python", "-m", "pip", "list", "--format", "json").stdout
    ours = {canonical(p["name"]): p["version"] for p in json.loads(freeze) if p["name"].startswith("genesis")}
    assert ours == {_name(d): __version__ for d in DIRECTORIES}
