"""Genesis Truth engine: a signed, Merkle-anchored, append-only ledger of Genesis events.

Heavy parts (``cryptography``) load only when the ledger is used; import the
submodules (``genesis_truth.ledger``, ``genesis_truth.proofs``) directly.
"""

from __future__ import annotations

__version__ = "0.1.0"
