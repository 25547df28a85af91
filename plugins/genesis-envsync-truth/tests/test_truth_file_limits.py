"""Issue 19 item 4: checkpoints, public keys and proofs named on the command line are bounded reads.

Real ``genesis ledger`` subprocesses with an address-space limit (a regression fails instead of
growing without bound) and a timeout (a FIFO opened blocking fails instead of hanging).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from truth_testlib import event

from genesis_truth.ledger import Ledger

pytestmark = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")
MEMORY_LIMIT = 2 * 1024**3


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def ledger(cwd: Path, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GENESIS_TRUTH_KEY", "GENESIS_DISABLE_PLUGINS")}
    proc = subprocess.run([sys.executable, "-m", "genesis_core", "ledger", *argv], cwd=cwd, env=env,
                          input=stdin, capture_output=True, timeout=120, preexec_fn=_limit_memory)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def project(tmp_path: Path, _isolated_env: Path) -> Path:
    (tmp_path / "genesis.toml").write_text("[engines.truth]\n")
    book = Ledger(_isolated_env, environ={})
    for seq in range(1, 4):
        book.append(event(seq))
    (tmp_path / "truth.pub").write_text(book.signer().public_pem)
    return tmp_path


def _file(project: Path, kind: str) -> str:
    if kind == "device":
        return "/dev/zero"
    if kind == "urandom":
        return "/dev/urandom"
    path = project / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:  # oversize: sparse, no disk used
        with path.open("wb") as fh:
            fh.truncate(128 * 1024 * 1024)
    return str(path)


EXPECTED = {"device": "is a device", "urandom": "is a device", "fifo": "is a named pipe (FIFO)",
            "directory": "is a directory", "oversize": "is too large"}


def _refused(run: subprocess.CompletedProcess[str], path: str, kind: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"genesis: {path}: ") and EXPECTED[kind] in lines[0], lines[0]


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "oversize"])
def test_verify_checkpoint_is_a_bounded_read(project: Path, kind: str) -> None:
    path = _file(project, kind)
    _refused(ledger(project, "verify", "--checkpoint", path), path, kind)


@pytest.mark.parametrize("kind", ["urandom", "fifo", "directory", "oversize"])
def test_verify_public_key_is_a_bounded_read(project: Path, kind: str) -> None:
    path = _file(project, kind)
    _refused(ledger(project, "verify", "--public-key", path), path, kind)


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "oversize"])
def test_verify_proof_is_a_bounded_read(project: Path, kind: str) -> None:
    path = _file(project, kind)
    _refused(ledger(project, "verify-proof", path, "--public-key", str(project / "truth.pub")), path, kind)


def test_verify_proof_from_stdin_is_bounded(project: Path) -> None:
    run = ledger(project, "verify-proof", "-", "--public-key", str(project / "truth.pub"),
                 stdin=b" " * (64 * 1024 * 1024 + 1))
    assert run.returncode == 2
    assert run.stderr.strip() == "genesis: <stdin>: proof is too large (more than 64 MiB)"


def test_a_proof_and_key_that_are_regular_files_still_verify(project: Path) -> None:
    proof = ledger(project, "prove", "2")
    assert proof.returncode == 0, proof.stderr
    (project / "proof.json").write_text(proof.stdout)
    run = ledger(project, "verify-proof", str(project / "proof.json"), "--public-key", str(project / "truth.pub"))
    assert run.returncode == 0 and run.stdout.startswith("proof ok"), run.stderr
    piped = ledger(project, "verify-proof", "-", "--public-key", str(project / "truth.pub"),
                   stdin=proof.stdout.encode())
    assert piped.returncode == 0, piped.stderr


def test_a_signing_key_file_that_is_a_fifo_is_refused(project: Path, _isolated_env: Path) -> None:
    key = _isolated_env / "truth" / "ed25519.key"
    key.unlink()
    os.mkfifo(key, 0o600)
    run = ledger(project, "export-key")
    assert run.returncode == 2
    assert run.stderr.strip().startswith(f"genesis: {key}: ") and "FIFO" in run.stderr
