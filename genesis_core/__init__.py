"""Genesis: keep one application's environment variables consistent across its platforms.

Plugins import from :mod:`genesis_core.api` (the plugin API, versioned by ``API_VERSION``) and
their tests from :mod:`genesis_core.testing`; every other module of this package is internal
and may change in any release (``docs/hooks.md``).
"""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__", "hookimpl", "hookspec", "reconcile", "ReconcileOptions", "DriftReport"]

_LAZY = {
    "hookimpl": "_markers", "hookspec": "_markers",
    "reconcile": "reconciliation", "ReconcileOptions": "reconciliation", "DriftReport": "reconciliation",
}


def __getattr__(name: str) -> object:
    # Lazy exports keep ``import genesis_core`` (and so ``genesis --version``) free of imports.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genesis_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
