"""The contract kit: the suite passes for the example adapter and catches broken adapters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from genesis_core.config import Table
from genesis_core.errors import ConfigError, PlatformError
from genesis_core.platforms.model import InstanceConfig, PlatformKind
from genesis_core.testing.contract import (
    AdapterContract,
    PlatformHarness,
    closed_port,
    fetch_sync,
    run_fetch,
    run_write,
    write_sync,
)
from genesis_core.testing.example_adapter import ExampleAdapter, ExampleEmulator, ExampleHarness, make_kind


class TestExampleContract(AdapterContract):
    @pytest.fixture
    def harness(self) -> Iterator[ExampleHarness]:
        harness = ExampleHarness()
        harness.start()
        yield harness
        harness.stop()


class TestExampleContractWithOneSharedEmulator(AdapterContract):
    """A harness fixture with class scope works too: faults are cleared around each test."""

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[ExampleHarness]:
        harness = ExampleHarness()
        harness.start()
        yield harness
        harness.stop()


@pytest.fixture
def harness() -> Iterator[ExampleHarness]:
    harness = ExampleHarness()
    harness.start()
    yield harness
    harness.stop()


# -- helpers -------------------------------------------------------------------------------

def test_run_fetch_and_run_write_are_coroutines_that_close_their_client(harness: ExampleHarness) -> None:
    harness.seed({"A": "1"})
    adapter = harness.make_adapter()
    asyncio.run(run_write(adapter, harness.env(), "B", "2"))
    snapshot = asyncio.run(run_fetch(adapter, harness.env()))
    assert snapshot.values() == {"A": "1", "B": "2"}
    write_sync(adapter, harness.env(), "C", "3", secret=True)
    assert fetch_sync(adapter, harness.env()).variables["C"].value is None
    assert harness.stored()["C"] == "3"


def test_closed_port_refuses_connections() -> None:
    import socket

    port = closed_port()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_harness_requires_every_method() -> None:
    class Incomplete(PlatformHarness):
        kind = "x"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


# -- the example platform ------------------------------------------------------------------

def _instance(**table: object) -> InstanceConfig:
    data = {"kind": "example", "project": "demo", **table}
    return InstanceConfig("ex", "example", Table(data, "genesis.toml", "platforms.ex"), Path("."))


@pytest.mark.parametrize(("table", "message"), [
    ({"page_size": 101}, "genesis.toml: platforms.ex.page_size: must be at most 100, got 101"),
    ({"page_size": 0}, "genesis.toml: platforms.ex.page_size: must be at least 1, got 0"),
    ({"projcet": "typo"}, "genesis.toml: platforms.ex.projcet: unknown key"),
    ({"base_url": "ftp://x"}, "genesis.toml: platforms.ex.base_url: expected an http(s) URL"),
    ({"project": 3}, "genesis.toml: platforms.ex.project: expected a string, got an integer"),
])
def test_example_adapter_config_errors_name_file_and_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExampleAdapter(_instance(**table))
    assert str(info.value).startswith(message)


def test_example_kind_builds_adapters() -> None:
    kind = make_kind()
    assert isinstance(kind, PlatformKind)
    adapter = kind.factory(_instance())
    assert isinstance(adapter, ExampleAdapter)
    assert (kind.name, kind.credential_env, kind.supports_write) == ("example", "EXAMPLE_TOKEN", True)
    assert adapter.describe() == "example project demo"


def test_example_adapter_writes_one_key_and_never_the_bulk_replace(harness: ExampleHarness) -> None:
    harness.seed({"A": "1"})
    write_sync(harness.make_adapter(), harness.env(), "B/slash", "2")
    puts = [r for r in harness.requests() if r.method == "PUT"]
    assert [r.path for r in puts] == ["/v1/projects/demo/vars/B%2Fslash"]
    assert harness.stored() == {"A": "1", "B/slash": "2"}


def test_unknown_project_is_a_404_platform_error(harness: ExampleHarness) -> None:
    adapter = harness.make_adapter(project="nope")
    with pytest.raises(PlatformError) as info:
        fetch_sync(adapter, harness.env())
    assert info.value.status == 404
    assert str(info.value).startswith("example-test: not found (HTTP 404) (Not found): check example project nope")


def test_example_emulator_rejects_a_limit_over_100() -> None:
    import httpx

    with ExampleEmulator(token="t") as emulator:
        headers = {"Authorization": "Bearer t"}
        too_big = httpx.get(f"{emulator.base_url}/v1/projects/demo/vars", params={"limit": 101}, headers=headers)
        fine = httpx.get(f"{emulator.base_url}/v1/projects/demo/vars", params={"limit": 100}, headers=headers)
    assert too_big.status_code == 400
    assert fine.json() == {"vars": [], "next_cursor": None}


def test_example_emulator_bulk_put_replaces_everything() -> None:
    import httpx

    with ExampleEmulator(token="t") as emulator:
        emulator.set_variables("demo", {"A": "1", "B": "2"})
        response = httpx.put(f"{emulator.base_url}/v1/projects/demo/vars", json=[{"key": "C", "value": "3"}],
                             headers={"Authorization": "Bearer t"})
        assert response.status_code == 200
        assert emulator.variables("demo") == {"C": "3"}


def test_contract_module_explains_the_missing_testing_extra() -> None:
    code = ("import sys; sys.modules['pytest'] = None\n"
            "try:\n    import genesis_core.testing.contract\n"
            "except ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'genesis-envsync[testing]'" in out


# -- the suite catches broken adapters ---------------------------------------------------

BROKEN_MODULE = '''
from __future__ import annotations

import logging

import attrs
import pytest

from genesis_core.api import CredentialCheck, PlatformError, RetryPolicy, Snapshot
from genesis_core.testing import AdapterContract, ExampleAdapter, ExampleHarness


class EmptyOnError(ExampleAdapter):
    async def fetch(self, ctx):
        try:
            return await super().fetch(ctx)
        except Exception:
            return Snapshot(self.name, self.kind, {})


class FirstPageOnly(ExampleAdapter):
    def _parse_page(self, data):
        items, _ = super()._parse_page(data)
        return items, None


class LeaksToken(ExampleAdapter):
    async def fetch(self, ctx):
        try:
            return await super().fetch(ctx)
        except PlatformError as exc:
            raise PlatformError(self.name, f"{exc.reason} (token {self.token(ctx)})") from None


class LogsValues(ExampleAdapter):
    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        logging.getLogger("acme.adapter").debug("fetched %s", snapshot.values())
        return snapshot


class PrintsValues(ExampleAdapter):
    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        print(snapshot.values())
        return snapshot


class NoRetries(ExampleAdapter):
    def retry_policy(self):
        return RetryPolicy(attempts=1)


class LenientShape(ExampleAdapter):
    def _parse_page(self, data):
        if not isinstance(data, dict):
            return [], None
        return super()._parse_page(data)


class StripsValues(ExampleAdapter):
    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        return Snapshot.from_values(self.name, self.kind,
                                    {k: v if v is None else v.strip() for k, v in snapshot.values().items()},
                                    secret_keys=snapshot.secret_keys())


class UnreadableAsEmpty(ExampleAdapter):
    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        return Snapshot.from_values(self.name, self.kind, {k: v or "" for k, v in snapshot.values().items()})


class ReplacesAll(ExampleAdapter):
    async def write(self, ctx, key, value, *, secret):
        await self.request(ctx, "PUT", self._vars_path(),
                           json_body=[{"key": key, "value": value, "secret": secret}])


class StampsThatNeverMove(ExampleAdapter):
    stamps_changes = True

    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        return Snapshot(self.name, self.kind, {k: attrs.evolve(v, stamp="2026-01-01T00:00:00Z")
                                               for k, v in snapshot.variables.items()})


class StampsWithoutSaying(ExampleAdapter):
    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        return Snapshot(self.name, self.kind, {k: attrs.evolve(v, stamp=str(len(v.key)))
                                               for k, v in snapshot.variables.items()})


class RewritesEveryKey(ExampleAdapter):
    """Issue 19 item 11: a read-modify-write that sends every readable key again (the end state is right)."""

    async def write(self, ctx, key, value, *, secret):
        snapshot = await self.fetch(ctx)
        for other, var in snapshot.variables.items():
            if other != key and var.value is not None:
                await super().write(ctx, other, var.value, secret=var.secret)
        await super().write(ctx, key, value, secret=secret)


class RejectedWriteIsDone(ExampleAdapter):
    """Issue 19 item 12: a write answered 400/403/404/409/422 returns as if it had worked (401 still fails)."""

    async def write(self, ctx, key, value, *, secret):
        path = f"{self._vars_path()}/{key}"
        await self.request(ctx, "PUT", path, json_body={"value": value, "secret": secret},
                           ok=(200, 201, 400, 403, 404, 409, 422))


class UpperCasesKeys(ExampleAdapter):
    """Issue 19 item 13: every key is upper-cased on the way in and out."""

    async def fetch(self, ctx):
        snapshot = await super().fetch(ctx)
        return Snapshot(self.name, self.kind, {k.upper(): attrs.evolve(v, key=k.upper())
                                               for k, v in snapshot.variables.items()})

    async def write(self, ctx, key, value, *, secret):
        await super().write(ctx, key.upper(), value, secret=secret)


class DropsMalformedItems(ExampleAdapter):
    """Issue 19 item 14: an item without a key, or with a value that is not a string, is skipped."""

    def _parse_page(self, data):
        if isinstance(data, dict) and isinstance(data.get("vars"), list):
            data = {**data, "vars": [item for item in data["vars"] if isinstance(item, dict)
                                     and isinstance(item.get("key"), str)
                                     and (item.get("value") is None or isinstance(item.get("value"), str))]}
        return super()._parse_page(data)


class ReadOnly(ExampleAdapter):
    supports_write = False

    async def write(self, ctx, key, value, *, secret):
        raise PlatformError(self.name, "read-only")


class ReadOnlyHarness(ExampleHarness):
    writable = False
    unreadable_supported = False
    page_size = None


def harness_for(adapter_class, harness_class=ExampleHarness):
    @pytest.fixture
    def harness(self):
        harness = harness_class(adapter_class)
        harness.start()
        yield harness
        harness.stop()
    return harness


class TestEmptyOnError(AdapterContract):
    harness = harness_for(EmptyOnError)


class TestFirstPageOnly(AdapterContract):
    harness = harness_for(FirstPageOnly)


class TestLeaksToken(AdapterContract):
    harness = harness_for(LeaksToken)


class TestLogsValues(AdapterContract):
    harness = harness_for(LogsValues)


class TestPrintsValues(AdapterContract):
    harness = harness_for(PrintsValues)


class TestNoRetries(AdapterContract):
    harness = harness_for(NoRetries)


class TestLenientShape(AdapterContract):
    harness = harness_for(LenientShape)


class TestStripsValues(AdapterContract):
    harness = harness_for(StripsValues)


class TestUnreadableAsEmpty(AdapterContract):
    harness = harness_for(UnreadableAsEmpty)


class TestReplacesAll(AdapterContract):
    harness = harness_for(ReplacesAll)


class TestReadOnly(AdapterContract):
    harness = harness_for(ReadOnly, ReadOnlyHarness)


class TestRewritesEveryKey(AdapterContract):
    harness = harness_for(RewritesEveryKey)


class TestRejectedWriteIsDone(AdapterContract):
    harness = harness_for(RejectedWriteIsDone)


class TestUpperCasesKeys(AdapterContract):
    harness = harness_for(UpperCasesKeys)


class TestDropsMalformedItems(AdapterContract):
    harness = harness_for(DropsMalformedItems)


class WritesSecretsInClear(ExampleAdapter):
    """Says its platform keeps secrets apart, but writes every key as a plain variable."""

    async def write(self, ctx, key, value, *, secret):
        await super().write(ctx, key, value, secret=False)


class TestWritesSecretsInClear(AdapterContract):
    harness = harness_for(WritesSecretsInClear)


class TestStampsThatNeverMove(AdapterContract):
    harness = harness_for(StampsThatNeverMove)


class TestStampsWithoutSaying(AdapterContract):
    harness = harness_for(StampsWithoutSaying)


class CredentialCheckShowsToken(ExampleAdapter):
    async def check_credentials(self, ctx):
        return CredentialCheck(True, f"token {self.token(ctx)} is set")


class CredentialCheckAsTuple(ExampleAdapter):
    async def check_credentials(self, ctx):
        return True, "token is set", ""  # the untyped form doctor once accepted


class TestCredentialCheckShowsToken(AdapterContract):
    harness = harness_for(CredentialCheckShowsToken)


class TestCredentialCheckAsTuple(AdapterContract):
    harness = harness_for(CredentialCheckAsTuple)
'''

FETCH = "test_fetch_returns_exactly_the_seeded_variables"
PAGES = "test_pagination_at_page_boundaries"
LEAKS = "test_no_token_or_value_leaks"
STAMPS = "test_change_stamps_are_set_and_move_when_written"

FAULT = "test_a_fault_is_one_clear_error_after_the_right_attempts"
SURGICAL = "test_a_write_sends_only_its_key_and_changes_nothing_else"
REJECTED = "test_a_rejected_write_is_an_error_and_changes_nothing"
CASE = "test_keys_keep_their_case"
MALFORMED = "test_one_malformed_item_in_a_valid_page_is_an_error"
CREDENTIALS = "test_credential_check_is_typed_and_shows_no_token"

#: broken variant -> (tests that must fail, tests that must still pass)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "TestEmptyOnError": (
        [f"{FAULT}[{case}]" for case in ("401", "404", "500", "502-html", "429", "timeout", "reset",
                                         "malformed-json", "wrong-shape")]
        + ["test_closed_port_is_an_error", "test_missing_credentials_is_an_error_naming_the_variable",
           "test_wrong_token_is_an_error_naming_the_credential"],
        [FETCH, "test_empty_platform_gives_an_empty_snapshot"]),
    "TestFirstPageOnly": (
        [f"{PAGES}[page_size+1]", f"{PAGES}[2*page_size+1]", FETCH],
        [f"{PAGES}[page_size-1]", f"{PAGES}[page_size]"]),
    "TestLeaksToken": ([LEAKS], [FETCH, "test_wrong_token_is_an_error_naming_the_credential"]),
    "TestLogsValues": ([LEAKS], [FETCH]),
    "TestPrintsValues": ([LEAKS], [FETCH]),
    "TestNoRetries": (
        [f"{FAULT}[{case}]" for case in ("500", "503", "502-html", "429", "timeout", "reset")]
        + ["test_one_server_error_is_retried", "test_rate_limit_with_retry_after_is_waited_out"],
        [FETCH, f"{FAULT}[403]", f"{FAULT}[malformed-json]", f"{FAULT}[huge]"]),
    "TestLenientShape": ([f"{FAULT}[wrong-shape]"], [f"{FAULT}[malformed-json]"]),
    "TestStripsValues": ([FETCH], [f"{PAGES}[page_size]"]),
    "TestUnreadableAsEmpty": (["test_unreadable_values_are_present_as_none_and_secret"], [FETCH]),
    "TestReplacesAll": (["test_write_of_a_new_key_leaves_every_other_key_unchanged",
                         "test_write_updates_an_existing_key"],
                        ["test_write_round_trips"]),
    "TestReadOnly": (["test_registered_kind_agrees_with_the_adapter"], ["test_harness_describes_the_adapter"]),
    "TestStampsThatNeverMove": ([STAMPS], [FETCH, "test_write_round_trips"]),
    "TestStampsWithoutSaying": ([STAMPS], [FETCH]),
    # issue 19 items 11-14: adapters broken on purpose that the kit used to pass whole
    "TestRewritesEveryKey": ([SURGICAL, "test_batch_write_round_trips"],
                             ["test_write_of_a_new_key_leaves_every_other_key_unchanged",
                              "test_write_updates_an_existing_key", FETCH]),
    "TestRejectedWriteIsDone": ([f"{REJECTED}[{status}]" for status in ("400", "403", "404", "409", "422")],
                                [f"{REJECTED}[401]", "test_failed_write_is_an_error_and_changes_nothing",
                                 "test_write_round_trips"]),
    "TestUpperCasesKeys": ([CASE], [FETCH, "test_write_round_trips", SURGICAL]),
    "TestDropsMalformedItems": ([f"{MALFORMED}[item-without-name]", f"{MALFORMED}[non-string-value]"],
                                [FETCH, f"{FAULT}[wrong-shape]"]),
    "TestCredentialCheckShowsToken": ([CREDENTIALS], [FETCH, LEAKS]),
    "TestWritesSecretsInClear": (["test_secret_write_round_trips"], [FETCH, "test_write_round_trips"]),
    "TestCredentialCheckAsTuple": ([CREDENTIALS], [FETCH]),
}

#: tests a read-only, unpaginated harness without unreadable values must skip, with this reason
EXPECTED_SKIPS = {
    "test_write_round_trips": "does not support writes",
    "test_failed_write_is_an_error_and_changes_nothing": "does not support writes",
    SURGICAL: "does not support writes",
    f"{REJECTED}[400]": "does not support writes",
    f"{PAGES}[page_size]": "sets no page_size",
    "test_unreadable_values_are_present_as_none_and_secret": "no unreadable values",
}


@pytest.fixture(scope="module")
def broken_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Run the contract against every broken variant; return ``{class::test: (outcome, message)}``."""
    directory = tmp_path_factory.mktemp("broken")
    (directory / "test_broken.py").write_text(textwrap.dedent(BROKEN_MODULE))
    node_ids = [f"test_broken.py::{cls}::{name}" for cls, (fail, ok) in EXPECTED.items() for name in fail + ok]
    node_ids += [f"test_broken.py::TestReadOnly::{name}" for name in EXPECTED_SKIPS]
    report = directory / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                    f"--junitxml={report}", "--rootdir", str(directory), *node_ids],
                   cwd=directory, capture_output=True, text=True, timeout=240)
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome, message = tag, element.get("message", "")
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        results[f"{cls}::{case.get('name')}"] = (outcome, message)
    assert len(results) == len(node_ids), "every selected contract test must have run"
    return results


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_contract_catches_a_broken_adapter(broken_results: dict[str, tuple[str, str]], variant: str) -> None:
    must_fail, must_pass = EXPECTED[variant]
    for name in must_fail:
        assert broken_results[f"{variant}::{name}"][0] == "failure", f"{variant} should fail {name}"
    for name in must_pass:
        assert broken_results[f"{variant}::{name}"][0] == "passed", f"{variant} should still pass {name}"


def test_contract_explains_how_a_broken_adapter_failed(broken_results: dict[str, tuple[str, str]]) -> None:
    assert "instead of raising PlatformError" in broken_results[f"TestEmptyOnError::{FAULT}[500]"][1]
    assert "the adapter sent 1 requests, expected 3 (retried, retries = 2)" in broken_results[
        f"TestNoRetries::{FAULT}[reset]"][1]
    assert "the registered kind says supports_write=True, the adapter False" in broken_results[
        "TestReadOnly::test_registered_kind_agrees_with_the_adapter"][1]
    assert "the token leaked into exceptions and reprs" in broken_results[f"TestLeaksToken::{LEAKS}"][1]
    assert "a variable's value leaked into logs (DEBUG)" in broken_results[f"TestLogsValues::{LEAKS}"][1]
    assert "a variable's value leaked into stdout" in broken_results[f"TestPrintsValues::{LEAKS}"][1]
    assert "never replace the platform's whole variable set" in broken_results[
        "TestReplacesAll::test_write_of_a_new_key_leaves_every_other_key_unchanged"][1]
    assert "a write did not move the written key's stamp" in broken_results[f"TestStampsThatNeverMove::{STAMPS}"][1]
    assert "but the adapter does not set stamps_changes" in broken_results[f"TestStampsWithoutSaying::{STAMPS}"][1]
    assert "writing ADDED_KEY sent KEEP_ALPHA, KEEP_BRAVO, KEEP_CHARLIE, UPDATE_ME too" in broken_results[
        f"TestRewritesEveryKey::{SURGICAL}"][1]
    assert "write_batch sent KEEP, SAME too" in broken_results["TestRewritesEveryKey::test_batch_write_round_trips"][1]
    assert "answered HTTP 409 returned normally instead of raising PlatformError" in broken_results[
        f"TestRejectedWriteIsDone::{REJECTED}[409]"][1]
    assert "fetch changed the case of keys" in broken_results[f"TestUpperCasesKeys::{CASE}"][1]
    assert "check_credentials with the harness's credentials shows the token" in broken_results[
        f"TestCredentialCheckShowsToken::{CREDENTIALS}"][1]
    assert "must return a CredentialCheck or None, not tuple" in broken_results[
        f"TestCredentialCheckAsTuple::{CREDENTIALS}"][1]
    for kind in ("item_without_name", "non_string_value"):
        assert f"a page with one malformed item ({kind}) was accepted" in broken_results[
            f"TestDropsMalformedItems::{MALFORMED}[{kind.replace('_', '-')}]"][1]


def test_contract_skips_what_a_harness_does_not_support_with_a_reason(
        broken_results: dict[str, tuple[str, str]]) -> None:
    for name, reason in EXPECTED_SKIPS.items():
        outcome, message = broken_results[f"TestReadOnly::{name}"]
        assert outcome == "skipped" and reason in message, (name, outcome, message)


# -- the transport contract catches broken transports -------------------------------------

BROKEN_TRANSPORTS = '''
from __future__ import annotations

import pytest

from genesis_core.api import Envelope, MemoryTransport
from genesis_core.testing import TransportContract, TransportHarness


class StoresEveryId(MemoryTransport):
    def _store(self, topic, payload, event_id, timestamp, source):
        return super()._store(topic, payload, f"{event_id}-{self._seq}", timestamp, source)

    append_now = _store


class LimitKeepsOldest(MemoryTransport):
    def history(self, *, limit=None, topic=None, after_seq=None):
        events = super().history(topic=topic, after_seq=after_seq)
        return events if limit is None else events[:limit]


class AsciiPayloads(MemoryTransport):
    def _store(self, topic, payload, event_id, timestamp, source):
        flat = {k: v.encode("ascii", "replace").decode() if isinstance(v, str) else v for k, v in payload.items()}
        return super()._store(topic, flat, event_id, timestamp, source)

    append_now = _store


def harness_for(transport_class):
    class Harness(TransportHarness):
        name = "memory"
        durable = False
        shared = False

        def open(self):
            return transport_class()

    @pytest.fixture
    def harness(self):
        yield Harness()
    return harness


class TestStoresEveryId(TransportContract):
    harness = harness_for(StoresEveryId)


class TestLimitKeepsOldest(TransportContract):
    harness = harness_for(LimitKeepsOldest)


class TestAsciiPayloads(TransportContract):
    harness = harness_for(AsciiPayloads)
'''

ORDER = "test_appends_get_strictly_increasing_sequences_in_order"
#: broken transport -> (tests that must fail, tests that must still pass)
EXPECTED_TRANSPORT = {
    "TestStoresEveryId": (["test_an_event_id_is_stored_once"], [ORDER, "test_history_limits_and_filters"]),
    "TestLimitKeepsOldest": (["test_history_limits_and_filters"], [ORDER, "test_an_event_id_is_stored_once"]),
    "TestAsciiPayloads": (["test_a_payload_round_trips_unchanged"], [ORDER, "test_stats_count_events_per_topic"]),
}


def test_transport_contract_catches_broken_transports(tmp_path: Path) -> None:
    (tmp_path / "test_broken_transports.py").write_text(textwrap.dedent(BROKEN_TRANSPORTS))
    node_ids = [f"test_broken_transports.py::{cls}::{name}"
                for cls, (fail, ok) in EXPECTED_TRANSPORT.items() for name in fail + ok]
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                    f"--junitxml={report}", "--rootdir", str(tmp_path), *node_ids],
                   cwd=tmp_path, capture_output=True, text=True, timeout=240)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"] = (
            "failure" if failed else "skipped" if case.find("skipped") is not None else "passed")
    assert len(outcomes) == len(node_ids)
    for variant, (must_fail, must_pass) in EXPECTED_TRANSPORT.items():
        for name in must_fail:
            assert outcomes[f"{variant}::{name}"] == "failure", f"{variant} should fail {name}"
        for name in must_pass:
            assert outcomes[f"{variant}::{name}"] == "passed", f"{variant} should still pass {name}"


def test_instant_retries_records_the_waits_and_restores_the_real_sleep(
        harness: ExampleHarness, instant_retries: list[float]) -> None:
    import genesis_core.http as http
    from genesis_core.testing import Fault

    assert http._retry_sleep is not asyncio.sleep
    harness.seed({"A": "1"})
    harness.inject(Fault("rate_limit", status=429, retry_after="7", times=2))
    assert fetch_sync(harness.make_adapter(), harness.env()).values() == {"A": "1"}
    assert instant_retries == [7.0, 7.0]


def test_instant_retries_is_undone_after_the_test() -> None:
    import genesis_core.http as http

    assert http._retry_sleep is asyncio.sleep


#: Whether each first-party platform keeps the case of names (issue 19 item 13).
CASE_SENSITIVE = {"dotenv": True, "render": True, "heroku": True, "netlify": True, "vercel": True, "railway": True,
                  "fly": True, "aws-ssm": True, "aws-secrets-manager": True, "vault": True,
                  "github": False}  # GitHub stores secret and variable names upper-cased


def test_first_party_kinds_say_whether_names_keep_their_case() -> None:
    from genesis_core.plugins import build_plugin_host

    kinds = build_plugin_host().platform_kinds()
    assert {name: kinds[name].case_sensitive for name in CASE_SENSITIVE if name in kinds} == {
        name: value for name, value in CASE_SENSITIVE.items() if name in kinds}
    assert set(CASE_SENSITIVE) <= set(kinds), "every first-party plugin is installed in the test environment"
    assert PlatformKind("x", ExampleAdapter).case_sensitive is True, "a kind keeps the case of names by default"


@pytest.mark.parametrize(("body", "kind", "spoiled"), [
    ({"vars": [{"key": "A", "value": "1"}, {"key": "T", "value": "v"}]}, "item_without_name",
     {"vars": [{"key": "A", "value": "1"}, {"value": "v"}]}),
    ({"vars": [{"key": "T", "value": "v"}]}, "non_string_value", {"vars": [{"key": "T", "value": 12345}]}),
    ({"A": "1", "T": "v"}, "item_without_name", {"A": "1", "": "v"}),
    ({"Parameters": [{"Name": "/app/T", "Value": "v"}]}, "item_without_name", {"Parameters": [{"Value": "v"}]}),
    ({"SecretString": '{"T": "v"}'}, "non_string_value", {"SecretString": '{"T": 12345}'}),
    ({"vars": [{"key": "OTHER", "value": "v2"}]}, "item_without_name", None),
])
def test_spoil_item_finds_the_item_in_each_shape(body: object, kind: str, spoiled: object) -> None:
    from genesis_core.testing import Fault, Response, spoil_item

    result = spoil_item(Response(200, body), Fault(kind, target="T", value="v"))
    assert (None if result is None else result.body) == spoiled
    raw = spoil_item(Response(200, raw=json.dumps(body).encode(), content_type="text/html"),
                     Fault(kind, target="T", value="v"))
    assert (None if raw is None else raw.body) == spoiled, "a relayed answer is JSON whatever its Content-Type"


def test_write_faults_spare_reads(harness: ExampleHarness) -> None:
    from genesis_core.testing import WRITE_FAULT_CASES

    harness.seed({"A": "1"})
    harness.inject(WRITE_FAULT_CASES[0].fault)
    adapter = harness.make_adapter()
    assert fetch_sync(adapter, harness.env()).values() == {"A": "1"}
    with pytest.raises(PlatformError, match="HTTP 400"):
        write_sync(adapter, harness.env(), "A", "2")
