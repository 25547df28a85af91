"""Genesis: keep one application's environment variables consistent across its platforms."""

from __future__ import annotations

from typing import Any

from ._markers import hookimpl, hookspec
from ._version import __version__

__all__ = ["__version__", "hookimpl", "hookspec", "reconcile", "ReconcileOptions", "DriftReport"]


def __getattr__(name: str) -> Any:
    # Lazy exports keep ``import genesis_core`` (and so ``genesis --version``) fast.
    if name in ("reconcile", "ReconcileOptions", "DriftReport"):
        from . import reconciliation as _module

        return getattr(_module, name)
    raise AttributeError(f"module 'genesis_core' has no attribute {name!r}")
