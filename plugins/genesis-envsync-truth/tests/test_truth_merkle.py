"""RFC 6962 Merkle tree: reference test vectors and properties against the definition."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_truth.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_of,
    subtree_from_leaves,
    verify_consistency,
    verify_inclusion,
)

# Test vectors of the Certificate Transparency reference implementations, as published in
# transparency-dev/merkle proof/verify_test.go (roots, inclusionProofs, consistencyProofs;
# originally from google/certificate-transparency's merkle_tree_test.cc).  The leaf
# numbers there are 1-based; below they are converted to 0-based indexes.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [  # MTH of the first 1..8 leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]

HASHES = [leaf_hash(data) for data in LEAVES]
SUBTREE = subtree_from_leaves(HASHES)


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 defines it, recursively over raw leaf data."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_hash_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    assert root_of(HASHES[:size]).hex() == ROOTS[size - 1]
    acc = MerkleAccumulator()
    acc.extend(HASHES[:size])
    assert acc.size == size
    assert acc.root().hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_reference_inclusion_paths(index: int, size: int, path: list[str]) -> None:
    generated = inclusion_path(index, size, subtree_from_leaves(HASHES[:size]))
    assert [p.hex() for p in generated] == path
    root = bytes.fromhex(ROOTS[size - 1])
    assert verify_inclusion(index, size, HASHES[index], h(path), root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_reference_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    generated = consistency_proof(old, new, subtree_from_leaves(HASHES[:new]))
    assert [p.hex() for p in generated] == proof
    assert verify_consistency(old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]),
                              h(proof))


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    root, leaf, proof = bytes.fromhex(ROOTS[size - 1]), HASHES[index], h(path)
    wrong = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, leaf_hash(b"WrongLeaf"), proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof + [root], root),
        (index, size, leaf, [root] + proof, root),
        (index, size, leaf, proof[:-1], root),
        (index, size, leaf, proof + [b""], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        wrong.append((index, size, leaf, flipped, root))
    for probe in wrong:
        assert not verify_inclusion(*probe), probe[:2]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[str]) -> None:
    r1, r2, p = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), h(proof)
    wrong = [
        (old - 1, new, r1, r2, p), (old + 1, new, r1, r2, p), (old ^ 2, new, r1, r2, p),
        (old, new * 2, r1, r2, p), (old, new // 2, r1, r2, p),
        (old, new, EMPTY_ROOT, r2, p), (old, new, r1, EMPTY_ROOT, p), (old, new, r2, r1, p),
        (old, new, r1, r2, []), (old, new, r1, r2, p + [r1]), (old, new, r1, r2, [r2] + p),
        (old, new, r1, r2, p[:-1]),
    ]
    for i in range(len(p)):
        flipped = list(p)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        wrong.append((old, new, r1, r2, flipped))
    for probe in wrong:
        assert not verify_consistency(*probe), probe[:2]


def test_consistency_edge_cases() -> None:
    r = bytes.fromhex(ROOTS[0])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, bytes.fromhex(ROOTS[4]), [])
    assert verify_consistency(1, 1, r, r, [])
    assert not verify_consistency(1, 1, r, EMPTY_ROOT, [])
    assert not verify_consistency(1, 1, r, r, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, r, [EMPTY_ROOT])
    assert not verify_consistency(2, 1, r, r, [])
    assert not verify_inclusion(0, 0, HASHES[0], [], EMPTY_ROOT)
    assert verify_inclusion(0, 1, HASHES[0], [], HASHES[0])
    with pytest.raises(ValueError):
        inclusion_path(3, 3, SUBTREE)
    with pytest.raises(ValueError):
        consistency_proof(4, 3, SUBTREE)


def test_every_proof_up_to_33_leaves_verifies() -> None:
    data = [f"leaf-{i}".encode() for i in range(33)]
    leaves = [leaf_hash(d) for d in data]
    for size in range(1, len(leaves) + 1):
        subtree = subtree_from_leaves(leaves[:size])
        root = reference_mth(data[:size])
        assert root_of(leaves[:size]) == root
        for index in range(size):
            path = inclusion_path(index, size, subtree)
            assert len(path) <= (size - 1).bit_length()
            assert verify_inclusion(index, size, leaves[index], path, root)
            assert not verify_inclusion(index, size, leaf_hash(b"other"), path, root)
        for old in range(size + 1):
            proof = consistency_proof(old, size, subtree)
            assert verify_consistency(old, size, reference_mth(data[:old]), root, proof)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=16), min_size=1, max_size=70), st.data())
def test_accumulator_matches_definition_and_proofs_verify(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in data]
    acc = MerkleAccumulator()
    for i, leaf in enumerate(leaves, start=1):
        acc.append(leaf)
        assert acc.root() == reference_mth(data[:i])
    size = len(leaves)
    index = draw.draw(st.integers(0, size - 1))
    old = draw.draw(st.integers(0, size))
    subtree = subtree_from_leaves(leaves)
    assert verify_inclusion(index, size, leaves[index], inclusion_path(index, size, subtree), acc.root())
    assert verify_consistency(old, size, reference_mth(data[:old]), acc.root(),
                              consistency_proof(old, size, subtree))
