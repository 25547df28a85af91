"""The processed-events record engines use to act once per event id."""

from __future__ import annotations

from pathlib import Path

from genesis_core.processed import ProcessedEvents, event_identity


def test_mark_once_per_action_and_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "engine" / "processed.sqlite3"
    first = ProcessedEvents(path)
    assert not path.exists()  # created on first use, not when an engine starts
    assert first.mark("ev1", "report", seq=3, note="written") is True
    assert first.mark("ev1", "report") is False
    assert first.mark("ev1", "webhook") is True
    again = ProcessedEvents(path)
    assert again.done("ev1", "report") and again.done("ev1", "webhook") and not again.done("ev2", "report")
    assert again.note("ev1", "report") == "written" and again.note("ev1", "webhook") is None
    assert again.count() == 2 and again.count("report") == 1


def test_keeps_only_the_newest_rows(tmp_path: Path) -> None:
    record = ProcessedEvents(tmp_path / "p.sqlite3", keep=3)
    for i in range(5):
        record.mark(f"ev{i}")
    assert record.count() == 3
    assert not record.done("ev0") and record.done("ev4")


def test_event_identity() -> None:
    assert event_identity({"_genesis_id": "abc", "_genesis_seq": 4}) == "abc"
    assert event_identity({"_genesis_seq": 4}) == "seq:4"
    assert event_identity({"_genesis_seq": True}) is None
    assert event_identity({}) is None
