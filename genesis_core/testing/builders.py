"""Build the values an adapter is made from, as a configuration file would give them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Table
from ..platforms.model import InstanceConfig

__all__ = ["instance_config"]


def instance_config(kind: str, table: Mapping[str, Any] | None = None, *, name: str | None = None,
                    base_dir: Path | str = ".", file: str = "genesis.toml") -> InstanceConfig:
    """Return the ``InstanceConfig`` of a ``[platforms.NAME]`` table of ``file`` holding ``table``.

    ``kind = KIND`` is added to the table unless it has one; ``name`` defaults to the kind
    with ``-`` as ``_`` (an instance name has no ``-``); relative paths of the table resolve
    against ``base_dir``.  Errors name ``file`` and ``platforms.NAME.KEY``, as for a real file.
    """
    name = name if name is not None else kind.replace("-", "_")
    data = {"kind": kind, **(table or {})}
    return InstanceConfig(name, kind, Table(data, file, f"platforms.{name}"), Path(base_dir))
