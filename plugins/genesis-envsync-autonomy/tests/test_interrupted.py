"""Which heals count as interrupted: write events, no result, and no process holding the heal's lock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from genesis_autonomy.interrupted import WRITE, find_interrupted, is_running, running
from genesis_core.api import DefaultPolicy, GenesisBus, Guardian, MemoryTransport


def _bus() -> GenesisBus:
    return GenesisBus(MemoryTransport(), Guardian.of(DefaultPolicy()))


def _write(bus: GenesisBus, heal_id: str, key: str) -> None:
    asyncio.run(bus.publish(WRITE, {"heal_id": heal_id, "trigger": "cli", "reference": "local",
                                    "instance": "render", "key": key, "action": "create",
                                    "fingerprint": "<secret fp:000000000000>"}))


def test_a_heal_holding_its_lock_is_running_not_interrupted(tmp_path: Path) -> None:
    bus = _bus()
    _write(bus, "h1", "A")
    with running(tmp_path, "h1"):
        assert is_running(tmp_path, "h1")
        assert find_interrupted(bus, tmp_path) == []
    assert not is_running(tmp_path, "h1")
    [heal] = find_interrupted(bus, tmp_path)
    assert (heal.heal_id, [w.key for w in heal.writes]) == ("h1", ["A"])


def test_a_heal_that_published_its_result_is_not_interrupted(tmp_path: Path) -> None:
    bus = _bus()
    _write(bus, "done", "A")
    _write(bus, "died", "B")
    _write(bus, "died", "C")
    asyncio.run(bus.publish("autonomy.heal.applied", {"heal_id": "done", "results": []}))
    [heal] = find_interrupted(bus, tmp_path)
    assert heal.heal_id == "died" and [w.key for w in heal.writes] == ["B", "C"]
    closing = heal.closing_payload(closed_by="next")
    assert closing["status"] == "interrupted" and closing["counts"] == {"interrupted": 2}
    asyncio.run(bus.publish("autonomy.heal.failed", closing))
    assert find_interrupted(bus, tmp_path) == []


def test_a_lock_file_left_by_a_dead_heal_does_not_count(tmp_path: Path) -> None:
    lock = tmp_path / "autonomy" / "running" / "gone.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")  # the process died; the kernel released its flock
    assert not is_running(tmp_path, "gone")
    assert not lock.exists()
