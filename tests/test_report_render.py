"""Markdown, JSON and HTML reports: content, escaping, odd payloads."""

from __future__ import annotations

import copy
import html.parser
import json
from typing import Any

from genesis_core.report.render import md_code, render_html, render_json, render_markdown
from genesis_core.report.view import build_view

SEED_DRIFT: dict[str, Any] = {
    "verified_at": "2025-10-11T22:43:00Z",
    "has_drift": True,
    "missing_in_render": [],
    "missing_in_netlify": ["VAR_A", "VAR_B"],
    "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"],
    "conflicts": {"DEBUG": {"render": "false", "netlify": "true", "github": "<secret>"}},
    "summary": {"total_keys": 45, "render_count": 45, "netlify_count": 43, "github_count": 43,
                "drift_count": 5},
    "instances": ["render", "netlify", "github"],
    "platforms": {
        "render": {"kind": "render", "status": "ok", "keys": 45, "seconds": 0.41, "error": None},
        "netlify": {"kind": "netlify", "status": "ok", "keys": 43, "seconds": 0.52, "error": None},
        "github": {"kind": "github", "status": "ok", "keys": 43, "seconds": 0.33, "error": None},
    },
}


def drift(**changes: Any) -> dict[str, Any]:
    """Return a fresh seed drift payload with ``changes`` applied."""
    payload = copy.deepcopy(SEED_DRIFT)
    payload.update(changes)
    return payload


def event(payload: dict, seq: int = 1041, topic: str = "envsync.drift") -> dict:
    return {**payload, "_genesis_topic": topic, "_genesis_seq": seq,
            "_genesis_timestamp": "2025-10-11T22:43:00.000Z", "_genesis_id": "e" * 32}


def test_markdown_report_of_the_seed_drift() -> None:
    text = render_markdown(build_view(event(drift())))
    lines = text.splitlines()
    assert lines[0] == "### ⚠️ Genesis: drift detected, 5 differences across 3 platforms"
    assert "| `render` | render | 45 | 0 | ✅ ok | 0.41s |" in lines
    assert "| `netlify` | netlify | 43 | 2 | ✅ ok | 0.52s |" in lines
    assert "- `netlify` lacks 2: `VAR_A`, `VAR_B`" in lines
    assert "- `github` lacks 2: `AUTO_DIAGNOSE`, `CORS_ALLOW_ALL`" in lines
    assert "| Key | `render` | `netlify` | `github` |" in lines
    assert "| `DEBUG` | `false` | `true` | `<secret>` |" in lines
    assert lines[-1] == ("<sub>Genesis · event \\#1041 · verified 2025-10-11T22:43:00Z · "
                         "45 keys in total</sub>")


def test_markdown_of_a_minimal_payload() -> None:
    text = render_markdown(build_view({"has_drift": True, "missing_in_github": ["TEST_VAR"]}))
    assert "drift detected, 1 difference across 1 platform" in text
    assert "- `github` lacks 1: `TEST_VAR`" in text
    assert "<sub>Genesis · verified unknown</sub>" in text


def test_markdown_of_parity() -> None:
    payload = drift(has_drift=False, missing_in_netlify=[], missing_in_github=[], conflicts={})
    text = render_markdown(build_view(event(payload, topic="envsync.commit")))
    assert text.startswith("### ✅ Genesis: 3 platforms in parity")
    assert "Missing keys" not in text and "Conflicting" not in text


def test_markdown_code_spans_survive_backticks_pipes_and_newlines() -> None:
    assert md_code("a|b") == "`a\\|b`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("line1\nline2") == "`line1\\nline2`"
    assert md_code("") == "*(empty)*"
    payload = drift(conflicts={"WEIRD|KEY": {"render": "a|b`c", "netlify": ""}})
    text = render_markdown(build_view(event(payload)))
    assert "| `WEIRD\\|KEY` | ``a\\|b`c`` | *(empty)* | — |" in text


def test_long_lists_are_capped_in_markdown_but_complete_in_json() -> None:
    keys = [f"KEY_{i:03d}" for i in range(200)]
    view = build_view(event(drift(missing_in_render=keys)))
    assert "… and 140 more" in render_markdown(view)
    assert json.loads(render_json(view))["payload"]["missing_in_render"] == keys


def test_json_report() -> None:
    doc = json.loads(render_json(build_view(event(drift()))))
    assert doc["format"] == "genesis.steward.report/v1"
    assert (doc["status"], doc["seq"], doc["topic"]) == ("drift", 1041, "envsync.drift")
    assert doc["payload"]["missing_in_netlify"] == ["VAR_A", "VAR_B"]
    assert not any(key.startswith("_genesis_") for key in doc["payload"])


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_every_value() -> None:
    evil = "<script>alert(1)</script>"
    payload = drift(missing_in_netlify=[evil], conflicts={evil: {"render": '"><img src=x onerror=1>',
                                                                 "netlify": "a&b"}})
    payload["platforms"]["github"]["error"] = "<b>bold</b>"
    payload["platforms"]["github"]["status"] = "error"
    page = render_html(build_view(event(payload)))
    assert evil not in page and "<img" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page
    parsed = _Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert evil in "".join(parsed.text)  # shown to the reader as text
    assert page.startswith("<!DOCTYPE html>")
    # self-contained: only these elements, nothing that loads from elsewhere or runs
    assert set(parsed.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table",
                                "thead", "tbody", "tr", "th", "td", "code", "span", "ul", "li", "p",
                                "footer"}


def test_html_report_content() -> None:
    page = render_html(build_view(event(drift())))
    assert "<title>Genesis: drift detected, 5 differences across 3 platforms</title>" in page
    assert "<code>VAR_A</code>, <code>VAR_B</code>" in page
    assert "<tr><td><code>DEBUG</code></td><td><code>false</code></td><td><code>true</code></td>" \
           "<td><code>&lt;secret&gt;</code></td></tr>" in page


def test_view_tolerates_malformed_fields() -> None:
    view = build_view({"has_drift": "yes", "summary": [], "platforms": "x", "conflicts": {"A": "b"},
                       "missing_in_a": "notalist", "instances": ["a", 3]})
    assert view.has_drift is True  # topic defaults to envsync.drift
    assert view.instances == ("a",)
    assert view.conflicts == {}
    for render in (render_markdown, render_json, render_html):
        assert render(view)
