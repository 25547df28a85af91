"""The contract kit's batch checks catch a Heroku adapter that sends a null, an unchanged key or a key at a time.

Each broken adapter below does something the real Heroku API would punish: a ``null``
deletes a key, an unchanged key restarts the app for nothing, a PATCH per key is a release
per key. The contract kit's batch tests must fail against each of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from genesis_core.api import FetchContext, VariableWrite
from genesis_core.testing import AdapterContract
from genesis_heroku.adapter import HerokuAdapter
from genesis_heroku.testing import HerokuHarness, make_adapter


class SendsNullForOtherKeys(HerokuAdapter):
    """Treats the batch as the whole set: every other key is sent as null (Heroku deletes them)."""

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        config = await self.config_vars(ctx)
        body: dict[str, Any] = dict.fromkeys(config)
        body.update({w.key: w.value for w in writes})
        await self.request(ctx, "PATCH", f"/apps/{self.app}/config-vars", json_body=body)


class SendsTheWholeConfig(HerokuAdapter):
    """Sends every current key with the changes on top: unchanged keys ride along."""

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        if not writes:
            return
        body = {**await self.config_vars(ctx), **{w.key: w.value for w in writes}}
        await self.request(ctx, "PATCH", f"/apps/{self.app}/config-vars", json_body=body)


class OnePatchPerKey(HerokuAdapter):
    """Writes a batch key by key: one release (and restart) per key."""

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        for w in writes:
            await self.request(ctx, "PATCH", f"/apps/{self.app}/config-vars", json_body={w.key: w.value})


class BrokenHarness(HerokuHarness):
    def __init__(self, adapter_class: type[HerokuAdapter]) -> None:
        super().__init__()
        self.adapter_class = adapter_class

    def make_adapter(self, **table_overrides: Any) -> HerokuAdapter:
        good = make_adapter(self.emulator, **table_overrides)
        return self.adapter_class(good.instance)


@pytest.fixture(params=[SendsNullForOtherKeys, SendsTheWholeConfig, OnePatchPerKey])
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenHarness]:
    harness = BrokenHarness(request.param)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


def test_the_batch_contract_fails_for_each_broken_adapter(broken: BrokenHarness) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)) as caught:
        AdapterContract().test_batch_write_round_trips(broken)
    assert "batch" in str(caught.value)


def test_the_null_sending_adapter_really_deletes_on_the_emulator() -> None:
    harness = BrokenHarness(SendsNullForOtherKeys)
    harness.start()
    try:
        harness.seed({"KEEP": "k"})
        from genesis_core.testing import write_batch_sync

        write_batch_sync(harness.make_adapter(), harness.env(), [VariableWrite("NEW", "n")])
        assert harness.stored() == {"NEW": "n"}  # KEEP is gone: what the contract protects against
    finally:
        harness.stop()


def test_the_real_adapter_passes_the_same_check() -> None:
    harness = HerokuHarness()
    harness.start()
    try:
        AdapterContract().test_batch_write_round_trips(harness)
    finally:
        harness.stop()
