"""Write report files into the state dir and append to ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from genesis_core.api import RENDERERS, DriftView

EXTENSIONS = {"md": "md", "json": "json", "html": "html"}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _latest_seq(directory: Path, name: str = "latest") -> int | None:
    try:
        data = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def latest_names(view: DriftView) -> list[str]:
    """Return the names of the ``latest`` copies ``view`` updates: ``latest``, and ``latest-<environment>``
    (``latest-across`` for the comparison across environments) when there are environments."""
    if view.across:
        return ["latest", "latest-across"]
    return ["latest", f"latest-{view.environment}"] if view.environment else ["latest"]


def write_reports(view: DriftView, directory: Path) -> list[Path]:
    """Write ``drift-<seq>.md/.json/.html`` and return their paths.

    The ``latest.*`` copies (and the environment's ``latest-<environment>.*``) are
    replaced too, unless they already show a newer event (a late retry of an old
    event does not hide a newer one).
    """
    rendered = {fmt: render(view) for fmt, render in RENDERERS.items()}
    written = []
    for fmt, text in rendered.items():
        path = directory / f"drift-{view.label}.{EXTENSIONS[fmt]}"
        write_atomic(path, text)
        written.append(path)
    for name in latest_names(view):
        newest = _latest_seq(directory, name)
        if view.seq is None or newest is None or view.seq >= newest:
            # JSON last: its seq is what decides whether the copies are current.
            for fmt in ("md", "html", "json"):
                write_atomic(directory / f"{name}.{EXTENSIONS[fmt]}", rendered[fmt])
    return written


def append_step_summary(markdown: str, path: str | os.PathLike[str]) -> None:
    """Append ``markdown`` (and a blank line) to the GitHub Actions step summary file."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown.rstrip("\n") + "\n\n")
