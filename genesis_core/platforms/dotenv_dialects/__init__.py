"""How each ``.env`` reader reads a file: one small module per ``dialect``, one interface.

=========  ====================================================
``python``   python-dotenv (the default; what Genesis always did)
``node``     the ``dotenv`` npm package
``dotenvx``  ``@dotenvx/dotenvx`` (expands; ``$(cmd)`` refused)
``compose``  Docker Compose v2 ``env_file`` (compose-go)
=========  ====================================================
"""

from __future__ import annotations

from .base import FROM_ENVIRONMENT, FROM_FILES, UNSET, Context, Dialect, DialectError, Entry, Note, Reading, Reference
from .compose import ComposeDialect
from .dotenvx import DotenvxDialect
from .node import NodeDialect
from .python import PythonDialect

#: Every dialect by its ``dialect = "..."`` name.
DIALECTS: dict[str, Dialect] = {d.name: d for d in (PythonDialect(), NodeDialect(), DotenvxDialect(), ComposeDialect())}


def get_dialect(name: str) -> Dialect:
    """Return the dialect called ``name``; raise ``KeyError`` for an unknown name."""
    return DIALECTS[name]


__all__ = ["DIALECTS", "FROM_ENVIRONMENT", "FROM_FILES", "UNSET", "Context", "Dialect", "DialectError", "Entry", "Note",
           "Reading", "Reference", "get_dialect"]
