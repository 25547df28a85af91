"""A rebuildable sidecar that makes appends and proofs O(log n): stored Merkle nodes.

``<dir>/level-KK.bin`` holds, back to back, the 32-byte hashes of every
complete aligned subtree of height ``KK`` (level 0 = leaf hashes), so any node
a proof needs is one positioned read.  ``entries.bin`` holds per leaf the event
id and the byte offset of its ledger line.  ``meta.json`` is written last and
says how much of all that is valid.  The ledger file and the checkpoints stay
the source of truth: this index is checked against them and rebuilt from the
ledger whenever it disagrees.
"""

from __future__ import annotations

import json
import os
import struct
from array import array
from collections.abc import Sequence
from pathlib import Path

import attrs

from .merkle import EMPTY_ROOT, HASH_SIZE, node_hash, split_point

INDEX_VERSION = 1
_RECORD = struct.Struct("<qq")  # event id, byte offset of the ledger line
MAX_EVENT_ID = 2**63 - 1


@attrs.frozen
class IndexMeta:
    """How many leaves the index holds and what it knows about them."""

    size: int
    ledger_bytes: int
    root: str
    last_event_id: int | None
    ids_sorted: bool

    def to_json(self) -> dict[str, object]:
        """Return the ``meta.json`` form."""
        return {"version": INDEX_VERSION, "size": self.size, "ledger_bytes": self.ledger_bytes,
                "root": self.root, "last_event_id": self.last_event_id,
                "ids_sorted": self.ids_sorted}


EMPTY_META = IndexMeta(0, 0, EMPTY_ROOT.hex(), None, True)


@attrs.frozen
class IndexRecord:
    """One leaf to add: its hash, its event id and where its line starts."""

    leaf: bytes
    event_id: int
    offset: int


class TreeIndex:
    """Open for one locked operation; ``close()`` (or ``with``) releases the descriptors."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.meta_path = self.directory / "meta.json"
        self.entries_path = self.directory / "entries.bin"
        self._read_fds: dict[Path, int] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> TreeIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every descriptor this object opened."""
        for fd in self._read_fds.values():
            os.close(fd)
        self._read_fds.clear()

    def level_path(self, level: int) -> Path:
        """Return the file holding the nodes of height ``level``."""
        return self.directory / f"level-{level:02d}.bin"

    def _level_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("level-*.bin"))

    # -- loading -----------------------------------------------------------

    def load(self) -> IndexMeta | None:
        """Return the valid meta, trimming bytes a crash left beyond it; ``None`` if unusable."""
        try:
            data = json.loads(self.meta_path.read_bytes())
            meta = IndexMeta(int(data["size"]), int(data["ledger_bytes"]), str(data["root"]),
                             None if data["last_event_id"] is None else int(data["last_event_id"]),
                             bool(data["ids_sorted"]))
            if data.get("version") != INDEX_VERSION or meta.size < 0 or meta.ledger_bytes < 0:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        expected = {self.entries_path: meta.size * _RECORD.size}
        level = 0
        while meta.size >> level:
            expected[self.level_path(level)] = (meta.size >> level) * HASH_SIZE
            level += 1
        for path in self._level_files():
            expected.setdefault(path, 0)
        for path, length in expected.items():
            try:
                actual = path.stat().st_size
            except FileNotFoundError:
                actual = 0
            if actual < length:
                return None
            if actual > length:
                with path.open("r+b") as fh:
                    fh.truncate(length)
        if self.root(meta.size).hex() != meta.root:
            return None
        return meta

    def reset(self) -> None:
        """Empty the index (files are truncated in place)."""
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.meta_path.unlink(missing_ok=True)
        for path in (self.entries_path, *self._level_files()):
            with path.open("r+b") if path.exists() else path.open("wb") as fh:
                fh.truncate(0)

    # -- reading -----------------------------------------------------------

    def _pread(self, path: Path, length: int, offset: int) -> bytes:
        fd = self._read_fds.get(path)
        if fd is None:
            fd = os.open(path, os.O_RDONLY)
            self._read_fds[path] = fd
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise OSError(f"{path}: short read at {offset}")
        return data

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of the aligned subtree of height ``level`` at position ``index``."""
        return self._pread(self.level_path(level), HASH_SIZE, index * HASH_SIZE)

    def subtree(self, start: int, end: int) -> bytes:
        """Return MTH of leaves ``[start, end)`` from stored nodes in O(log n) reads."""
        n = end - start
        if n <= 0:
            raise ValueError(f"empty subtree [{start}, {end})")
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self.node(level, start >> level)
        k = split_point(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int) -> bytes:
        """Return MTH of the first ``size`` leaves."""
        return EMPTY_ROOT if size == 0 else self.subtree(0, size)

    def record(self, leaf_index: int) -> tuple[int, int]:
        """Return ``(event_id, line offset)`` of one leaf."""
        event_id, offset = _RECORD.unpack(
            self._pread(self.entries_path, _RECORD.size, leaf_index * _RECORD.size))
        return event_id, offset

    def event_ids(self, start: int, stop: int) -> array[int]:
        """Return the event ids of leaves ``[start, stop)``."""
        if stop <= start:
            return array("q")
        raw = array("q", self._pread(self.entries_path, (stop - start) * _RECORD.size,
                                     start * _RECORD.size))
        return raw[0::2]

    def find_sorted(self, event_id: int, size: int) -> int | None:
        """Return the leaf of ``event_id`` by binary search (ids must be increasing)."""
        lo, hi = 0, size
        while lo < hi:
            mid = (lo + hi) // 2
            found, _ = self.record(mid)
            if found < event_id:
                lo = mid + 1
            else:
                hi = mid
        if lo < size and self.record(lo)[0] == event_id:
            return lo
        return None

    # -- writing -----------------------------------------------------------

    def extend(self, meta: IndexMeta, records: Sequence[IndexRecord], ledger_bytes: int) -> IndexMeta:
        """Add ``records`` after the ``meta.size`` leaves already stored; return the new meta.

        Node files are appended first and ``meta.json`` replaced last, so a
        crash in between leaves extra bytes that ``load`` trims.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        size = meta.size
        pending: dict[int, bytes] = {}
        level = 0
        while size >> level:
            if (size >> level) & 1:
                pending[level] = self.node(level, (size >> level) - 1)
            level += 1
        buffers: dict[int, bytearray] = {}
        entries = bytearray()
        last_id, ids_sorted = meta.last_event_id, meta.ids_sorted
        for rec in records:
            entries += _RECORD.pack(rec.event_id, rec.offset)
            if last_id is not None and rec.event_id <= last_id:
                ids_sorted = False
            last_id = rec.event_id if last_id is None else max(last_id, rec.event_id)
            height, current = 0, rec.leaf
            buffers.setdefault(0, bytearray()).extend(current)
            while height in pending:
                current = node_hash(pending.pop(height), current)
                height += 1
                buffers.setdefault(height, bytearray()).extend(current)
            pending[height] = current
            size += 1
        self._append(self.entries_path, bytes(entries))
        for height, data in buffers.items():
            self._append(self.level_path(height), bytes(data))
        new_meta = IndexMeta(size, ledger_bytes, self.root(size).hex(), last_id, ids_sorted)
        self.write_meta(new_meta)
        return new_meta

    def write_meta(self, meta: IndexMeta) -> None:
        """Replace ``meta.json`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.meta_path.with_name(f".meta.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(meta.to_json(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.meta_path)

    @staticmethod
    def _append(path: Path, data: bytes) -> None:
        if not data:
            return
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
