"""Helpers shared by the genesis-envsync-truth tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import re
from typing import Any

CANARY = "canary-Sup3rS3cretValue-7f3a9c"


class StandInPolicy:
    """A minimal object with ``mask_payload``: replaces values under secret-looking keys."""

    SECRET = re.compile(r"(?i)(secret|token|password|key)")

    def mask_payload(self, obj: Any, under_secret: bool = False) -> Any:
        if isinstance(obj, dict):
            return {k: self.mask_payload(v, under_secret or bool(self.SECRET.search(str(k))))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.mask_payload(v, under_secret) for v in obj]
        if isinstance(obj, str) and under_secret:
            return "<secret>"
        return obj


def event(seq: int, topic: str = "envsync.commit", **payload: Any) -> dict[str, Any]:
    """Return a delivered event as the bus hands it to handlers."""
    body: dict[str, Any] = {"has_drift": topic == "envsync.drift", "summary": {"total_keys": 45}}
    body.update(payload)
    body.update({"_genesis_seq": seq, "_genesis_topic": topic,
                 "_genesis_timestamp": f"2025-10-11T22:45:{seq % 60:02d}.000Z",
                 "_genesis_id": f"id-{seq}"})
    return body


