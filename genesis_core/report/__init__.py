"""Reports of ``envsync.*`` events as Markdown, JSON and HTML (used by ``genesis sync`` and Steward)."""

from __future__ import annotations

from .render import RENDERERS, render_html, render_json, render_markdown
from .view import DriftView, PlatformRow, build_view

__all__ = ["RENDERERS", "DriftView", "PlatformRow", "build_view", "render_html", "render_json",
           "render_markdown"]
