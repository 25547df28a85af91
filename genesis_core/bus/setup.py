"""Build the process bus from the configuration and the installed plugins."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import GenesisError, PluginError, one_line
from .core import BUS_KEYS, GenesisBus
from .guardian import DefaultPolicy, Guardian
from .slot import set_bus

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pluggy

    from ..config import Config
    from ..engines import Engine
    from .transport import TransportKind

ROLE_ENV = "GENESIS_ROLE"
ENGINE_ROLE = "engine"
_UNSET: Any = object()


class HostLike(Protocol):
    """What ``configure_bus`` needs from the plugin host."""

    pm: pluggy.PluginManager

    def transports(self) -> Mapping[str, TransportKind]: ...

    def engines(self) -> Mapping[str, Engine]: ...


def configure_bus(config: Config, *, host: HostLike, role: str | None = None,
                  start_engines: bool = True, secret_policy: Any = _UNSET) -> GenesisBus:
    """Return a new bus built from ``config`` and ``host``, installed as ``genesis_bus``.

    * transport: ``[bus] transport`` (default ``"embedded"``) from ``host.transports()``;
    * Guardian: every ``genesis_check_permission`` hook of ``host.pm`` plus the
      ``[guardian]`` default policy;
    * default role: ``role``, else ``$GENESIS_ROLE``, else ``[guardian] default_role``;
    * secret policy: ``genesis_core.secrets.policy_from_config`` unless given;
    * engines: each of ``host.engines()`` unless ``[engines.NAME] enabled = false``,
      subscribed as ``ENGINE:SUBSCRIPTION`` and publishing with the ``engine`` role.

    Raises ``ConfigError`` for a bad ``[bus]``/``[guardian]``/``[engines.*]`` table and
    ``PluginError`` when an engine fails to start.
    """
    table = config.section("bus")
    for key in ("state_dir", "source"):
        table.str(key, None)
    handler_timeout = table.float("handler_timeout", 30.0, minimum=0.0, maximum=3600) or None
    max_attempts = table.int("max_attempts", 5, minimum=1, maximum=100)
    kind_name = table.str("transport", "embedded")
    kinds = dict(host.transports())
    kind = kinds.get(kind_name)
    if kind is None:
        from ..first_party import TRANSPORTS, install_command

        known = ", ".join(sorted(kinds)) or "none installed"
        hint = f"; {install_command([TRANSPORTS[kind_name]])}" if kind_name in TRANSPORTS else ""
        raise table.error("transport", f"unknown transport {kind_name!r} (known: {known}){hint}")
    policy = DefaultPolicy.from_config(config)
    from ..config import ensure_state_dir

    state_dir = ensure_state_dir(config.state_dir)
    if secret_policy is _UNSET:
        from ..secrets import policy_from_config

        secret_policy = policy_from_config(config, state_dir)
    transport = kind.factory(table, state_dir)
    # With a distributed transport the engines run in `genesis worker`; a publisher starts them
    # too only when asked, so a webhook or a heal does not happen once per process.
    local_engines = table.bool("local_engines", not getattr(transport, "distributed", False))
    source = table.str("source", None) or f"urn:genesis:{config.project_dir.name or 'project'}"
    bus = GenesisBus(
        transport,
        Guardian(host.pm, (policy,)),
        source=source,
        handler_timeout=handler_timeout,
        secret_policy=secret_policy,
        default_role=role or os.environ.get(ROLE_ENV) or policy.default_role,
        max_attempts=max_attempts,
    )
    try:
        if start_engines and local_engines:
            start_engines_on(bus, config, host, secret_policy)
    except BaseException:
        bus.close()
        raise
    set_bus(bus, owned=True)
    return bus


def start_engines_on(bus: GenesisBus, config: Config, host: HostLike, secret_policy: Any) -> list[str]:
    """Attach the subscriptions of every enabled engine to ``bus``; return the engine names."""
    from ..engines import EngineContext

    started = []
    state_dir = config.state_dir
    engine_bus = bus.with_role(ENGINE_ROLE)
    for name, engine in sorted(host.engines().items()):
        table = config.engine(name)
        if not table.bool("enabled", engine.enabled_by_default):
            continue
        context = EngineContext(name, table, config, state_dir, engine_bus,  # type: ignore[arg-type]
                                secret_policy)
        try:
            for subscription in engine.subscriptions(context):
                bus.subscribe(subscription.topics, subscription.handler,
                              name=f"{name}:{subscription.name}", timeout=subscription.timeout)
        except GenesisError:
            raise
        except Exception as exc:
            from ..secrets import mask_text

            detail = mask_text(one_line(exc), secret_policy)
            raise PluginError(f"engine {name!r} failed to start: {detail}") from exc
        started.append(name)
    return started


def bus_keys() -> frozenset[str]:
    """Return the ``[bus]`` keys the core reads (a transport may accept more)."""
    return BUS_KEYS
