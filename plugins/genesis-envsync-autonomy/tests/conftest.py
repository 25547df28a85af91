"""Shared fixtures for the Autonomy tests: real emulators, a project on disk, an in-process CLI.

The drifted setup: a local ``.env`` (the reference) and Render, Netlify and GitHub
emulators, each missing or disagreeing on some keys.  ``CANARY`` is planted in two
secret values; no output, event, plan or state file may ever contain it.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CANARY = "canary-4f9c2e71d8-do-not-leak"
SERVICE_ID = "srv-autonomy01"
ACCOUNT_ID = "acct-autonomy"
SITE_ID = "site-autonomy"
REPOSITORY = "acme/app"
OTHER_ENGINES = "blueprint,cascade,steward,truth,vercel"

LOCAL = {
    "API_TOKEN": CANARY,
    "DATABASE_URL": f"postgres://app:{CANARY}@db.internal:5432/app",
    "DEBUG": "false",
    "FEATURE_X": "on",
    "LOG_LEVEL": "info",
    "PUBLIC_URL": "https://app.example.com",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instant_retries: list[float]) -> Iterator[Path]:
    """Give every test its own state dir, no retry delays and only the plugins it needs."""
    from genesis_core.api import get_plugin_host, reset_bus

    home = tmp_path / "state"
    monkeypatch.setenv("GENESIS_HOME", str(home))
    monkeypatch.setenv("GENESIS_DISABLE_PLUGINS", OTHER_ENGINES)
    for name in ("GENESIS_ROLE", "GENESIS_FINGERPRINT_KEY", "GITHUB_ACTIONS", "CI", "GENESIS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    get_plugin_host.cache_clear()
    yield home
    reset_bus()
    get_plugin_host.cache_clear()


class Project:
    """A drifted project: ``.env``, ``genesis.toml`` and three running emulators."""

    canary = CANARY
    service_id = SERVICE_ID
    account_id = ACCOUNT_ID
    site_id = SITE_ID
    repository = REPOSITORY
    local = LOCAL

    def __init__(self, root: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        from genesis_github.emulator import GitHubEmulator
        from genesis_netlify.emulator import NetlifyEmulator
        from genesis_render.emulator import RenderEmulator

        self.root = root
        self.home = home
        self.capsys = capsys
        self.render = RenderEmulator(token="rnd_autonomy_test_token").start()
        self.netlify = NetlifyEmulator(token="nfp_autonomy_test_token").start()
        self.github = GitHubEmulator(token="ghs_autonomy_test_token").start()
        monkeypatch.setenv("RENDER_API_KEY", self.render.token)
        monkeypatch.setenv("NETLIFY_AUTH_TOKEN", self.netlify.token)
        monkeypatch.setenv("GITHUB_TOKEN", self.github.token)
        monkeypatch.chdir(root)
        self.outputs: list[str] = []
        self.seed()
        self.write_config()

    # -- set-up
    def seed(self) -> None:
        """Write the reference ``.env`` and seed each platform with its drift."""
        lines = [f'{key}="{value}"' for key, value in LOCAL.items()]
        (self.root / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.render.set_env(SERVICE_ID, {"LOG_LEVEL": "info", "DEBUG": "true",
                                         "PUBLIC_URL": "https://app.example.com"})
        self.netlify.add_site(ACCOUNT_ID, SITE_ID)
        self.netlify.set_var(ACCOUNT_ID, SITE_ID, "LOG_LEVEL", {"all": "info"})
        self.netlify.set_var(ACCOUNT_ID, SITE_ID, "DEBUG", {"production": "false", "deploy-preview": "true"})
        self.netlify.set_var(ACCOUNT_ID, SITE_ID, "FEATURE_X",
                             {"production": "off", "deploy-preview": "off", "branch-deploy": "on"})
        self.netlify.set_var(ACCOUNT_ID, SITE_ID, "API_TOKEN", {"deploy-preview": "preview-only-token"},
                             secret=True)
        self.github.add_repo(REPOSITORY)
        self.github.set_secret(REPOSITORY, "API_TOKEN", "github-side-token")
        self.github.set_variable(REPOSITORY, "LOG_LEVEL", "info")
        self.github.set_variable(REPOSITORY, "DEBUG", "false")

    def write_config(self, autonomy: str = 'reference = "local"\noverwrite_conflicts = true', extra: str = "",
                     platform_extra: dict[str, str] | None = None) -> Path:
        """Write ``genesis.toml`` pointing at the emulators; return its path."""
        platform_extra = platform_extra or {}
        text = textwrap.dedent(f"""\
            [platforms.local]
            kind = "dotenv"
            path = ".env"
            {platform_extra.get("local", "")}

            [platforms.render]
            service_id = "{SERVICE_ID}"
            base_url = "{self.render.base_url}"
            retries = 1
            timeout = 5
            {platform_extra.get("render", "")}

            [platforms.netlify]
            account_id = "{ACCOUNT_ID}"
            site_id = "{SITE_ID}"
            base_url = "{self.netlify.base_url}"
            retries = 1
            timeout = 5
            {platform_extra.get("netlify", "")}

            [platforms.github]
            repository = "{REPOSITORY}"
            base_url = "{self.github.base_url}"
            retries = 1
            timeout = 5
            {platform_extra.get("github", "")}
            """)
        text += "\n[engines.autonomy]\n" + textwrap.dedent(autonomy).strip() + "\n"
        if extra:
            text += "\n" + textwrap.dedent(extra).strip() + "\n"
        self.config = self.root / "genesis.toml"
        self.config.write_text(text, encoding="utf-8")
        return self.config

    # -- running
    def run(self, *args: str) -> tuple[int, str, str]:
        """Run ``genesis --config genesis.toml ARGS`` in-process; return ``(code, stdout, stderr)``."""
        from genesis_core.api import get_plugin_host
        from genesis_core.testing import genesis_main as main

        get_plugin_host.cache_clear()
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        self.outputs.extend((out, err))
        return code, out, err

    def writes(self) -> dict[str, list[tuple[str, str]]]:
        """Return every non-GET request each emulator received, as ``(method, path)``."""
        found: dict[str, list[tuple[str, str]]] = {}
        for name, emulator in (("render", self.render), ("netlify", self.netlify), ("github", self.github)):
            found[name] = [(r.method, r.path) for r in emulator.requests if r.method not in ("GET", "HEAD")]
        return found

    def events(self, topic: str | None = None) -> list[dict[str, Any]]:
        """Return the stored events (delivered form) of the project's bus, oldest first."""
        from genesis_core.api import make_event, open_store

        store = open_store(self.home)
        try:
            return [make_event(e) for e in store.history(topic=topic)]
        finally:
            store.close()

    def stop(self) -> None:
        for emulator in (self.render, self.netlify, self.github):
            emulator.stop()


@pytest.fixture
def project(tmp_path: Path, _isolated: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Project]:
    """Return the drifted project with its emulators running."""
    root = tmp_path / "app"
    root.mkdir()
    proj = Project(root, _isolated, monkeypatch, capsys)
    try:
        yield proj
    finally:
        proj.stop()


@pytest.fixture
def canary() -> str:
    """Return the secret value planted in the reference."""
    return CANARY


@pytest.fixture
def assert_no_canary():
    """Return a check that fails when ``CANARY`` appears in any of the given texts or files."""
    def check(*items: Any) -> None:
        for item in items:
            if isinstance(item, Path):
                paths = [p for p in ([item] if item.is_file() else item.rglob("*")) if p.is_file()]
                for path in paths:
                    assert CANARY.encode() not in path.read_bytes(), f"canary leaked into {path}"
                continue
            text = item if isinstance(item, str) else json.dumps(item, default=repr)
            assert CANARY not in text, "canary leaked"
    return check


def run_async(coro: Any) -> Any:
    """Run ``coro`` to completion (tests use ``asyncio.run``, not pytest-asyncio)."""
    return asyncio.run(coro)


@pytest.fixture
def arun():
    """Return ``asyncio.run`` for tests that drive coroutines."""
    return run_async


# ---------------------------------------------------------------- the engine on a real bus

class FakeClock:
    """A clock tests move by hand (epoch seconds)."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Rig:
    """The Autonomy engine attached to a real SQLite-backed bus, with a fake clock."""

    def __init__(self, config_path: Path, home: Path, clock: FakeClock) -> None:
        from genesis_autonomy.engine import subscriptions
        from genesis_core.api import (
            DefaultPolicy,
            EngineContext,
            GenesisBus,
            Guardian,
            load_config,
            open_store,
            policy_from_config,
        )

        self.home = home
        self.clock = clock
        self.config = load_config(config_path)
        self.policy = policy_from_config(self.config, home)
        self.transport = open_store(home)
        self.bus = GenesisBus(self.transport, Guardian.of(DefaultPolicy.from_config(self.config)),
                              secret_policy=self.policy)
        self.context = EngineContext("autonomy", self.config.engine("autonomy"), self.config, home,
                                     self.bus.with_role("engine"), self.policy)  # type: ignore[arg-type]
        [self.subscription] = subscriptions(self.context, clock=clock)
        self.engine = self.subscription.handler.__self__

    def append_drift(self, at: float, *, drift_count: int = 1,
                     platforms: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store an ``envsync.drift`` event stamped ``at`` (epoch seconds); return its delivered form."""
        import datetime as dt
        import uuid

        from genesis_core.api import format_time, make_event

        payload: dict[str, Any] = {"verified_at": "x", "has_drift": True, "conflicts": {},
                                   "summary": {"total_keys": 6, "drift_count": drift_count}}
        if platforms is not None:
            payload["platforms"] = platforms
        stamp = format_time(dt.datetime.fromtimestamp(at, dt.UTC))
        envelope = asyncio.run(self.transport.append("envsync.drift", payload, event_id=uuid.uuid4().hex,
                                                     timestamp=stamp, source="urn:test"))
        return make_event(envelope)

    def handle(self, event: dict[str, Any]) -> str | None:
        """Run the engine's handler on ``event``; return its outcome."""
        return asyncio.run(self.engine.handle(event))

    def events(self, topic: str) -> list[dict[str, Any]]:
        """Return the stored events of ``topic`` (a pattern), oldest first."""
        return self.bus.get_event_history(limit=None, topic=topic)

    def close(self) -> None:
        self.bus.close()


@pytest.fixture
def rig(_isolated: Path):
    """Return ``make(config_path, clock=None) -> Rig``; every rig is closed after the test."""
    made: list[Rig] = []

    def make(config_path: Path, clock: FakeClock | None = None) -> Rig:
        made.append(Rig(config_path, _isolated, clock or FakeClock()))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    """Return a fake clock starting at a fixed moment."""
    return FakeClock()
