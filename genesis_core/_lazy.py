"""Resolve ``"package.module:attribute"`` on first use, so registering a plugin imports nothing heavy."""

from __future__ import annotations

import importlib
from typing import Any


def resolve(target: str) -> Any:
    """Return the object ``target`` (``"module:attribute"``) names, importing its module."""
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"expected 'module:attribute', got {target!r}")
    return getattr(importlib.import_module(module), attribute)
