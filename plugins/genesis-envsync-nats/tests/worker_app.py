"""Test helper run as a child process: ``genesis worker`` with an extra "recorder" engine.

The recorder writes one ``invocations`` row each time its handler is called
and, after an optional delay, one ``outputs`` row per event id (``INSERT OR
IGNORE``: the idempotent side effect).  A payload with ``"fail": true`` makes
the handler raise after recording the invocation (until a file ``<db>.healed``
exists); ``"crash": true`` kills the worker process; ``"delay": SECONDS`` makes it
sleep that long (instead of ``[engines.recorder] delay``) before the output.

    python worker_app.py --config genesis.toml [--engines recorder] [--until-idle]

``[engines.recorder]``: ``db`` (SQLite path), ``delay`` (seconds), ``topics``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from collections.abc import Iterable
from typing import Any

from genesis_core.api import Engine, EngineContext, GenesisError, Subscription, hookimpl

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (event_id TEXT NOT NULL, seq INTEGER NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outputs (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, pid INTEGER NOT NULL);
"""


class Recorder:
    def __init__(self, db: str, delay: float) -> None:
        self.db = db
        self.delay = delay
        conn = self._connect()
        conn.executescript(_SCHEMA)
        conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def _write(self, sql: str, event: dict[str, Any]) -> None:
        conn = self._connect()
        try:
            conn.execute(sql, (event["_genesis_id"], event["_genesis_seq"], os.getpid()))
        finally:
            conn.close()

    async def handle(self, event: dict[str, Any]) -> None:
        self._write("INSERT INTO invocations (event_id, seq, pid) VALUES (?, ?, ?)", event)
        delay = event.get("delay", self.delay)
        if delay:
            await asyncio.sleep(delay)
        if event.get("crash"):
            os._exit(3)  # a poison event that takes the whole worker down
        if event.get("fail") and not os.path.exists(f"{self.db}.healed"):
            raise RuntimeError(f"planned failure for #{event['_genesis_seq']}")
        self._write("INSERT OR IGNORE INTO outputs (event_id, seq, pid) VALUES (?, ?, ?)", event)


def subscriptions(ctx: EngineContext) -> Iterable[Subscription]:
    table = ctx.config
    recorder = Recorder(table.str("db"), table.float("delay", 0.0))
    topics = table.str_list("topics", ("work.>",))
    return [Subscription(topics=topics, handler=recorder.handle, name="record")]


class RecorderPlugin:
    @hookimpl
    def genesis_register_engines(self, register: Any) -> None:
        register(Engine(name="recorder", subscriptions=subscriptions))


def main(argv: list[str]) -> int:
    from genesis_core.api import load_config
    from genesis_core.testing import build_plugin_host
    from genesis_nats.worker import run_worker

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--engines", default="recorder")
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--retry-dead-letters", action="store_true")
    args = parser.parse_args(argv)

    def report(line: str) -> None:
        sys.stderr.write(f"worker {os.getpid()}: {line}\n")
        sys.stderr.flush()

    try:
        host = build_plugin_host(plugins=(("recorder", RecorderPlugin()),))
        return run_worker(load_config(args.config), host, engines=args.engines.split(","),
                          until_idle=args.until_idle, report=report, verbose=True,
                          retry=args.retry_dead_letters)
    except GenesisError as exc:
        report(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
