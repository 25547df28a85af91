"""Errors of the Truth ledger; each renders as one line naming the file (and line)."""

from __future__ import annotations

from genesis_core.api import GenesisError


class LedgerError(GenesisError):
    """The ledger cannot be read, extended or proven safely."""


class KeyProblem(LedgerError):
    """A signing or verification key is missing or unusable (the message never holds key material)."""
