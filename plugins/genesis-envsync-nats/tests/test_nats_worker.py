"""``genesis worker`` against a real ``nats-server -js``, as child processes.

The "recorder" engine (``worker_app.py``) writes a row per handler call
(``invocations``) and one row per event id (``outputs``, the idempotent side
effect), so the tests can count who processed what.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from genesis_nats.transport import open_dead_letters

pytestmark = pytest.mark.nats  # each test starts its own nats-server (see conftest.py)


def recorder_config(kit: Any, tmp_path: Path, url: str, **worker: Any) -> tuple[Path, Path]:
    db = tmp_path / "recorder.db"
    config = kit.write_config(tmp_path / "project", url, worker=worker,
                              engines={"recorder": {"db": str(db), "topics": ["work.>"]}})
    return config, db


def work(count: int, **special: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return ``count`` ``work.item`` events; ``special[str(i)]`` is merged into event i's payload."""
    return [("work.item", {"n": i, **special.get(str(i), {})}) for i in range(count)]


def ids(results: list[Any]) -> list[str]:
    return [result.envelope.event_id for result in results]


def test_a_worker_killed_mid_batch_has_its_events_redelivered(kit: Any, nats_server: Any,
                                                              tmp_path: Path, workers: list,
                                                              _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, batch=5, ack_wait=1)
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub",
                                       work(30, **{"2": {"delay": 1.5}})))
    slow = published[2]
    first = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(first)
    kit.wait_until(lambda: slow in {row[0] for row in kit.recorder_rows(db, "invocations")},
                   what="the first worker to start the slow event")
    first.kill()  # SIGKILL while the slow event is in hand and two more wait in its batch
    assert slow not in {row[0] for row in kit.recorder_rows(db, "outputs")}

    second = kit.WorkerProcess.recorder(config, home=_isolated_env, extra=["--until-idle"])
    workers.append(second)
    assert second.wait(60) == 0, second.output

    invocations = kit.recorder_rows(db, "invocations")
    outputs = kit.recorder_rows(db, "outputs")
    assert set(published) <= {row[0] for row in invocations}  # at least once
    assert sorted(row[0] for row in outputs) == sorted(published)  # exactly once in the output
    assert len(outputs) == 30
    slow_pids = [pid for event_id, _seq, pid in invocations if event_id == slow]
    assert slow_pids == [first.process.pid, second.process.pid]  # redelivered to the next worker
    info = kit.consumer_info(nats_server.url, "GENESIS", "genesis-recorder")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


def test_two_workers_share_the_durable_without_duplicates(kit: Any, nats_server: Any,
                                                          tmp_path: Path, workers: list,
                                                          _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, batch=2)
    pair = [kit.WorkerProcess.recorder(config, home=_isolated_env) for _ in range(2)]
    workers.extend(pair)
    for worker in pair:
        worker.wait_for_output("ready:")
    events = [("work.item", {"n": i, "delay": 0.01}) for i in range(60)]
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub", events))
    kit.wait_until(lambda: len(kit.recorder_rows(db, "outputs")) == 60, what="60 outputs")
    for worker in pair:
        worker.process.send_signal(signal.SIGTERM)
    assert [worker.wait(30) for worker in pair] == [0, 0], [w.output for w in pair]

    invocations = kit.recorder_rows(db, "invocations")
    per_event = Counter(row[0] for row in invocations)
    assert sorted(per_event) == sorted(published)
    assert set(per_event.values()) == {1}  # nobody processed an event twice
    by_worker = Counter(row[2] for row in invocations)
    assert set(by_worker) == {worker.process.pid for worker in pair}  # both did some of it


def test_a_long_batch_keeps_every_event_it_holds(kit: Any, nats_server: Any, tmp_path: Path,
                                                workers: list, _isolated_env: Path) -> None:
    # Each event takes longer than ack_wait, and the last one waits two of them in the batch:
    # the worker's in-progress signals keep them all, so the second worker gets none of them.
    config, db = recorder_config(kit, tmp_path, nats_server.url, batch=3, ack_wait=1)
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub",
                                       [("work.item", {"n": i, "delay": 1.2}) for i in range(3)]))
    first = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(first)
    kit.wait_until(lambda: kit.recorder_rows(db, "invocations"), what="the first event to start")
    second = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(second)
    second.wait_for_output("ready:")
    kit.wait_until(lambda: len(kit.recorder_rows(db, "outputs")) == 3, what="3 outputs")
    for worker in (first, second):
        worker.process.send_signal(signal.SIGTERM)
    assert [worker.wait(30) for worker in (first, second)] == [0, 0]
    invocations = kit.recorder_rows(db, "invocations")
    assert sorted(row[0] for row in invocations) == sorted(published)  # each handled once
    assert {row[2] for row in invocations} == {first.process.pid}
    info = kit.consumer_info(nats_server.url, "GENESIS", "genesis-recorder")
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)


def test_sigterm_finishes_the_event_in_hand_and_exits_0(kit: Any, nats_server: Any,
                                                        tmp_path: Path, workers: list,
                                                        _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, batch=5, ack_wait=30)
    worker = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(worker)
    worker.wait_for_output("ready:")
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub",
                                       work(5, **{"0": {"delay": 1.0}})))
    kit.wait_until(lambda: len(kit.recorder_rows(db, "invocations")) == 1,
                   what="the first event to start")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output
    assert "stopped:" in worker.output
    assert [row[0] for row in kit.recorder_rows(db, "outputs")] == [published[0]]  # finished
    assert len(kit.recorder_rows(db, "invocations")) == 1  # the rest of the batch was not started

    # The rest was handed back, not left to ack_wait (30 s): the next worker gets it at once,
    # and the finished event was acknowledged, so it is not processed again.
    again = kit.WorkerProcess.recorder(config, home=_isolated_env, extra=["--until-idle"])
    workers.append(again)
    assert again.wait(20) == 0, again.output
    assert Counter(row[0] for row in kit.recorder_rows(db, "invocations")) == Counter(published)
    assert sorted(row[0] for row in kit.recorder_rows(db, "outputs")) == sorted(published)


def test_a_failing_event_is_dead_lettered_after_max_deliver(kit: Any, nats_server: Any,
                                                            tmp_path: Path, workers: list,
                                                            _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, max_deliver=3)
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub",
                                       work(4, **{"1": {"fail": True}})))
    worker = kit.WorkerProcess.recorder(config, home=_isolated_env, extra=["--until-idle"])
    workers.append(worker)
    assert worker.wait(30) == 0, worker.output
    calls = Counter(row[0] for row in kit.recorder_rows(db, "invocations"))
    assert calls[published[1]] == 3  # max_deliver deliveries, then no more
    assert sorted(row[0] for row in kit.recorder_rows(db, "outputs")) == sorted(
        published[:1] + published[2:])
    assert "dead-lettered #2 work.item after 3 deliveries" in worker.output
    store = open_dead_letters(_isolated_env)
    try:
        [letter] = store.dead_letter_store().entries()
    finally:
        store.close()
    assert (letter.subscriber, letter.seq, letter.topic) == ("recorder:record", 2, "work.item")
    assert "planned failure" in letter.error
    info = kit.consumer_info(nats_server.url, "GENESIS", "genesis-recorder")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)  # terminated, not left pending

    # Once the cause is fixed, the dead letter can be handed to the handler again.
    Path(f"{db}.healed").write_text("")
    retry = kit.WorkerProcess.recorder(config, home=_isolated_env, extra=["--retry-dead-letters"])
    workers.append(retry)
    assert retry.wait(30) == 0, retry.output
    assert "retried 1: 1 succeeded, 0 failed, 0 skipped" in retry.output
    assert sorted(row[0] for row in kit.recorder_rows(db, "outputs")) == sorted(published)
    store = open_dead_letters(_isolated_env)
    try:
        assert store.dead_letter_store().entries() == []
    finally:
        store.close()


def test_an_event_that_kills_the_worker_ends_in_the_dead_letters(
        kit: Any, nats_server: Any, tmp_path: Path, workers: list, _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, max_deliver=1, batch=1,
                                 ack_wait=1)
    published = ids(kit.publish_events(nats_server.url, tmp_path / "pub",
                                       work(3, **{"1": {"crash": True}})))
    first = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(first)
    assert first.wait(30) == 3  # the poison event took the process down
    second = kit.WorkerProcess.recorder(config, home=_isolated_env, extra=["--until-idle"])
    workers.append(second)
    assert second.wait(30) == 0, second.output
    calls = Counter(row[0] for row in kit.recorder_rows(db, "invocations"))
    assert calls == Counter(published)  # the poison event was not run a second time
    assert sorted(row[0] for row in kit.recorder_rows(db, "outputs")) == sorted(
        [published[0], published[2]])
    store = open_dead_letters(_isolated_env)
    try:
        [letter] = store.dead_letter_store().entries()
    finally:
        store.close()
    assert (letter.subscriber, letter.seq) == ("recorder:record", 2)
    assert "not acknowledged after 1 deliveries" in letter.error


def test_the_worker_waits_for_nats_and_reconnects(kit: Any, nats_server: Any, tmp_path: Path,
                                                  workers: list, _isolated_env: Path) -> None:
    config, db = recorder_config(kit, tmp_path, nats_server.url, reconnect_max_wait=0.5)
    nats_server.stop()
    worker = kit.WorkerProcess.recorder(config, home=_isolated_env)
    workers.append(worker)
    worker.wait_for_output("reconnecting in")  # no server yet: retries with backoff
    nats_server.start()
    worker.wait_for_output("ready:")
    kit.publish_events(nats_server.url, tmp_path / "pub", work(3))
    kit.wait_until(lambda: len(kit.recorder_rows(db, "outputs")) == 3, what="3 outputs")
    nats_server.restart()
    worker.wait_for_output("reconnected:")
    kit.publish_events(nats_server.url, tmp_path / "pub", work(3))
    kit.wait_until(lambda: len(kit.recorder_rows(db, "outputs")) == 6, what="6 outputs")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output


def test_worker_usage_errors_exit_2(kit: Any, tmp_path: Path, _isolated_env: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "genesis.toml").write_text('[bus]\ntransport = "embedded"\n')
    done = kit.genesis(["worker"], cwd=project, home=_isolated_env)
    assert done.returncode == 2
    assert 'genesis.toml: bus.transport: genesis worker needs transport = "nats"' in done.stderr
    assert "Traceback" not in done.stderr

    kit.write_config(project, "nats://127.0.0.1:1")
    done = kit.genesis(["worker", "--engines", "truth,nope"], cwd=project, home=_isolated_env)
    assert done.returncode == 2
    assert "unknown engine 'nope'" in done.stderr and "Traceback" not in done.stderr
