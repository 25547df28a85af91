"""Platform model: what an adapter registers, fetches and writes."""

from __future__ import annotations

from .model import FetchContext, InstanceConfig, PlatformAdapter, PlatformKind, Snapshot, Variable

__all__ = ["FetchContext", "InstanceConfig", "PlatformAdapter", "PlatformKind", "Snapshot", "Variable"]
