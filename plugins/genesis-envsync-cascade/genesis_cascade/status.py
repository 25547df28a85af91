"""What the status page shows: the latest sync from the event history, counts only.

Nothing from an event payload reaches the page except integers (counts) and the
bus's own sequence numbers and timestamps; key names, values and conflict
details are never copied.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

COMMIT_TOPIC = "envsync.commit"
DRIFT_TOPIC = "envsync.drift"
_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_ENVIRONMENT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,47}")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$")


def safe_timestamp(value: Any) -> str | None:
    """Return ``value`` if it is an RFC 3339 timestamp, else ``None``."""
    return value if isinstance(value, str) and _TIMESTAMP.match(value) else None


def safe_environment(value: Any) -> str | None:
    """Return ``value`` if it is an environment name (``[environments.NAME]``), else ``None``."""
    return value if isinstance(value, str) and _ENVIRONMENT.fullmatch(value) else None


def safe_seq(value: Any) -> int | None:
    """Return ``value`` if it is a sequence number (a non-negative int), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _counts(payload: Mapping[str, Any]) -> dict[str, int]:
    summary = payload.get("summary")
    if not isinstance(summary, Mapping):
        return {}
    return {key: value for key, value in summary.items()
            if isinstance(key, str) and _SAFE_NAME.match(key)
            and isinstance(value, int) and not isinstance(value, bool)}


def _missing(payload: Mapping[str, Any]) -> dict[str, int]:
    found = {}
    for key, value in payload.items():
        if isinstance(key, str) and key.startswith("missing_in_") and isinstance(value, list):
            platform = key[len("missing_in_"):]
            if _SAFE_NAME.match(platform):
                found[platform] = len(value)
    return found


def describe_sync(event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the value-free description of one ``envsync.commit``/``envsync.drift`` event."""
    topic = event.get("_genesis_topic")
    conflicts = event.get("conflicts")
    described: dict[str, Any] = {
        "status": "parity" if topic == COMMIT_TOPIC else "drift",
        "topic": topic if topic in (COMMIT_TOPIC, DRIFT_TOPIC) else None,
        "seq": safe_seq(event.get("_genesis_seq")),
        "timestamp": safe_timestamp(event.get("_genesis_timestamp")),
        "counts": _counts(event),
        "missing": _missing(event),
        "conflicts": len(conflicts) if isinstance(conflicts, Mapping) else 0,
    }
    environment = safe_environment(event.get("environment"))
    if environment is not None:
        described["environment"] = environment
    return described


def _mark(event: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"seq": safe_seq(event.get("_genesis_seq")),
            "timestamp": safe_timestamp(event.get("_genesis_timestamp"))}


def status_document(last_commit: Mapping[str, Any] | None, last_drift: Mapping[str, Any] | None,
                    *, clients: int, last_broadcast_seq: int | None) -> dict[str, Any]:
    """Return the status page's data (also served as ``/status.json``); no values inside."""
    candidates = [e for e in (last_commit, last_drift) if e is not None]
    latest = max(candidates, key=lambda e: safe_seq(e.get("_genesis_seq")) or -1, default=None)
    document: dict[str, Any] = {
        "latest": describe_sync(latest) if latest is not None else None,
        "last_commit": _mark(last_commit),
        "last_drift": _mark(last_drift),
        "last_broadcast_seq": last_broadcast_seq,
        "clients": clients,
    }
    document["rows"] = status_rows(document)
    return document


def status_rows(document: Mapping[str, Any]) -> list[list[str]]:
    """Return ``[label, text]`` rows for the page, the same on the server and in the browser."""
    latest = document.get("latest")
    if latest is None:
        return [["State", "no sync recorded yet"], ["Connected clients", str(document["clients"])]]
    rows = [["Environment", latest["environment"]]] if latest.get("environment") else []
    rows += [
        ["State", "parity" if latest["status"] == "parity" else "drift"],
        ["Latest sync", latest["timestamp"] or "?"],
        ["Event seq", str(latest["seq"])],
    ]
    rows += [[name.replace("_", " "), str(count)] for name, count in sorted(latest["counts"].items())]
    rows += [[f"missing in {platform}", str(count)]
             for platform, count in sorted(latest["missing"].items())]
    if latest["status"] == "drift":
        rows.append(["conflicts", str(latest["conflicts"])])
    for label, key in (("Last parity", "last_commit"), ("Last drift", "last_drift")):
        mark = document.get(key)
        rows.append([label, f"{mark['timestamp']} (seq {mark['seq']})" if mark else "never"])
    rows.append(["Connected clients", str(document["clients"])])
    return rows


def render_page(document: Mapping[str, Any], *, nonce: str) -> str:
    """Return the status page HTML with ``document`` rendered in (all text escaped)."""
    template = resources.files("genesis_cascade").joinpath("status.html").read_text("utf-8")
    rows = "\n".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>"
                     for label, text in document["rows"])
    state = (document.get("latest") or {}).get("status", "none")
    return (template.replace("{{nonce}}", html.escape(nonce, quote=True))
            .replace("{{state}}", html.escape(str(state), quote=True))
            .replace("{{rows}}", rows))
