"""What an engine plugin registers: named groups of bus subscriptions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
    """A registered engine: ``subscriptions(ctx)`` returns the handlers to attach."""

    name: str = attrs.field()
    subscriptions: Callable[[EngineContext], Iterable[Subscription]]
    description: str = ""
    enabled_by_default: bool = True

    @name.validator
    def _check_name(self, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"engine name must match {_NAME.pattern}, got {value!r}")

    @classmethod
    def lazy(cls, name: str, factory: str, description: str = "", *,
             enabled_by_default: bool = True) -> Engine:
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

        return cls(name, subscriptions, description, enabled_by_default)
