"""Platform model: what an adapter registers, fetches and writes."""

from __future__ import annotations

from .model import (
    REDEPLOY,
    RESTART,
    STAGED,
    FetchContext,
    InstanceConfig,
    PlatformAdapter,
    PlatformKind,
    Snapshot,
    Variable,
    VariableWrite,
    WriteEffect,
)

__all__ = ["REDEPLOY", "RESTART", "STAGED", "FetchContext", "InstanceConfig", "PlatformAdapter", "PlatformKind",
           "Snapshot", "Variable", "VariableWrite", "WriteEffect"]
