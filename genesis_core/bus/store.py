"""The embedded transport: events and dead letters in one SQLite file (WAL mode).

Writes go through one writer thread per store.  Each ``append`` queues a
request and waits; the writer takes every request that is waiting, stores
them in one ``BEGIN IMMEDIATE`` transaction, commits, and only then wakes the
callers (group commit).  So an event is committed before ``append`` returns,
and many concurrent publishes share one commit (one fsync with
``durability = "full"``).

``seq`` is an ``INTEGER PRIMARY KEY AUTOINCREMENT``: SQLite never reuses or
lowers it, also after deletes, restarts and across processes sharing the
file (the write lock serialises them; ``busy_timeout`` makes them wait).
"""

from __future__ import annotations

import asyncio
import collections
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BusError
from .dispatcher import encode_payload
from .envelope import Envelope, utc_now
from .topics import compile_pattern, is_wildcard
from .transport import DeadLetter, DeadLetterStore, Transport

if TYPE_CHECKING:
    from ..config import Table

DB_NAME = "events.db"
SCHEMA_VERSION = "1"
DURABILITY = {"full": "FULL", "normal": "NORMAL"}
MAX_BATCH = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_topic ON events (topic, seq);
CREATE TABLE IF NOT EXISTS topic_counts (
    topic TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at TEXT NOT NULL,
    UNIQUE (subscriber, seq)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_INSERT = "INSERT INTO events (event_id, topic, timestamp, source, payload) VALUES (?, ?, ?, ?, ?)"
_COUNT = ("INSERT INTO topic_counts (topic, count) VALUES (?, ?) "
          "ON CONFLICT (topic) DO UPDATE SET count = count + excluded.count")
_COLUMNS = "seq, event_id, topic, timestamp, source, payload"
_DL_COLUMNS = "id, subscriber, seq, topic, error, attempts, failed_at"

_APPEND = "append"
_OTHER = "other"

Row = tuple[str, str, str, str, str]  # event_id, topic, timestamp, source, payload JSON


class _Request:
    """One unit of work for the writer thread and how to hand back its result."""

    __slots__ = ("kind", "rows", "op", "loop", "future", "result", "error")

    def __init__(self, kind: str, *, rows: list[Row] | None = None,
                 op: Callable[[sqlite3.Connection], Any] | None = None) -> None:
        self.kind = kind
        self.rows = rows
        self.op = op
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: Any = None
        self.result: Any = None
        self.error: BaseException | None = None


def _settle(requests: list[_Request]) -> None:
    for request in requests:
        future = request.future
        if future.done():
            continue
        if request.error is not None:
            future.set_exception(request.error)
        else:
            future.set_result(request.result)


def _envelope(row: tuple[Any, ...]) -> Envelope:
    seq, event_id, topic, timestamp, source, payload = row
    return Envelope(seq, event_id, topic, timestamp, json.loads(payload), source)


def _dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    return DeadLetter(*row)


class SqliteTransport(Transport):
    """Durable events in ``<state_dir>/events.db``; see the module docstring."""

    name = "embedded"

    def __init__(self, path: str | Path, *, durability: str = "full",
                 busy_timeout: float = 30.0) -> None:
        if durability not in DURABILITY:
            raise BusError(f"durability must be one of {', '.join(DURABILITY)}, got {durability!r}")
        self.path = Path(path)
        self.durability = durability
        self.busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BusError(f"{self.path.parent}: cannot create the state dir: "
                           f"{exc.strerror or exc}") from None
        self._reader = self._connect(create=True)
        self._read_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: collections.deque[_Request] = collections.deque()
        self._writer: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._broken: BaseException | None = None
        self._dead_letters = SqliteDeadLetters(self)

    # ------------------------------------------------------------ set-up
    @classmethod
    def from_config(cls, table: Table, state_dir: Path) -> SqliteTransport:
        """Return the store configured by ``[bus]`` (``durability``, ``busy_timeout``)."""
        durability = table.choice("durability", tuple(DURABILITY), "full")
        busy_timeout = table.float("busy_timeout", 30.0, minimum=0.0, maximum=3600)
        return cls(Path(state_dir) / DB_NAME, durability=durability, busy_timeout=busy_timeout)

    def _fail(self, action: str, exc: BaseException) -> BusError:
        return BusError(f"{self.path}: {action}: {exc}")

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        """Return a configured connection, retrying while another process holds a lock.

        Switching to WAL, WAL recovery and the schema check can answer SQLITE_BUSY at
        once (the busy handler is not consulted for every lock), so the open as a whole
        is retried until ``busy_timeout`` runs out.
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                return self._connect_once(create=create)
            except BusError as exc:
                cause = str(exc.__context__ or "").lower()
                locked = "locked" in cause or "busy" in cause
                if not locked or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _connect_once(self, *, create: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._fail("cannot open the event store", exc) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise BusError(f"{self.path}: cannot switch the event store to WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {DURABILITY[self.durability]}")
            if create:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                    if found is None:
                        conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)",
                                     (SCHEMA_VERSION,))
                    elif found[0] != SCHEMA_VERSION:
                        raise BusError(f"{self.path}: event store schema {found[0]} is not "
                                       f"supported (this Genesis reads {SCHEMA_VERSION})")
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._fail("cannot open the event store", exc) from None
        except BaseException:
            conn.close()
            raise
        return conn

    # ------------------------------------------------------------ writer thread
    def _submit(self, request: _Request) -> None:
        with self._cond:
            if self._closed or self._closing:
                raise BusError(f"{self.path}: the event store is closed")
            if self._broken is not None:
                raise self._fail("the event store writer stopped", self._broken)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run_writer, daemon=True,
                                                name=f"genesis-store:{self.path.name}")
                self._writer.start()
            self._queue.append(request)
            self._cond.notify()

    async def _call(self, request: _Request) -> Any:
        loop = asyncio.get_running_loop()
        request.loop = loop
        request.future = loop.create_future()
        self._submit(request)
        return await request.future

    def _run_writer(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._stop_with(exc)
            return
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch: list[_Request] = []
                    while self._queue and len(batch) < MAX_BATCH:
                        batch.append(self._queue.popleft())
                self._execute(conn, batch)
                self._resolve(batch)
        except BaseException as exc:  # a bug or the interpreter going down
            self._stop_with(exc)
        finally:
            conn.close()

    def _stop_with(self, exc: BaseException) -> None:
        with self._cond:
            self._broken = exc
            pending = list(self._queue)
            self._queue.clear()
        for request in pending:
            request.error = self._fail("the event store writer stopped", exc)
        self._resolve(pending)

    def _resolve(self, batch: list[_Request]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        for request in batch:
            if request.loop is not None:
                by_loop.setdefault(request.loop, []).append(request)
        for loop, requests in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, requests)
            except RuntimeError:  # that loop is closed; nobody is waiting any more
                pass

    def _execute(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        try:
            self._transaction(conn, batch)
        except sqlite3.IntegrityError:
            if len(batch) == 1:
                self._execute_single(conn, batch[0])
            else:  # isolate the request that broke the batch
                for request in batch:
                    self._execute(conn, [request])
        except sqlite3.Error as exc:
            error = self._fail("cannot write to the event store", exc)
            for request in batch:
                request.error = error
        except BusError as exc:
            for request in batch:
                request.error = exc

    def _transaction(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            appends = [r for r in batch if r.kind == _APPEND]
            if appends:
                self._insert(conn, appends)
            for request in batch:
                if request.kind != _APPEND:
                    assert request.op is not None
                    request.result = request.op(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for request in batch:
                request.result = None
            raise

    @staticmethod
    def _insert(conn: sqlite3.Connection, requests: list[_Request]) -> None:
        rows = [row for request in requests for row in request.rows or ()]
        found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        before = found[0] if found else 0
        conn.executemany(_INSERT, rows)
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        if last - before != len(rows):  # AUTOINCREMENT in one write transaction is consecutive
            raise BusError(f"event store sequence jumped ({before} + {len(rows)} != {last})")
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[1]] = counts.get(row[1], 0) + 1
        conn.executemany(_COUNT, counts.items())
        seq = before
        for request in requests:
            seqs = []
            for _row in request.rows or ():
                seq += 1
                seqs.append(seq)
            request.result = seqs

    def _execute_single(self, conn: sqlite3.Connection, request: _Request) -> None:
        """Retry one request after an integrity error: an event id that is already stored."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if request.kind == _APPEND:
                    results: list[Any] = []
                    for row in request.rows or ():
                        cursor = conn.execute(_INSERT + " ON CONFLICT (event_id) DO NOTHING", row)
                        if cursor.rowcount == 1:
                            conn.execute(_COUNT, (row[1], 1))
                            results.append(cursor.lastrowid)
                        else:  # idempotent: hand back the stored event
                            results.append(conn.execute(
                                f"SELECT {_COLUMNS} FROM events WHERE event_id = ?", (row[0],)
                            ).fetchone())
                    request.result = results
                else:
                    assert request.op is not None
                    request.result = request.op(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            request.error = self._fail("cannot write to the event store", exc)
        except BusError as exc:
            request.error = exc

    # ------------------------------------------------------------ Transport API
    def _rows(self, events: Sequence[tuple[str, Mapping[str, Any], str, str, str]]
              ) -> tuple[list[Row], list[dict[str, Any]]]:
        rows: list[Row] = []
        decoded: list[dict[str, Any]] = []
        for topic, payload, event_id, timestamp, source in events:
            text, value = encode_payload(topic, payload)
            rows.append((event_id, topic, timestamp, source, text))
            decoded.append(value)
        return rows, decoded

    @staticmethod
    def _envelopes(rows: list[Row], decoded: list[dict[str, Any]], results: list[Any]
                   ) -> list[Envelope]:
        out = []
        for (event_id, topic, timestamp, source, _text), value, result in zip(rows, decoded,
                                                                               results):
            if isinstance(result, int):
                out.append(Envelope(result, event_id, topic, timestamp, value, source))
            else:
                out.append(_envelope(result))
        return out

    async def append(self, topic: str, payload: Mapping[str, Any], *, event_id: str,
                     timestamp: str, source: str) -> Envelope:
        """Store one event; return it once committed (an already stored event id is returned as is)."""
        rows, decoded = self._rows(((topic, payload, event_id, timestamp, source),))
        results = await self._call(_Request(_APPEND, rows=rows))
        return self._envelopes(rows, decoded, results)[0]

    async def append_many(self, events: Sequence[tuple[str, Mapping[str, Any], str, str, str]]
                          ) -> list[Envelope]:
        """Store several events in order in one commit; return them once committed."""
        if not events:
            return []
        rows, decoded = self._rows(events)
        results = await self._call(_Request(_APPEND, rows=rows))
        return self._envelopes(rows, decoded, results)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            if self._closed:
                raise BusError(f"{self.path}: the event store is closed")
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._fail("cannot read the event store", exc) from None

    def _topic_filter(self, topic: str | None) -> tuple[str, list[Any]] | None:
        """Return an SQL condition for ``topic`` (exact or pattern); ``None`` if nothing can match."""
        if topic is None:
            return "", []
        if not is_wildcard(topic):
            return "topic = ?", [topic]
        pattern = compile_pattern(topic)
        names = [name for (name,) in self._read("SELECT topic FROM topic_counts")
                 if pattern.matches(name)]
        if not names:
            return None
        return f"topic IN ({', '.join('?' * len(names))})", names

    def history(self, *, limit: int | None = None, topic: str | None = None,
                after_seq: int | None = None) -> list[Envelope]:
        """Return stored events oldest first; ``topic`` may be a pattern; ``limit`` keeps the newest."""
        if limit is not None and limit <= 0:
            return []
        topic_filter = self._topic_filter(topic)
        if topic_filter is None:
            return []
        conditions, params = [], list(topic_filter[1])
        if topic_filter[0]:
            conditions.append(topic_filter[0])
        if after_seq is not None:
            conditions.append("seq > ?")
            params.append(after_seq)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        if limit is None:
            rows = self._read(f"SELECT {_COLUMNS} FROM events{where} ORDER BY seq", params)
        else:
            rows = self._read(f"SELECT {_COLUMNS} FROM events{where} ORDER BY seq DESC LIMIT ?",
                              [*params, limit])
            rows.reverse()
        return [_envelope(row) for row in rows]

    def iter_history(self, *, after_seq: int = 0, topic: str | None = None,
                     page_size: int = 1000) -> Iterator[Envelope]:
        """Yield stored events oldest first, reading ``page_size`` rows at a time."""
        topic_filter = self._topic_filter(topic)
        if topic_filter is None:
            return
        condition = f" AND {topic_filter[0]}" if topic_filter[0] else ""
        last = after_seq
        while True:
            rows = self._read(f"SELECT {_COLUMNS} FROM events WHERE seq > ?{condition} "
                              "ORDER BY seq LIMIT ?", [last, *topic_filter[1], page_size])
            for row in rows:
                yield _envelope(row)
            if len(rows) < page_size:
                return
            last = rows[-1][0]

    def last_seq(self) -> int:
        """Return the highest stored sequence (0 when empty)."""
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def stats(self) -> dict[str, int]:
        """Return ``{topic: number of stored events}`` (kept as a counter, so cheap)."""
        return dict(self._read("SELECT topic, count FROM topic_counts ORDER BY topic"))

    def get(self, seq: int) -> Envelope | None:
        """Return the event with sequence ``seq``, or ``None``."""
        rows = self._read(f"SELECT {_COLUMNS} FROM events WHERE seq = ?", (seq,))
        return _envelope(rows[0]) if rows else None

    def dead_letter_store(self) -> SqliteDeadLetters:
        """Return the dead-letter table of this store."""
        return self._dead_letters

    def close(self) -> None:
        """Finish queued writes, stop the writer thread and close the file (idempotent)."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        with self._read_lock:
            self._closed = True
            self._reader.close()

    def __repr__(self) -> str:
        return f"SqliteTransport({str(self.path)!r}, durability={self.durability!r})"


class SqliteDeadLetters(DeadLetterStore):
    """The ``dead_letters`` table of a :class:`SqliteTransport`, written by its writer thread."""

    def __init__(self, store: SqliteTransport) -> None:
        self._store = store

    async def record(self, subscriber: str, seq: int, topic: str, error: str) -> DeadLetter:
        """Insert a failure, or count one more attempt of an existing one; return the row."""
        failed_at = utc_now()

        def op(conn: sqlite3.Connection) -> DeadLetter:
            row = conn.execute(
                "INSERT INTO dead_letters (subscriber, seq, topic, error, attempts, failed_at) "
                "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (subscriber, seq) DO UPDATE SET "
                "error = excluded.error, attempts = attempts + 1, failed_at = excluded.failed_at "
                f"RETURNING {_DL_COLUMNS}", (subscriber, seq, topic, error, failed_at)).fetchone()
            return _dead_letter(row)

        stored: DeadLetter = await self._store._call(_Request(_OTHER, op=op))
        return stored

    async def remove(self, dead_letter_id: int) -> None:
        """Delete one dead letter."""
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM dead_letters WHERE id = ?", (dead_letter_id,))

        await self._store._call(_Request(_OTHER, op=op))

    def entries(self, subscriber: str | None = None) -> list[DeadLetter]:
        """Return dead letters oldest first, optionally for one subscriber."""
        if subscriber is None:
            rows = self._store._read(f"SELECT {_DL_COLUMNS} FROM dead_letters ORDER BY id")
        else:
            rows = self._store._read(f"SELECT {_DL_COLUMNS} FROM dead_letters "
                                     "WHERE subscriber = ? ORDER BY id", (subscriber,))
        return [_dead_letter(row) for row in rows]


def open_store(state_dir: str | Path, *, durability: str = "full") -> SqliteTransport:
    """Return the embedded store of ``state_dir`` (``<state_dir>/events.db``)."""
    return SqliteTransport(Path(state_dir) / DB_NAME, durability=durability)
