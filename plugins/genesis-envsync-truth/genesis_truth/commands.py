"""``genesis ledger``: verify, show, prove, verify-proof, export-key, checkpoint, consistency, repair.

Exit codes: 0 ok, 1 the ledger or a proof failed verification, 2 the command
could not complete (bad input, unreadable file, missing event).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext

EXIT_OK, EXIT_BAD, EXIT_ERROR = 0, 1, 2


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)

    verify = sub.add_parser("verify", help="check every signature, the Merkle tree and the checkpoints")
    verify.add_argument("--public-key", metavar="FILE",
                        help="verify with this public key (PEM or hex) instead of the local key")
    verify.add_argument("--checkpoint", metavar="FILE", action="append", default=[],
                        help="a checkpoint saved elsewhere that the ledger must still extend "
                             "(repeatable; catches truncation)")
    verify.add_argument("--all-checkpoints", action="store_true",
                        help="also check every older checkpoint's signature and root")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")

    show = sub.add_parser("show", help="list recorded entries, oldest first")
    show.add_argument("--topic", metavar="PATTERN", help="only topics matching, e.g. 'envsync.*'")
    show.add_argument("--limit", type=int, default=20, metavar="N", help="newest N entries (default 20)")
    show.add_argument("--json", action="store_true", help="print the entries as a JSON list")

    prove = sub.add_parser("prove", help="print an inclusion proof of one event (by _genesis_seq)")
    prove.add_argument("seq", type=int, metavar="SEQ")
    prove.add_argument("--output", metavar="FILE", help="write the proof to FILE instead of stdout")

    consistency = sub.add_parser("consistency",
                                 help="print a proof that the ledger of SIZE entries only grew since")
    consistency.add_argument("size", type=int, metavar="SIZE")
    consistency.add_argument("--output", metavar="FILE", help="write the proof to FILE instead of stdout")

    check = sub.add_parser("verify-proof",
                           help="check a proof with only the public key (no ledger needed)")
    check.add_argument("proof", metavar="FILE", help="the proof JSON, or - for stdin")
    check.add_argument("--public-key", metavar="FILE", required=True, help="the ledger's public key")
    check.add_argument("--checkpoint", metavar="FILE",
                       help="for a consistency proof: the checkpoint you kept earlier")

    export = sub.add_parser("export-key", help="print the public key (PEM) for third-party checks")
    export.add_argument("--hex", action="store_true", help="print the raw public key as hex")

    sub.add_parser("checkpoint", help="print the latest signed checkpoint as JSON (keep a copy elsewhere)")
    sub.add_parser("repair", help="move a torn last line aside and checkpoint uncovered valid entries")


def _ledger(ctx: CommandContext) -> Any:
    from .ledger import Ledger

    return Ledger(ctx.state_dir, mask=_mask(ctx))


def _mask(ctx: CommandContext) -> Any:
    try:
        return ctx.secret_policy.mask_payload
    except ImportError:  # a core without genesis_core.secrets
        return None


#: The most ``genesis ledger`` reads of each file named on its command line.
LIMITS = {"checkpoint": 64 * 1024, "public key": 64 * 1024, "proof": 64 * 1024 * 1024}


def _read_text(path: str, what: str) -> str:
    """Return the text of a file named on the command line (``-``: stdin), bounded by its kind's limit."""
    from genesis_core.api import read_stream, read_text

    from .errors import LedgerError

    limit = LIMITS[what]
    if path != "-":
        return read_text(path, limit=limit, what=what)
    try:
        return read_stream(sys.stdin.buffer, limit=limit, what=what).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise LedgerError(f"<stdin>: cannot read {what}: {reason}") from None


def _read_json(path: str, what: str) -> Any:
    from .errors import LedgerError

    text = _read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else path
        raise LedgerError(f"{where}: {what} is not valid JSON") from None
    except RecursionError:
        raise LedgerError(f"{path}: {what} is nested too deeply") from None


def _emit_json(ctx: CommandContext, data: Any, output: str | None) -> None:
    if output:
        from .errors import LedgerError

        try:
            Path(output).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as exc:
            raise LedgerError(f"{output}: cannot write ({exc.strerror or type(exc).__name__})") from None
        ctx.print(f"wrote {output}")
    else:
        ctx.print_json(data)


def _run_verify(args: argparse.Namespace, ctx: CommandContext) -> int:
    from .errors import KeyProblem, LedgerError
    from .signing import parse_public_key

    ledger = _ledger(ctx)
    key = None
    if args.public_key:
        try:
            key = parse_public_key(_read_text(args.public_key, "public key"))
        except KeyProblem as exc:
            raise LedgerError(f"{args.public_key}: {exc}") from None
    trusted = [_read_json(path, "checkpoint") for path in args.checkpoint]
    for path, obj in zip(args.checkpoint, trusted):
        if not isinstance(obj, dict):
            raise LedgerError(f"{path}: a checkpoint is a JSON object")
    result = ledger.verify(key, all_checkpoints=args.all_checkpoints, trusted_checkpoints=trusted)
    if args.json:
        ctx.print_json(result.to_json())
    else:
        ctx.print(result.describe())
    return EXIT_OK if result.ok else EXIT_BAD


def _summary(payload: dict[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if not k.startswith("_genesis_")}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _matcher(pattern: str | None) -> Any:
    if pattern is None:
        return lambda topic: True
    from genesis_core.api import BusError, compile_pattern

    try:
        compiled = compile_pattern(pattern)
    except BusError as exc:
        from .errors import LedgerError

        raise LedgerError(f"--topic: {exc}") from None
    return compiled.matches


def _run_show(args: argparse.Namespace, ctx: CommandContext) -> int:
    if not 1 <= args.limit <= 1_000_000:
        ctx.error(f"--limit must be from 1 to 1,000,000, got {args.limit}"[:200])
        return EXIT_ERROR
    matches = _matcher(args.topic)
    mask = _mask(ctx)
    newest: deque[Any] = deque(maxlen=args.limit)
    for entry in _ledger(ctx).entries():
        if matches(entry.topic):
            newest.append(entry)
    rows = []
    for entry in newest:
        data = entry.to_json()
        if mask is not None:  # the ledger holds masked payloads; mask again on the way out
            data["payload"] = mask(data["payload"])
        rows.append(data)
    if args.json:
        ctx.print_json(rows)
        return EXIT_OK
    if not rows:
        ctx.print("no entries" + (f" matching {args.topic}" if args.topic else ""))
    else:
        ctx.print(f"{'leaf':>6} {'seq':>8}  {'recorded at':<24}  {'topic':<24} payload")
    for data in rows:
        ctx.print(f"{data['leaf_index']:>6} {data['event_id']:>8}  {data['timestamp']}  "
                  f"{data['topic']:<24} {_summary(data['payload'])}")
    return EXIT_OK


def _run_prove(args: argparse.Namespace, ctx: CommandContext) -> int:
    _emit_json(ctx, _ledger(ctx).prove(args.seq), args.output)
    return EXIT_OK


def _run_consistency(args: argparse.Namespace, ctx: CommandContext) -> int:
    _emit_json(ctx, _ledger(ctx).consistency(args.size), args.output)
    return EXIT_OK


def _run_verify_proof(args: argparse.Namespace, ctx: CommandContext) -> int:
    from .errors import KeyProblem, LedgerError
    from .proofs import (
        CONSISTENCY_TYPE,
        explain_consistency_proof,
        explain_inclusion_proof,
    )
    from .signing import parse_public_key

    proof = _read_json(args.proof, "proof")
    try:
        key = parse_public_key(_read_text(args.public_key, "public key"))
    except KeyProblem as exc:
        raise LedgerError(f"{args.public_key}: {exc}") from None
    kind = proof.get("type") if isinstance(proof, dict) else None
    if kind == CONSISTENCY_TYPE:
        trusted = _read_json(args.checkpoint, "checkpoint") if args.checkpoint else None
        if trusted is not None and not isinstance(trusted, dict):
            raise LedgerError(f"{args.checkpoint}: a checkpoint is a JSON object")
        reason = explain_consistency_proof(proof, key, trusted=trusted)
        if reason is None:
            ctx.print(f"proof ok: the ledger of {proof['old_size']} entries is a prefix of the "
                      f"checkpoint of size {proof['checkpoint']['size']}")
    else:
        reason = explain_inclusion_proof(proof, key)
        if reason is None:
            ctx.print(f"proof ok: event {proof['entry']['event_id']} ({proof['entry']['topic']}) is "
                      f"entry {proof['leaf_index']} of the checkpoint of size {proof['tree_size']}")
    if reason is not None:
        ctx.print(f"proof BAD: {reason}")
        return EXIT_BAD
    return EXIT_OK


def _run_export_key(args: argparse.Namespace, ctx: CommandContext) -> int:
    signer = _ledger(ctx).signer(create=True)
    if args.hex:
        ctx.print(signer.public_hex)
    else:
        ctx.stdout.write(signer.public_pem)
    return EXIT_OK


def _run_checkpoint(args: argparse.Namespace, ctx: CommandContext) -> int:
    checkpoint = _ledger(ctx).latest_checkpoint()
    if checkpoint is None:
        ctx.error("no checkpoint yet: the ledger is empty")
        return EXIT_ERROR
    ctx.print_json(checkpoint.to_json())
    return EXIT_OK


def _run_repair(args: argparse.Namespace, ctx: CommandContext) -> int:
    result = _ledger(ctx).repair()
    for name, count in sorted(result.torn_bytes.items()):
        ctx.print(f"moved a torn last line of {name} ({count} bytes) to truth/torn/")
    if result.checkpoint is not None:
        ctx.print(f"wrote checkpoint size {result.checkpoint.size} root {result.checkpoint.root}")
    if not result.torn_bytes and result.checkpoint is None:
        ctx.print(f"nothing to repair ({result.entries} entries)")
    return EXIT_OK


_ACTIONS = {
    "verify": _run_verify,
    "show": _run_show,
    "prove": _run_prove,
    "consistency": _run_consistency,
    "verify-proof": _run_verify_proof,
    "export-key": _run_export_key,
    "checkpoint": _run_checkpoint,
    "repair": _run_repair,
}


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from genesis_core.api import GenesisError

    try:
        return _ACTIONS[args.ledger_command](args, ctx)
    except GenesisError as exc:
        ctx.error(str(exc))
        return EXIT_ERROR
    except OSError as exc:  # the ledger or a file named on the command line is not what it should be
        where = f"{exc.filename}: " if exc.filename else ""
        ctx.error(f"{where}{exc.strerror or type(exc).__name__}")
        return EXIT_ERROR


COMMAND = Command(
    name="ledger",
    help="inspect, verify and prove entries of the Truth ledger",
    configure=_configure,
    run=_run,
)
