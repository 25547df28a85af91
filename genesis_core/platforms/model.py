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
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from ..config import Table
    from ..http import RetryBudget

_KIND_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value))


@attrs.frozen
class Expansion:
    """Where a value that came from ``${NAME}``/``$NAME`` expansion took its parts from: names only.

    ``keys`` are variables of the same instance it referred to (for ``.env`` files: keys above it
    and in earlier files), ``environment`` the names it took from the process environment, and
    ``unset`` how many references were set nowhere (the reader used an empty string or the
    reference's default).  Those names are not kept: an unset ``$name`` is often part of a value
    that holds a ``$``, not a name.  Never a value.
    """

    keys: tuple[str, ...] = attrs.field(default=(), converter=_names)
    environment: tuple[str, ...] = attrs.field(default=(), converter=_names)
    unset: int = 0

    def describe(self) -> str:
        """Return one line for a report, e.g. ``expanded from ${DB_HOST}, ${HOME} (process environment)``."""
        parts = [f"${{{name}}}" for name in self.keys]
        parts += [f"${{{name}}} (process environment)" for name in self.environment]
        unset = "" if not self.unset else "1 reference" if self.unset == 1 else f"{self.unset} references"
        if not parts:
            return f"expanded ({unset} set nowhere)" if unset else "expanded"
        return "expanded from " + ", ".join(parts) + (f"; {unset} set nowhere" if unset else "")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``{"keys": [...], "environment": [...], "unset": n}``."""
        return {"keys": list(self.keys), "environment": list(self.environment), "unset": self.unset}


@attrs.frozen(repr=False)
class Variable:
    """One variable as a platform holds it. ``value`` is ``None`` when unreadable.

    ``managed`` is set when the platform keeps the variable for itself (a Heroku
    add-on's ``DATABASE_URL``): it says why, in one line without any value.
    Genesis compares a managed variable like any other but never writes it.

    ``stamp`` is the platform's own change stamp for this variable's value (GitHub's
    ``updated_at``, Vercel's ``updatedAt``, Fly's ``updated_at``), as text: it changes
    whenever the value is written, by Genesis or anyone else, and is never derived from
    the value.  ``None`` when the platform has none (or the adapter does not read it);
    an adapter that fills it sets :attr:`PlatformAdapter.stamps_changes`.  Genesis only
    compares stamps for equality and shows them as the time of a change.

    ``expansion`` is set when the value is what the app sees after ``${NAME}`` expansion
    (the ``dotenv`` platform in an expanding dialect): it names what the value was built
    from (:class:`Expansion`), so a report can say why two values differ.  An adapter that
    builds a value from a secret marks the variable ``secret`` too.
    """

    key: str
    value: str | None = None
    secret: bool = False
    scope: str | None = None
    managed: str | None = None
    stamp: str | None = None
    expansion: Expansion | None = None

    @property
    def readable(self) -> bool:
        """Return whether the platform let us read the value."""
        return self.value is not None

    @property
    def writable(self) -> bool:
        """Return whether Genesis may write this variable (it is not managed by the platform)."""
        return self.managed is None

    def __repr__(self) -> str:
        shown = "<unreadable>" if self.value is None else "<hidden>"
        managed = "" if self.managed is None else ", managed=True"
        stamp = "" if self.stamp is None else f", stamp={self.stamp!r}"
        expansion = "" if self.expansion is None else f", expansion={self.expansion!r}"
        return (f"Variable(key={self.key!r}, value={shown}, secret={self.secret}, scope={self.scope!r}"
                f"{managed}{stamp}{expansion})")


@attrs.frozen(repr=False)
class VariableWrite:
    """One key to create or update, for :meth:`PlatformAdapter.write_batch`; the repr hides the value."""

    key: str
    value: str
    secret: bool = False

    def __repr__(self) -> str:
        return f"VariableWrite(key={self.key!r}, value=<hidden>, secret={self.secret})"


#: :class:`WriteEffect` kinds: the write restarts the running app (Heroku: every change is a release).
RESTART = "restart"
#: The value is stored, but the running app sees it only after its next deploy (Fly secrets, Railway with
#: ``skipDeploys``).
STAGED = "staged"
#: The write starts a new deploy of the service (Railway without ``skipDeploys``).
REDEPLOY = "redeploy"
WRITE_EFFECT_KINDS = (RESTART, STAGED, REDEPLOY)


@attrs.frozen
class WriteEffect:
    """What writing a key does besides storing it, shown by the heal plan and its results.

    ``kind`` is one of :data:`WRITE_EFFECT_KINDS`; ``note`` is the one line a person
    reads, e.g. ``"staged: effective at the next deploy"``.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(WRITE_EFFECT_KINDS))
    note: str = attrs.field(validator=attrs.validators.instance_of(str))


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
                    scope: str | None = None, managed: Mapping[str, str] | None = None) -> Snapshot:
        """Return a snapshot built from ``{key: value_or_None}``.

        ``managed`` maps the keys the platform owns to why (see :attr:`Variable.managed`).
        """
        managed = managed or {}
        return cls(platform, kind, {
            key: Variable(key, value, secret=key in secret_keys or value is None, scope=scope,
                          managed=managed.get(key))
            for key, value in values.items()
        })

    def values(self) -> dict[str, str | None]:
        """Return ``{key: value_or_None}`` as ``reconcile`` takes it."""
        return {key: var.value for key, var in self.variables.items()}

    def secret_keys(self) -> frozenset[str]:
        """Return the keys the platform itself marks as secret."""
        return frozenset(key for key, var in self.variables.items() if var.secret)

    def expansions(self) -> dict[str, Expansion]:
        """Return ``{key: expansion}`` for the variables whose value came from expansion."""
        return {key: var.expansion for key, var in self.variables.items() if var.expansion is not None}

    def managed_keys(self) -> dict[str, str]:
        """Return ``{key: why}`` for the variables the platform manages itself (never written)."""
        return {key: var.managed for key, var in self.variables.items() if var.managed is not None}

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
    _http: httpx.AsyncClient | None = attrs.field(default=None, init=False)
    _clients: dict[Hashable, httpx.AsyncClient] = attrs.field(factory=dict, init=False)
    _budgets: dict[Hashable, RetryBudget] = attrs.field(factory=dict, init=False)

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

    def retry_budget(self, key: Hashable, limit: float) -> RetryBudget:
        """Return the run's retry budget for ``key`` (a platform instance), made with ``limit`` seconds.

        Every request of that instance in this run spends from it, so retries of a platform that
        keeps failing stop after ``limit`` seconds in all, however many pages it has.
        """
        from ..http import RetryBudget

        made = self._budgets.get(key)
        if made is None:
            made = self._budgets[key] = RetryBudget(limit)
        return made

    def client(self, key: Hashable, make: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
        """Return the run's client for ``key``, made by ``make`` on first use and closed by ``aclose``.

        For an adapter that cannot use the shared client (one trusting another CA): one
        client per run, reused by every request of it, instead of one per operation.
        """
        made = self._clients.get(key)
        if made is None:
            made = self._clients[key] = make()
        return made

    async def aclose(self) -> None:
        """Close the shared client and every ``client(...)`` made for this run."""
        clients = [*self._clients.values(), *([self._http] if self._http is not None else [])]
        self._http = None
        self._clients.clear()
        for made in clients:
            await made.aclose()


@attrs.frozen
class CredentialCheck:
    """What ``genesis doctor`` found about one instance's credentials; never a secret.

    ``detail`` is one line saying what was found (``AWS credentials from the profile dev``)
    or what is wrong; ``fix`` says what to do about a failed check (empty when ``ok``).
    """

    ok: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    detail: str = attrs.field(validator=attrs.validators.instance_of(str))
    fix: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


class PlatformAdapter(abc.ABC):
    """One configured platform instance. Subclasses set ``kind`` and implement ``fetch``."""

    kind: ClassVar[str]
    credential_env: ClassVar[str | None] = None
    supports_write: ClassVar[bool] = False
    #: ``write_batch`` sends all the keys it is given as ONE platform change. Offer it where every write
    #: is a release (Heroku: each config change restarts the app); callers then write all of one
    #: instance's planned keys with one call instead of one ``write`` per key.
    supports_batch_write: ClassVar[bool] = False
    #: ``fetch`` fills :attr:`Variable.stamp` with the platform's change stamp on every variable, and a
    #: write moves the written variable's stamp. Genesis then records the stamp after writing a value
    #: it cannot read back, and reports a later change made outside Genesis (the contract kit checks it).
    stamps_changes: ClassVar[bool] = False
    #: The platform keeps secrets apart from plain variables (GitHub Actions secrets, Vercel ``sensitive``,
    #: Netlify ``is_secret``, SSM ``SecureString``): ``write(secret=True)`` creates a key as one, and a
    #: variable fetched with ``secret=False`` is readable in clear by whoever can read the platform's
    #: variables. The heal plan warns about a key Genesis calls secret that is such a plain variable.
    has_secret_kind: ClassVar[bool] = False

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

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        """Create or update every key of ``writes``; raise ``PlatformError`` on failure.

        An adapter with ``supports_batch_write`` overrides this to send exactly these keys
        in one request, all or nothing. This default is the fallback for every other
        adapter: one :meth:`write` per key, in order, stopping at the first failure (the
        keys before it stay written).
        """
        for item in writes:
            await self.write(ctx, item.key, item.value, secret=item.secret)

    def write_effect(self, key: str) -> WriteEffect | None:
        """Return what writing ``key`` does besides storing it (restart, staged, redeploy), or ``None``."""
        return None

    def write_scope(self) -> str:
        """Return what a write to this instance rewrites: instances with the same scope are never written at once.

        ``instance:<name>`` by default: a platform API takes concurrent writes to different
        instances. An adapter that rewrites a shared resource whole (read, change one line,
        replace) returns a name for that resource, the same for every instance sharing it, so
        two writers never overlap and lose an update: ``file:<real path>`` for a local file, as
        the dotenv adapter does.
        """
        return f"instance:{self.name}"

    def describe(self) -> str:
        """Return a short human description, e.g. ``render service srv-123``."""
        return self.kind

    # -- genesis doctor -------------------------------------------------------------------
    @property
    def credential_name(self) -> str | None:
        """Return the environment variable holding this instance's credential, or ``None`` when it has none.

        The kind's :attr:`credential_env` by default; ``HttpPlatformAdapter`` returns the table's ``token_env``.
        """
        return self.credential_env

    def check_credential_variable(self, env: Mapping[str, str]) -> CredentialCheck | None:
        """Return whether :attr:`credential_name` is set in ``env`` (``None`` when there is none to check).

        What ``genesis doctor --offline`` checks, and the default :meth:`check_credentials`.
        """
        name = self.credential_name
        if name is None:
            return None
        if not env.get(name):
            return CredentialCheck(False, f"credential {name} is not set",
                                   f"export {name}=... (a token with read access; write access for `genesis heal`)")
        return CredentialCheck(True, f"credential {name} is set")

    async def check_credentials(self, ctx: FetchContext) -> CredentialCheck | None:
        """Return what ``genesis doctor`` says about this instance's credentials (``None``: nothing to check).

        The default is :meth:`check_credential_variable`. An adapter whose credentials come from
        elsewhere (an SDK's credential chain) or that can ask the platform whether they are good
        (a token lookup) overrides it, never putting a secret in the result; doctor reports a
        ``PlatformError`` it raises as a failed check. ``genesis doctor --offline`` does not call it.
        """
        return self.check_credential_variable(ctx.env)

    def doctor_hint(self) -> str | None:
        """Return what ``genesis doctor`` suggests checking when reading this instance failed, or ``None``.

        ``None`` (the default) lets doctor choose from the error: the network, the identifiers, the token.
        """
        return None

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
    #: The platform keeps the case of variable names (``api_url`` and ``API_URL`` are two variables).
    #: ``False`` for a platform that changes it (GitHub stores names upper-cased): the contract kit then
    #: skips its lower- and mixed-case key checks.
    case_sensitive: bool = True
    #: The emulator ``genesis emulate NAME`` starts, as ``"module:Class"``: an ``EmulatorServer``
    #: subclass built with ``token=`` and ``port=``.  Imported only when used (start-up stays fast).
    emulator: str | None = attrs.field(default=None)

    @name.validator
    def _check_name(self, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not _KIND_NAME.match(value):
            raise ValueError(f"platform kind name must match {_KIND_NAME.pattern}, got {value!r}")

    @emulator.validator
    def _check_emulator(self, _attr: Any, value: str | None) -> None:
        module, colon, attribute = value.partition(":") if isinstance(value, str) else ("", "", "")
        if value is not None and not (colon and all(part.isidentifier() for part in
                                                    (*module.split("."), *attribute.split(".")))):
            raise ValueError(f"platform kind {self.name!r}: emulator must be 'module:Class', got {value!r}")
