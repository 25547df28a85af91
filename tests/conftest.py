"""Shared fixtures: an isolated state dir for every test, and fake installed distributions."""

from __future__ import annotations

import ast
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(genesis_home: Path, fresh_plugin_host: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test its own GENESIS_HOME, no ambient GENESIS_CONFIG, and a plugin host that sees
    what it installs."""
    monkeypatch.delenv("GENESIS_CONFIG", raising=False)
    return genesis_home


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Return a function that installs a fake distribution with ``genesis`` entry points on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "0.1",
             requires: tuple[str, ...] = ()) -> Path:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        requirements = "".join(f"Requires-Dist: {line}\n" for line in requires)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n{requirements}")
        lines = ["[genesis]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        for module in modules:
            sys.modules.pop(module, None)
        return site

    yield make
    os.environ.pop("GENESIS_TEST_SITE", None)


# -- the plugin API (tests/test_api.py, tests/test_engine_guide.py) -------------------------------

ALLOWED = ("genesis_core.api", "genesis_core.testing")
#: A string that imports a core module other than the API: a ``module:attribute`` target
#: (``Command.lazy``, an entry point) or code run in a subprocess.
INTERNAL_TARGET = re.compile(r"\bgenesis_core\.(?!api\b|testing\b)[a-z_.]+:|"
                             r"\b(?:from|import)\s+genesis_core\.(?!api\b|testing\b)")


def _imports_of(source: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line, module)`` for every import in ``source``: module level, in functions, under TYPE_CHECKING."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            if node.module == "genesis_core":
                for alias in node.names:
                    yield node.lineno, f"genesis_core.{alias.name}"


def _outside_the_api(source: str) -> list[str]:
    """Return what ``source`` uses of ``genesis_core`` besides the API and the testing kit."""
    found = [f"line {line}: {module}" for line, module in _imports_of(source)
             if module.split(".")[0] == "genesis_core" and module not in ALLOWED and module != "genesis_core"]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and INTERNAL_TARGET.search(node.value):
            found.append(f"line {node.lineno}: the string {node.value!r}")
    return found


@pytest.fixture
def outside_the_api():
    """Return ``check(source) -> [what source uses of genesis_core besides the API and the testing kit]``."""
    return _outside_the_api


@pytest.fixture
def run_cli(genesis_cli):
    """Return ``run(*args) -> (exit_code, stdout, stderr)`` running ``genesis ARGS`` in-process."""
    return genesis_cli


# =====================================================================================
# Robustness suite helpers (fault injection and canary tests).
# Used by tests/test_fault_injection.py, tests/test_canary.py; appended, nothing above changed.
# Plugin packages are imported lazily so the rest of the suite never needs them.
# =====================================================================================

import base64 as _rb_base64
import json as _rb_json
import logging as _rb_logging
import secrets as _rb_secrets
import subprocess as _rb_subprocess
import urllib.parse as _rb_urlparse
from collections.abc import Iterable as _RbIterable
from collections.abc import Iterator as _RbIterator
from collections.abc import Mapping as _RbMapping
from typing import Any as _RbAny

ROBUST_PLATFORM_KINDS = ("render", "netlify", "github", "vercel")
_RB_SERVICE_ID = "srv-robust0001"
_RB_ACCOUNT_ID = "acct-robust"
_RB_SITE_ID = "site-robust"
_RB_REPOSITORY = "acme/robust"
_RB_PROJECT = "robust-app"
_RB_TEAM = "team_robust"
_RB_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def robust_random(n: int) -> str:
    """Return ``n`` random letters and digits."""
    return "".join(_rb_secrets.choice(_RB_ALNUM) for _ in range(n))


def leak_forms(secret: str) -> dict[str, bytes]:
    """Return the spellings of ``secret`` an output could carry: raw, URL-encoded, base64, hex."""
    raw = secret.encode("utf-8")
    forms = {"raw": raw, "url-encoded": _rb_urlparse.quote(secret, safe="").encode(),
             "url-encoded (plus)": _rb_urlparse.quote_plus(secret).encode(),
             "base64": _rb_base64.b64encode(raw).rstrip(b"="),
             "hex": raw.hex().encode()}
    return {name: form for name, form in forms.items() if len(form) >= 8}


def find_leaks(secrets: _RbMapping[str, str], places: _RbMapping[str, str | bytes]) -> list[str]:
    """Return ``"<secret label> (<form>) in <place>"`` for every secret spelling found in a place."""
    found = []
    for where, content in places.items():
        data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        lowered = data.lower()
        for label, secret in secrets.items():
            for form, needle in leak_forms(secret).items():
                haystack = lowered if form == "hex" else data
                if (needle.lower() if form == "hex" else needle) in haystack:
                    found.append(f"{label} ({form}) in {where}")
    return found


def state_files(state_dir: Path) -> dict[str, bytes]:
    """Return the bytes of every file under ``state_dir`` (SQLite with WAL/SHM, ledger, reports...)."""
    files = {}
    if state_dir.exists():
        for path in sorted(state_dir.rglob("*")):
            if path.is_file():
                files[f"state file {path.relative_to(state_dir)}"] = path.read_bytes()
    return files


class EmulatedPlatform:
    """One running platform emulator, its instance name, token and how to seed and configure it."""

    def __init__(self, kind: str, name: str, emulator: _RbAny | None = None) -> None:
        self.kind = kind
        self.name = name
        self.token = {"render": "rnd_", "netlify": "nfp_", "github": "ghp_", "vercel": ""}[kind] + robust_random(36)
        self.token_env = {"render": "RENDER_API_KEY", "netlify": "NETLIFY_AUTH_TOKEN",
                          "github": "GITHUB_TOKEN", "vercel": "VERCEL_TOKEN"}[kind]
        self.emulator = emulator if emulator is not None else self.default_emulator()
        if emulator is not None:
            self.emulator.token = self.token
        self.base_url_override: str | None = None
        self.table_extra: dict[str, _RbAny] = {}
        self.emulator.start()
        self.seed({})

    def default_emulator(self) -> _RbAny:
        """Return the kind's emulator (not started) holding this platform's token."""
        return robust_emulator_class(self.kind)(token=self.token)

    # -- seeding (directly in the emulator, never through the adapter)
    def seed(self, values: _RbMapping[str, str], *, unreadable: _RbIterable[str] = ()) -> None:
        """Replace the platform's variables; ``unreadable`` keys are stored so the API hides their value."""
        hidden = set(unreadable)
        em = self.emulator
        if self.kind == "render":
            if hidden:
                raise ValueError("Render returns every value")
            em.set_env(_RB_SERVICE_ID, values)
        elif self.kind == "netlify":
            em.add_site(_RB_ACCOUNT_ID, _RB_SITE_ID)
            em.set_env(_RB_ACCOUNT_ID, _RB_SITE_ID, values, context="production", secret_keys=hidden)
        elif self.kind == "github":
            em.add_repo(_RB_REPOSITORY)
            em.clear(_RB_REPOSITORY)
            for key, value in values.items():
                if key in hidden:
                    em.set_secret(_RB_REPOSITORY, key, value)
                else:
                    em.set_variable(_RB_REPOSITORY, key, value)
        elif self.kind == "vercel":
            em.add_project(_RB_PROJECT, team_id=_RB_TEAM)
            em.clear(_RB_PROJECT)
            for key, value in values.items():
                em.add_env(_RB_PROJECT, key, value, type="sensitive" if key in hidden else "encrypted",
                           target=["production"])
        else:  # pragma: no cover - the kinds are fixed
            raise AssertionError(self.kind)

    def table(self) -> dict[str, _RbAny]:
        """Return the ``[platforms.NAME]`` table pointing at the emulator."""
        base = self.base_url_override or self.emulator.base_url
        table: dict[str, _RbAny] = {"kind": self.kind, "base_url": base}
        table.update({
            "render": {"service_id": _RB_SERVICE_ID},
            "netlify": {"account_id": _RB_ACCOUNT_ID, "site_id": _RB_SITE_ID},
            "github": {"repository": _RB_REPOSITORY},
            "vercel": {"project": _RB_PROJECT, "team_id": _RB_TEAM, "target": "production"},
        }[self.kind])
        table.update(self.table_extra)
        return table

    def requests(self) -> list[_RbAny]:
        """Return the requests the emulator recorded."""
        return list(self.emulator.requests)

    def writes(self) -> list[tuple[str, str]]:
        """Return ``(method, path)`` of every recorded request that is not a read."""
        return [(r.method, r.path) for r in self.emulator.requests if r.method not in ("GET", "HEAD")]

    def stop(self) -> None:
        """Stop the emulator."""
        self.emulator.stop()


def robust_emulator_class(kind: str) -> type:
    """Return the emulator class of ``kind`` (imported lazily)."""
    if kind == "render":
        from genesis_render.emulator import RenderEmulator
        return RenderEmulator
    if kind == "netlify":
        from genesis_netlify.emulator import NetlifyEmulator
        return NetlifyEmulator
    if kind == "github":
        from genesis_github.emulator import GitHubEmulator
        return GitHubEmulator
    if kind == "vercel":
        from genesis_vercel.emulator import VercelEmulator
        return VercelEmulator
    raise AssertionError(kind)


def _toml_value(value: _RbAny) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _rb_json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


def dotenv_text(values: _RbMapping[str, str]) -> str:
    """Return ``.env`` text holding ``values`` (double-quoted, escaped)."""
    return "".join(f"{key}={_rb_json.dumps(value)}\n" for key, value in values.items())


_RB_DEBUG_MAIN = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')\n"
    "from genesis_core.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class GenesisProject:
    """A project on disk: a local ``.env``, emulated platforms, ``genesis.toml``; runs the CLI."""

    def __init__(self, root: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.state_dir = state_dir
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.platforms: dict[str, EmulatedPlatform] = {}
        self.local: dict[str, str] | None = None
        self.sections: dict[str, dict[str, _RbAny]] = {}
        self.outputs: dict[str, str] = {}
        self.config = root / "genesis.toml"
        root.mkdir(parents=True, exist_ok=True)
        monkeypatch.chdir(root)
        for name in ("GENESIS_ROLE", "GENESIS_FINGERPRINT_KEY", "GITHUB_ACTIONS", "CI", "GENESIS_DEBUG",
                     "GENESIS_TRUTH_KEY", "GENESIS_CASCADE_TOKEN"):
            monkeypatch.delenv(name, raising=False)

    def add_local(self, values: _RbMapping[str, str], name: str = "local") -> Path:
        """Write ``.env`` with ``values`` as the dotenv instance ``name``."""
        self.local = dict(values)
        path = self.root / ".env"
        path.write_text(dotenv_text(values), encoding="utf-8")
        self.local_name = name
        return path

    def add_platform(self, kind: str, name: str, emulator: _RbAny | None = None) -> EmulatedPlatform:
        """Start an emulator of ``kind`` as instance ``name`` and put its token in the environment."""
        platform = EmulatedPlatform(kind, name, emulator)
        self.platforms[name] = platform
        self.monkeypatch.setenv(platform.token_env, platform.token)
        return platform

    def write_config(self, **platform_settings: _RbAny) -> Path:
        """Write ``genesis.toml``: the local instance, every platform (plus ``platform_settings``), sections."""
        lines: list[str] = []
        if self.local is not None:
            lines += [f"[platforms.{self.local_name}]", 'kind = "dotenv"', 'path = ".env"', ""]
        for name, platform in self.platforms.items():
            lines.append(f"[platforms.{name}]")
            table = {**platform.table(), **platform_settings}
            lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
            lines.append("")
        for section, table in self.sections.items():
            lines.append(f"[{section}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
            lines.append("")
        self.config.write_text("\n".join(lines), encoding="utf-8")
        return self.config

    def run(self, *args: str) -> tuple[int, str, str]:
        """Run ``genesis --config genesis.toml ARGS`` in-process; return ``(code, stdout, stderr)``."""
        from genesis_core.bus import reset_bus
        from genesis_core.cli.main import main
        from genesis_core.plugins import get_plugin_host

        get_plugin_host.cache_clear()
        self.capsys.readouterr()
        try:
            code = main(["--config", str(self.config), *args])
        finally:
            reset_bus()
        out, err = self.capsys.readouterr()
        label = "genesis " + " ".join(args)
        self.outputs[f"stdout of {label}"] = out
        self.outputs[f"stderr of {label}"] = err
        return code, out, err

    def run_process(self, *args: str, extra_env: _RbMapping[str, str] | None = None,
                    timeout: float = 60, debug_logging: bool = False) -> tuple[int, str, str]:
        """Run ``genesis --config genesis.toml ARGS`` in a fresh process; return ``(code, stdout, stderr)``.

        With ``debug_logging`` the process first sends every logger at DEBUG to stderr (the CLI
        itself has no log-level option).
        """
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        env.update(extra_env or {})
        runner = ["-c", _RB_DEBUG_MAIN] if debug_logging else ["-m", "genesis_core"]
        done = _rb_subprocess.run([sys.executable, *runner, "--config", str(self.config), *args],
                                  capture_output=True, text=True, env=env, cwd=self.root, timeout=timeout,
                                  check=False)
        label = ("DEBUG-logging " if debug_logging else "") + "process genesis " + " ".join(args)
        self.outputs[f"stdout of {label}"] = done.stdout
        self.outputs[f"stderr of {label}"] = done.stderr
        return done.returncode, done.stdout, done.stderr

    def history(self) -> list[dict[str, _RbAny]]:
        """Return every stored event (oldest first), read through ``genesis events history --json``."""
        code, out, err = self.run("events", "history", "--json", "--limit", "100000")
        assert code == 0, err
        return [_rb_json.loads(line) for line in out.splitlines() if line.strip()]

    def topics(self) -> list[str]:
        """Return the topics of every stored event, oldest first."""
        return [event["_genesis_topic"] for event in self.history()]

    def stop(self) -> None:
        """Stop every emulator."""
        for platform in self.platforms.values():
            platform.stop()


@pytest.fixture
def genesis_project(tmp_path: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> _RbIterator[GenesisProject]:
    """Yield an empty :class:`GenesisProject` in ``tmp_path/project`` using the isolated state dir."""
    project = GenesisProject(tmp_path / "project", _isolated_home, monkeypatch, capsys)
    try:
        yield project
    finally:
        project.stop()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> _RbIterator[pytest.LogCaptureFixture]:
    """Capture every log record at DEBUG (root, httpx, httpcore, genesis, websockets...)."""
    for name in (None, "httpx", "httpcore", "genesis", "genesis_core", "websockets", "asyncio"):
        caplog.set_level(_rb_logging.DEBUG, logger=name)
    yield caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Return everything the captured records say: messages, args and exception tracebacks."""
    import traceback

    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


@pytest.fixture
def robust():
    """Return the robustness helpers (test modules cannot import conftest under importlib mode)."""
    import types

    return types.SimpleNamespace(
        PLATFORM_KINDS=ROBUST_PLATFORM_KINDS, SERVICE_ID=_RB_SERVICE_ID, ACCOUNT_ID=_RB_ACCOUNT_ID,
        SITE_ID=_RB_SITE_ID, REPOSITORY=_RB_REPOSITORY, PROJECT=_RB_PROJECT, TEAM=_RB_TEAM,
        EmulatedPlatform=EmulatedPlatform, emulator_class=robust_emulator_class, random=robust_random,
        leak_forms=leak_forms, find_leaks=find_leaks, state_files=state_files, log_text=log_text,
        dotenv_text=dotenv_text,
    )


# ======================= end of the robustness suite helpers ==========================
