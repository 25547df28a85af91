"""The append-only, signed, Merkle-anchored ledger of recorded events.

Files under the state directory:

* ``truth_ledger.json`` - one canonical JSON entry per line (see ``records``).
* ``truth_checkpoints.json`` - one signed ``{size, root, timestamp}`` per line;
  every append adds one, so the last line covers the whole ledger.
* ``truth/ed25519.key`` - the generated signing key (unless ``GENESIS_TRUTH_KEY``).
* ``truth/index/`` - a rebuildable node index for O(log n) appends and proofs.
* ``truth/ledger.lock`` - the ``flock`` that serialises writers across processes.

Writes happen in this order: entry lines (fsync), index, checkpoint (fsync).
A crash between the steps leaves either a torn last line (moved aside by the
next writer, see ``_files.cut_torn_tail``) or entries past the last checkpoint
(validated and checkpointed by the next writer).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from genesis_core.api import SEQ_KEY, TIMESTAMP_KEY, TOPIC_KEY, utc_now

from ._files import (
    append_durably,
    complete_length,
    cut_torn_tail,
    file_lock,
    file_size,
    last_line,
    read_range,
)
from .errors import KeyProblem, LedgerError
from .merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_path,
    leaf_hash,
)
from .proofs import (
    build_consistency_proof,
    build_inclusion_proof,
    explain_inclusion_proof,
)
from .records import (
    Checkpoint,
    Entry,
    line_hash,
    make_checkpoint,
    make_entry,
    parse_line,
    signature_ok,
)
from .signing import (
    Signer,
    canonical_bytes,
    json_safe,
    key_path,
    load_or_create_signer,
    load_signer,
    parse_public_key,
)
from .treeindex import EMPTY_META, MAX_EVENT_ID, IndexMeta, IndexRecord, TreeIndex

LEDGER_FILE = "truth_ledger.json"
CHECKPOINTS_FILE = "truth_checkpoints.json"
TRUTH_DIR = "truth"
_BATCH = 4096
_CHUNK = 1 << 20

Mask = Callable[[Any], Any]


@attrs.frozen
class AppendResult:
    """What ``append`` did with one event: its leaf, and whether it was new."""

    event_id: int
    leaf_index: int
    appended: bool


@attrs.frozen
class VerifyResult:
    """The outcome of ``Ledger.verify``.

    ``first_bad`` is the 1-based line number of the first bad line in ``file``
    (``None`` when the problem is not one line, e.g. a root mismatch);
    ``event_id`` is that entry's id when it could be read.  ``unanchored``
    counts valid entries after the latest checkpoint (an interrupted append;
    the next append checkpoints them).
    """

    ok: bool
    entries: int
    first_bad: int | None = None
    event_id: int | None = None
    reason: str = ""
    file: str | None = None
    checkpoint_size: int | None = None
    root: str | None = None
    unanchored: int = 0

    def describe(self) -> str:
        """Return a one-line summary naming the first bad entry, if any."""
        if self.ok:
            text = f"ledger ok: {self.entries} entries"
            if self.checkpoint_size is not None and self.root is not None:
                text += f", checkpoint size {self.checkpoint_size} root {self.root}"
            if self.unanchored:
                text += (f"; {self.unanchored} entries after the latest checkpoint "
                         f"(an interrupted append; the next append or `genesis ledger repair` "
                         f"checkpoints them)")
            return text
        if self.file is None and self.first_bad is None:
            return f"ledger BAD: {self.reason}"
        where = self.file or LEDGER_FILE
        if self.first_bad is not None:
            where += f" line {self.first_bad}"
        if self.event_id is not None:
            where += f" (event {self.event_id})"
        return f"ledger BAD at {where}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return attrs.asdict(self)


@attrs.frozen
class RepairResult:
    """What ``repair`` changed."""

    torn_bytes: dict[str, int]
    checkpoint: Checkpoint | None
    entries: int


@attrs.frozen
class _Prepared:
    event_id: int
    topic: str
    timestamp: str
    payload: dict[str, Any]


def _bad_event(message: str) -> LedgerError:
    return LedgerError(f"cannot record event: {message}")


class Ledger:
    """The Truth ledger in one state directory; safe to share between threads and processes."""

    def __init__(self, state_dir: str | os.PathLike[str], *, signer: Signer | None = None,
                 environ: Mapping[str, str] | None = None, mask: Mask | None = None,
                 fsync: bool = True) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LEDGER_FILE
        self.checkpoints_path = self.state_dir / CHECKPOINTS_FILE
        self.truth_dir = self.state_dir / TRUTH_DIR
        self.index_dir = self.truth_dir / "index"
        self.lock_path = self.truth_dir / "ledger.lock"
        self.quarantine_dir = self.truth_dir / "torn"
        self._signer = signer
        self._environ = environ
        self._mask = mask
        self._fsync = fsync
        self._mutex = threading.RLock()
        self._id_map: dict[int, int] = {}
        self._id_map_size = 0
        self._id_map_root = EMPTY_ROOT

    def __repr__(self) -> str:
        return f"Ledger({str(self.state_dir)!r})"

    # -- keys ----------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        """Return where the generated private key is (or would be) stored."""
        return key_path(self.state_dir)

    def signer(self, *, create: bool = True) -> Signer:
        """Return the signing key; with ``create``, generate the key file for a ledger not yet begun.

        A missing key next to existing ledger files is an error, never a
        reason to make a new key (that would orphan every signature).
        """
        with self._mutex:
            if self._signer is None:
                found = load_signer(self.state_dir, self._environ)
                if found is None:
                    begun = file_size(self.path) > 0 or file_size(self.checkpoints_path) > 0
                    if not create or begun:
                        raise KeyProblem(
                            f"no signing key: GENESIS_TRUTH_KEY is not set and {self.key_path} "
                            f"does not exist" + (" (restore it: the ledger was signed with it)"
                                                 if begun else ""))
                    found = load_or_create_signer(self.state_dir, self._environ)
                self._signer = found
            return self._signer

    def public_key(self, *, create: bool = True) -> Ed25519PublicKey:
        """Return the public key third parties verify with."""
        return self.signer(create=create).public_key

    # -- writing -----------------------------------------------------------

    def append(self, event: Mapping[str, Any], *, topic: str | None = None) -> AppendResult:
        """Record one delivered event (masked first); a known ``_genesis_seq`` is not recorded twice."""
        return self.append_many([event], topic=topic)[0]

    def append_many(self, events: Iterable[Mapping[str, Any]], *,
                    topic: str | None = None) -> list[AppendResult]:
        """Record several events with one write, one fsync and one checkpoint."""
        prepared = [self._prepare(event, topic) for event in events]
        with self._mutex:
            signer = self.signer(create=True)
            with file_lock(self.lock_path), TreeIndex(self.index_dir) as index:
                meta, checkpoint = self._open_state(index, signer)
                if checkpoint is None:
                    # An empty ledger starts with a checkpoint of size 0, so a missing
                    # checkpoints file next to recorded entries is always an anomaly.
                    checkpoint = self._write_checkpoint(meta, signer)
                results, lines, fresh = [], bytearray(), []
                batch_ids: dict[int, int] = {}
                next_leaf = meta.size
                for item in prepared:
                    existing = batch_ids.get(item.event_id)
                    if existing is None:
                        existing = self._find(index, meta, item.event_id)
                    if existing is not None:
                        results.append(AppendResult(item.event_id, existing, False))
                        continue
                    entry = make_entry(signer, event_id=item.event_id, leaf_index=next_leaf,
                                       topic=item.topic, timestamp=item.timestamp,
                                       payload=item.payload)
                    line = canonical_bytes(entry)
                    fresh.append((line, item.event_id, len(lines)))
                    lines += line + b"\n"
                    batch_ids[item.event_id] = next_leaf
                    results.append(AppendResult(item.event_id, next_leaf, True))
                    next_leaf += 1
                if fresh:
                    if file_size(self.path) != meta.ledger_bytes:
                        raise LedgerError(f"{self.path}: changed while locked (a writer that "
                                          f"ignores the lock?); run `genesis ledger verify`")
                    start = append_durably(self.path, bytes(lines), fsync=self._fsync)
                    records = [IndexRecord(leaf_hash(line), event_id, start + rel)
                               for line, event_id, rel in fresh]
                    meta = index.extend(meta, records, start + len(lines))
                if checkpoint.size < meta.size:
                    self._write_checkpoint(meta, signer)
                return results

    def repair(self) -> RepairResult:
        """Move torn last lines aside and checkpoint valid entries no checkpoint covers yet.

        Never removes a complete line and never signs over an entry whose own
        signature, position or id fails: those stay errors for ``verify``.
        """
        with self._mutex:
            signer = self.signer(create=False)
            with file_lock(self.lock_path), TreeIndex(self.index_dir) as index:
                torn = {}
                for path in (self.path, self.checkpoints_path):
                    size = file_size(path)
                    keep = complete_length(path, size) if size else 0
                    if keep < size:
                        torn[path.name] = cut_torn_tail(path, keep, self.quarantine_dir)
                meta, checkpoint = self._open_state(index, signer, require_checkpoint=False)
                written = None
                if checkpoint is None or checkpoint.size < meta.size:
                    written = self._write_checkpoint(meta, signer)
                return RepairResult(torn, written, meta.size)

    def _prepare(self, event: Mapping[str, Any], topic: str | None) -> _Prepared:
        if not isinstance(event, Mapping):
            raise _bad_event(f"expected a mapping, got {type(event).__name__}")
        seq = event.get(SEQ_KEY)
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_EVENT_ID:
            raise _bad_event(f"{SEQ_KEY} must be a non-negative integer, got {type(seq).__name__}")
        name = topic if topic is not None else event.get(TOPIC_KEY)
        if not isinstance(name, str) or not name:
            raise _bad_event(f"event {seq} has no topic ({TOPIC_KEY})")
        timestamp = event.get(TIMESTAMP_KEY)
        if not isinstance(timestamp, str) or not timestamp:
            timestamp = utc_now()
        payload: Any = dict(event)
        if self._mask is not None:
            payload = self._mask(payload)
        payload = json_safe(payload)
        if not isinstance(payload, dict):
            raise _bad_event(f"event {seq}: the masked payload is not a mapping")
        return _Prepared(seq, name, timestamp, payload)

    def _write_checkpoint(self, meta: IndexMeta, signer: Signer) -> Checkpoint:
        size = file_size(self.checkpoints_path)
        previous = last_line(self.checkpoints_path, size)[0] if size else None
        obj = make_checkpoint(signer, size=meta.size, root=meta.root, timestamp=utc_now(),
                              prev=line_hash(previous))
        append_durably(self.checkpoints_path, canonical_bytes(obj) + b"\n", fsync=self._fsync)
        return Checkpoint.from_json(obj)

    # -- keeping the index honest -------------------------------------------

    def _open_state(self, index: TreeIndex, signer: Signer, *,
                    require_checkpoint: bool = True) -> tuple[IndexMeta, Checkpoint | None]:
        """Bring the index up to date with the ledger and check it against the latest checkpoint.

        Called with the lock held.  Raises ``LedgerError`` rather than extend
        a ledger that fails its own checks.
        """
        key = signer.public_key
        ledger_size = file_size(self.path)
        meta = index.load()
        rebuilt = False
        if meta is not None and meta.ledger_bytes > ledger_size:
            raise LedgerError(f"{self.path}: {meta.ledger_bytes - ledger_size} bytes shorter than "
                              f"what was written (truncated or replaced); run `genesis ledger verify`")
        if meta is None:
            meta, rebuilt = self._rebuild(index, key), True
        elif meta.ledger_bytes < ledger_size:
            meta = self._absorb(index, meta, key)
        checkpoint = self._latest_checkpoint_cutting_torn()
        if checkpoint is not None and not signature_ok(key, checkpoint.to_json()):
            raise LedgerError(f"{self.checkpoints_path}: the latest checkpoint is not signed by the "
                              f"current key (was GENESIS_TRUTH_KEY or {self.key_path.name} changed?); "
                              f"the ledger will not be extended")
        problem = self._checkpoint_problem(index, meta, checkpoint, key, require_checkpoint)
        if problem and not rebuilt:
            # The index is only a cache: before refusing, rebuild it from the
            # ledger itself (a power cut can lose index writes) and look again.
            meta = self._rebuild(index, key)
            problem = self._checkpoint_problem(index, meta, checkpoint, key, require_checkpoint)
        if problem:
            raise LedgerError(f"{problem}; the ledger will not be extended (run `genesis ledger verify`)")
        return meta, checkpoint

    def _checkpoint_problem(self, index: TreeIndex, meta: IndexMeta, checkpoint: Checkpoint | None,
                            key: Ed25519PublicKey, required: bool) -> str | None:
        if checkpoint is None:
            if meta.size and required:
                return (f"{self.checkpoints_path}: no checkpoint covers the {meta.size} recorded "
                        f"entries (file missing or emptied)")
            return None
        if checkpoint.size > meta.size:
            return (f"{self.path}: has {meta.size} entries but the latest checkpoint covers "
                    f"{checkpoint.size} (entries deleted or the file truncated)")
        if index.root(checkpoint.size).hex() != checkpoint.root:
            return f"{self.path}: the first {checkpoint.size} entries do not match the latest checkpoint root"
        return None

    def _latest_checkpoint_cutting_torn(self) -> Checkpoint | None:
        size = file_size(self.checkpoints_path)
        if size == 0:
            return None
        keep = complete_length(self.checkpoints_path, size)
        if keep < size:
            cut_torn_tail(self.checkpoints_path, keep, self.quarantine_dir)
        return self._parse_last_checkpoint(keep)

    def _parse_last_checkpoint(self, size: int) -> Checkpoint | None:
        line, _ = last_line(self.checkpoints_path, size)
        if line is None:
            return None
        obj, problem = parse_line(line, "checkpoint")
        if problem or obj is None:
            raise LedgerError(f"{self.checkpoints_path}: last line: {problem}")
        return Checkpoint.from_json(obj)

    def _rebuild(self, index: TreeIndex, key: Ed25519PublicKey) -> IndexMeta:
        """Re-create the index from the whole ledger, checking every line on the way."""
        size = file_size(self.path)
        keep = complete_length(self.path, size) if size else 0
        if keep < size:
            cut_torn_tail(self.path, keep, self.quarantine_dir)
        index.reset()
        self._forget_ids()
        meta = EMPTY_META
        seen: set[int] = set()
        batch: list[IndexRecord] = []
        offset = 0
        for line_no, (line, _terminated) in enumerate(_iter_lines(self.path, keep), start=1):
            obj = self._checked_line(line, line_no, key)
            if obj["event_id"] in seen:
                raise LedgerError(f"{self.path}:{line_no}: duplicate event_id {obj['event_id']}; "
                                  f"run `genesis ledger verify`")
            seen.add(obj["event_id"])
            batch.append(IndexRecord(leaf_hash(line), obj["event_id"], offset))
            offset += len(line) + 1
            if len(batch) >= _BATCH:
                meta = index.extend(meta, batch, offset)
                batch = []
        meta = index.extend(meta, batch, offset)
        return meta

    def _absorb(self, index: TreeIndex, meta: IndexMeta, key: Ed25519PublicKey) -> IndexMeta:
        """Index entries a crashed writer appended after the index was last updated."""
        size = file_size(self.path)
        data = read_range(self.path, meta.ledger_bytes, size)
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            cut_torn_tail(self.path, meta.ledger_bytes + complete, self.quarantine_dir)
            data = data[:complete]
        records = []
        offset = meta.ledger_bytes
        lines = data.split(b"\n")[:-1] if data else []
        new_ids: set[int] = set()
        for j, line in enumerate(lines):
            line_no = meta.size + j + 1
            obj = self._checked_line(line, line_no, key)
            event_id = obj["event_id"]
            if event_id in new_ids or self._find(index, meta, event_id) is not None:
                raise LedgerError(f"{self.path}:{line_no}: duplicate event_id {event_id}; "
                                  f"run `genesis ledger verify`")
            new_ids.add(event_id)
            records.append(IndexRecord(leaf_hash(line), event_id, offset))
            offset += len(line) + 1
        return index.extend(meta, records, offset)

    def _checked_line(self, line: bytes, line_no: int, key: Ed25519PublicKey) -> dict[str, Any]:
        obj, problem = parse_line(line, "entry")
        if obj is None:
            raise LedgerError(f"{self.path}:{line_no}: {problem}; run `genesis ledger verify`")
        if obj["leaf_index"] != line_no - 1:
            raise LedgerError(f"{self.path}:{line_no}: holds leaf_index {obj['leaf_index']} "
                              f"(lines deleted, duplicated or reordered); run `genesis ledger verify`")
        if not signature_ok(key, obj):
            raise LedgerError(f"{self.path}:{line_no}: signature does not verify; "
                              f"run `genesis ledger verify`")
        return obj

    # -- finding events ------------------------------------------------------

    def _forget_ids(self) -> None:
        self._id_map, self._id_map_size, self._id_map_root = {}, 0, EMPTY_ROOT

    def _find(self, index: TreeIndex, meta: IndexMeta, event_id: int) -> int | None:
        """Return the leaf holding ``event_id``: O(log n) while ids are increasing."""
        if meta.size == 0 or meta.last_event_id is None or event_id > meta.last_event_id:
            return None
        if meta.ids_sorted:
            return index.find_sorted(event_id, meta.size)
        # Out-of-order ids (a retried older event): keep a map, extended incrementally.
        if self._id_map_size > meta.size or index.root(self._id_map_size) != self._id_map_root:
            self._forget_ids()
        if self._id_map_size < meta.size:
            ids = index.event_ids(self._id_map_size, meta.size)
            for offset, found in enumerate(ids):
                self._id_map[found] = self._id_map_size + offset
            self._id_map_size = meta.size
            self._id_map_root = index.root(meta.size)
        return self._id_map.get(event_id)

    # -- reading -------------------------------------------------------------

    def latest_checkpoint(self) -> Checkpoint | None:
        """Return the newest checkpoint (``None`` before the first append)."""
        with file_lock(self.lock_path, shared=True):
            size = file_size(self.checkpoints_path)
            if size == 0:
                return None
            return self._parse_last_checkpoint(complete_length(self.checkpoints_path, size))

    def entries(self) -> Iterator[Entry]:
        """Yield every entry, oldest first; a malformed line raises ``LedgerError`` naming it."""
        with file_lock(self.lock_path, shared=True):
            size = file_size(self.path)
        for line_no, (line, terminated) in enumerate(_iter_lines(self.path, size), start=1):
            if not terminated:
                raise LedgerError(f"{self.path}:{line_no}: incomplete last line (an interrupted "
                                  f"append); run `genesis ledger verify`")
            obj, problem = parse_line(line, "entry")
            if obj is None:
                raise LedgerError(f"{self.path}:{line_no}: {problem}; run `genesis ledger verify`")
            yield Entry.from_json(obj)

    def __len__(self) -> int:
        with file_lock(self.lock_path, shared=True):
            size = file_size(self.path)
        return sum(1 for _ in _iter_lines(self.path, size))

    # -- proofs ----------------------------------------------------------------

    def _proof_state(self, index: TreeIndex) -> tuple[Signer, IndexMeta, Checkpoint]:
        signer = self.signer(create=False)
        meta, checkpoint = self._open_state(index, signer)
        if checkpoint is None:
            raise LedgerError(f"{self.path}: the ledger is empty")
        if checkpoint.size < meta.size:
            checkpoint = self._write_checkpoint(meta, signer)
        return signer, meta, checkpoint

    def prove(self, seq: int) -> dict[str, Any]:
        """Return an inclusion proof of event ``seq`` against the latest checkpoint.

        Every proof is checked before it is returned; if it does not check
        out, the index (only a cache) is rebuilt from the ledger once and the
        proof made again.
        """
        with self._mutex, file_lock(self.lock_path), TreeIndex(self.index_dir) as index:
            problem = ""
            line = 0
            for attempt in range(2):
                signer, meta, checkpoint = self._proof_state(index)
                leaf = self._find(index, meta, seq)
                if leaf is None:
                    raise LedgerError(f"event {seq} is not in the ledger")
                line = leaf + 1
                proof, problem = self._inclusion_proof(index, leaf, checkpoint, signer)
                if proof is not None:
                    return proof
                if attempt == 0:
                    self._rebuild(index, signer.public_key)
            raise LedgerError(f"{self.path}:{line}: cannot prove event {seq}: {problem}; "
                              f"run `genesis ledger verify`")

    def _inclusion_proof(self, index: TreeIndex, leaf: int, checkpoint: Checkpoint,
                         signer: Signer) -> tuple[dict[str, Any] | None, str]:
        _, offset = index.record(leaf)
        try:
            line = _read_line(self.path, offset)
        except LedgerError as exc:
            return None, str(exc)
        if leaf_hash(line) != index.node(0, leaf):
            return None, "the line differs from when it was written"
        obj, problem = parse_line(line, "entry")
        if obj is None:
            return None, str(problem)
        path = inclusion_path(leaf, checkpoint.size, index.subtree)
        proof = build_inclusion_proof(obj, leaf, checkpoint.to_json(), path, signer.public_key)
        reason = explain_inclusion_proof(proof, signer.public_key)
        if reason:
            return None, reason
        return proof, ""

    def consistency(self, old_size: int) -> dict[str, Any]:
        """Return a proof that the first ``old_size`` entries are a prefix of the latest checkpoint."""
        with self._mutex, file_lock(self.lock_path), TreeIndex(self.index_dir) as index:
            signer, meta, checkpoint = self._proof_state(index)
            if not 0 <= old_size <= checkpoint.size:
                raise LedgerError(f"size {old_size} is outside the checkpointed ledger "
                                  f"(0..{checkpoint.size})")
            nodes = consistency_proof(old_size, checkpoint.size, index.subtree)
            return build_consistency_proof(old_size, index.root(old_size), checkpoint.to_json(),
                                           nodes, signer.public_key)

    # -- verification ------------------------------------------------------------

    def verify(self, public_key: str | bytes | Ed25519PublicKey | None = None, *,
               all_checkpoints: bool = False,
               trusted_checkpoints: Sequence[Mapping[str, Any]] = ()) -> VerifyResult:
        """Check every entry, the Merkle tree and the checkpoints; fail closed on anything unreadable.

        ``public_key`` defaults to the local key (never generated here).
        ``all_checkpoints`` also checks every older checkpoint's signature and
        root; ``trusted_checkpoints`` are checkpoints kept elsewhere, each of
        which the ledger must still extend (this catches a truncation that
        also rewound the checkpoints file).
        """
        try:
            if public_key is None:
                key = self.signer(create=False).public_key
            elif isinstance(public_key, Ed25519PublicKey):
                key = public_key
            else:
                key = parse_public_key(public_key)
        except LedgerError as exc:
            return VerifyResult(False, 0, reason=str(exc))
        try:
            return _Verifier(self, key, all_checkpoints, trusted_checkpoints).run()
        except OSError as exc:
            return VerifyResult(False, 0, reason=f"cannot read the ledger: {exc.strerror or exc}")


class _Bad(Exception):
    def __init__(self, result: VerifyResult) -> None:
        super().__init__(result.reason)
        self.result = result


class _Verifier:
    """One streaming pass over the checkpoints and then the ledger."""

    def __init__(self, ledger: Ledger, key: Ed25519PublicKey, all_checkpoints: bool,
                 trusted: Sequence[Mapping[str, Any]]) -> None:
        self.ledger = ledger
        self.key = key
        self.all_checkpoints = all_checkpoints
        self.trusted = list(trusted)
        self.entries = 0

    def bad(self, reason: str, *, line: int | None = None, event_id: int | None = None,
            file: str = LEDGER_FILE) -> _Bad:
        return _Bad(VerifyResult(False, self.entries, line, event_id, reason, file))

    def run(self) -> VerifyResult:
        ledger = self.ledger
        with file_lock(ledger.lock_path, shared=True):
            ledger_size = file_size(ledger.path)
            checkpoints_size = file_size(ledger.checkpoints_path)
        try:
            latest, wanted = self.read_checkpoints(checkpoints_size)
            for trusted in self.trusted:
                self.check_trusted_shape(trusted, wanted)
            self.scan_ledger(ledger_size, wanted)
        except _Bad as bad:
            return bad.result
        # A checkpoint kept elsewhere is checked first: it is the only witness when the
        # ledger and its checkpoints were both deleted, emptied or cut back together.
        for trusted in self.trusted:
            if trusted["size"] > self.entries:
                return VerifyResult(False, self.entries, self.entries + 1, None, (
                    f"the ledger has {self.entries} entries but a trusted checkpoint covers "
                    f"{trusted['size']}: entries were deleted or the file truncated"), LEDGER_FILE)
        if latest is None:
            if self.entries:
                return VerifyResult(False, self.entries, reason=(
                    f"no checkpoint covers the {self.entries} entries "
                    f"({CHECKPOINTS_FILE} missing or emptied)"), file=CHECKPOINTS_FILE)
            return VerifyResult(True, 0, checkpoint_size=0, root=EMPTY_ROOT.hex())
        if latest.size > self.entries:
            return VerifyResult(False, self.entries, self.entries + 1, None, (
                f"the ledger has {self.entries} entries but the latest checkpoint covers "
                f"{latest.size}: entries were deleted or the file truncated"), LEDGER_FILE)
        return VerifyResult(True, self.entries, checkpoint_size=latest.size, root=latest.root,
                            unanchored=self.entries - latest.size)

    def read_checkpoints(self, size: int) -> tuple[Checkpoint | None, dict[int, list[tuple[str, str]]]]:
        """Parse every checkpoint line; return the latest and the roots to check by size.

        Each line's ``prev`` must be the hash of the line before it; anchored by
        the signed latest line, that chain covers every line without checking
        every signature.
        """
        latest: Checkpoint | None = None
        latest_line = 0
        previous: bytes | None = None
        wanted: dict[int, list[tuple[str, str]]] = {}
        path = self.ledger.checkpoints_path
        for line_no, (line, terminated) in enumerate(_iter_lines(path, size), start=1):
            if not terminated:
                raise self.bad("incomplete last line (an interrupted write; `genesis ledger repair` "
                               "moves it aside)", line=line_no, file=CHECKPOINTS_FILE)
            obj, problem = parse_line(line, "checkpoint")
            if obj is None:
                raise self.bad(f"{problem}", line=line_no, file=CHECKPOINTS_FILE)
            checkpoint = Checkpoint.from_json(obj)
            self.check_link(checkpoint, latest, previous, line_no)
            previous = line
            if latest is not None and checkpoint.size <= latest.size:
                raise self.bad(f"checkpoint size {checkpoint.size} does not grow past {latest.size} "
                               f"(lines reordered, duplicated or rewritten)",
                               line=line_no, file=CHECKPOINTS_FILE)
            if self.all_checkpoints:
                if not signature_ok(self.key, obj):
                    raise self.bad("checkpoint signature does not verify", line=line_no,
                                   file=CHECKPOINTS_FILE)
                wanted.setdefault(checkpoint.size, []).append(
                    (checkpoint.root, f"checkpoint at {CHECKPOINTS_FILE} line {line_no}"))
            latest, latest_line = checkpoint, line_no
        if latest is not None:
            if not signature_ok(self.key, latest.to_json()):
                raise self.bad("the latest checkpoint's signature does not verify with this key",
                               line=latest_line, file=CHECKPOINTS_FILE)
            if not self.all_checkpoints:
                wanted.setdefault(latest.size, []).append(
                    (latest.root, f"latest checkpoint ({CHECKPOINTS_FILE} line {latest_line})"))
        return latest, wanted

    def check_link(self, checkpoint: Checkpoint, latest: Checkpoint | None, previous: bytes | None,
                   line_no: int) -> None:
        """Raise unless ``checkpoint`` names the line before it (legacy lines only before linked ones)."""
        if checkpoint.prev is None:
            if latest is not None and latest.prev is not None:
                raise self.bad("checkpoint has no prev after one that has (a line was replaced)",
                               line=line_no, file=CHECKPOINTS_FILE)
            return
        if checkpoint.prev != line_hash(previous):
            raise self.bad("checkpoint does not follow the line before it (a checkpoint line was "
                           "deleted, inserted or replaced)", line=line_no, file=CHECKPOINTS_FILE)

    def check_trusted_shape(self, trusted: Mapping[str, Any],
                            wanted: dict[int, list[tuple[str, str]]]) -> None:
        from .records import checkpoint_problem

        problem = checkpoint_problem(dict(trusted))
        if problem:
            raise self.bad(f"trusted checkpoint: {problem}", file="trusted checkpoint")
        if not signature_ok(self.key, trusted):
            raise self.bad("trusted checkpoint signature does not verify with this key",
                           file="trusted checkpoint")
        wanted.setdefault(trusted["size"], []).append(
            (trusted["root"], f"trusted checkpoint of size {trusted['size']}"))

    def scan_ledger(self, size: int, wanted: dict[int, list[tuple[str, str]]]) -> None:
        acc = MerkleAccumulator()
        self.check_roots(acc, wanted)
        seen: set[int] = set()
        for line_no, (line, terminated) in enumerate(_iter_lines(self.ledger.path, size), start=1):
            if not terminated:
                raise self.bad("incomplete last line (an interrupted append; the next append or "
                               "`genesis ledger repair` moves it aside)", line=line_no)
            obj, problem = parse_line(line, "entry")
            if obj is None:
                raise self.bad(f"{problem}", line=line_no)
            event_id = obj["event_id"]
            if obj["leaf_index"] != line_no - 1:
                raise self.bad(f"holds leaf_index {obj['leaf_index']}: lines were deleted, "
                               f"duplicated or reordered", line=line_no, event_id=event_id)
            if event_id in seen:
                raise self.bad("duplicate event_id", line=line_no, event_id=event_id)
            if not signature_ok(self.key, obj):
                raise self.bad("signature does not verify", line=line_no, event_id=event_id)
            seen.add(event_id)
            acc.append(leaf_hash(line))
            self.entries = acc.size
            self.check_roots(acc, wanted)

    def check_roots(self, acc: MerkleAccumulator, wanted: dict[int, list[tuple[str, str]]]) -> None:
        targets = wanted.get(acc.size)
        if not targets:
            return
        root = acc.root().hex()
        for expected, label in targets:
            if expected != root:
                raise self.bad(f"the Merkle root of the first {acc.size} entries does not match the "
                               f"{label}")


def _iter_lines(path: Path, size: int) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(line, ended_with_newline)`` for the first ``size`` bytes of ``path``."""
    if size <= 0:
        return
    remaining = size
    pending = b""
    with path.open("rb") as fh:
        while remaining > 0:
            chunk = fh.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for part in parts:
                yield part, True
    if pending:
        yield pending, False


def _read_line(path: Path, offset: int) -> bytes:
    """Return the line starting at ``offset`` without its newline."""
    with path.open("rb") as fh:
        fh.seek(offset)
        line = fh.readline()
    if not line.endswith(b"\n"):
        raise LedgerError(f"{path}: no complete line at byte {offset}; run `genesis ledger verify`")
    return line[:-1]
