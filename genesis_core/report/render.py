"""Render a drift view as Markdown (pull-request comment, step summary), JSON or an HTML page.

Every value in a report comes from an event payload that is already masked;
the renderers only escape: Markdown puts keys and values in code spans, the
HTML page passes every value through ``html.escape``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from .view import DriftView, PlatformRow

REPORT_FORMAT = "genesis.steward.report/v1"
MAX_LISTED_KEYS = 60
MAX_CONFLICT_ROWS = 100
_BACKTICKS = re.compile(r"`+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\\r").replace("\n", "\\n")


def md_code(text: str, *, in_table: bool = True) -> str:
    """Return ``text`` as a Markdown code span (safe inside a table cell when ``in_table``)."""
    text = _one_line(text)
    if text == "":
        return "*(empty)*"
    if in_table:
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_text(text: str) -> str:
    """Return ``text`` with Markdown punctuation escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


def _status_icon(row: PlatformRow) -> str:
    return "✅ ok" if row.status == "ok" else f"❌ {md_text(row.status)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _count(view: DriftView) -> int:
    return view.drift_count if view.drift_count is not None else (
        sum(len(keys) for keys in view.missing.values()) + len(view.conflicts))


def title(view: DriftView) -> str:
    """Return the one-line headline of the report (naming the environment, if any)."""
    if view.across:
        environments = _plural(len(view.platforms), "environment")
        if view.has_drift:
            return f"Genesis: environments differ, {_plural(_count(view), 'difference')} across {environments}"
        return f"Genesis: {environments} agree"
    platforms = _plural(len(view.platforms), "platform")
    genesis = f"Genesis ({view.environment})" if view.environment else "Genesis"
    if view.errors:
        return f"{genesis}: sync could not complete, {_plural(len(view.errors), 'platform')} unreadable"
    if view.has_drift:
        return f"{genesis}: drift detected, {_plural(_count(view), 'difference')} across {platforms}"
    return f"{genesis}: {platforms} in parity"


def across_rows(view: DriftView) -> list[tuple[str, list[bool]]]:
    """Return the keys x environments matrix of an across view: ``(key, [present in each environment])``."""
    names = list(view.instances)
    keys = sorted({key for keys in view.missing.values() for key in keys})
    return [(key, [key not in view.missing.get(name, ()) for name in names]) for key in keys]


def _render_across_markdown(view: DriftView) -> str:
    icon = "⚠️" if view.has_drift else "✅"
    names = list(view.instances)
    header = ["| Key | " + " | ".join(md_code(n) for n in names) + " |", "|---|" + "---|" * len(names)]
    lines = [f"### {icon} {title(view)}", ""]
    rows = across_rows(view)
    if rows:
        lines += [f"**Keys missing in an environment** ({len(rows)})", "", *header]
        for key, present in rows[:MAX_CONFLICT_ROWS]:
            lines.append(f"| {md_code(key)} | " + " | ".join("✓" if p else "✗" for p in present) + " |")
        if len(rows) > MAX_CONFLICT_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_CONFLICT_ROWS} more keys (see the JSON report)")
        lines.append("")
    if view.conflicts:
        lines += [f"**Shared values that differ** (`same_everywhere`, {len(view.conflicts)})", "", *header]
        for key, shown in list(view.conflicts.items())[:MAX_CONFLICT_ROWS]:
            lines.append(f"| {md_code(key)} | "
                         + " | ".join(md_code(shown[n]) if n in shown else "—" for n in names) + " |")
        lines.append("")
    if not view.has_drift:
        lines += ["Every environment holds the same keys, and the shared keys the same values.", ""]
    lines.append("<sub>Genesis · " + md_text(" · ".join(_footer(view))) + "</sub>")
    return "\n".join(lines) + "\n"


def _listed(keys: Iterable[str], limit: int, render: Any) -> str:
    keys = list(keys)
    shown = ", ".join(render(k) for k in keys[:limit])
    if len(keys) > limit:
        shown += f" … and {len(keys) - limit} more"
    return shown


def _footer(view: DriftView) -> list[str]:
    """Return the footer parts: the event (when stored), when it was verified, how many keys."""
    parts = [f"event #{view.seq}"] if view.seq is not None else []
    parts.append(f"verified {view.verified_at or view.timestamp or 'unknown'}")
    if view.total_keys is not None:
        parts.append(f"{_plural(view.total_keys, 'key')} in total")
    return parts


def render_markdown(view: DriftView) -> str:
    """Return the report as GitHub-flavoured Markdown."""
    if view.across:
        return _render_across_markdown(view)
    icon = "⛔" if view.errors else "⚠️" if view.has_drift else "✅"
    lines = [f"### {icon} {title(view)}", ""]
    if view.errors:
        lines += [f"- {md_code(name, in_table=False)}: {md_text(error)}" for name, error in view.errors.items()]
        lines += ["", "No drift is reported while a platform cannot be read, and nothing is written.", ""]
    if view.platforms:
        lines += ["| Platform | Kind | Keys | Missing | Status | Time |",
                  "|---|---|---:|---:|---|---:|"]
        for row in view.platforms:
            keys = "" if row.keys is None else str(row.keys)
            seconds = "" if row.seconds is None else f"{row.seconds:.2f}s"
            lines.append(f"| {md_code(row.name)} | {md_text(row.kind or '')} | {keys} | {row.missing} "
                         f"| {_status_icon(row)} | {seconds} |")
        lines.append("")
    missing = [(name, absent) for name, absent in view.missing.items() if absent]
    if missing:
        lines += ["**Missing keys**", ""]
        for name, absent in missing:
            lines.append(f"- {md_code(name, in_table=False)} lacks {len(absent)}: "
                         + _listed(absent, MAX_LISTED_KEYS, lambda k: md_code(k, in_table=False)))
        lines.append("")
    if view.conflicts:
        names = list(view.instances) or sorted({n for shown in view.conflicts.values() for n in shown})
        lines += [f"**Conflicting values** ({len(view.conflicts)})", "",
                  "| Key | " + " | ".join(md_code(n) for n in names) + " |",
                  "|---|" + "---|" * len(names)]
        for key, shown in list(view.conflicts.items())[:MAX_CONFLICT_ROWS]:
            cells = [md_code(shown[n]) if n in shown else "—" for n in names]
            lines.append(f"| {md_code(key)} | " + " | ".join(cells) + " |")
        if len(view.conflicts) > MAX_CONFLICT_ROWS:
            lines.append(f"\n… and {len(view.conflicts) - MAX_CONFLICT_ROWS} more conflicting keys "
                         "(see the JSON report)")
        lines.append("")
    notes = view.expansion_notes()
    if notes:
        lines += ["**Values from expansion** (names only)", ""]
        lines += [f"- {md_code(name, in_table=False)} {md_code(key, in_table=False)}: {md_text(text)}"
                  for name, key, text in notes]
        lines.append("")
    if not view.has_drift and not view.errors:
        lines += ["Every platform holds the same keys with the same values.", ""]
    lines.append("<sub>Genesis · " + md_text(" · ".join(_footer(view))) + "</sub>")
    return "\n".join(lines) + "\n"


def report_document(view: DriftView) -> dict[str, Any]:
    """Return the JSON report: event identity, status and the (masked) payload."""
    return {
        "format": REPORT_FORMAT,
        "status": view.status,
        "title": title(view),
        "topic": view.topic,
        "seq": view.seq,
        "event_id": view.event_id,
        "timestamp": view.timestamp,
        "verified_at": view.verified_at,
        "payload": dict(view.payload),
    }


def render_json(view: DriftView) -> str:
    """Return the JSON report as indented text."""
    return json.dumps(report_document(view), indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _h(value: Any) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:0 .2rem;
word-break:break-all}
.drift{color:#9a6700}.parity{color:#1a7f37}.error{color:#cf222e}.empty{color:#656d76;font-style:italic}
footer{margin-top:2rem;color:#656d76;font-size:.85rem}
"""


def _code(value: str) -> str:
    return f"<code>{_h(value)}</code>" if value != "" else '<span class="empty">(empty)</span>'


def render_html(view: DriftView) -> str:
    """Return a self-contained HTML page (inline CSS, no script), every value escaped."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title(view))}</title><style>{_CSS}</style></head><body>",
        f'<h1 class="{view.status}">{_h(title(view))}</h1>',
    ]
    if view.across:
        return _render_across_html(parts, view)
    if view.platforms:
        parts.append("<h2>Platforms</h2><table><thead><tr><th>Platform</th><th>Kind</th><th>Keys</th>"
                     "<th>Missing</th><th>Status</th><th>Time</th></tr></thead><tbody>")
        for row in view.platforms:
            status_class = "parity" if row.status == "ok" else "error"
            status = _h(row.status) + (f": {_h(row.error)}" if row.error else "")
            parts.append(
                f"<tr><td>{_code(row.name)}</td><td>{_h(row.kind or '')}</td>"
                f'<td class="num">{"" if row.keys is None else row.keys}</td>'
                f'<td class="num">{row.missing}</td><td class="{status_class}">{status}</td>'
                f'<td class="num">{"" if row.seconds is None else f"{row.seconds:.2f}s"}</td></tr>')
        parts.append("</tbody></table>")
    missing = [(name, keys) for name, keys in view.missing.items() if keys]
    if missing:
        parts.append("<h2>Missing keys</h2><ul>")
        for name, keys in missing:
            parts.append(f"<li>{_code(name)} lacks {len(keys)}: "
                         + ", ".join(_code(k) for k in keys) + "</li>")
        parts.append("</ul>")
    if view.conflicts:
        names = list(view.instances) or sorted({n for shown in view.conflicts.values() for n in shown})
        parts.append(f"<h2>Conflicting values ({len(view.conflicts)})</h2><table><thead><tr><th>Key</th>"
                     + "".join(f"<th>{_code(n)}</th>" for n in names) + "</tr></thead><tbody>")
        for key, shown in view.conflicts.items():
            cells = "".join(f"<td>{_code(shown[n])}</td>" if n in shown else "<td>—</td>" for n in names)
            parts.append(f"<tr><td>{_code(key)}</td>{cells}</tr>")
        parts.append("</tbody></table>")
    notes = view.expansion_notes()
    if notes:
        parts.append("<h2>Values from expansion (names only)</h2><ul>")
        parts += [f"<li>{_code(name)} {_code(key)}: {_h(text)}</li>" for name, key, text in notes]
        parts.append("</ul>")
    if not view.has_drift and not view.errors:
        parts.append("<p>Every platform holds the same keys with the same values.</p>")
    parts.append(f"<footer>Genesis · {_h(' · '.join(_footer(view)))}</footer></body></html>")
    return "\n".join(parts) + "\n"


def _render_across_html(parts: list[str], view: DriftView) -> str:
    names = list(view.instances)
    head = "<thead><tr><th>Key</th>" + "".join(f"<th>{_code(n)}</th>" for n in names) + "</tr></thead>"
    rows = across_rows(view)
    if rows:
        parts.append(f"<h2>Keys missing in an environment ({len(rows)})</h2><table>{head}<tbody>")
        for key, present in rows:
            cells = "".join('<td class="parity">✓</td>' if p else '<td class="error">✗</td>' for p in present)
            parts.append(f"<tr><td>{_code(key)}</td>{cells}</tr>")
        parts.append("</tbody></table>")
    if view.conflicts:
        parts.append(f"<h2>Shared values that differ ({len(view.conflicts)})</h2><table>{head}<tbody>")
        for key, shown in view.conflicts.items():
            cells = "".join(f"<td>{_code(shown[n])}</td>" if n in shown else "<td>—</td>" for n in names)
            parts.append(f"<tr><td>{_code(key)}</td>{cells}</tr>")
        parts.append("</tbody></table>")
    if not view.has_drift:
        parts.append("<p>Every environment holds the same keys, and the shared keys the same values.</p>")
    parts.append(f"<footer>Genesis · {_h(' · '.join(_footer(view)))}</footer></body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {"md": render_markdown, "json": render_json, "html": render_html}
