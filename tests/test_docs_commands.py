"""Every `genesis ...` command shown in README.md and docs/ runs, against the demo's emulated platforms.

Commands come from ```sh blocks, one per line. They run in document order in one sandbox
project (the demo app: a local .env plus emulated Render, Netlify and GitHub on 127.0.0.1),
so a page that drifts from the code fails here. Each must exit 0 or 1 (parity or drift);
`genesis init` and `genesis new-adapter` run in an empty directory of their own; commands that
run until stopped (`serve`, `events tail`, `worker`) must start and keep running. A block
preceded by `<!-- docs-test: skip REASON -->` is not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(?P<skip><!--\s*docs-test:\s*skip[^>]*-->\s*\n)?```sh\n(?P<body>.*?)```", re.S)
LONG_RUNNING = ("genesis serve", "genesis events tail", "genesis worker")
OWN_DIRECTORY = ("genesis init", "genesis new-adapter", "genesis demo")


@attrs.frozen
class DocCommand:
    file: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def doc_commands() -> list[DocCommand]:
    found = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for block in BLOCK.finditer(text):
            if block.group("skip"):
                continue
            first_line = text.count("\n", 0, block.start("body")) + 1
            for offset, raw in enumerate(block.group("body").splitlines()):
                line = raw.strip().removeprefix("$ ")
                if line.startswith("genesis ") or line == "genesis":
                    found.append(DocCommand(str(path.relative_to(ROOT)), first_line + offset, line))
    return found


COMMANDS = doc_commands()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    from genesis_core.demo.app_data import dotenv_text, drifted_app
    from genesis_core.demo.emulators import demo_config, running_emulators

    directory = tmp_path_factory.mktemp("docs-sandbox")
    app = drifted_app()
    (directory / ".env").write_text(dotenv_text(app.local))
    (directory / ".env.production").write_text(dotenv_text(app.local))
    with running_emulators(app) as emulators:
        (directory / "genesis.toml").write_text(demo_config(emulators))
        env = dict(os.environ)
        env.update({e.token_env: e.token for e in emulators.values()})
        env["GENESIS_HOME"] = str(directory / ".genesis")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("GITHUB_STEP_SUMMARY", None)
        yield directory, env


def test_docs_show_commands() -> None:
    assert len(COMMANDS) >= 10, "expected the docs to show genesis commands in ```sh blocks"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_runs(command: DocCommand, sandbox: tuple[Path, dict[str, str]],
                                 tmp_path: Path) -> None:
    directory, env = sandbox
    cwd = tmp_path if command.text.startswith(OWN_DIRECTORY) else directory
    if command.text.startswith("genesis demo"):
        env = {k: v for k, v in env.items() if k != "GENESIS_HOME"}
    if command.text.startswith(LONG_RUNNING):
        proc = subprocess.Popen(["bash", "-c", command.text], cwd=cwd, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(2.0)
        still_running = proc.poll() is None
        if still_running:
            os.killpg(proc.pid, 15)
        out, err = proc.communicate(timeout=30)
        assert still_running or proc.returncode == 0, f"{command.id}: `{command.text}` exited {proc.returncode}\n{err}"
        return
    proc = subprocess.run(["bash", "-c", command.text], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode in (0, 1), (
        f"{command.id}: `{command.text}` exited {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n"
        f"stderr:\n{proc.stderr[-2000:]}")
    assert "Traceback" not in proc.stderr


def test_every_relative_link_in_the_docs_resolves() -> None:
    link = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(#[^)]*)?\)")
    broken = []
    for path in doc_files():
        for match in link.finditer(path.read_text(encoding="utf-8")):
            target = (path.parent / match.group(1)).resolve()
            if not target.exists():
                broken.append(f"{path.relative_to(ROOT)} -> {match.group(1)}")
    assert broken == []


