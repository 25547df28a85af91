"""configure_bus with a real plugin host, the genesis_bus proxy, introspection, built-in transports."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from genesis_core import hookimpl
from genesis_core.bus import (
    Decision,
    DefaultPolicy,
    GenesisBus,
    Guardian,
    current_bus,
    genesis_bus,
    reset_bus,
    set_bus,
)
from genesis_core.bus.memory import MemoryTransport
from genesis_core.bus.plugin import genesis_register_transports
from genesis_core.bus.setup import configure_bus
from genesis_core.bus.store import SqliteTransport
from genesis_core.config import Config, Table, load_config
from genesis_core.engines import Engine, EngineContext, Subscription
from genesis_core.errors import BusError, ConfigError, PluginError
from genesis_core.introspection import (
    get_dead_letters,
    get_event_history,
    get_event_stats,
    get_subscribers,
)
from genesis_core.plugins import build_plugin_host


@pytest.fixture(autouse=True)
def _fresh_process_bus():
    reset_bus()
    yield
    reset_bus()


def write_config(tmp_path: Path, text: str) -> Config:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    path = project / "genesis.toml"
    path.write_text(textwrap.dedent(text))
    return load_config(path)


class AuditEngines:
    """A plugin registering two engines; remembers the contexts it was started with."""

    def __init__(self) -> None:
        self.contexts: dict[str, EngineContext] = {}
        self.events: list[dict[str, Any]] = []

    def _subscriptions(self, ctx: EngineContext) -> list[Subscription]:
        self.contexts[ctx.name] = ctx
        return [Subscription(("envsync.*",), self.events.append, "log")]

    @hookimpl
    def genesis_register_engines(self, register: Any) -> None:
        register(Engine("audit", self._subscriptions))
        register(Engine("quiet", self._subscriptions))


def test_configure_bus_builds_the_process_bus_with_engines(tmp_path: Path) -> None:
    config = write_config(tmp_path, """
        [bus]
        handler_timeout = 2.5
        max_attempts = 7
        [engines.audit]
        level = "full"
        [engines.quiet]
        enabled = false
    """)
    engines = AuditEngines()
    host = build_plugin_host(entry_points=False, plugins=(("audit-engines", engines),))

    bus = configure_bus(config, host=host)

    assert current_bus() is bus
    assert isinstance(bus.transport, SqliteTransport)
    assert bus.transport.path == config.state_dir / "events.db"
    assert bus.handler_timeout == 2.5 and bus.max_attempts == 7
    assert type(bus.secret_policy).__name__ == "SecretPolicy"  # from genesis_core.secrets
    assert set(engines.contexts) == {"audit"}  # "quiet" is disabled
    ctx = engines.contexts["audit"]
    assert ctx.config["level"] == "full" and ctx.config.path == "engines.audit"
    assert ctx.full_config is config and ctx.state_dir == config.state_dir
    assert [s.name for s in bus.subscribers()] == ["audit:log"]

    result = genesis_bus.publish_sync("envsync.drift", {"has_drift": True})
    assert result.delivered == ("audit:log",)
    assert engines.events[0]["_genesis_seq"] == result.seq
    assert get_event_stats() == {"envsync.drift": 1}
    assert get_event_history(limit=1)[0]["has_drift"] is True
    assert get_subscribers() == [{"name": "audit:log", "topics": ["envsync.*"]}]
    assert get_dead_letters() == []

    # Engines publish with the "engine" role: results yes, applying a heal no.
    blocked = asyncio.run(ctx.bus.publish("autonomy.heal.apply", {}))
    assert blocked.status == "blocked" and "'engine'" in blocked.reason
    assert asyncio.run(ctx.bus.publish("autonomy.heal.applied", {})).status == "delivered"
    assert asyncio.run(ctx.bus.may_publish("autonomy.heal.apply")).allowed is False


def test_unknown_transport_names_the_key_and_the_known_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[bus]\ntransport = "carrier-pigeon"\n')
    host = build_plugin_host(entry_points=False)
    with pytest.raises(ConfigError) as err:
        configure_bus(config, host=host, secret_policy=None)
    message = str(err.value)
    assert "genesis.toml" in message and "bus.transport" in message
    assert "embedded" in message and "memory" in message and "carrier-pigeon" in message
    assert current_bus() is None


def test_memory_transport_and_bus_key_checks(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[bus]\ntransport = "memory"\n')
    bus = configure_bus(config, host=build_plugin_host(entry_points=False), secret_policy=None)
    assert isinstance(bus.transport, MemoryTransport)

    typo = write_config(tmp_path, '[bus]\ndurabilty = "full"\n')
    with pytest.raises(ConfigError, match="bus.durabilty"):
        configure_bus(typo, host=build_plugin_host(entry_points=False), secret_policy=None)
    bad = write_config(tmp_path, '[bus]\nhandler_timeout = "soon"\n')
    with pytest.raises(ConfigError, match="bus.handler_timeout"):
        configure_bus(bad, host=build_plugin_host(entry_points=False), secret_policy=None)


class DenyCommitsForCi:
    """A plugin's permission hook that takes only the arguments it needs."""

    @hookimpl
    def genesis_check_permission(self, topic: str, context: dict[str, Any]) -> Decision | None:
        if topic == "envsync.commit" and context["role"] == "ci":
            return Decision.deny("commits come from operators only")
        return None


def test_plugin_permission_hooks_and_role_resolution(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, '[guardian]\ndefault_role = "ci"\n')
    host = build_plugin_host(entry_points=False, plugins=(("deny-ci", DenyCommitsForCi()),))

    bus = configure_bus(config, host=host, secret_policy=None)
    assert bus.default_role == "ci"
    result = bus.publish_sync("envsync.commit", {})
    assert result.status == "blocked" and result.reason == "commits come from operators only"
    assert result.envelope.payload["by"] == "deny-ci"
    assert bus.publish_sync("envsync.commit", {}, role="operator").status == "delivered"

    monkeypatch.setenv("GENESIS_ROLE", "operator")
    assert configure_bus(config, host=host, secret_policy=None).default_role == "operator"
    assert configure_bus(config, host=host, role="engine",
                         secret_policy=None).default_role == "engine"


def test_an_engine_that_fails_to_start_is_a_plugin_error(tmp_path: Path) -> None:
    def broken(ctx: EngineContext) -> list[Subscription]:
        raise RuntimeError("no ledger key\ndetails")

    class Broken:
        @hookimpl
        def genesis_register_engines(self, register: Any) -> None:
            register(Engine("truth", broken))

    config = write_config(tmp_path, "")
    host = build_plugin_host(entry_points=False, plugins=(("broken", Broken()),))
    with pytest.raises(PluginError) as err:
        configure_bus(config, host=host, secret_policy=None)
    assert str(err.value) == "engine 'truth' failed to start: RuntimeError: no ledger key"
    assert current_bus() is None
    assert configure_bus(config, host=host, start_engines=False, secret_policy=None).subscribers() == []


def test_proxy_subscriptions_follow_the_process_bus(tmp_path: Path) -> None:
    home = Path(os.environ["GENESIS_HOME"])
    got: list[str] = []

    handle = genesis_bus.subscribe("a.*", lambda e: got.append(e["_genesis_topic"]), name="follow")
    assert current_bus() is None and not home.exists()  # subscribing builds nothing

    first = GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))
    set_bus(first)
    genesis_bus.publish_sync("a.one", {})
    second = GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))
    assert set_bus(second) is first
    genesis_bus.publish_sync("a.two", {})
    assert got == ["a.one", "a.two"]
    assert [s.name for s in second.subscribers()] == ["follow"]

    assert genesis_bus.unsubscribe(handle) == 1
    genesis_bus.publish_sync("a.three", {})
    third = GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))
    set_bus(third)
    assert third.subscribers() == [] and got == ["a.one", "a.two"]
    assert not home.exists()


def test_lazy_default_bus_uses_genesis_home_and_is_replaced_cleanly(tmp_path: Path) -> None:
    home = Path(os.environ["GENESIS_HOME"])
    result = genesis_bus.publish_sync("envsync.init", {"source": "render"})
    assert result.status == "delivered"
    assert (home / "events.db").is_file()
    default = current_bus()
    assert default is not None
    assert get_event_stats() == {"envsync.init": 1}
    assert genesis_bus.publish_sync("genesis.fake", {}).status == "blocked"

    config = write_config(tmp_path, "")
    configured = configure_bus(config, host=build_plugin_host(entry_points=False),
                               secret_policy=None)
    assert current_bus() is configured
    with pytest.raises(BusError, match="closed"):
        default.stats()  # the proxy owned the default bus and closed it
    assert get_event_stats() == {"envsync.init": 1, "genesis.blocked": 1}  # same state dir


def test_builtin_transports_are_registered_as_a_plugin(tmp_path: Path) -> None:
    kinds: dict[str, Any] = {}
    genesis_register_transports(lambda kind: kinds.setdefault(kind.name, kind))
    assert set(kinds) == {"embedded", "memory"}
    embedded = kinds["embedded"].factory(Table({"durability": "normal"}, "g.toml", "bus"), tmp_path)
    assert isinstance(embedded, SqliteTransport) and embedded.durability == "normal"
    embedded.close()
    assert isinstance(kinds["memory"].factory(Table({}, "g.toml", "bus"), tmp_path), MemoryTransport)
    with pytest.raises(ConfigError, match="bus.durability"):
        kinds["memory"].factory(Table({"durability": "full"}, "g.toml", "bus"), tmp_path)
    host = build_plugin_host(entry_points=False)
    assert {"embedded", "memory"} <= set(host.transports())


def test_engine_start_errors_are_masked(tmp_path: Path) -> None:
    def leaky(ctx: EngineContext) -> list[Subscription]:
        raise RuntimeError("bad key ghp_CanaryCanaryCanary0123456789abcdef")

    class Leaky:
        @hookimpl
        def genesis_register_engines(self, register: Any) -> None:
            register(Engine("steward", leaky))

    host = build_plugin_host(entry_points=False, plugins=(("leaky", Leaky()),))
    with pytest.raises(PluginError) as err:
        configure_bus(write_config(tmp_path, ""), host=host, secret_policy=None)
    assert str(err.value) == "engine 'steward' failed to start: RuntimeError: bad key <secret>"


class _DistributedMemory(MemoryTransport):
    """A memory transport that says it is shared between machines, as the NATS one does."""

    distributed = True


class _DistributedTransports:
    @hookimpl
    def genesis_register_transports(self, register: Any) -> None:
        from genesis_core.bus.transport import TransportKind

        register(TransportKind("shared", lambda table, state_dir: _DistributedMemory()))


@pytest.mark.parametrize(("extra", "started"), [("", set()), ("local_engines = true", {"audit", "quiet"})])
def test_engines_run_in_workers_when_the_transport_is_distributed(tmp_path: Path, extra: str,
                                                                  started: set[str]) -> None:
    config = write_config(tmp_path, f"""
        [bus]
        transport = "shared"
        {extra}
    """)
    engines = AuditEngines()
    host = build_plugin_host(entry_points=False, plugins=(("audit-engines", engines),
                                                          ("shared", _DistributedTransports())))
    bus = configure_bus(config, host=host)
    assert set(engines.contexts) == started
    assert asyncio.run(bus.publish("envsync.drift", {})).status == "delivered"
