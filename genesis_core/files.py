"""Bounded reads of the files a user names: regular files only, never more than a limit.

Every file Genesis reads on a user's say-so (the config file, ``.env`` files,
key files; through ``genesis_core.api``, Blueprint schemas and the Truth
ledger's checkpoints, public keys and proofs) goes through :func:`read_bytes`
or :func:`read_text`.  A FIFO, a device (``/dev/zero``), a socket or a
directory is refused before it is opened, and a file larger than the limit for
its kind is refused before it is read, so no path can make Genesis block or
grow its memory without bound.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import IO

from .errors import GenesisError

KIB = 1024
MIB = 1024 * KIB

#: The core's limits by kind of file (bytes); a plugin passes its own.
CONFIG_LIMIT = 4 * MIB
DOTENV_LIMIT = 16 * MIB
KEY_LIMIT = 64 * KIB


class FileProblem(GenesisError):
    """A named file is missing, not a regular file, too large or unreadable.

    ``str()`` is ``"PATH: reason"``; ``reason`` alone is for callers that name
    the file their own way (a ``ConfigError``, a platform error).
    """

    def __init__(self, path: str, reason: str, *, missing: bool = False) -> None:
        self.path = path
        self.reason = reason
        self.missing = missing
        super().__init__(f"{path}: {reason}")


def _size(limit: int) -> str:
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit >= KIB and limit % KIB == 0:
        return f"{limit // KIB} KiB"
    return f"{limit} bytes"


def _kind(mode: int) -> str | None:
    """Return what a non-regular file is ("a directory", ...), or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_regular(path: str | os.PathLike[str], *, what: str = "file",
                  limit: int | None = None) -> os.stat_result:
    """Return the ``stat`` of ``path`` if it is a regular file within ``limit``; else raise ``FileProblem``.

    Never opens the file, so a FIFO cannot block here.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}", missing=True) from None
    except OSError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}") from None
    _check(name, info, what, limit)
    return info


def _check(name: str, info: os.stat_result, what: str, limit: int | None) -> None:
    kind = _kind(info.st_mode)
    if kind is not None:
        raise FileProblem(name, f"{what} is {kind}, not a regular file")
    if limit is not None and info.st_size > limit:
        raise FileProblem(name, f"{what} is too large ({info.st_size} bytes; the limit is {_size(limit)})")


def read_bytes(path: str | os.PathLike[str], *, limit: int, what: str = "file", follow_symlinks: bool = True,
               check: Callable[[os.stat_result], None] | None = None) -> bytes:
    """Return the bytes of the regular file ``path``; raise ``FileProblem`` for anything else.

    The type and size are checked with ``stat`` before opening, and again on
    the open descriptor (opened non-blocking, so a file swapped for a FIFO in
    between cannot block); at most ``limit`` bytes are ever read.  Without
    ``follow_symlinks`` a symbolic link is refused; ``check`` gets the
    descriptor's ``stat`` (to refuse, say, a key file others can read) before
    anything is read.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name, follow_symlinks=follow_symlinks)
    except FileNotFoundError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}", missing=True) from None
    except OSError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}") from None
    if stat.S_ISLNK(info.st_mode):
        raise FileProblem(name, f"{what} is a symbolic link, which is not accepted here")
    _check(name, info, what, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}", missing=True) from None
    except OSError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}") from None
    try:
        opened = os.fstat(fd)
        _check(name, opened, what, limit)
        if check is not None:
            check(opened)
        return _read_fd(fd, name, what, limit)
    except OSError as exc:
        raise FileProblem(name, f"cannot read {what}: {_reason(exc)}") from None
    finally:
        os.close(fd)


def _read_fd(fd: int, name: str, what: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(MIB, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FileProblem(name, f"{what} is too large (more than {_size(limit)})")


def read_text(path: str | os.PathLike[str], *, limit: int, what: str = "file", follow_symlinks: bool = True,
              check: Callable[[os.stat_result], None] | None = None) -> str:
    """Return the UTF-8 text of the regular file ``path`` (see :func:`read_bytes`)."""
    name = os.fspath(path)
    data = read_bytes(name, limit=limit, what=what, follow_symlinks=follow_symlinks, check=check)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(name, f"{what} is not UTF-8 text (byte {exc.start})") from None


def read_stream(stream: IO[bytes], *, limit: int, name: str = "<stdin>", what: str = "input") -> bytes:
    """Return at most ``limit`` bytes of ``stream`` (e.g. stdin); more is a ``FileProblem``."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileProblem(name, f"{what} is too large (more than {_size(limit)})")
    return data
