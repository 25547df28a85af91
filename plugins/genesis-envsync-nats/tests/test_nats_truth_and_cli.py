"""Truth fed from the stream by ``genesis worker``, and the CLI (sync, events, nats) on NATS."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

Ledger = pytest.importorskip("genesis_truth.ledger", reason="needs genesis-envsync-truth installed").Ledger

pytestmark = pytest.mark.nats  # each test starts its own nats-server (see conftest.py)


def drift(count: int, start: int = 0) -> list[tuple[str, dict[str, Any]]]:
    return [("envsync.drift", {"has_drift": True, "missing_in_github": [f"KEY_{i}"]})
            for i in range(start, start + count)]


def delete_consumer(url: str, durable: str) -> None:
    import nats

    async def run() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_consumer("GENESIS", durable)
        finally:
            await nc.close()

    asyncio.run(run())


def test_truth_ledger_stays_consistent_when_fed_from_the_stream(
        kit: Any, nats_server: Any, tmp_path: Path, _isolated_env: Path) -> None:
    project = tmp_path / "project"
    # Disabled for processes sharing this configuration; the worker runs it when named.
    kit.write_config(project, nats_server.url,
                     engines={"truth": {"fsync": False, "enabled": False}})
    events = drift(12) + [("envsync.init", {"instances": ["a", "b"]})] + drift(8, start=12)
    results = kit.publish_events(nats_server.url, tmp_path / "pub", events)
    drift_seqs = [r.seq for r in results if r.envelope.topic == "envsync.drift"]

    done = kit.genesis(["worker", "--engines", "truth", "--until-idle"], cwd=project,
                       home=_isolated_env)
    assert done.returncode == 0, done.stderr
    assert "running truth although [engines.truth] enabled = false" in done.stderr
    ledger = Ledger(_isolated_env)
    verdict = ledger.verify()
    assert verdict.ok, verdict.describe()
    assert verdict.entries == 20
    assert [entry.event_id for entry in ledger.entries()] == drift_seqs  # stream order, no init

    # Lose the durable (as if its state were gone): every event is delivered again, plus new
    # ones.  Truth is idempotent on _genesis_seq, so nothing is recorded twice.
    delete_consumer(nats_server.url, "genesis-truth")
    more = kit.publish_events(nats_server.url, tmp_path / "pub", drift(5, start=20))
    done = kit.genesis(["worker", "--engines", "truth", "--until-idle"], cwd=project,
                       home=_isolated_env)
    assert done.returncode == 0, done.stderr
    assert "stopped: 25 processed" in done.stderr  # the 20 old ones came again
    verdict = ledger.verify()
    assert verdict.ok, verdict.describe()
    assert verdict.entries == 25
    recorded = [entry.event_id for entry in ledger.entries()]
    assert Counter(recorded).most_common(1)[0][1] == 1
    assert recorded == drift_seqs + [r.seq for r in more]


def test_sync_publishes_to_the_stream_and_fails_with_exit_2_without_nats(
        kit: Any, nats_server: Any, tmp_path: Path, _isolated_env: Path) -> None:
    project = tmp_path / "project"
    (project / "a").mkdir(parents=True)
    (project / "b").mkdir()
    (project / "a" / ".env").write_text("PORT=1\nNAME=x\n")
    (project / "b" / ".env").write_text("PORT=1\n")
    platforms = ('\n[platforms.a]\nkind = "dotenv"\npath = "a/.env"\n'
                 '\n[platforms.b]\nkind = "dotenv"\npath = "b/.env"\n')
    kit.write_config(project, nats_server.url, extra=platforms)

    done = kit.genesis(["sync", "--no-progress"], cwd=project, home=_isolated_env)
    assert done.returncode == 1, done.stderr  # drift: NAME is missing in b
    done = kit.genesis(["events", "history", "--json"], cwd=project, home=_isolated_env)
    assert done.returncode == 0, done.stderr
    history = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["_genesis_topic"], e["_genesis_seq"]) for e in history] == [
        ("envsync.init", 1), ("envsync.drift", 2)]
    done = kit.genesis(["events", "stats", "--json"], cwd=project, home=_isolated_env)
    assert json.loads(done.stdout) == {"envsync.drift": 1, "envsync.init": 1}
    done = kit.genesis(["nats", "status", "--json"], cwd=project, home=_isolated_env)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert (status["stream"], status["messages"], status["last_seq"]) == ("GENESIS", 2, 2)

    nats_server.stop()
    done = kit.genesis(["sync", "--no-progress"], cwd=project, home=_isolated_env, timeout=30)
    assert done.returncode == 2
    assert "NATS" in done.stderr and nats_server.url in done.stderr
    assert "Traceback" not in done.stderr
