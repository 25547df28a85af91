"""``[bus]``/``[bus.worker]`` validation, subject mapping and the plugin's registration (no server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genesis_core.api import BusError, ConfigError, Table, load_config
from genesis_nats.settings import NatsSettings, cover_subject, redact_url


def settings_from(text: str, tmp_path: Path) -> NatsSettings:
    path = tmp_path / "genesis.toml"
    path.write_text(text)
    return NatsSettings.from_table(load_config(path).section("bus"))


def test_defaults(tmp_path: Path) -> None:
    settings = settings_from('[bus]\ntransport = "nats"\n', tmp_path)
    assert settings.servers == ("nats://127.0.0.1:4222",)
    assert settings.stream == "GENESIS"
    assert settings.subject("envsync.drift") == "genesis.envsync.drift"
    assert settings.worker.durable("truth") == "genesis-truth"
    assert settings.worker.deliver_policy == "all"


def test_full_configuration(tmp_path: Path) -> None:
    settings = settings_from(
        '[bus]\ntransport = "nats"\nurl = "nats://a:4222, nats://b:4222"\nstream = "ACME"\n'
        'subject_prefix = "acme.genesis"\nretention = "interest"\nmax_age = "30d"\n'
        'max_msgs = 1000\nstorage = "memory"\nduplicate_window = "2m"\ntoken_env = "NATS_TOKEN"\n'
        'local_engines = true\n[bus.worker]\nack_wait = "45s"\nmax_deliver = 3\nbatch = 4\n',
        tmp_path)
    assert settings.servers == ("nats://a:4222", "nats://b:4222")
    assert settings.max_age == 30 * 86400
    assert settings.duplicate_window == 120.0
    assert settings.subject_filter("envsync.*") == "acme.genesis.envsync.*"
    assert settings.subject_filter("autonomy.**") == "acme.genesis.autonomy.>"
    assert settings.topic_of("acme.genesis.envsync.drift") == "envsync.drift"
    assert (settings.worker.ack_wait, settings.worker.max_deliver, settings.worker.batch) == (45, 3, 4)


@pytest.mark.parametrize(("body", "key", "fragment"), [
    ('url = "http://127.0.0.1:4222"', "bus.url", "nats://"),
    ('url = 4222', "bus.url", "a list of strings"),
    ('stream = "MY.STREAM"', "bus.stream", "stream name"),
    ('subject_prefix = "genesis.>"', "bus.subject_prefix", "without wildcards"),
    ('retention = "workqueue"', "bus.retention", "workqueue"),
    ('retention = "forever"', "bus.retention", "limits, interest"),
    ('max_age = "a week"', "bus.max_age", "duration"),
    ('max_msgs = -5', "bus.max_msgs", "at least 0"),
    ('replicas = 7', "bus.replicas", "at most 5"),
    ('connect_timeout = 0', "bus.connect_timeout", "more than 0"),
    ('token_env = "not a name"', "bus.token_env", "environment variable"),
    ('storage = "tape"', "bus.storage", "file, memory"),
    ('urls = "nats://x"', "bus.urls", "unknown key"),
    ('local_engines = "yes"', "bus.local_engines", "true or false"),
    ('[bus.worker]\nmax_deliver = 0', "bus.worker.max_deliver", "at least 1"),
    ('[bus.worker]\ndeliver_policy = "last"', "bus.worker.deliver_policy", "all, new"),
    ('[bus.worker]\nack_wait = 0.1', "bus.worker.ack_wait", "at least 0.5"),
    ('[bus.worker]\ndurable_prefix = "a.b"', "bus.worker.durable_prefix", "consumer name"),
    ('[bus.worker]\nbatchsize = 3', "bus.worker.batchsize", "unknown key"),
])
def test_bad_configuration_names_file_and_key(tmp_path: Path, body: str, key: str,
                                              fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(f'[bus]\ntransport = "nats"\n{body}\n', tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'genesis.toml'}: {key}: "), message
    assert fragment in message


def test_factory_validates_before_connecting(tmp_path: Path) -> None:
    from genesis_nats.plugin import _factory

    table = Table({"transport": "nats", "stream": "bad name"}, "genesis.toml", "bus")
    with pytest.raises(ConfigError, match=r"genesis.toml: bus.stream: "):
        _factory(table, tmp_path)


def test_credentials_come_from_the_environment_and_are_never_shown() -> None:
    settings = NatsSettings(token_env="MY_NATS_TOKEN")
    assert settings.connect_options({"MY_NATS_TOKEN": "s3cr3t-t0ken"}) == {"token": "s3cr3t-t0ken"}
    with pytest.raises(BusError) as caught:
        settings.connect_options({})
    assert "MY_NATS_TOKEN" in str(caught.value)
    assert "s3cr3t" not in repr(settings)
    creds = NatsSettings(credentials_env="MY_CREDS")
    with pytest.raises(BusError, match=r"MY_CREDS does not name a readable \.creds file"):
        creds.connect_options({"MY_CREDS": "/nonexistent/x.creds"})


def test_redact_url_hides_userinfo() -> None:
    assert redact_url("nats://bob:hunter2@host:4222") == "nats://***@host:4222"
    assert redact_url("nats://host:4222") == "nats://host:4222"
    settings = NatsSettings(servers=("nats://bob:hunter2@host:4222",))
    assert "hunter2" not in settings.url


@pytest.mark.parametrize(("subjects", "expected"), [
    (["g.a"], "g.a"),
    (["g.envsync.commit", "g.envsync.drift"], "g.envsync.*"),
    (["g.envsync.commit", "g.autonomy.heal.applied"], "g.>"),
    (["g.a.>", "g.a.b"], "g.a.>"),
    (["g.a", "g.a.b"], "g.>"),
    (["g.*.drift", "g.envsync.commit"], "g.*.*"),
])
def test_cover_subject(subjects: list[str], expected: str) -> None:
    assert cover_subject(subjects) == expected


def test_plugin_registers_transport_and_commands_without_importing_nats() -> None:
    code = (
        "import sys\n"
        "from genesis_core.testing import build_plugin_host\n"
        "host = build_plugin_host()\n"
        "assert 'nats' in host.transports(), host.transports()\n"
        "assert {'worker', 'nats'} <= set(host.commands())\n"
        "assert 'nats' not in sys.modules, 'nats imported at registration'\n"
        "assert 'genesis_nats.commands' not in sys.modules\n"
        "assert not any(p.name == 'nats' for p in host.broken())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_lazily_registered_commands_match_the_real_ones() -> None:
    from genesis_nats import commands, plugin

    registered: list = []
    plugin.genesis_register_commands(registered.append)
    real = {"worker": commands.WORKER_COMMAND, "nats": commands.NATS_COMMAND}
    assert {(c.name, c.help) for c in registered} == {(c.name, c.help) for c in real.values()}
