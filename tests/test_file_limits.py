"""Issue 19 item 4: every file Genesis reads on a user's say-so is a regular file within a size limit.

A FIFO, a device, a directory or an oversize file is one line naming the file and exit 2, never a
hang, never memory without bound, never "file not found".  The CLI runs are real subprocesses with
an address-space limit (so a regression fails instead of eating the machine) and a timeout (so a
FIFO that is opened blocking fails instead of hanging).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesis_core.files import (
    CONFIG_LIMIT,
    DOTENV_LIMIT,
    FileProblem,
    check_regular,
    read_bytes,
    read_stream,
    read_text,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")
MEMORY_LIMIT = 2 * 1024**3


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def genesis(cwd: Path, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI; at most 2 GiB of address space and 120 s."""
    env = {k: v for k, v in os.environ.items() if k not in ("GENESIS_TRUTH_KEY", "GENESIS_DISABLE_PLUGINS")}
    env.setdefault("GENESIS_HOME", str(cwd / ".genesis-home"))
    proc = subprocess.run([sys.executable, "-m", "genesis_core", *argv], cwd=cwd, env=env, input=stdin,
                          capture_output=True, timeout=120, preexec_fn=_limit_memory)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def one_line(run: subprocess.CompletedProcess[str]) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def oversize(tmp_path: Path) -> Path:
    path = tmp_path / "big"
    with path.open("wb") as fh:
        fh.truncate(DOTENV_LIMIT + 1)  # sparse: no disk used
    return path


# ------------------------------------------------------------------ the reader itself

@posix_only
def test_a_fifo_is_refused_without_being_opened(fifo: Path) -> None:
    with pytest.raises(FileProblem) as info:
        read_bytes(fifo, limit=100, what="checkpoint")
    assert str(info.value) == f"{fifo}: checkpoint is a named pipe (FIFO), not a regular file"
    with pytest.raises(FileProblem, match="FIFO"):
        check_regular(fifo)


@posix_only
def test_a_device_is_refused() -> None:
    with pytest.raises(FileProblem, match=r"^/dev/zero: public key is a device, not a regular file$"):
        read_bytes("/dev/zero", limit=100, what="public key")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileProblem, match=r"proof is a directory, not a regular file$"):
        read_text(tmp_path, limit=100, what="proof")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FileProblem, match=r"too large \(101 bytes; the limit is 100 bytes\)"):
        read_bytes(path, limit=100)
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, limit=100) == b"x" * 100


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(FileProblem) as info:
        read_bytes(tmp_path / "nope", limit=10, what=".env file")
    assert info.value.missing
    assert info.value.reason == "cannot read .env file: No such file or directory"
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(FileProblem, match=r"not UTF-8 text \(byte 0\)"):
        read_text(tmp_path / "bin", limit=10)


def test_a_stream_is_read_up_to_its_limit() -> None:
    assert read_stream(io.BytesIO(b"abc"), limit=3) == b"abc"
    with pytest.raises(FileProblem, match=r"^<stdin>: proof is too large \(more than 3 bytes\)$"):
        read_stream(io.BytesIO(b"abcd"), limit=3, what="proof")


# ------------------------------------------------------------------ genesis.toml

@posix_only
@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "oversize"])
def test_config_file_that_is_not_a_small_regular_file(tmp_path: Path, fifo: Path, kind: str) -> None:
    target = {"device": Path("/dev/zero"), "fifo": fifo, "directory": tmp_path / "dir",
              "oversize": tmp_path / "genesis.toml"}[kind]
    if kind == "directory":
        target.mkdir()
    if kind == "oversize":
        with target.open("wb") as fh:
            fh.truncate(CONFIG_LIMIT + 1)
    run = genesis(tmp_path, "--config", str(target), "sync", "--no-progress")
    assert run.returncode == 2, run.stderr
    line = one_line(run)
    assert str(target) in line
    expected = {"device": "is a device", "fifo": "is a named pipe (FIFO)", "directory": "is a directory",
                "oversize": "too large"}[kind]
    assert expected in line, line


# ------------------------------------------------------------------ .env paths

def _dotenv_project(root: Path, path: str) -> None:
    (root / "a.env").write_text("APP_NAME=demo\n")
    (root / "genesis.toml").write_text('[platforms.a]\nkind = "dotenv"\npath = "a.env"\n\n'
                                       f'[platforms.b]\nkind = "dotenv"\npath = "{path}"\n')


@posix_only
@pytest.mark.parametrize("kind", ["directory", "fifo", "device", "oversize"])
def test_dotenv_path_that_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        (tmp_path / "b.env").mkdir()
        path = "b.env"
    elif kind == "fifo":
        os.mkfifo(tmp_path / "b.env")
        path = "b.env"
    elif kind == "device":
        path = "/dev/zero"
    else:
        with (tmp_path / "b.env").open("wb") as fh:
            fh.truncate(DOTENV_LIMIT + 1)
        path = "b.env"
    _dotenv_project(tmp_path, path)
    run = genesis(tmp_path, "sync", "--no-progress")
    assert run.returncode == 2, run.stderr
    assert "file not found" not in run.stderr
    expected = {"directory": "b.env: .env file is a directory, not a regular file",
                "fifo": "b.env: .env file is a named pipe (FIFO), not a regular file",
                "device": "/dev/zero: .env file is a device, not a regular file",
                "oversize": "b.env: .env file is too large"}[kind]
    assert f"genesis: b: {expected}" in run.stderr, run.stderr


def test_an_optional_dotenv_path_that_is_a_directory_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("APP_NAME=demo\n")
    (tmp_path / "b.env").mkdir()
    (tmp_path / "genesis.toml").write_text('[platforms.a]\nkind = "dotenv"\npath = "a.env"\n\n'
                                           '[platforms.b]\nkind = "dotenv"\npath = "b.env"\noptional = true\n')
    run = genesis(tmp_path, "sync", "--no-progress")
    assert run.returncode == 2
    assert "genesis: b: b.env: .env file is a directory, not a regular file" in run.stderr


@posix_only
@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_genesis_toml_found_upwards_that_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "genesis.toml"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    run = genesis(tmp_path, "sync", "--no-progress")
    assert run.returncode == 2
    assert one_line(run).startswith(f"genesis: {target}: config file is a ")


@posix_only
def test_a_fingerprint_key_file_that_is_a_fifo_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.mkfifo(home / "fingerprint.key")
    (tmp_path / "a.env").write_text("APP_NAME=demo\n")
    (tmp_path / "b.env").write_text("APP_NAME=other\n")
    (tmp_path / "genesis.toml").write_text('[platforms.a]\nkind = "dotenv"\npath = "a.env"\n\n'
                                           '[platforms.b]\nkind = "dotenv"\npath = "b.env"\n')
    monkeypatch.setenv("GENESIS_HOME", str(home))
    run = genesis(tmp_path, "sync", "--no-progress")
    assert run.returncode == 2
    assert (f"genesis: {home / 'fingerprint.key'}: fingerprint key is a named pipe (FIFO), not a regular file"
            in run.stderr), run.stderr
