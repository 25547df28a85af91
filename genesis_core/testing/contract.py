"""The adapter contract: one test suite every platform adapter must pass.

An adapter author writes a :class:`PlatformHarness` (how to start the
platform's emulator, seed it, read it back and build an adapter pointed at it)
and a test class that subclasses :class:`AdapterContract` and provides a
``harness`` fixture::

    class TestAcmeContract(AdapterContract):
        @pytest.fixture
        def harness(self):
            harness = AcmeHarness()
            harness.start()
            yield harness
            harness.stop()

The suite then checks that the registered :class:`PlatformKind` and the adapter
agree, fetch (tricky values, empty platform, pagination at page boundaries,
unreadable values), every error path (a platform that cannot be read raises
``PlatformError``, never returns an empty snapshot; :data:`FAULT_CASES` is the
table of faults with the attempts each one costs; one malformed item in an otherwise
valid page is an error too), writes (surgical: the requests a write sends carry
its one key and nothing else changes; a write answered with a 4xx is an error,
:data:`WRITE_FAULT_CASES`), that keys keep their case on a platform registered
``case_sensitive``, and that no token or value leaks into exceptions, reprs, logs
or output.

What a harness can do is said by class attributes (fsspec's capability
fixtures): ``page_size``, ``unreadable_supported``, ``writable``,
``injects_faults``, ``counts_requests``, ``http_errors``.  A test whose
capability a harness lacks is skipped with the reason; a harness for a real
server (no fault injection) still runs every other test.  It needs pytest:
``pip install 'genesis-envsync[testing]'``.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import re
import secrets
import socket
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

import attrs

try:
    import pytest
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "genesis_core.testing.contract needs pytest: pip install 'genesis-envsync[testing]'"
    ) from exc

from ..errors import PlatformError
from ..platforms.model import (
    CredentialCheck,
    FetchContext,
    PlatformAdapter,
    PlatformKind,
    Snapshot,
    VariableWrite,
    WriteEffect,
)
from .emulator import ITEM_FAULTS, Fault

if TYPE_CHECKING:
    from .emulator import EmulatorServer, Request

__all__ = [
    "CASED_VALUES", "FAULT_CASES", "TRICKY_VALUES", "WRITE_FAULT_CASES", "WRITE_METHODS",
    "AdapterContract", "EmulatorHarness", "FaultCase", "PlatformHarness",
    "closed_port", "fetch_sync", "run_fetch", "run_write", "run_write_batch", "write_batch_sync", "write_sync",
]

#: Values every adapter must carry unchanged (key -> value).
TRICKY_VALUES: Mapping[str, str] = {
    "PLAIN": "plain-value",
    "EMPTY": "",
    "UNICODE": "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c \U0001f680",
    "EQUALS": "a=b==c=",
    "QUOTES": "'single' \"double\" `back`",
    "NEWLINES": "line one\nline two\r\nline three\n",
    "SPACES": "  leading and trailing  ",
    "HASH": "value # not a comment",
    "DOLLAR": "$HOME ${OTHER} $(not run)",
    "BACKSLASH": "C:\\path\\to\\file \\n",
    "JSONISH": '{"nested": [1, 2, {"k": "v"}]}',
    "URLISH": "postgres://user:p%40ss@db.example:5432/app?sslmode=require&x=1",
    "BIG": "".join(chr(0x41 + (i * 7) % 26) for i in range(4096)),
}

_LOGGERS = ("", "httpx", "httpcore", "genesis", "genesis_core")


@attrs.frozen
class FaultCase:
    """One way a platform's API fails, what the error must say and whether it is retried.

    ``fault`` is injected on every request.  ``message`` is part of the wording
    ``genesis_core.http`` gives it (checked when the harness says ``http_errors``).
    ``retried`` faults (network errors, 5xx, 429) cost ``retries + 1`` requests;
    the others fail at the first answer.
    """

    id: str
    fault: Fault
    message: str
    retried: bool


#: The faults every adapter must turn into one clear ``PlatformError``, with the attempts each costs.
FAULT_CASES: tuple[FaultCase, ...] = (
    FaultCase("401", Fault("status", status=401), "authentication failed (HTTP 401)", retried=False),
    FaultCase("403", Fault("status", status=403), "permission denied (HTTP 403)", retried=False),
    FaultCase("404", Fault("status", status=404), "not found (HTTP 404)", retried=False),
    FaultCase("500", Fault("status", status=500), "server error (HTTP 500)", retried=True),
    FaultCase("503", Fault("status", status=503), "server error (HTTP 503)", retried=True),
    FaultCase("502-html", Fault("html502"), "server error (HTTP 502)", retried=True),
    FaultCase("429", Fault("rate_limit", status=429, retry_after="0"), "rate limited (HTTP 429)", retried=True),
    FaultCase("timeout", Fault("timeout"), "timed out", retried=True),
    FaultCase("reset", Fault("reset"), "network error", retried=True),
    FaultCase("malformed-json", Fault("malformed_json"), "malformed JSON", retried=False),
    FaultCase("wrong-shape", Fault("wrong_shape"), "unexpected response shape", retried=False),
    FaultCase("huge", Fault("huge"), "response too large", retried=False),
)

#: The HTTP methods that change a platform; :data:`WRITE_FAULT_CASES` are injected on these only.
WRITE_METHODS: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")

#: The refusals a write must turn into a ``PlatformError`` (never "written"), injected on write requests.
WRITE_FAULT_CASES: tuple[FaultCase, ...] = tuple(
    FaultCase(str(status), Fault("status", status=status, methods=WRITE_METHODS), wording, retried=False)
    for status, wording in ((400, "HTTP 400"), (401, "authentication failed (HTTP 401)"),
                            (403, "permission denied (HTTP 403)"), (404, "not found (HTTP 404)"),
                            (409, "HTTP 409"), (422, "HTTP 422")))

#: Keys in lower and mixed case, and two names that differ only in case, for ``case_sensitive`` platforms.
CASED_VALUES: Mapping[str, str] = {
    "lower_case_key": "lower", "Mixed_Case_Key": "mixed", "camelCaseKey": "camel",
    "SAME_NAME": "upper one", "same_name": "lower one",
}

_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"


# -- helpers for authors ----------------------------------------------------------------

async def run_fetch(adapter: PlatformAdapter, env: Mapping[str, str]) -> Snapshot:
    """Return ``adapter``'s snapshot, using a fresh :class:`FetchContext` that is closed afterwards.

    Use it as ``asyncio.run(run_fetch(adapter, env))`` (or :func:`fetch_sync`).
    """
    ctx = FetchContext(env=dict(env))
    try:
        return await adapter.fetch(ctx)
    finally:
        await ctx.aclose()


async def run_write(adapter: PlatformAdapter, env: Mapping[str, str], key: str, value: str,
                    secret: bool = False) -> None:
    """Write one variable through ``adapter`` with a fresh :class:`FetchContext`, closed afterwards."""
    ctx = FetchContext(env=dict(env))
    try:
        await adapter.write(ctx, key, value, secret=secret)
    finally:
        await ctx.aclose()


async def run_write_batch(adapter: PlatformAdapter, env: Mapping[str, str],
                          writes: Sequence[VariableWrite]) -> None:
    """Call ``adapter.write_batch`` with a fresh :class:`FetchContext`, closed afterwards."""
    ctx = FetchContext(env=dict(env))
    try:
        await adapter.write_batch(ctx, list(writes))
    finally:
        await ctx.aclose()


def fetch_sync(adapter: PlatformAdapter, env: Mapping[str, str]) -> Snapshot:
    """Return ``asyncio.run(run_fetch(adapter, env))``: the snapshot, from synchronous code."""
    return asyncio.run(run_fetch(adapter, env))


def write_sync(adapter: PlatformAdapter, env: Mapping[str, str], key: str, value: str,
               secret: bool = False) -> None:
    """Run :func:`run_write` from synchronous code."""
    asyncio.run(run_write(adapter, env, key, value, secret))


def write_batch_sync(adapter: PlatformAdapter, env: Mapping[str, str], writes: Sequence[VariableWrite]) -> None:
    """Run :func:`run_write_batch` from synchronous code."""
    asyncio.run(run_write_batch(adapter, env, writes))


def closed_port() -> int:
    """Return a loopback TCP port that nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the harness -----------------------------------------------------------------------

class PlatformHarness(abc.ABC):
    """What an adapter author provides so the contract suite can drive their platform."""

    kind: str
    #: Items per page the adapter requests (None: the API does not paginate).
    page_size: int | None = None
    #: The platform holds values its API will not return (secret/sensitive values).
    unreadable_supported: bool = False
    #: False when the API returns no value at all (Fly secrets): every fetched value must then be
    #: ``None`` and secret, and the suite compares keys (``stored()`` still shows the values).
    readable_values: bool = True
    #: ``adapter.supports_write``.
    writable: bool = False
    #: ``inject``/``clear_faults`` work (an emulator); False for a real server, whose fault tests are skipped.
    injects_faults: ClassVar[bool] = True
    #: ``requests()`` returns what the platform received, so attempts can be counted.
    counts_requests: ClassVar[bool] = True
    #: The adapter sends its requests through ``genesis_core.http`` (every ``HttpPlatformAdapter`` does),
    #: so each fault's error carries that module's wording and its retries can be waited out instantly.
    http_errors: ClassVar[bool] = True
    #: The plugin (a module or object with hook implementations) that registers ``kind``;
    #: ``None`` asks the installed plugins (the distribution must be installed, e.g. ``pip install -e .``).
    plugin: ClassVar[object | None] = None
    #: The credential value; the suite checks that it never leaks.
    token: str

    #: Table overrides that make a failing request fail fast (used for faults that never clear).
    fast_failure_overrides: ClassVar[Mapping[str, Any]] = {"timeout": 0.5, "retries": 0}
    #: The ``retries`` and ``timeout`` the fault table's adapter is built with.
    fault_retries: ClassVar[int] = 2
    fault_timeout: ClassVar[float] = 0.3
    #: How long an injected ``timeout`` fault holds the answer back (longer than ``fault_timeout``
    #: and the fast timeout).
    timeout_fault_delay: ClassVar[float] = 0.8

    @abc.abstractmethod
    def start(self) -> None:
        """Start the emulator (idempotent)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the emulator."""

    @abc.abstractmethod
    def seed(self, variables: Mapping[str, str], *, unreadable: Iterable[str] = ()) -> None:
        """Replace the platform's variables directly in the emulator (not through the adapter).

        Keys in ``unreadable`` are stored so that the API will not return their value.
        """

    @abc.abstractmethod
    def stored(self) -> dict[str, str]:
        """Return what the platform holds now, read directly (write-only secrets decrypted)."""

    @abc.abstractmethod
    def make_adapter(self, **table_overrides: Any) -> PlatformAdapter:
        """Return an adapter configured for this emulator (small timeout, a few retries)."""

    @abc.abstractmethod
    def env(self) -> dict[str, str]:
        """Return the environment the adapter reads its credentials from."""

    @abc.abstractmethod
    def inject(self, fault: Fault) -> None:
        """Inject a fault into the emulator."""

    @abc.abstractmethod
    def clear_faults(self) -> None:
        """Remove every injected fault."""

    @abc.abstractmethod
    def requests(self) -> list[Request]:
        """Return the requests the emulator has recorded."""

    # -- optional, with defaults --------------------------------------------------------
    def tricky_values(self) -> dict[str, str]:
        """Return the values the fetch round-trip seeds; drop only those the real platform rejects."""
        return dict(TRICKY_VALUES)

    def credential_keys(self) -> list[str]:
        """Return the names in :meth:`env` that hold the token."""
        return [name for name, value in self.env().items() if value == self.token]

    def written_values(self, request: Request) -> dict[str, Any] | None:
        """Return ``{key: value sent}`` for a recorded request that writes variables, ``None`` for any other.

        Needed only when the adapter has ``supports_batch_write``: the suite checks that a
        batch is one request holding exactly the planned keys and values (never an
        unchanged key, never a ``null``).
        """
        raise NotImplementedError(
            "the adapter supports batch writes: the harness must implement written_values(request) so the "
            "suite can check what each write request carries")

    def sent_keys(self, request: Request, before: Mapping[str, str], written: Iterable[str]) -> set[str]:
        """Return the variables a recorded request sends to be written or deleted.

        ``before`` is what the platform held before the write (``stored()``), ``written`` the
        names being written; the answer is a subset of both their names.  The suite calls it
        for every request a ``write()`` sends and fails unless the written key is all they
        carry.  The default counts a name when a request other than ``GET``/``HEAD``/``OPTIONS``
        holds it as a whole word in its (percent-decoded) path or its body.  Override it when
        your API reads with a ``POST`` that names other keys, or stores every variable in one
        document written whole (a Secrets Manager JSON secret): return only the names whose
        value the request changes or drops.
        """
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return set()
        text = unquote(request.path) + "\n" + request.body.decode("utf-8", "replace")
        return {name for name in {*before, *written} if re.search(_WORD.format(re.escape(name)), text)}

    def write_fault(self, case: FaultCase) -> Fault:
        """Return the fault that refuses writes for ``case`` (by default on :data:`WRITE_METHODS` only,
        so a read the adapter makes first still works)."""
        return case.fault

    def malformed_item_fault(self, kind: str, key: str, value: str) -> Fault | None:
        """Return a fault that spoils ``key``'s item in the platform's answers (``kind`` is one of
        :data:`~genesis_core.testing.emulator.ITEM_FAULTS`), or ``None`` when the API has no such
        item (the test is then skipped with that reason).  The default works for JSON answers that
        hold the key as a string field (``{"key": ...}``, ``{"name": ...}``) or as a map key."""
        return Fault(kind, target=key, value=value)

    def spoiled_answers(self) -> int | None:
        """Return how many answers an item fault has spoiled so far (``None``: the harness cannot tell)."""
        return None

    def registered_kind(self) -> PlatformKind:
        """Return the :class:`PlatformKind` that ``plugin`` (or the installed plugins) registers as ``kind``."""
        from ..plugins import build_plugin_host

        if self.plugin is None:
            host = build_plugin_host()
            where = "no installed plugin"
        else:
            host = build_plugin_host(entry_points=False, plugins=(("harness-plugin", self.plugin),))
            where = f"the harness's plugin {self.plugin!r}"
        kinds = host.platform_kinds()
        if self.kind not in kinds:
            problems = "; ".join(f"{p.plugin}: {p.error}" for p in host.problems) or "none reported"
            pytest.fail(f"{where} registers the platform kind {self.kind!r} (registered: "
                        f"{', '.join(sorted(kinds))}; problems: {problems}); install the distribution "
                        "(pip install -e .) or set the harness's plugin")
        return kinds[self.kind]

    def fault_overrides(self, case: FaultCase) -> dict[str, Any]:
        """Return the table overrides the fault table's adapter is built with: ``fault_retries`` retries,
        and ``fault_timeout`` for the ``timeout`` fault (a generous one for the others, so a slow
        machine never turns a fault into a timeout)."""
        timeout = self.fault_timeout if case.fault.kind == "timeout" else 10.0
        return {"timeout": timeout, "retries": self.fault_retries}

    def fault_for(self, case: FaultCase) -> Fault:
        """Return the fault to inject for ``case`` (a ``timeout`` holds the answer past ``fault_timeout``)."""
        if case.fault.kind == "timeout":
            return attrs.evolve(case.fault, delay=self.timeout_fault_delay)
        return case.fault

    def expected_attempts(self, case: FaultCase) -> int:
        """Return how many requests one fetch sends when ``case``'s fault answers every one of them."""
        return self.fault_retries + 1 if case.retried else 1

    def expected_message(self, case: FaultCase) -> str | None:
        """Return what the error for ``case`` must contain: ``case.message`` when ``http_errors``, else
        ``None`` (no wording checked).  Override it for a status the adapter words itself (a 404
        that names the missing resource)."""
        return case.message if self.http_errors else None


class EmulatorHarness(PlatformHarness):
    """A harness whose platform is one :class:`~genesis_core.testing.emulator.EmulatorServer`.

    Set ``self.emulator`` in ``__init__``; ``start``/``stop``/faults/requests come for free.
    """

    emulator: EmulatorServer

    def start(self) -> None:
        """Start the emulator (idempotent)."""
        self.emulator.start()

    def stop(self) -> None:
        """Stop the emulator."""
        self.emulator.stop()

    def inject(self, fault: Fault) -> None:
        """Inject a fault into the emulator."""
        self.emulator.inject(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.emulator.clear_faults()

    def requests(self) -> list[Request]:
        """Return the requests the emulator has recorded."""
        return list(self.emulator.requests)

    def spoiled_answers(self) -> int | None:
        """Return how many answers the emulator's item faults have spoiled."""
        return self.emulator.spoiled


# -- the suite -----------------------------------------------------------------------

def _fault(kind: str, **kwargs: Any) -> Fault:
    return Fault(kind, **kwargs)


def _expect_platform_error(adapter: PlatformAdapter, env: Mapping[str, str], what: str) -> PlatformError:
    """Fetch and return the ``PlatformError`` it raised; fail if it returned a snapshot instead."""
    try:
        snapshot = fetch_sync(adapter, env)
    except PlatformError as exc:
        assert exc.platform == adapter.name, (
            f"{what}: PlatformError.platform is {exc.platform!r}, expected the instance name {adapter.name!r}")
        assert str(exc).strip(), f"{what}: PlatformError has an empty message"
        return exc
    pytest.fail(f"{what}: fetch returned {snapshot!r} instead of raising PlatformError "
                "(a platform that cannot be read must be an error, never an empty snapshot)")


def _expect_write_error(adapter: PlatformAdapter, env: Mapping[str, str], key: str, value: str,
                        what: str) -> PlatformError:
    try:
        write_sync(adapter, env, key, value)
    except PlatformError as exc:
        assert exc.platform == adapter.name, (
            f"{what}: PlatformError.platform is {exc.platform!r}, expected {adapter.name!r}")
        return exc
    pytest.fail(f"{what}: write returned normally instead of raising PlatformError")


def _exception_text(exc: BaseException) -> str:
    """Return everything a user could see of ``exc``: message, repr, args and its printed traceback."""
    return "\n".join([str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))])


def _expected(harness: PlatformHarness, values: Mapping[str, str]) -> dict[str, str | None]:
    """Return what a fetch must give for ``values``: themselves, or ``None`` where the API returns no value."""
    return {key: value if harness.readable_values else None for key, value in values.items()}


async def _check_credentials(adapter: PlatformAdapter, env: Mapping[str, str]) -> object:
    """Return ``adapter.check_credentials`` with a fresh context (closed afterwards), or the PlatformError raised."""
    ctx = FetchContext(env=dict(env))
    try:
        return await adapter.check_credentials(ctx)
    except PlatformError as exc:  # genesis doctor reports it as a failed check
        return exc
    finally:
        await ctx.aclose()


def _without(env: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    drop = set(names)
    return {name: value for name, value in env.items() if name not in drop}


def _require_faults(harness: PlatformHarness) -> None:
    if not harness.injects_faults:
        pytest.skip(f"the {harness.kind} harness cannot inject faults (injects_faults is False)")


class AdapterContract:
    """The contract suite. Subclass it as ``class TestMyContract(AdapterContract)`` and provide a
    ``harness`` fixture that yields a started :class:`PlatformHarness` (and stops it afterwards)."""

    @pytest.fixture(autouse=True)
    def _no_leftover_faults(self, harness: PlatformHarness) -> Iterator[None]:
        """Clear faults around every test, so a harness fixture may have a wider scope."""
        if harness.injects_faults:
            harness.clear_faults()
        yield
        if harness.injects_faults:
            harness.clear_faults()

    @pytest.fixture(autouse=True)
    def _retry_waits(self, instant_retries: list[float]) -> list[float]:
        """Retries and rate-limit waits of ``genesis_core.http`` return at once; the waits asked for."""
        return instant_retries

    def test_harness_describes_the_adapter(self, harness: PlatformHarness) -> None:
        adapter = harness.make_adapter()
        assert isinstance(adapter, PlatformAdapter)
        assert adapter.kind == harness.kind
        assert bool(adapter.supports_write) == bool(harness.writable), (
            "harness.writable must say whether the adapter supports writes")
        assert harness.credential_keys(), "harness.env() must hold harness.token"

    def test_registered_kind_agrees_with_the_adapter(self, harness: PlatformHarness) -> None:
        kind = harness.registered_kind()
        adapter = harness.make_adapter()
        assert kind.name == harness.kind == adapter.kind
        assert kind.credential_env == adapter.credential_env, (
            f"the registered kind says credential_env={kind.credential_env!r}, "
            f"the adapter {adapter.credential_env!r}")
        assert kind.supports_write == adapter.supports_write, (
            f"the registered kind says supports_write={kind.supports_write}, the adapter {adapter.supports_write}")
        built = kind.factory(adapter.instance)
        assert type(built) is type(adapter), (
            f"the registered kind's factory builds a {type(built).__name__}, the harness a {type(adapter).__name__}")

    # -- fetch ----------------------------------------------------------------------------
    def test_fetch_returns_exactly_the_seeded_variables(self, harness: PlatformHarness) -> None:
        values = harness.tricky_values()
        harness.seed(values)
        adapter = harness.make_adapter()
        snapshot = fetch_sync(adapter, harness.env())
        assert isinstance(snapshot, Snapshot)
        assert snapshot.platform == adapter.name
        assert snapshot.kind == harness.kind
        got = snapshot.values()
        assert sorted(got) == sorted(values), "fetch must return exactly the seeded keys"
        for key, expected in _expected(harness, values).items():
            if expected is None:
                assert got[key] is None and snapshot.variables[key].secret, (
                    f"{key}: the harness says the API returns no values, so it must be None and secret")
            else:
                assert got[key] == expected, f"value of {key} changed on the way (expected {len(expected)} chars)"
            assert snapshot.variables[key].key == key

    def test_empty_platform_gives_an_empty_snapshot(self, harness: PlatformHarness) -> None:
        harness.seed({})
        adapter = harness.make_adapter()
        snapshot = fetch_sync(adapter, harness.env())
        assert isinstance(snapshot, Snapshot)
        assert snapshot.platform == adapter.name
        assert snapshot.values() == {}

    @pytest.mark.parametrize("count", ["page_size-1", "page_size", "page_size+1", "2*page_size+1"])
    def test_pagination_at_page_boundaries(self, harness: PlatformHarness, count: str) -> None:
        if not harness.page_size:
            pytest.skip(f"the {harness.kind} harness sets no page_size: its API does not paginate")
        size = int(harness.page_size)
        total = {"page_size-1": size - 1, "page_size": size, "page_size+1": size + 1,
                 "2*page_size+1": 2 * size + 1}[count]
        values = {f"PAGED_{i:04d}": f"value-{i}" for i in range(total)}
        harness.seed(values)
        before = len(harness.requests())
        snapshot = fetch_sync(harness.make_adapter(), harness.env())
        assert snapshot.values() == _expected(harness, values), (
            f"{total} keys with page size {size} did not round-trip")
        gets = [r for r in harness.requests()[before:] if r.method == "GET"]
        assert len(gets) >= math.ceil(total / size), (
            f"{total} keys need at least {math.ceil(total / size)} pages of {size}, "
            f"the adapter sent {len(gets)} GET requests")

    def test_unreadable_values_are_present_as_none_and_secret(self, harness: PlatformHarness) -> None:
        if not harness.unreadable_supported:
            pytest.skip(f"the {harness.kind} harness says its platform has no unreadable values")
        hidden = f"hidden-{secrets.token_hex(8)}"
        harness.seed({"VISIBLE": "shown", "HIDDEN": hidden}, unreadable=["HIDDEN"])
        snapshot = fetch_sync(harness.make_adapter(), harness.env())
        assert set(snapshot.variables) == {"VISIBLE", "HIDDEN"}
        assert snapshot.variables["VISIBLE"].value == _expected(harness, {"VISIBLE": "shown"})["VISIBLE"]
        assert snapshot.variables["HIDDEN"].value is None, "an unreadable value must be None, not a guess"
        assert snapshot.variables["HIDDEN"].secret is True
        assert "HIDDEN" in snapshot.secret_keys()
        assert hidden not in repr(snapshot) + repr(list(snapshot.variables.values()))

    # -- errors ---------------------------------------------------------------------------
    def test_wrong_token_is_an_error_naming_the_credential(self, harness: PlatformHarness) -> None:
        harness.seed({"KEY": "value"})
        names = harness.credential_keys()
        assert names, "harness.env() must hold harness.token"
        env = harness.env()
        for name in names:
            env[name] = f"wrong-{secrets.token_hex(8)}"
        adapter = harness.make_adapter()
        exc = _expect_platform_error(adapter, env, "a rejected token")
        assert any(name in str(exc) for name in names), (
            f"the error for a rejected token must name the credential variable ({', '.join(names)}): {exc}")

    @pytest.mark.parametrize("case", FAULT_CASES, ids=[case.id for case in FAULT_CASES])
    def test_a_fault_is_one_clear_error_after_the_right_attempts(self, harness: PlatformHarness,
                                                                 case: FaultCase) -> None:
        _require_faults(harness)
        harness.seed({"KEY": "value"})
        harness.inject(harness.fault_for(case))
        adapter = harness.make_adapter(**harness.fault_overrides(case))
        before = len(harness.requests()) if harness.counts_requests else 0
        exc = _expect_platform_error(adapter, harness.env(), f"fault {case.id}")
        wording = harness.expected_message(case)
        if wording is not None:
            assert wording in str(exc), f"fault {case.id}: expected {wording!r} in the error: {exc}"
        if case.id == "401":
            names = harness.credential_keys()
            assert any(name in str(exc) for name in names), (
                f"a 401 error must name the credential variable ({', '.join(names)}): {exc}")
        if case.id == "502-html":
            assert "<html" not in str(exc).lower(), "an HTML error page must not be pasted into the message"
        if harness.counts_requests:
            sent = len(harness.requests()) - before
            expected = harness.expected_attempts(case)
            assert sent == expected, (
                f"fault {case.id}: the adapter sent {sent} requests, expected {expected} "
                f"({'retried' if case.retried else 'not retried'}, retries = {harness.fault_retries})")

    def test_one_server_error_is_retried(self, harness: PlatformHarness) -> None:
        _require_faults(harness)
        values = {"KEY": "value", "OTHER": "x"}
        harness.seed(values)
        harness.inject(_fault("status", status=500, times=1))
        before = len(harness.requests())
        snapshot = fetch_sync(harness.make_adapter(), harness.env())
        assert snapshot.values() == _expected(harness, values)
        assert len(harness.requests()) - before >= 2, "the 500 was not answered by a retry"

    def test_rate_limit_with_retry_after_is_waited_out(self, harness: PlatformHarness,
                                                        _retry_waits: list[float]) -> None:
        _require_faults(harness)
        values = {"KEY": "value"}
        harness.seed(values)
        harness.inject(_fault("rate_limit", status=429, retry_after="2", times=1))
        snapshot = fetch_sync(harness.make_adapter(), harness.env())
        assert snapshot.values() == _expected(harness, values)
        if harness.http_errors:
            assert 2.0 in _retry_waits, f"Retry-After: 2 was not waited out (waits asked for: {_retry_waits})"

    def test_closed_port_is_an_error(self, harness: PlatformHarness) -> None:
        port = closed_port()
        overrides = {**harness.fast_failure_overrides, "base_url": f"http://127.0.0.1:{port}"}
        _expect_platform_error(harness.make_adapter(**overrides), harness.env(), "a closed port")

    def test_missing_credentials_is_an_error_naming_the_variable(self, harness: PlatformHarness) -> None:
        harness.seed({"KEY": "value"})
        names = harness.credential_keys()
        assert names, "harness.env() must hold harness.token"
        before = len(harness.requests()) if harness.counts_requests else 0
        exc = _expect_platform_error(harness.make_adapter(), _without(harness.env(), names),
                                     "no credentials in the environment")
        assert any(name in str(exc) for name in names), (
            f"the error for missing credentials must name the variable ({', '.join(names)}): {exc}")
        if harness.counts_requests:
            assert len(harness.requests()) == before, "no request may be sent without credentials"

    # -- writes ---------------------------------------------------------------------------
    def _require_writable(self, harness: PlatformHarness) -> None:
        if not harness.writable:
            pytest.skip(f"the {harness.kind} adapter does not support writes (harness.writable is False)")

    def test_write_round_trips(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"EXISTING": "old"})
        adapter = harness.make_adapter()
        value = "new value \u2713 = 'q' \"dq\"\nsecond line"
        write_sync(adapter, harness.env(), "NEW_KEY", value)
        assert harness.stored().get("NEW_KEY") == value, "the platform does not hold the written value"
        fetched = fetch_sync(adapter, harness.env()).variables.get("NEW_KEY")
        assert fetched is not None, "a key written must be listed by the next fetch"
        assert fetched.value == _expected(harness, {"NEW_KEY": value})["NEW_KEY"]

    def test_write_of_a_new_key_leaves_every_other_key_unchanged(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        seeded = {f"KEEP_{i}": f"keep-{i}" for i in range(5)}
        unreadable = ["KEEP_SECRET"] if harness.unreadable_supported else []
        if unreadable:
            seeded["KEEP_SECRET"] = "kept-secret-value"
        harness.seed(seeded, unreadable=unreadable)
        before = harness.stored()
        write_sync(harness.make_adapter(), harness.env(), "ADDED", "added-value")
        assert harness.stored() == {**before, "ADDED": "added-value"}, (
            "a write must touch one key only (never replace the platform's whole variable set)")

    def test_write_updates_an_existing_key(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"CHANGE_ME": "before", "LEAVE_ME": "same"})
        adapter = harness.make_adapter()
        write_sync(adapter, harness.env(), "CHANGE_ME", "after")
        assert harness.stored() == {"CHANGE_ME": "after", "LEAVE_ME": "same"}
        assert fetch_sync(adapter, harness.env()).values()["CHANGE_ME"] == _expected(
            harness, {"CHANGE_ME": "after"})["CHANGE_ME"]

    def test_secret_write_round_trips(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"OTHER": "other"})
        value = f"s3cret-{secrets.token_hex(8)}"
        adapter = harness.make_adapter()
        write_sync(adapter, harness.env(), "SECRET_KEY", value, secret=True)
        assert harness.stored().get("SECRET_KEY") == value
        fetched = fetch_sync(adapter, harness.env()).variables.get("SECRET_KEY")
        assert fetched is not None, "a secret written must be listed by the next fetch"
        assert fetched.value in (None, value), "a secret must read back as itself or as unreadable"
        if type(adapter).has_secret_kind:
            assert fetched.secret, ("the adapter says its platform keeps secrets apart (has_secret_kind), "
                                    "but a key written with secret=True reads back as a plain variable")

    def test_failed_write_is_an_error_and_changes_nothing(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        _require_faults(harness)
        harness.seed({"KEY": "value"})
        before = harness.stored()
        harness.inject(_fault("status", status=500))
        _expect_write_error(harness.make_adapter(**harness.fast_failure_overrides), harness.env(),
                            "KEY", "changed", "HTTP 500 on a write")
        harness.clear_faults()
        assert harness.stored() == before

    def _keys_sent(self, harness: PlatformHarness, since: int, before: Mapping[str, str],
                   written: Iterable[str]) -> list[set[str]]:
        """Return, for each request since ``since`` that sends variables, the names it sends."""
        names = sorted(set(written))
        sent = [harness.sent_keys(request, before, names) for request in harness.requests()[since:]]
        return [keys for keys in sent if keys]

    def test_a_write_sends_only_its_key_and_changes_nothing_else(self, harness: PlatformHarness) -> None:
        """A write is surgical in what it SENDS, not only in the end state (issue 19 item 11).

        A read-modify-write that sends the whole variable set back leaves the same end state,
        but it overwrites anyone's change made in between and every key it resends is a
        write.  Each request ``write()`` sends may carry only the key being written
        (counted by :meth:`PlatformHarness.sent_keys`), and nothing else may change or go.
        """
        self._require_writable(harness)
        if not harness.counts_requests:
            pytest.skip(f"the {harness.kind} harness cannot record requests (counts_requests is False)")
        seeded = {"KEEP_ALPHA": "alpha", "KEEP_BRAVO": "bravo", "KEEP_CHARLIE": "charlie", "UPDATE_ME": "before"}
        unreadable = ["KEEP_HIDDEN"] if harness.unreadable_supported else []
        if unreadable:
            seeded["KEEP_HIDDEN"] = "hidden-value"
        harness.seed(seeded, unreadable=unreadable)
        adapter = harness.make_adapter()
        for key, value, secret in (("ADDED_KEY", "added", False), ("UPDATE_ME", "after", False),
                                   ("ADDED_SECRET", "added-secret", True)):
            before_state = harness.stored()
            before = len(harness.requests())
            write_sync(adapter, harness.env(), key, value, secret=secret)
            sent = self._keys_sent(harness, before, before_state, [key])
            others = sorted(set().union(*sent) - {key})
            assert not others, (
                f"writing {key} sent {', '.join(others)} too: a write must send its one key (no read-modify-write "
                "of the whole variable set); if your API only names other keys when reading, override "
                "harness.sent_keys")
            assert sent, (f"no request of the write of {key} was seen sending it (harness.sent_keys found it in "
                          "none): override harness.sent_keys if your API names variables another way")
            assert harness.stored() == {**before_state, key: value}, (
                f"writing {key} changed or deleted other keys (or did not store it)")

    @pytest.mark.parametrize("case", WRITE_FAULT_CASES, ids=[case.id for case in WRITE_FAULT_CASES])
    def test_a_rejected_write_is_an_error_and_changes_nothing(self, harness: PlatformHarness,
                                                             case: FaultCase) -> None:
        """A write the platform refuses with a 4xx raises ``PlatformError``, never counts as written (item 12)."""
        self._require_writable(harness)
        _require_faults(harness)
        harness.seed({"KEY": "value"})
        before = harness.stored()
        harness.inject(harness.write_fault(case))
        adapter = harness.make_adapter(**harness.fast_failure_overrides)
        for key, value in (("KEY", "changed"), ("NEW_KEY", "new")):
            try:
                write_sync(adapter, harness.env(), key, value)
            except PlatformError as exc:
                assert exc.platform == adapter.name, (
                    f"HTTP {case.id} on a write: PlatformError.platform is {exc.platform!r}, expected {adapter.name!r}")
                assert str(exc).strip(), f"HTTP {case.id} on a write: PlatformError has an empty message"
            else:
                pytest.fail(f"a write of {key} answered HTTP {case.id} returned normally instead of raising "
                            "PlatformError (a refused write must never count as written)")
        harness.clear_faults()
        assert harness.stored() == before

    def test_keys_keep_their_case(self, harness: PlatformHarness) -> None:
        """On a platform registered ``case_sensitive`` (the default), lower- and mixed-case keys and two
        names that differ only in case round-trip exactly (issue 19 item 13)."""
        if not harness.registered_kind().case_sensitive:
            pytest.skip(f"the {harness.kind} kind is registered case_sensitive=False: its platform changes "
                        "the case of names")
        harness.seed(CASED_VALUES)
        adapter = harness.make_adapter()
        got = fetch_sync(adapter, harness.env()).values()
        assert sorted(got) == sorted(CASED_VALUES), (
            f"fetch changed the case of keys: seeded {sorted(CASED_VALUES)}, got {sorted(got)} (the kind is "
            "registered case_sensitive; register case_sensitive=False if the platform itself changes case)")
        assert got == _expected(harness, CASED_VALUES), "keys that differ only in case were mixed up"
        if not harness.writable:
            return
        write_sync(adapter, harness.env(), "newMixed_Key", "written")
        write_sync(adapter, harness.env(), "same_name", "changed")
        assert harness.stored() == {**CASED_VALUES, "newMixed_Key": "written", "same_name": "changed"}, (
            "a write changed the case of its key, or wrote the key that differs only in case")

    @pytest.mark.parametrize("kind", ITEM_FAULTS, ids=[kind.replace("_", "-") for kind in ITEM_FAULTS])
    def test_one_malformed_item_in_a_valid_page_is_an_error(self, harness: PlatformHarness, kind: str) -> None:
        """One item without a name, or with a value that is not a string, inside an otherwise valid
        answer is an error naming the platform, never a dropped or guessed variable (item 14)."""
        _require_faults(harness)
        value = f"spoil-me-{secrets.token_hex(4)}"
        if kind == "non_string_value" and not harness.readable_values:
            pytest.skip(f"the {harness.kind} API returns no values, so none can be of the wrong type")
        fault = harness.malformed_item_fault(kind, "SPOILED_ITEM", value)
        if fault is None:
            pytest.skip(f"the {harness.kind} harness says its API has no item that can be spoiled as {kind}")
        harness.seed({"GOOD_BEFORE": "good", "SPOILED_ITEM": value, "GOOD_AFTER": "good"})
        spoiled = harness.spoiled_answers()
        harness.inject(fault)
        adapter = harness.make_adapter(**harness.fast_failure_overrides)
        try:
            snapshot = fetch_sync(adapter, harness.env())
        except PlatformError as exc:
            assert exc.platform == adapter.name
            assert value not in _exception_text(exc), "the error shows the spoiled item's value"
            return
        finally:
            harness.clear_faults()
        after = harness.spoiled_answers()
        if spoiled is not None and after == spoiled:
            pytest.fail(f"the {kind} fault found no item holding SPOILED_ITEM in any answer: override "
                        "harness.malformed_item_fault for your API's shape (or return None to say it has none)")
        pytest.fail(f"a page with one malformed item ({kind}) was accepted (fetch returned keys "
                    f"{sorted(snapshot.variables)}): the adapter must raise PlatformError, not drop or guess the item")

    def test_write_without_credentials_is_an_error(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"KEY": "value"})
        names = harness.credential_keys()
        exc = _expect_write_error(harness.make_adapter(), _without(harness.env(), names), "KEY", "changed",
                                  "a write without credentials")
        assert any(name in str(exc) for name in names)
        assert harness.stored() == {"KEY": "value"}

    def test_write_effects_are_typed(self, harness: PlatformHarness) -> None:
        adapter = harness.make_adapter()
        for key in ("KEY", "OTHER_KEY"):
            effect = adapter.write_effect(key)
            assert effect is None or isinstance(effect, WriteEffect), (
                f"write_effect({key!r}) must return a WriteEffect or None, not {type(effect).__name__}")

    def test_credential_check_is_typed_and_shows_no_token(self, harness: PlatformHarness) -> None:
        """``check_credentials`` (``genesis doctor``) returns a ``CredentialCheck`` or ``None`` (or raises
        ``PlatformError``); it passes with the harness's credentials and never shows a token."""
        adapter = harness.make_adapter()
        wrong_token = f"wrongtoken-{secrets.token_hex(12)}"
        good = harness.env()
        cases = {"the harness's credentials": good,
                 "a rejected token": {**good, **dict.fromkeys(harness.credential_keys(), wrong_token)},
                 "no credentials": _without(good, harness.credential_keys())}
        for what, env in cases.items():
            check = asyncio.run(_check_credentials(adapter, env))
            assert check is None or isinstance(check, (CredentialCheck, PlatformError)), (
                f"check_credentials with {what} must return a CredentialCheck or None, not {type(check).__name__}")
            text = _exception_text(check) if isinstance(check, PlatformError) else repr(check)
            for label, token in (("the token", harness.token), ("a rejected token", wrong_token)):
                assert token not in text, f"check_credentials with {what} shows {label}"
            if env is good:
                assert check is None or (isinstance(check, CredentialCheck) and check.ok), (
                    f"check_credentials fails with the harness's credentials: {text}")

    # -- change stamps --------------------------------------------------------------------
    def test_change_stamps_are_set_and_move_when_written(self, harness: PlatformHarness) -> None:
        """An adapter with ``stamps_changes`` stamps every variable, and a write moves the written one's stamp.

        Genesis records the stamp after writing a value it cannot read back and calls a later,
        different stamp "changed outside Genesis"; a stamp that does not move would hide such a
        change, one that moves on its own would invent it. Without ``stamps_changes`` every
        stamp must be ``None``.
        """
        harness.seed({"STAMPED": "before", "UNTOUCHED": "same"})
        adapter = harness.make_adapter()
        before = fetch_sync(adapter, harness.env()).variables
        if not adapter.stamps_changes:
            stamped = sorted(key for key, var in before.items() if var.stamp is not None)
            assert not stamped, (f"{', '.join(stamped)} carry a change stamp, but the adapter does not set "
                                 "stamps_changes: set it, or leave Variable.stamp None")
            return
        for key, var in before.items():
            assert isinstance(var.stamp, str) and var.stamp, f"{key}: stamps_changes is set but it has no stamp"
        again = fetch_sync(adapter, harness.env()).variables
        assert {k: v.stamp for k, v in again.items()} == {k: v.stamp for k, v in before.items()}, (
            "the stamps changed between two fetches with no write in between")
        if not harness.writable:
            return
        write_sync(adapter, harness.env(), "STAMPED", "after")
        after = fetch_sync(adapter, harness.env()).variables
        assert after["STAMPED"].stamp != before["STAMPED"].stamp, "a write did not move the written key's stamp"
        assert after["UNTOUCHED"].stamp == before["UNTOUCHED"].stamp, "a write moved another key's stamp"
        write_sync(adapter, harness.env(), "STAMPED_SECRET", "first", secret=True)
        first = fetch_sync(adapter, harness.env()).variables["STAMPED_SECRET"].stamp
        write_sync(adapter, harness.env(), "STAMPED_SECRET", "second", secret=True)
        second = fetch_sync(adapter, harness.env()).variables["STAMPED_SECRET"].stamp
        assert isinstance(first, str) and first and second != first, (
            "writing a secret again did not move its stamp")

    # -- batch writes ---------------------------------------------------------------------
    def _writes_sent(self, harness: PlatformHarness, since: int) -> list[dict[str, Any]]:
        sent = []
        for request in harness.requests()[since:]:
            try:
                values = harness.written_values(request)
            except NotImplementedError as exc:
                pytest.fail(str(exc))
            if values is not None:
                sent.append(values)
        return sent

    def test_batch_write_round_trips(self, harness: PlatformHarness) -> None:
        """Every writable adapter takes ``write_batch``: natively, or one ``write`` per key (the default).

        An adapter with ``supports_batch_write`` must send ONE request that writes, holding exactly
        the planned keys and values: no other key, no unchanged key, no ``null``.
        """
        self._require_writable(harness)
        seeded = {"SAME": "same", "CHANGE": "before", "KEEP": "keep"}
        harness.seed(seeded)
        writes = [VariableWrite("CHANGE", "after"), VariableWrite("ADDED", "added \u2713\nline two"),
                  VariableWrite("SECRET_ADDED", f"s3cret-{secrets.token_hex(6)}", secret=True)]
        planned = {w.key: w.value for w in writes}
        adapter = harness.make_adapter()
        before = len(harness.requests())
        write_batch_sync(adapter, harness.env(), writes)
        assert harness.stored() == {"SAME": "same", "KEEP": "keep", **planned}, (
            "write_batch must create or update exactly its keys and leave every other key alone")
        if harness.counts_requests:
            keys = set().union(*self._keys_sent(harness, before, seeded, planned))
            assert keys <= set(planned), (
                f"write_batch sent {', '.join(sorted(keys - set(planned)))} too: a batch must send only its keys")
        if adapter.supports_batch_write:
            sent = self._writes_sent(harness, before)
            assert len(sent) == 1, f"a batch write must be ONE request that writes, the adapter sent {len(sent)}"
            assert sent[0] == planned, (
                "a batch must hold exactly the planned keys and values: no other key, no unchanged key, no null "
                f"(it held the keys {sorted(sent[0])})")

    def test_empty_batch_sends_nothing(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"KEY": "value"})
        before = len(harness.requests())
        write_batch_sync(harness.make_adapter(), harness.env(), [])
        assert len(harness.requests()) == before, "an empty batch must send no request"

    def test_failed_batch_write_is_an_error_and_changes_nothing(self, harness: PlatformHarness) -> None:
        self._require_writable(harness)
        harness.seed({"KEY": "value"})
        before = harness.stored()
        harness.inject(_fault("status", status=500))
        adapter = harness.make_adapter(**harness.fast_failure_overrides)
        try:
            write_batch_sync(adapter, harness.env(), [VariableWrite("KEY", "changed"), VariableWrite("NEW", "n")])
        except PlatformError as exc:
            assert exc.platform == adapter.name
        else:
            pytest.fail("a batch write answered by HTTP 500 returned normally instead of raising PlatformError")
        harness.clear_faults()
        assert harness.stored() == before

    # -- no leaks ------------------------------------------------------------------------
    def test_no_token_or_value_leaks(self, harness: PlatformHarness, caplog: pytest.LogCaptureFixture,
                                     capfd: pytest.CaptureFixture[str]) -> None:
        for name in _LOGGERS:
            caplog.set_level(logging.DEBUG, logger=name or None)
        canary = f"canary-{secrets.token_hex(12)}"
        wrong_token = f"wrongtoken-{secrets.token_hex(12)}"
        planted = {"CANARY": canary, "PLAIN": "plain"}
        unreadable = []
        if harness.unreadable_supported:
            planted["HIDDEN_CANARY"] = f"{canary}-hidden"
            unreadable.append("HIDDEN_CANARY")
        harness.seed(planted, unreadable=unreadable)
        seen: list[str] = []

        adapter = harness.make_adapter()
        fast = harness.make_adapter(**harness.fast_failure_overrides)
        snapshot = fetch_sync(adapter, harness.env())
        assert snapshot.values()["CANARY"] == _expected(harness, {"CANARY": canary})["CANARY"]
        seen += [repr(adapter), str(adapter), repr(fast), repr(snapshot), str(snapshot),
                 repr(dict(snapshot.variables)), *(repr(v) for v in snapshot.variables.values()),
                 *(str(v) for v in snapshot.variables.values())]

        def failing(what: str, run: Any) -> None:
            try:
                run()
            except PlatformError as exc:
                seen.append(_exception_text(exc))
            else:
                pytest.fail(f"{what} did not raise PlatformError")

        wrong_env = harness.env()
        for name in harness.credential_keys():
            wrong_env[name] = wrong_token
        failing("a rejected token", lambda: fetch_sync(adapter, wrong_env))
        faults = [case.fault for case in FAULT_CASES if case.fault.kind not in ("timeout", "reset", "huge")]
        for fault in faults if harness.injects_faults else []:
            harness.inject(fault)
            failing(f"fault {fault}", lambda: fetch_sync(fast, harness.env()))
            harness.clear_faults()
        closed = harness.make_adapter(**{**harness.fast_failure_overrides,
                                         "base_url": f"http://127.0.0.1:{closed_port()}"})
        seen.append(repr(closed))
        failing("a closed port", lambda: fetch_sync(closed, harness.env()))
        failing("no credentials", lambda: fetch_sync(adapter, _without(harness.env(),
                                                                     harness.credential_keys())))
        if harness.writable:
            write_sync(adapter, harness.env(), "WRITTEN_CANARY", canary, secret=True)
            write_sync(adapter, harness.env(), "WRITTEN_PLAIN", canary)
            if harness.injects_faults:
                harness.inject(_fault("status", status=500))
                failing("a failed write", lambda: write_sync(fast, harness.env(), "WRITTEN_CANARY", canary, True))
                harness.clear_faults()
            failing("a write with a rejected token",
                    lambda: write_sync(adapter, wrong_env, "WRITTEN_CANARY", canary, True))

        out, err = capfd.readouterr()
        logged = [caplog.text]
        for record in caplog.records:
            logged.append(record.getMessage())
            logged.append(repr(record.args))
            if record.exc_info and record.exc_info[1] is not None:
                logged.append(_exception_text(record.exc_info[1]))
        places = {"exceptions and reprs": "\n".join(seen), "logs (DEBUG)": "\n".join(logged),
                  "stdout": out, "stderr": err}
        for where, text in places.items():
            for label, secret in (("the token", harness.token), ("a rejected token", wrong_token),
                                  ("a variable's value", canary)):
                assert secret not in text, f"{label} leaked into {where}"
