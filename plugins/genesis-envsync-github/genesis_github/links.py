"""RFC 8288 ``Link`` headers as GitHub sends them for pagination."""

from __future__ import annotations

import re

_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')


def parse_link_header(header: str | None) -> dict[str, str]:
    """Return ``{rel: url}`` from a ``Link`` header (empty when absent or unparsable)."""
    links: dict[str, str] = {}
    if not header:
        return links
    for match in _LINK.finditer(header):
        url, params = match.group(1).strip(), match.group(2)
        for name, quoted, bare in _PARAM.findall(params):
            if name.lower() != "rel":
                continue
            for rel in (quoted or bare).split():
                links.setdefault(rel.lower(), url)
    return links
