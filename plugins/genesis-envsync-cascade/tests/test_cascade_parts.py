"""The small parts: settings, token checks, the status document, the engine and the plugin."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest
from cascade_testkit import CANARY, commit_payload, drift_payload, other_plugins
from websockets.datastructures import Headers

from genesis_cascade import engine
from genesis_cascade.auth import SUBPROTOCOL, TokenGate, encode_subprotocol_token
from genesis_cascade.settings import CascadeSettings, load_token, settings_from_table
from genesis_cascade.status import status_document
from genesis_core.api import ConfigError, Table


def _table(**data: Any) -> Table:
    return Table(data, "genesis.toml", "engines.cascade")


# -- settings ------------------------------------------------------------------------------

def test_settings_defaults_are_loopback_8765_and_the_default_token_variable() -> None:
    settings = settings_from_table(_table())
    assert (settings.host, settings.port, settings.token_env) == ("127.0.0.1", 8765,
                                                                  "GENESIS_CASCADE_TOKEN")
    assert settings.is_loopback


def test_settings_read_every_key_and_zero_disables_keepalive() -> None:
    settings = settings_from_table(_table(host="0.0.0.0", port=9000, token_env="MY_TOKEN",
                                          ping_interval=0, origins=["https://app.example", ""],
                                          client_queue=8, poll_interval=0.5))
    assert settings == CascadeSettings(host="0.0.0.0", port=9000, token_env="MY_TOKEN",
                                       ping_interval=None, origins=("https://app.example", ""),
                                       client_queue=8, poll_interval=0.5)
    assert not settings.is_loopback


@pytest.mark.parametrize(("data", "message"), [
    ({"prot": 1}, "engines.cascade.prot: unknown key"),
    ({"port": "80"}, "engines.cascade.port: expected an integer"),
    ({"port": 70000}, "engines.cascade.port: must be at most 65535"),
    ({"client_queue": 0}, "engines.cascade.client_queue: must be at least 1"),
])
def test_bad_settings_name_the_file_and_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_table(_table(**data))
    assert str(err.value).startswith(f"genesis.toml: {message}")


def test_token_comes_from_the_named_variable_and_fails_closed() -> None:
    settings = CascadeSettings(token_env="T")
    assert load_token(settings, {}) is None
    assert load_token(settings, {"T": f" {CANARY} "}) == CANARY
    with pytest.raises(ConfigError, match=r"\$T is set but empty") as blank:
        load_token(settings, {"T": "  "})
    with pytest.raises(ConfigError, match="require_token"):
        load_token(CascadeSettings(token_env="T", require_token=True), {})
    assert CANARY not in str(blank.value)


# -- token checks --------------------------------------------------------------------------

def test_token_gate_accepts_each_carrier_and_never_shows_the_token() -> None:
    gate = TokenGate(CANARY)
    assert gate.allows("/ws", Headers({"Authorization": f"Bearer {CANARY}"}))
    assert gate.allows("/ws", Headers({"Authorization": f"bearer {CANARY}"}))
    assert gate.allows("/ws", Headers(
        {"Sec-WebSocket-Protocol": f"{SUBPROTOCOL}, {encode_subprotocol_token(CANARY)}"}))
    assert gate.allows(f"/ws?token={CANARY}", Headers())
    assert not gate.allows("/ws", Headers())
    assert not gate.allows("/ws", Headers({"Authorization": f"Bearer {CANARY}x"}))
    assert not gate.allows("/ws", Headers({"Sec-WebSocket-Protocol": "genesis.bearer.!!!"}))
    # the bearer sub-protocol counts only next to genesis.cascade.v1 (docs/engines/cascade.md)
    assert not gate.allows("/ws", Headers({"Sec-WebSocket-Protocol": encode_subprotocol_token(CANARY)}))
    assert not gate.allows(f"/ws?tok={CANARY}", Headers())
    assert TokenGate(None).allows("/", Headers())
    assert CANARY not in repr(gate)


def test_subprotocol_token_is_a_valid_http_token() -> None:
    encoded = encode_subprotocol_token("a b/c+d=é")
    assert encoded.startswith("genesis.bearer.")
    assert all(ch.isalnum() or ch in "-_." for ch in encoded)


# -- status document -----------------------------------------------------------------------

def _event(topic: str, seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "_genesis_topic": topic, "_genesis_seq": seq,
            "_genesis_timestamp": f"2025-10-11T22:4{seq}:00.000Z", "_genesis_id": "x"}


def test_status_document_holds_counts_and_times_only() -> None:
    commit = _event("envsync.commit", 1, commit_payload())
    drift = _event("envsync.drift", 2, drift_payload())
    drift["_genesis_timestamp"] = CANARY  # not a timestamp: dropped rather than shown
    document = status_document(commit, drift, clients=3, last_broadcast_seq=1)
    assert document["latest"] == {
        "status": "drift", "topic": "envsync.drift", "seq": 2, "timestamp": None,
        "counts": {"total_keys": 45, "drift_count": 5},
        "missing": {"render": 0, "netlify": 2, "github": 3}, "conflicts": 1}
    assert document["last_commit"] == {"seq": 1, "timestamp": "2025-10-11T22:41:00.000Z"}
    assert CANARY not in repr(document) and CANARY.lower() not in repr(document)
    assert ["Connected clients", "3"] in document["rows"]


def test_status_document_without_any_sync() -> None:
    document = status_document(None, None, clients=0, last_broadcast_seq=None)
    assert document["latest"] is None
    assert document["rows"][0] == ["State", "no sync recorded yet"]


# -- engine --------------------------------------------------------------------------------

class _Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def submit(self, event: Any) -> None:
        self.events.append(event)


def test_engine_handler_feeds_the_active_server_and_is_inert_without_one() -> None:
    event = _event("envsync.commit", 5, {})
    assert engine.active_sink() is None
    asyncio.run(engine.on_commit(dict(event)))  # nothing active: nothing happens, nothing raised
    sink, other = _Sink(), _Sink()
    engine.activate(sink)
    try:
        asyncio.run(engine.on_commit(dict(event)))
        engine.deactivate(other)  # not the active one: ignored
        assert engine.active_sink() is sink
    finally:
        engine.deactivate(sink)
    assert sink.events == [event]
    assert engine.active_sink() is None


def test_engine_subscribes_envsync_commit_and_checks_its_table(tmp_path: Any) -> None:
    from genesis_core.api import Config, EngineContext

    def ctx(table: Table) -> EngineContext:
        return EngineContext(name="cascade", config=table, full_config=Config(Table({}), None, tmp_path),
                             state_dir=tmp_path, bus=None, secret_policy=None)  # type: ignore[arg-type]

    cascade = engine.make_engine()
    assert cascade.name == "cascade"
    [subscription] = list(cascade.subscriptions(ctx(_table(port=9000))))
    assert subscription.topics == ("envsync.commit",)
    with pytest.raises(ConfigError, match=r"engines\.cascade\.hots: unknown key"):
        list(cascade.subscriptions(ctx(_table(hots="x"))))


# -- plugin --------------------------------------------------------------------------------

def test_plugin_registers_the_engine_and_serve_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from genesis_core.testing import build_plugin_host\n"
        "host = build_plugin_host()\n"
        "assert 'cascade' not in [p.name for p in host.broken()], host.broken()\n"
        "print('engine' if 'cascade' in host.engines() else 'no-engine')\n"
        "print('serve' if 'serve' in host.commands() else 'no-serve')\n"
        "print('websockets-loaded' if 'websockets' in sys.modules else 'light')\n"
    )
    env = {**os.environ, "GENESIS_DISABLE_PLUGINS": other_plugins()}  # judge this plugin alone
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["engine", "serve", "light"]


def test_status_document_names_the_environment_of_the_latest_sync() -> None:
    commit = _event("envsync.commit", 1, commit_payload(environment="production"))
    document = status_document(commit, None, clients=0, last_broadcast_seq=1)
    assert document["latest"]["environment"] == "production"
    assert document["rows"][0] == ["Environment", "production"]
