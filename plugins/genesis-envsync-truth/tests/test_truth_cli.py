"""``genesis ledger`` through Command.run with a real CommandContext, and through the CLI main."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from truth_testlib import CANARY, StandInPolicy, event

from genesis_core.api import CommandContext
from genesis_truth.commands import COMMAND
from genesis_truth.ledger import LEDGER_FILE, Ledger


class Run:
    """One command run: exit code and the captured streams."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def ledger_cli(*argv: str) -> Run:
    import argparse

    parser = argparse.ArgumentParser(prog="genesis ledger")
    COMMAND.configure(parser)
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    ctx = CommandContext(stdout=out, stderr=err)
    code = COMMAND.run(args, ctx)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _isolated_env: Path) -> Path:
    """A project directory (cwd) whose state dir is $GENESIS_HOME, with a recorded ledger."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "genesis.toml").write_text("[engines.truth]\n")
    ledger = Ledger(_isolated_env, environ={}, mask=StandInPolicy().mask_payload)
    for seq in range(1040, 1046):
        topic = "envsync.drift" if seq % 2 else "envsync.commit"
        ledger.append(event(seq, topic, conflicts={"API_TOKEN": {"render": CANARY}}))
    return _isolated_env


def test_verify_ok_and_bad(project: Path) -> None:
    run = ledger_cli("verify")
    assert run.code == 0, run.err
    assert run.out.startswith("ledger ok: 6 entries, checkpoint size 6 root ")
    path = project / LEDGER_FILE
    raw = path.read_bytes().splitlines(keepends=True)
    raw[2] = raw[2].replace(b'"total_keys":45', b'"total_keys":40')
    path.write_bytes(b"".join(raw))
    run = ledger_cli("verify")
    assert run.code == 1
    assert run.out.strip() == (f"ledger BAD at {LEDGER_FILE} line 3 (event 1042): "
                               "signature does not verify")
    assert len(run.out.strip().splitlines()) == 1
    result = json.loads(ledger_cli("verify", "--json").out)
    assert (result["ok"], result["first_bad"], result["event_id"]) == (False, 3, 1042)


def test_verify_with_an_exported_public_key(project: Path, tmp_path: Path) -> None:
    run = ledger_cli("export-key")
    assert run.code == 0 and run.out.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "truth.pub"
    key_file.write_text(run.out)
    assert ledger_cli("verify", "--public-key", str(key_file)).code == 0
    hex_key = ledger_cli("export-key", "--hex").out.strip()
    assert len(hex_key) == 64
    other = tmp_path / "other.pub"
    other.write_text(Ledger(tmp_path / "elsewhere", environ={}).signer().public_hex)
    run = ledger_cli("verify", "--public-key", str(other))
    assert run.code == 1 and "signature" in run.out
    bad = tmp_path / "bad.pub"
    bad.write_text("hello")
    run = ledger_cli("verify", "--public-key", str(bad))
    assert run.code == 2 and run.err.startswith("genesis: ") and str(bad) in run.err
    run = ledger_cli("verify", "--public-key", str(tmp_path / "missing.pub"))
    assert run.code == 2 and "cannot read public key" in run.err


def test_export_key_creates_the_key_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   _isolated_env: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert ledger_cli("verify").code == 1  # no key yet: fail closed
    assert ledger_cli("export-key").code == 0
    assert stat.S_IMODE((_isolated_env / "truth" / "ed25519.key").stat().st_mode) == 0o600
    assert ledger_cli("verify").out.startswith("ledger ok: 0 entries")


def test_show(project: Path) -> None:
    run = ledger_cli("show")
    assert run.code == 0
    header, *lines = run.out.strip().splitlines()
    assert header.split()[:3] == ["leaf", "seq", "recorded"] and len(lines) == 6
    assert "1040" in lines[0] and "envsync.commit" in lines[0]
    run = ledger_cli("show", "--topic", "envsync.drift", "--limit", "2")
    assert [line.split()[1] for line in run.out.strip().splitlines()[1:]] == ["1043", "1045"]
    rows = json.loads(ledger_cli("show", "--json", "--topic", "envsync.*", "--limit", "3").out)
    assert [r["event_id"] for r in rows] == [1043, 1044, 1045]
    assert ledger_cli("show", "--topic", "autonomy.>").out.strip() == "no entries matching autonomy.>"
    run = ledger_cli("show", "--topic", "bad..pattern")
    assert run.code == 2 and "--topic" in run.err
    assert ledger_cli("show", "--limit", "0").code == 2


def test_prove_and_third_party_verify_proof(project: Path, tmp_path: Path) -> None:
    proof_file = tmp_path / "proof.json"
    run = ledger_cli("prove", "1043")
    assert run.code == 0
    proof = json.loads(run.out)
    assert proof["entry"]["event_id"] == 1043 and proof["tree_size"] == 6
    proof_file.write_text(run.out)
    key_file = tmp_path / "truth.pub"
    key_file.write_text(ledger_cli("export-key").out)
    run = ledger_cli("verify-proof", str(proof_file), "--public-key", str(key_file))
    assert run.code == 0, run.out
    assert run.out.startswith("proof ok: event 1043 (envsync.drift) is entry 3")
    proof["entry"]["payload"]["has_drift"] = False
    proof_file.write_text(json.dumps(proof))
    run = ledger_cli("verify-proof", str(proof_file), "--public-key", str(key_file))
    assert run.code == 1 and run.out.startswith("proof BAD: entry signature does not verify")
    proof_file.write_text("{not json")
    run = ledger_cli("verify-proof", str(proof_file), "--public-key", str(key_file))
    assert run.code == 2 and "not valid JSON" in run.err
    run = ledger_cli("prove", "999")
    assert run.code == 2 and run.err.strip() == "genesis: event 999 is not in the ledger"
    out_file = tmp_path / "p2.json"
    assert ledger_cli("prove", "1040", "--output", str(out_file)).code == 0
    assert json.loads(out_file.read_text())["leaf_index"] == 0


def test_checkpoint_consistency_and_truncation(project: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text(ledger_cli("checkpoint").out)
    assert json.loads(kept.read_text())["size"] == 6
    Ledger(project, environ={}).append(event(2000))
    proof = tmp_path / "consistency.json"
    proof.write_text(ledger_cli("consistency", "6").out)
    key = tmp_path / "k.pub"
    key.write_text(ledger_cli("export-key").out)
    run = ledger_cli("verify-proof", str(proof), "--public-key", str(key), "--checkpoint", str(kept))
    assert run.code == 0 and "prefix" in run.out
    assert ledger_cli("verify", "--checkpoint", str(kept)).code == 0
    # Cut the ledger back to 5 entries and rewind the checkpoints to match: only the kept one notices.
    ledger_path, cps = project / LEDGER_FILE, project / "truth_checkpoints.json"
    ledger_path.write_bytes(b"".join(ledger_path.read_bytes().splitlines(keepends=True)[:5]))
    cps.write_bytes(b"".join(cps.read_bytes().splitlines(keepends=True)[:6]))
    assert ledger_cli("verify").code == 0
    run = ledger_cli("verify", "--checkpoint", str(kept))
    assert run.code == 1 and "trusted checkpoint" in run.out


def test_a_saved_checkpoint_catches_a_deleted_ledger(project: Path, tmp_path: Path) -> None:
    """Issue 19 item 1: `rm` of both ledger files is not `ledger ok: 0 entries` against a saved checkpoint."""
    saved = tmp_path / "saved.json"
    saved.write_text(ledger_cli("checkpoint").out)
    ledger_path, cps = project / LEDGER_FILE, project / "truth_checkpoints.json"
    ledger_path.unlink()
    cps.unlink()
    run = ledger_cli("verify", "--checkpoint", str(saved))
    assert run.code == 1, run.out
    assert run.out.strip() == (f"ledger BAD at {LEDGER_FILE} line 1: the ledger has 0 entries but a "
                               "trusted checkpoint covers 6: entries were deleted or the file truncated")
    ledger_path.write_bytes(b"")
    cps.write_bytes(b"")
    assert ledger_cli("verify", "--checkpoint", str(saved)).code == 1


def test_all_checkpoints_catches_a_deleted_middle_checkpoint_line(project: Path) -> None:
    cps = project / "truth_checkpoints.json"
    raw = cps.read_bytes().splitlines(keepends=True)
    del raw[3]
    cps.write_bytes(b"".join(raw))
    run = ledger_cli("verify", "--all-checkpoints")
    assert run.code == 1
    assert run.out.startswith("ledger BAD at truth_checkpoints.json line 4: ")
    assert len(run.out.strip().splitlines()) == 1


def test_repair(project: Path) -> None:
    with (project / LEDGER_FILE).open("ab") as fh:
        fh.write(b'{"event_id":99')
    run = ledger_cli("verify")
    assert run.code == 1 and "line 7" in run.out and "incomplete last line" in run.out
    run = ledger_cli("repair")
    assert run.code == 0 and "moved a torn last line of truth_ledger.json (14 bytes)" in run.out
    assert ledger_cli("verify").code == 0
    assert ledger_cli("repair").out.strip() == "nothing to repair (6 entries)"


def test_no_output_ever_holds_the_canary(project: Path, tmp_path: Path) -> None:
    outputs = [ledger_cli(*argv) for argv in (
        ("verify",), ("verify", "--json"), ("show",), ("show", "--json"), ("prove", "1041"),
        ("checkpoint",), ("consistency", "3"))]
    for run in outputs:
        assert run.code == 0
        assert CANARY not in run.out + run.err
    assert CANARY not in (project / LEDGER_FILE).read_text()


def test_through_the_cli_main(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.testing import genesis_main as main

    assert main(["ledger", "verify"]) == 0
    assert capsys.readouterr().out.startswith("ledger ok: 6 entries")
    assert main(["ledger", "prove", "1044"]) == 0
    proof = tmp_path / "proof.json"
    proof.write_text(capsys.readouterr().out)
    assert main(["ledger", "export-key"]) == 0
    key = tmp_path / "k.pub"
    key.write_text(capsys.readouterr().out)
    assert main(["ledger", "verify-proof", str(proof), "--public-key", str(key)]) == 0
    assert "proof ok" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["ledger"])
    assert info.value.code == 2


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  _isolated_env: Path) -> None:
    from genesis_truth.signing import signer_from_seed

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENESIS_TRUTH_KEY", "ab" * 32)
    run = ledger_cli("export-key", "--hex")
    assert run.code == 0
    assert run.out.strip() == signer_from_seed(bytes.fromhex("ab" * 32)).public_hex
    assert "ab" * 32 not in run.out
    Ledger(_isolated_env).append(event(1))
    assert ledger_cli("verify").code == 0
    assert not (_isolated_env / "truth" / "ed25519.key").exists()
    monkeypatch.setenv("GENESIS_TRUTH_KEY", "not-a-key")
    run = ledger_cli("verify")
    assert run.code == 1 and "GENESIS_TRUTH_KEY" in run.out and "not-a-key" not in run.out
