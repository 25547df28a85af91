"""RFC 6962 Merkle tree hashing, proof generation and proof verification.

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the
largest power of two smaller than ``n`` (RFC 6962 §2.1).  Proof generation
follows the ``PATH`` and ``PROOF`` definitions of RFC 6962 §2.1.1/§2.1.2 and
is written against a ``subtree(start, end)`` callback, so a caller that stores
node hashes gets proofs in O(log n) reads.  Verification follows the
algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and needs nothing but hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH of leaves ``[start, end)`` (``start < end``)."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 hash of one leaf: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n > 1``)."""
    if n < 2:
        raise ValueError(f"a tree of size {n} does not split")
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


class MerkleAccumulator:
    """The right edge of a growing tree: appends in amortised O(1), root in O(log n).

    ``frontier`` holds the roots of the perfect subtrees the leaves so far
    decompose into, largest (leftmost) first, with their heights.
    """

    __slots__ = ("size", "_frontier")

    def __init__(self) -> None:
        self.size = 0
        self._frontier: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at the right edge."""
        height, node = 0, leaf
        frontier = self._frontier
        while frontier and frontier[-1][0] == height:
            _, left = frontier.pop()
            node = node_hash(left, node)
            height += 1
        frontier.append((height, node))
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add several leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """Return MTH over every leaf appended so far."""
        if not self._frontier:
            return EMPTY_ROOT
        result = self._frontier[-1][1]
        for _, node in reversed(self._frontier[:-1]):
            result = node_hash(node, result)
        return result


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Return MTH over ``leaves`` (leaf hashes, in order)."""
    acc = MerkleAccumulator()
    acc.extend(leaves)
    return acc.root()


def subtree_from_leaves(leaves: Sequence[bytes]) -> SubtreeHash:
    """Return a ``subtree(start, end)`` callback that hashes an in-memory list of leaf hashes."""

    def subtree(start: int, end: int) -> bytes:
        if not 0 <= start < end <= len(leaves):
            raise ValueError(f"no subtree [{start}, {end}) in a tree of size {len(leaves)}")
        return root_of(leaves[start:end])

    return subtree


def inclusion_path(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """Return ``PATH(index, D[size])`` of RFC 6962 §2.1.1, the leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            siblings.append(subtree(start + k, end))
            end = start + k
        else:
            siblings.append(subtree(start, start + k))
            start += k
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """Return ``PROOF(old_size, D[size])`` of RFC 6962 §2.1.2 (empty when nothing to prove)."""
    if not 0 <= old_size <= size:
        raise ValueError(f"no consistency proof from size {old_size} to size {size}")
    if old_size in (0, size):
        return []
    collected: list[bytes] = []
    m, start, end = old_size, 0, size
    whole_old_tree = True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            collected.append(subtree(start + k, end))
            end = start + k
        else:
            collected.append(subtree(start, start + k))
            m -= k
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        collected.append(subtree(start, end))
    collected.reverse()
    return collected


def root_from_inclusion_path(index: int, size: int, leaf: bytes,
                             path: Sequence[bytes]) -> bytes | None:
    """Return the root an inclusion path implies (RFC 9162 §2.1.3.2), or ``None`` if malformed."""
    if not 0 <= index < size or not _is_hash(leaf):
        return None
    fn, sn = index, size - 1
    result = bytes(leaf)
    for sibling in path:
        if not _is_hash(sibling) or sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(bytes(sibling), result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, bytes(sibling))
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """Return whether ``path`` proves leaf hash ``leaf`` sits at ``index`` in the tree ``root``."""
    computed = root_from_inclusion_path(index, size, leaf, path)
    return computed is not None and _is_hash(root) and computed == bytes(root)


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Return whether ``proof`` shows tree ``old_root`` is a prefix of tree ``root``.

    RFC 9162 §2.1.4.2, with the usual edge cases made explicit: equal sizes
    need an empty proof and equal roots; the empty tree is a prefix of any
    tree with an empty proof.
    """
    if not _is_hash(old_root) or not _is_hash(root) or not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and bytes(old_root) == bytes(root)
    if old_size == 0:
        return not proof
    if not proof or not all(_is_hash(p) for p in proof):
        return False
    path = [bytes(p) for p in proof]
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == bytes(old_root) and sr == bytes(root)
