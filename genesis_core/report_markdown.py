"""Render an ``envsync.*`` payload as Markdown (pull-request comments, ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _instances(payload: Mapping[str, Any]) -> list[str]:
    names = payload.get("instances")
    if isinstance(names, list):
        return [str(n) for n in names]
    return sorted(k.removeprefix("missing_in_") for k in payload if k.startswith("missing_in_"))


def render_markdown(payload: Mapping[str, Any]) -> str:
    """Return a Markdown report of a drift, commit or error payload (values as already shown)."""
    names = _instances(payload)
    platforms = payload.get("platforms") or {}
    lines: list[str] = []
    if payload.get("type") == "sync_error":
        lines.append("## ⛔ Genesis sync could not complete")
        lines.append("")
        for name, error in (payload.get("errors") or {}).items():
            lines.append(f"- **{_cell(name)}**: {_cell(error)}")
    elif payload.get("has_drift"):
        count = (payload.get("summary") or {}).get("drift_count", "?")
        lines.append(f"## ⚠️ Environment drift: {count} difference(s)")
    else:
        total = (payload.get("summary") or {}).get("total_keys", "?")
        lines.append(f"## ✅ Environment parity: {total} key(s) match on {len(names)} platform(s)")
    lines.append("")
    if platforms:
        lines += ["| Platform | Kind | Status | Keys | Time |", "|---|---|---|---:|---:|"]
        for name in names:
            st = platforms.get(name) or {}
            lines.append(f"| {_cell(name)} | {_cell(st.get('kind', ''))} | {_cell(st.get('status', ''))} | "
                         f"{st.get('keys', '')} | {st.get('seconds', 0):.2f}s |")
        lines.append("")
    missing = [(n, payload.get(f"missing_in_{n}") or []) for n in names]
    if any(keys for _, keys in missing):
        lines.append("### Missing keys")
        lines.append("")
        for name, keys in missing:
            if keys:
                lines.append(f"- **{_cell(name)}** ({len(keys)}): " + ", ".join(f"`{_cell(k)}`" for k in keys))
        lines.append("")
    conflicts = payload.get("conflicts") or {}
    if conflicts:
        lines.append("### Conflicting values")
        lines.append("")
        lines.append("| Key | " + " | ".join(_cell(n) for n in names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for key in sorted(conflicts):
            shown = conflicts[key]
            cells = [f"`{_cell(shown[n])}`" if n in shown else "—" for n in names]
            lines.append(f"| `{_cell(key)}` | " + " | ".join(cells) + " |")
        lines.append("")
    seq = payload.get("_genesis_seq")
    when = payload.get("verified_at", "")
    footer = f"<sub>Genesis · verified {when}" + (f" · event {seq}" if seq is not None else "") + "</sub>"
    lines.append(footer)
    return "\n".join(lines) + "\n"
