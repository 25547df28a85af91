"""docs/writing-an-engine.md: the complete example is real, passes its own tests and uses only the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-an-engine.md"
#: "`path`:" on a line of its own, then the fenced block holding that file.
FILE_BLOCK = re.compile(r"^`(?P<path>[\w./-]+)`:\n\n```(?:python|toml)\n(?P<body>.*?)```", re.S | re.M)


def example_files() -> dict[str, str]:
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))}


def test_the_guide_shows_the_whole_example() -> None:
    assert set(example_files()) == {
        "pyproject.toml", "genesis_driftlog/__init__.py", "genesis_driftlog/plugin.py",
        "genesis_driftlog/engine.py", "genesis_driftlog/command.py", "tests/test_driftlog.py"}


def test_the_example_imports_only_the_plugin_api(outside_the_api) -> None:
    for path, body in example_files().items():
        if path.endswith(".py"):
            assert outside_the_api(body) == [], path


def test_the_example_passes_its_own_tests(tmp_path: Path) -> None:
    for path, body in example_files().items():
        target = tmp_path / "genesis-envsync-driftlog" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    dist = tmp_path / "genesis-envsync-driftlog"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GENESIS_"))}
    env["PYTHONPATH"] = str(dist)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "tests"], cwd=dist, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.match(r"4 passed\b", done.stdout.strip().splitlines()[-1]), done.stdout
