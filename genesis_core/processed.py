"""A small SQLite record of the events an engine has handled, so a redelivery is a no-op.

Engines are called again for the same event after a retry from the dead-letter store, a
restart or a NATS redelivery; recording `(event id, action)` here makes each action happen once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from .bus.envelope import utc_now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    event_id TEXT NOT NULL,
    action TEXT NOT NULL,
    seq INTEGER,
    topic TEXT,
    note TEXT,
    done_at TEXT NOT NULL,
    PRIMARY KEY (event_id, action)
)
"""


def event_identity(event: Mapping[str, Any]) -> str | None:
    """Return the id that makes a delivery unique: ``_genesis_id``, else ``seq:<_genesis_seq>``."""
    event_id = event.get("_genesis_id")
    if isinstance(event_id, str) and event_id:
        return event_id
    seq = event.get("_genesis_seq")
    if isinstance(seq, int) and not isinstance(seq, bool):
        return f"seq:{seq}"
    return None


class ProcessedEvents:
    """Which (event id, action) pairs are done, kept in ``path`` (the newest ``keep`` rows)."""

    def __init__(self, path: Path, *, keep: int = 10_000) -> None:
        self.path = Path(path)
        self.keep = keep  # the file is created on first use, not when an engine starts

    def _connect(self) -> sqlite3.Connection:
        """Return a connection; the table is (re)created if needed, so a deleted file is not fatal."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                db.execute(_SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(processed)")}
                if "note" not in columns:  # a record written by Genesis 0.1.0 pre-releases
                    db.execute("ALTER TABLE processed ADD COLUMN note TEXT")
        except BaseException:
            db.close()
            raise
        return db

    def done(self, event_id: str, action: str = "handled") -> bool:
        """Return whether ``action`` was already completed for ``event_id``."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT 1 FROM processed WHERE event_id = ? AND action = ?",
                             (event_id, action)).fetchone()
        return row is not None

    def note(self, event_id: str, action: str = "handled") -> str | None:
        """Return the note recorded with ``action`` for ``event_id`` (``None`` if none or not done)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT note FROM processed WHERE event_id = ? AND action = ?",
                             (event_id, action)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def mark(self, event_id: str, action: str = "handled", *, seq: int | None = None,
             topic: str | None = None, note: str | None = None) -> bool:
        """Record ``action`` as done for ``event_id`` (with an optional note); return ``False`` if it already was."""
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO processed (event_id, action, seq, topic, note, done_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (event_id, action, seq, topic, note, utc_now()))
            inserted = cursor.rowcount == 1
            if inserted:
                db.execute("DELETE FROM processed WHERE rowid <= "
                           "(SELECT MAX(rowid) FROM processed) - ?", (self.keep,))
        return inserted

    def count(self, action: str | None = None) -> int:
        """Return how many events are recorded (for ``action`` only when given)."""
        with closing(self._connect()) as db:
            if action is None:
                row = db.execute("SELECT COUNT(*) FROM processed").fetchone()
            else:
                row = db.execute("SELECT COUNT(*) FROM processed WHERE action = ?", (action,)).fetchone()
        return int(row[0])
