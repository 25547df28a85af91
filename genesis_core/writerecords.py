"""Write records: what Genesis wrote to a platform that cannot read the value back.

GitHub secrets, Vercel sensitive variables and Fly secrets are write-only: a sync
sees their names, never their values.  When Genesis writes one, it keeps a
:class:`WriteRecord`: the instance, the key, what the instance pointed at, the
keyed fingerprint of the value written (``SecretPolicy.record_fingerprint``, never
the value) and the platform's change stamp read after the write.  A later sync
compares them (:mod:`genesis_core.writeonly`): the reference moved on (stale), the
platform's stamp moved (changed outside Genesis), or neither (verified by record).

The records live in the state directory, in their own SQLite file next to the
event store (``write-records.db``), so every process using the same state
directory shares them, whatever the bus transport; with NATS (one state directory
per host) each host keeps its own.  A record is committed (``synchronous=FULL``)
before :meth:`WriteRecords.record` returns; callers record after the platform
confirmed the write and before they report the result, so a crash in between
leaves at worst a value without a record (reported as unverified), never a
record of a value that was not written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import attrs

from .errors import GenesisError

__all__ = ["RECORDS_FILE", "WriteRecord", "WriteRecords"]

RECORDS_FILE = "write-records.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS write_records (
    instance TEXT NOT NULL,
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    key_id TEXT NOT NULL,
    stamp TEXT,
    written_at TEXT NOT NULL,
    stale_since TEXT,
    PRIMARY KEY (instance, key)
)
"""
_COLUMNS = "instance, key, target, fingerprint, key_id, stamp, written_at, stale_since"


def _one_line(text: str) -> str:
    """Return ``text`` on one line, at most 200 characters."""
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


@attrs.frozen
class WriteRecord:
    """One value Genesis wrote where it cannot be read back; no value, only its keyed fingerprint.

    ``target`` is the adapter's ``describe()`` at write time (a record for ``github``
    pointed at another repository does not apply); ``stamp`` is the platform's change
    stamp after the write (``None`` when the adapter has none); ``stale_since`` is when
    a sync first saw the reference hold another value.
    """

    instance: str
    key: str
    target: str
    fingerprint: str = attrs.field(repr=False)
    key_id: str
    stamp: str | None
    written_at: str
    stale_since: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record without its fingerprint (for display and events)."""
        return {"instance": self.instance, "key": self.key, "target": self.target, "stamp": self.stamp,
                "written_at": self.written_at, "stale_since": self.stale_since}


class WriteRecords:
    """The write records of one state directory (``<state_dir>/write-records.db``)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / RECORDS_FILE  # created on first write, not on first read

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection; a file that is not a usable database is a one-line ``GenesisError``."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                with db:
                    db.execute(_SCHEMA)
                yield db
        except (sqlite3.Error, OSError) as exc:
            raise GenesisError(f"{self.path}: cannot use the write records ({type(exc).__name__}: "
                               f"{_one_line(str(exc))}); move the file away to start without records") from None

    def check(self) -> None:
        """Raise ``GenesisError`` now if the records file exists but cannot be used (before anything is published)."""
        if self.path.exists():
            with self._connect():
                pass

    def record_many(self, records: Iterable[WriteRecord]) -> None:
        """Store every record of ``records`` in one transaction; committed on return."""
        rows = [(r.instance, r.key, r.target, r.fingerprint, r.key_id, r.stamp, r.written_at, r.stale_since)
                for r in records]
        if not rows:
            return
        with self._connect() as db, db:
            db.executemany(f"INSERT OR REPLACE INTO write_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           rows)

    def lookup(self, instances: Iterable[str]) -> dict[tuple[str, str], WriteRecord]:
        """Return ``{(instance, key): record}`` for every record of ``instances`` (nothing read if none exist)."""
        names = sorted(set(instances))
        if not names or not self.path.exists():
            return {}
        marks = ", ".join("?" for _ in names)
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM write_records WHERE instance IN ({marks})",
                              names).fetchall()
        return {(row[0], row[1]): WriteRecord(*row) for row in rows}

    def set_stale_since(self, changes: Mapping[tuple[str, str], str | None]) -> None:
        """Set (a time) or clear (``None``) ``stale_since`` of each ``(instance, key)``."""
        if not changes or not self.path.exists():
            return
        with self._connect() as db, db:
            db.executemany("UPDATE write_records SET stale_since = ? WHERE instance = ? AND key = ?",
                           [(since, instance, key) for (instance, key), since in changes.items()])
