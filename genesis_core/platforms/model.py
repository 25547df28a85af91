"""Values and interfaces shared by every platform adapter.

An adapter *kind* (``render``, ``dotenv``...) is registered once through the
``genesis_register_platforms`` hook as a :class:`PlatformKind`.  Each
``[platforms.NAME]`` table in the configuration becomes one *instance*: the
kind's ``factory`` turns an :class:`InstanceConfig` into a
:class:`PlatformAdapter`, which fetches a :class:`Snapshot`.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import attrs

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from ..config import Table

_KIND_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@attrs.frozen(repr=False)
class Variable:
    """One variable as a platform holds it. ``value`` is ``None`` when unreadable."""

    key: str
    value: str | None = None
    secret: bool = False
    scope: str | None = None

    @property
    def readable(self) -> bool:
        """Return whether the platform let us read the value."""
        return self.value is not None

    def __repr__(self) -> str:
        shown = "<unreadable>" if self.value is None else "<hidden>"
        return f"Variable(key={self.key!r}, value={shown}, secret={self.secret}, scope={self.scope!r})"


def _freeze_variables(value: Mapping[str, Variable]) -> Mapping[str, Variable]:
    return dict(sorted(value.items()))


@attrs.frozen(repr=False)
class Snapshot:
    """The variables one platform instance holds at one moment."""

    platform: str
    kind: str
    variables: Mapping[str, Variable] = attrs.field(converter=_freeze_variables)

    @classmethod
    def from_values(cls, platform: str, kind: str, values: Mapping[str, str | None], *,
                    secret_keys: frozenset[str] | set[str] = frozenset(),
                    scope: str | None = None) -> Snapshot:
        """Return a snapshot built from ``{key: value_or_None}``."""
        return cls(platform, kind, {
            key: Variable(key, value, secret=key in secret_keys or value is None, scope=scope)
            for key, value in values.items()
        })

    def values(self) -> dict[str, str | None]:
        """Return ``{key: value_or_None}`` as ``reconcile`` takes it."""
        return {key: var.value for key, var in self.variables.items()}

    def secret_keys(self) -> frozenset[str]:
        """Return the keys the platform itself marks as secret."""
        return frozenset(key for key, var in self.variables.items() if var.secret)

    def __len__(self) -> int:
        return len(self.variables)

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __repr__(self) -> str:
        return f"Snapshot(platform={self.platform!r}, kind={self.kind!r}, keys={len(self.variables)})"


@attrs.frozen
class InstanceConfig:
    """One ``[platforms.NAME]`` table, with where it came from."""

    name: str
    kind: str
    table: Table
    base_dir: Path


@attrs.define
class FetchContext:
    """What an adapter gets for one run: the shared HTTP client and the environment."""

    env: Mapping[str, str]
    http_factory: Callable[[], httpx.AsyncClient] | None = None
    _http: httpx.AsyncClient | None = attrs.field(default=None, alias="_http")

    @property
    def http(self) -> httpx.AsyncClient:
        """Return the run's shared ``httpx.AsyncClient``, creating it on first use."""
        if self._http is None:
            if self.http_factory is not None:
                self._http = self.http_factory()
            else:
                from ..http import default_client

                self._http = default_client()
        return self._http

    async def aclose(self) -> None:
        """Close the shared client if one was made."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


class PlatformAdapter(abc.ABC):
    """One configured platform instance. Subclasses set ``kind`` and implement ``fetch``."""

    kind: ClassVar[str]
    credential_env: ClassVar[str | None] = None
    supports_write: ClassVar[bool] = False

    def __init__(self, instance: InstanceConfig) -> None:
        self.instance = instance
        self.name = instance.name

    @abc.abstractmethod
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return every variable of this instance; raise ``PlatformError`` when it cannot be read."""

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update one variable; raise ``PlatformError`` on failure."""
        from ..errors import PlatformError

        raise PlatformError(self.name, f"the {self.kind} adapter cannot write variables")

    def describe(self) -> str:
        """Return a short human description, e.g. ``render service srv-123``."""
        return self.kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} kind={self.kind!r}>"


@attrs.frozen
class PlatformKind:
    """A registered adapter kind: how to build an instance from its config table."""

    name: str = attrs.field()
    factory: Callable[[InstanceConfig], PlatformAdapter]
    description: str = ""
    credential_env: str | None = None
    supports_write: bool = False
    #: The body of a commented ``[platforms.NAME]`` table for ``genesis init`` (TOML lines).
    config_example: str = ""

    @name.validator
    def _check_name(self, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not _KIND_NAME.match(value):
            raise ValueError(f"platform kind name must match {_KIND_NAME.pattern}, got {value!r}")
