"""What an engine plugin registers: named groups of bus subscriptions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from pathlib import Path

    from .bus.core import GenesisBus
    from .config import Config, Table
    from .secrets import SecretPolicy

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

Handler = Callable[[dict[str, Any]], Any]


def _topics(value: str | Iterable[str]) -> tuple[str, ...]:
    """Return topic patterns as a tuple (a single string is one pattern)."""
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class Subscription:
    """One handler for one or more topic patterns (``envsync.*`` style wildcards)."""

    topics: tuple[str, ...] = attrs.field(converter=_topics)
    handler: Handler
    name: str
    timeout: float | None = None


@attrs.frozen
class EngineContext:
    """What an engine gets when it is started: its table, the state dir, the bus."""

    name: str
    config: Table
    full_config: Config
    state_dir: Path
    bus: GenesisBus
    secret_policy: SecretPolicy


@attrs.frozen
class Engine:
    """A registered engine: ``subscriptions(ctx)`` returns the handlers to attach.

    ``required_by_default`` is the default of ``[engines.NAME] required``: when
    a required engine's handler fails on the event a command publishes
    (``genesis sync``, ``genesis heal``), the command exits 2.
    """

    name: str = attrs.field()
    subscriptions: Callable[[EngineContext], Iterable[Subscription]]
    description: str = ""
    enabled_by_default: bool = True
    required_by_default: bool = False

    @name.validator
    def _check_name(self, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"engine name must match {_NAME.pattern}, got {value!r}")

    @classmethod
    def lazy(cls, name: str, factory: str, description: str = "", *,
             enabled_by_default: bool = True, required_by_default: bool = False) -> Engine:
        """Return an engine whose module is imported only when it starts.

        ``factory`` is ``"module:function"`` naming a function that returns the real ``Engine``.
        """
        from .discovery import load_value

        def subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
            make = load_value(factory)
            if not callable(make):
                raise TypeError(f"{factory} is a {type(make).__name__}, not a function returning an Engine")
            engine = make()
            if not isinstance(engine, Engine):
                raise TypeError(f"{factory}() returned a {type(engine).__name__}, not an Engine")
            return engine.subscriptions(ctx)

        return cls(name, subscriptions, description, enabled_by_default, required_by_default)


def engine_name(subscriber: str) -> str:
    """Return the engine of a subscriber named ``ENGINE:SUBSCRIPTION`` (the whole name otherwise)."""
    return subscriber.split(":", 1)[0]


def required_engines(config: Config, engines: Mapping[str, Engine]) -> frozenset[str]:
    """Return the enabled engines whose ``[engines.NAME] required`` is true (or defaults to true)."""
    return frozenset(name for name, engine in engines.items()
                     if config.engine_enabled(name, engine.enabled_by_default)
                     and config.engine_required(name, engine.required_by_default))
