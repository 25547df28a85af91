"""Every `genesis ...` command shown in README.md and docs/ runs, against the demo's emulated platforms.

Commands come from ```sh blocks, one per line. They run in document order in one sandbox
project (the demo app: a local .env plus emulated Render, Netlify and GitHub on 127.0.0.1),
so a page that drifts from the code fails here. Each must exit 0 or 1 (parity or drift);
`genesis init` and `genesis new-adapter` run in an empty directory of their own; commands that
run until stopped (`serve`, `events tail`, `worker`, `emulate`) must start and keep running. A
block preceded by `<!-- docs-test: skip REASON -->` is not run.

Some sections also show what the commands print. Those (``CHECKED``) run instead in a project
set up the way the quickstart tells a reader to: `genesis init render netlify github`, the
tables and the `.env` that `genesis emulate --env .env` gives, its tokens exported. There,
every command line ends with ``# exit N`` (checked), a ```text block right after a ```sh block
must appear in what the block's last command printed, and a ```toml block is applied to the
project's genesis.toml (its tables replace the file's tables of the same name), as a reader
would edit it. Only what genuinely varies is normalised: times, fingerprints, ports, hashes,
timestamps and the project's directory.
"""

from __future__ import annotations

import contextlib
import json
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
LONG_RUNNING = ("genesis serve", "genesis events tail", "genesis worker", "genesis emulate")
OWN_DIRECTORY = ("genesis init", "genesis new-adapter", "genesis demo", "genesis emulate")

#: Sections whose shown output is compared with the real output: (file, headings run in order
#: in one fresh quickstart project).  Each section ends at the next heading of its level or above.
CHECKED = (
    ("docs/quickstart.md", ("## 6. The first sync", "## 7. Heal")),
    ("docs/ci.md", ("### Schema checks",)),
    ("docs/environments.md", ("## A two-environment example", "## Write-only values")),
)


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


def section_span(text: str, heading: str) -> tuple[int, int]:
    """Return where the section under ``heading`` starts and ends in ``text``."""
    start = text.index(f"\n{heading}\n") + 1
    level = len(heading) - len(heading.lstrip("#"))
    following = re.compile(rf"^#{{1,{level}}} ", re.M)
    after = following.search(text, start + len(heading))
    return start, after.start() if after else len(text)


def checked_spans(path: Path, text: str) -> list[tuple[int, int]]:
    relative = str(path.relative_to(ROOT))
    return [section_span(text, heading) for file, headings in CHECKED if file == relative for heading in headings]


def doc_commands() -> list[DocCommand]:
    found = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        checked = checked_spans(path, text)
        for block in BLOCK.finditer(text):
            if block.group("skip") or any(a <= block.start() < b for a, b in checked):
                continue  # skipped, or run with its output compared by test_shown_output_is_what_commands_print
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




# -- sections whose shown output is compared ---------------------------------------------------

FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.S | re.M)
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
TABLE_HEADER = re.compile(r"^\[[^\]]+\]\s*$", re.M)
SHOWN_PROJECT = "/home/you/shop"


def apply_tables(config: str, block: str) -> str:
    """Return ``config`` with each table of ``block`` in place of the table of the same name (or added)."""
    def tables(text: str) -> tuple[str, list[tuple[str, str]]]:
        heads = list(TABLE_HEADER.finditer(text))
        preamble = text[:heads[0].start()] if heads else text
        ends = [m.start() for m in heads[1:]] + [len(text)]
        return preamble, [(m.group().strip(), text[m.start():end]) for m, end in zip(heads, ends)]

    preamble, current = tables(config)
    _, new = tables(block)
    replaced = dict(new)
    merged = [(name, replaced.pop(name, chunk)) for name, chunk in current]
    merged += list(replaced.items())
    return preamble + "".join(chunk if chunk.endswith("\n\n") else chunk.rstrip("\n") + "\n\n" for _, chunk in merged)


def normalise(text: str, project: Path) -> list[str]:
    """Return the lines of ``text`` with what varies from run to run replaced by placeholders."""
    text = text.replace(str(project), SHOWN_PROJECT)
    text = re.sub(r"\b\d+\.\d\ds\b", "T.TTs", text)
    text = re.sub(r"fp:[0-9a-f]+", "fp:FINGERPRINT", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", "HASH", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIMESTAMP", text)
    text = re.sub(r"\b\d{4}-\d\d-\d\d\b", "DATE", text)
    return [line.rstrip() for line in text.splitlines()]


def contains_run(lines: list[str], shown: list[str]) -> bool:
    """Return whether ``shown`` appears in ``lines`` as consecutive lines."""
    return any(lines[i:i + len(shown)] == shown for i in range(len(lines) - len(shown) + 1))


@contextlib.contextmanager
def quickstart_project(directory: Path) -> Iterator[dict[str, str]]:
    """Set up ``directory`` as the quickstart does and yield the environment to run commands in."""
    from genesis_core.cli.cmd_emulate import write_env
    from genesis_core.demo.app_data import drifted_app
    from genesis_core.demo.emulators import platform_tables, running_emulators

    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "COLUMNS", "LINES")}
    env["GENESIS_HOME"] = str(directory / ".genesis")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    init = subprocess.run(["genesis", "init", "render", "netlify", "github"], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    app = drifted_app()
    with running_emulators(app) as emulators:
        write_env(directory / ".env", app.local)  # what `genesis emulate --env .env` writes
        config = directory / "genesis.toml"
        config.write_text(apply_tables(config.read_text(), platform_tables(emulators)))
        env.update({e.token_env: e.token for e in emulators.values()})
        yield env


#: The two-environment example of docs/environments.md: .env files plus GitHub and Vercel emulators.
ENVIRONMENT_FILES = {
    ".env.production": {"API_TOKEN": "sk_live_PRODtoken0123456789abcdefgh", "DATABASE_URL": "postgres://prod-db/shop",
                        "FEATURE_CHECKOUT": "on", "LOG_FORMAT": "json"},
    ".env.staging": {"API_TOKEN": "sk_live_STAGINGtoken0123456789abcd", "DATABASE_URL": "postgres://staging-db/shop",
                     "LOG_FORMAT": "text"},
}
DOCS_REPOSITORY = "acme/shop"
DOCS_PROJECT = "acme-shop"


@contextlib.contextmanager
def environments_project(directory: Path) -> Iterator[dict[str, str]]:
    """Set up the example of docs/environments.md; yield its environment (``DOCS_URLS`` names each base URL)."""
    from genesis_core.cli.cmd_emulate import write_env
    from genesis_github.emulator import GitHubEmulator
    from genesis_vercel.emulator import VercelEmulator

    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY", "COLUMNS", "LINES")}
    env["GENESIS_HOME"] = str(directory / ".genesis")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    prod, staging = ENVIRONMENT_FILES[".env.production"], ENVIRONMENT_FILES[".env.staging"]
    for name, values in ENVIRONMENT_FILES.items():
        write_env(directory / name, values)
    github = GitHubEmulator(token="ghp_" + "d" * 36).start()
    vercel = VercelEmulator(token="docs-vercel-token").start()
    try:
        for environment, values in (("production", prod), ("staging", staging)):
            github.add_environment(DOCS_REPOSITORY, environment)
            for key in ("API_TOKEN", "DATABASE_URL"):
                github.set_secret(DOCS_REPOSITORY, key, values[key], environment=environment)
            github.set_variable(DOCS_REPOSITORY, "LOG_FORMAT", values["LOG_FORMAT"], environment=environment)
        github.set_variable(DOCS_REPOSITORY, "FEATURE_CHECKOUT", "on", environment="production")
        vercel.add_project(DOCS_PROJECT)
        for key, value in prod.items():
            vercel.add_env(DOCS_PROJECT, key, value, target=["production"],
                           type="sensitive" if key == "API_TOKEN" else "encrypted")
        for key, value in {**staging, "DATABASE_URL": "postgres://old-staging-db/shop"}.items():
            vercel.add_env(DOCS_PROJECT, key, value, target=["preview"],
                           type="sensitive" if key == "API_TOKEN" else "encrypted")
        env.update({"GITHUB_TOKEN": github.token, "VERCEL_TOKEN": vercel.token,
                    "DOCS_URLS": json.dumps({"github": github.base_url, "vercel": vercel.base_url})})
        yield env
    finally:
        github.stop()
        vercel.stop()


SETUPS = {"docs/environments.md": environments_project}
PORT_URL = "http://127.0.0.1:PORT"


def with_base_urls(block: str, env: dict[str, str]) -> str:
    """Return ``block`` with each table's ``base_url = "http://127.0.0.1:PORT"`` pointing at its kind's emulator."""
    if "DOCS_URLS" not in env:
        return block
    urls = json.loads(env["DOCS_URLS"])
    parts = re.split(r"(?m)^(?=\[)", block)
    fixed = []
    for part in parts:
        kind = re.search(r'^kind = "([^"]+)"', part, re.M)
        if kind and kind.group(1) in urls:
            part = part.replace(PORT_URL, urls[kind.group(1)])
        fixed.append(part)
    return "".join(fixed)


@pytest.mark.parametrize(("file", "headings"), CHECKED, ids=[f for f, _ in CHECKED])
def test_shown_output_is_what_commands_print(file: str, headings: tuple[str, ...], tmp_path: Path) -> None:
    text = (ROOT / file).read_text(encoding="utf-8")
    directory = tmp_path / "shop"
    directory.mkdir()
    ran = compared = 0
    with SETUPS.get(file, quickstart_project)(directory) as env:
        for heading in headings:
            start, end = section_span(text, heading)
            blocks = list(FENCE.finditer(text, start, end))
            last: subprocess.CompletedProcess[str] | None = None
            for i, block in enumerate(blocks):
                where = f"{file}:{text.count(chr(10), 0, block.start()) + 2}"
                lang, body = block.group("lang"), block.group("body")
                if lang == "toml":
                    config = directory / "genesis.toml"
                    current = config.read_text() if config.exists() else ""
                    config.write_text(apply_tables(current, with_base_urls(body, env)))
                elif lang == "sh":
                    for line in body.splitlines():
                        exit_code = EXIT.search(line)
                        assert exit_code, f"{where}: `{line}` must end with `# exit N` (the exit code it shows)"
                        command = line[:exit_code.start()]
                        last = subprocess.run(["bash", "-c", command], cwd=directory, env=env,
                                              capture_output=True, text=True, timeout=120)
                        assert last.returncode == int(exit_code.group(1)), (
                            f"{where}: `{command}` exited {last.returncode}, the page says {exit_code.group(1)}\n"
                            f"{last.stdout[-3000:]}{last.stderr[-2000:]}")
                        assert "Traceback" not in last.stderr
                        ran += 1
                elif lang == "text" and i > 0 and blocks[i - 1].group("lang") == "sh":
                    assert last is not None
                    printed = normalise(last.stdout + last.stderr, directory)
                    shown = normalise(body, directory)
                    assert contains_run(printed, shown), (
                        f"{where}: the page shows\n" + "\n".join(shown) + "\n\nbut the command printed\n"
                        + "\n".join(printed))
                    compared += 1
    assert ran and compared, f"{file}: nothing was run or compared in {headings}"
