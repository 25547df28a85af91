"""The additive parts of the platform model for PaaS adapters: managed variables, write effects,
batch writes (with the one-key fallback every adapter gets), and rate limits that say nothing
about when to retry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from genesis_core.errors import PlatformError
from genesis_core.http import Endpoint, RetryPolicy, default_client, request
from genesis_core.platforms import (
    REDEPLOY,
    RESTART,
    STAGED,
    FetchContext,
    PlatformAdapter,
    Snapshot,
    Variable,
    VariableWrite,
    WriteEffect,
)
from genesis_core.testing.contract import write_batch_sync
from genesis_core.testing.emulator import EmulatorServer, Response
from genesis_core.testing.example_adapter import ExampleHarness

SECRET = "s3cret-value-9c1d"


def test_managed_variable_is_readable_but_not_writable_and_its_repr_hides_the_value() -> None:
    var = Variable("DATABASE_URL", SECRET, managed="set by the add-on heroku-postgresql")
    assert var.readable and not var.writable
    assert SECRET not in repr(var) and "managed=True" in repr(var)
    assert Variable("PLAIN", "x").writable
    assert "managed" not in repr(Variable("PLAIN", "x"))


def test_snapshot_from_values_marks_managed_keys() -> None:
    snapshot = Snapshot.from_values("heroku", "heroku", {"DATABASE_URL": SECRET, "PORT": "80"},
                                    managed={"DATABASE_URL": "add-on"})
    assert snapshot.managed_keys() == {"DATABASE_URL": "add-on"}
    assert snapshot.variables["PORT"].managed is None


def test_variable_write_repr_hides_the_value() -> None:
    write = VariableWrite("API_KEY", SECRET, secret=True)
    assert SECRET not in repr(write) and SECRET not in str(write)


def test_write_effect_kinds_are_checked() -> None:
    assert {RESTART, STAGED, REDEPLOY} == {"restart", "staged", "redeploy"}
    assert WriteEffect(STAGED, "staged: effective at the next deploy").note.startswith("staged")
    with pytest.raises(ValueError):
        WriteEffect("reboot", "not a kind")


class _Recorder(PlatformAdapter):
    """An adapter without a batch write of its own: it records each one-key write."""

    kind = "recorder"
    supports_write = True

    def __init__(self, fail_on: str | None = None) -> None:
        self.name = "rec"
        self.calls: list[tuple[str, str, bool]] = []
        self.fail_on = fail_on

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        return Snapshot.from_values(self.name, self.kind, {})

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        if key == self.fail_on:
            raise PlatformError(self.name, f"refused {key}")
        self.calls.append((key, value, secret))


def test_default_batch_write_falls_back_to_one_write_per_key_in_order() -> None:
    adapter = _Recorder()
    assert adapter.supports_batch_write is False and adapter.write_effect("A") is None
    asyncio.run(adapter.write_batch(FetchContext(env={}), [VariableWrite("B", "2"), VariableWrite("A", "1", True)]))
    assert adapter.calls == [("B", "2", False), ("A", "1", True)]


def test_default_batch_write_stops_at_the_first_failure() -> None:
    adapter = _Recorder(fail_on="B")
    with pytest.raises(PlatformError, match="refused B"):
        asyncio.run(adapter.write_batch(FetchContext(env={}), [VariableWrite(k, k) for k in "ABC"]))
    assert [c[0] for c in adapter.calls] == ["A"]


def test_default_batch_write_through_a_real_adapter_keeps_every_other_key() -> None:
    harness = ExampleHarness()
    harness.start()
    try:
        harness.seed({"KEEP": "k", "CHANGE": "old"})
        write_batch_sync(harness.make_adapter(), harness.env(),
                         [VariableWrite("CHANGE", "new"), VariableWrite("ADDED", "a")])
        assert harness.stored() == {"KEEP": "k", "CHANGE": "new", "ADDED": "a"}
    finally:
        harness.stop()


# -- a 429 that does not say when to retry ---------------------------------------------------

class _HintlessLimit(EmulatorServer):
    """Answers 429 with only ``RateLimit-Remaining: 0`` (Heroku) ``limited`` times, then 200."""

    def __init__(self, limited: int, **kwargs: Any) -> None:
        self.limited = limited
        super().__init__(**kwargs)

    def register_routes(self) -> None:
        def answer(req: Any, match: Any) -> Response:
            if self.limited > 0:
                self.limited -= 1
                return Response(429, {"id": "rate_limit", "message": "Your account reached the API rate limit"},
                                headers={"RateLimit-Remaining": "0"})
            return Response(200, {"ok": True}, headers={"RateLimit-Remaining": "4499"})
        self.route("GET", "/config", answer)


@pytest.fixture
def hintless() -> Iterator[_HintlessLimit]:
    with _HintlessLimit(3, token="tok") as server:
        yield server


def _delays(server: _HintlessLimit, policy: RetryPolicy) -> tuple[int, list[float]]:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    async def main() -> int:
        async with default_client() as client:
            response, _ = await request(client, Endpoint("heroku", "HEROKU_API_KEY"), "GET",
                                        f"{server.base_url}/config", headers={"Authorization": "Bearer tok"},
                                        retry=policy, sleep=sleep)
            return response.status_code

    return asyncio.run(main()), delays


def test_hintless_429_backs_off_exponentially_when_the_policy_asks(hintless: _HintlessLimit) -> None:
    policy = RetryPolicy(attempts=4, rate_limit_backoff=True)
    status, delays = _delays(hintless, policy)
    assert status == 200
    assert len(delays) == 3
    for attempt, delay in enumerate(delays, start=1):  # backoff(n) is base * 2**(n-1), jittered to 50-100 %
        full = policy.backoff_base * 2 ** (attempt - 1)
        assert full / 2 <= delay <= full


def test_hintless_429_waits_one_second_by_default(hintless: _HintlessLimit) -> None:
    status, delays = _delays(hintless, RetryPolicy(attempts=4))
    assert (status, delays) == (200, [1.0, 1.0, 1.0])


def test_a_retry_after_still_wins_over_backoff() -> None:
    class WithRetryAfter(_HintlessLimit):
        def register_routes(self) -> None:
            def answer(req: Any, match: Any) -> Response:
                if self.limited > 0:
                    self.limited -= 1
                    return Response(429, {}, headers={"Retry-After": "4"})
                return Response(200, {})
            self.route("GET", "/config", answer)

    with WithRetryAfter(1, token="tok") as server:
        _, delays = _delays(server, RetryPolicy(attempts=3, rate_limit_backoff=True))
    assert delays == [4.0]


def test_project_access_token_header_is_scrubbed_from_error_details() -> None:
    class Echo(EmulatorServer):
        def authorized(self, req: Any) -> bool:
            return True

        def register_routes(self) -> None:
            self.route("POST", "/graphql", lambda req, m: Response(
                400, {"message": f"bad token {req.headers.get('project-access-token')}"}))

    token = "railway-project-token-5e6f7a8b"

    async def main(url: str) -> PlatformError:
        async with default_client() as client:
            with pytest.raises(PlatformError) as info:
                await request(client, Endpoint("railway", "RAILWAY_TOKEN"), "POST", url,
                              headers={"Project-Access-Token": token}, json_body={}, retry=RetryPolicy(attempts=1))
            return info.value

    with Echo() as server:
        error = asyncio.run(main(f"{server.base_url}/graphql"))
    assert token not in str(error)



def test_a_fetch_context_keeps_one_extra_client_per_key_and_closes_them_all() -> None:
    """``FetchContext.client``: an adapter's own client (another CA) is made once per run, closed with it."""
    import httpx

    from genesis_core.api import FetchContext

    async def run() -> None:
        ctx = FetchContext(env={})
        made: list[httpx.AsyncClient] = []

        def make() -> httpx.AsyncClient:
            made.append(httpx.AsyncClient())
            return made[-1]

        first = ctx.client(("acme", "/ca.pem"), make)
        assert ctx.client(("acme", "/ca.pem"), make) is first
        other = ctx.client(("acme", "/other.pem"), make)
        shared = ctx.http
        assert len(made) == 2 and other is not first and shared not in made
        await ctx.aclose()
        assert first.is_closed and other.is_closed and shared.is_closed
        assert ctx.client(("acme", "/ca.pem"), make) is not first  # a closed run starts afresh
        await ctx.aclose()

    asyncio.run(run())
