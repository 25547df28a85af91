"""Small file primitives: an inter-process lock, durable appends and tail reading."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import LedgerError


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an ``fcntl.flock`` lock on ``path`` (created if needed) for the ``with`` block."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        raise LedgerError(f"{path}: file locking needs a POSIX system (fcntl)") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def file_size(path: Path) -> int:
    """Return the size of ``path`` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def append_durably(path: Path, data: bytes, *, fsync: bool) -> int:
    """Append ``data`` to ``path`` in one write and return the offset it starts at.

    The caller holds the ledger lock, so the file size before the write is
    where the data lands.  With ``fsync`` the data (and a newly created
    file's directory entry) reach the disk before this returns.
    """
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        offset = os.fstat(fd).st_size
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    if created and fsync:
        fsync_dir(path.parent)
    return offset


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry to disk (no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_range(path: Path, start: int, end: int) -> bytes:
    """Return bytes ``[start, end)`` of ``path``."""
    if end <= start:
        return b""
    with path.open("rb") as fh:
        fh.seek(start)
        return fh.read(end - start)


def complete_length(path: Path, size: int) -> int:
    """Return how many of the first ``size`` bytes end with the last newline (0 if none)."""
    block = 65536
    end = size
    with path.open("rb") as fh:
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            chunk = fh.read(end - start)
            pos = chunk.rfind(b"\n")
            if pos >= 0:
                return start + pos + 1
            end = start
    return 0


def last_line(path: Path, size: int) -> tuple[bytes | None, int]:
    """Return the last newline-terminated line within ``size`` bytes (without its newline) and its line start.

    Returns ``(None, 0)`` when there is no complete line.
    """
    end = complete_length(path, size)
    if end == 0:
        return None, 0
    start = complete_length(path, end - 1)
    return read_range(path, start, end - 1), start


def cut_torn_tail(path: Path, keep: int, quarantine_dir: Path) -> int:
    """Move the bytes of ``path`` after offset ``keep`` into ``quarantine_dir``; return how many.

    Used for a last line without its newline, left by a crash in the middle of
    an append: that append never returned, so nothing acknowledged is lost,
    and the bytes are kept for inspection rather than deleted.
    """
    size = file_size(path)
    if size <= keep:
        return 0
    torn = read_range(path, keep, size)
    quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = quarantine_dir / f"{path.name}.{time.time_ns()}.torn"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_all(fd, torn)
        os.fsync(fd)
    finally:
        os.close(fd)
    with path.open("r+b") as fh:
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return len(torn)
