"""Run the demo: write a throw-away project, start the emulators, and narrate the whole flow."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import GenesisError
from .app_data import dotenv_text, drifted_app
from .emulators import demo_config, running_emulators

MARKER = ".genesis-demo"
REQUIRED_PLUGINS = ("render", "netlify", "github", "truth", "blueprint", "steward", "autonomy")


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def prepare_dir(directory: Path) -> None:
    """Create ``directory`` for the demo; only a directory an earlier demo made may be reused."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise GenesisError(f"{directory} exists and was not made by `genesis demo`; choose --dir")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `genesis demo`; safe to delete\n")


def run_demo(directory: Path, *, say: Callable[[str], None],
             genesis: Callable[[list[str]], int], installed: set[str]) -> int:
    """Run every step, printing narration with ``say`` and commands through ``genesis``; return the exit code."""
    missing = [name for name in REQUIRED_PLUGINS if name not in installed]
    if missing:
        from ..first_party import ENGINES, KINDS, install_command

        dists = [KINDS.get(name) or ENGINES[name] for name in missing]
        raise GenesisError(f"genesis demo needs these plugins: {', '.join(missing)}; {install_command(dists)} "
                           "(from a Genesis checkout: pip install -r requirements-all.txt)")
    directory = directory.resolve()
    prepare_dir(directory)
    app = drifted_app()
    (directory / ".env").write_text(dotenv_text(app.local))
    config = directory / "genesis.toml"
    home = directory / ".genesis"
    with running_emulators(app) as emulators:
        config.write_text(demo_config(emulators))
        env = {e.token_env: e.token for e in emulators.values() if e.token_env is not None}
        env["GENESIS_HOME"] = str(home)
        with _environ(env):
            def step(title: str, text: str, *args: str) -> int:
                say("")
                say(f"━━ {title}")
                say(text)
                say(f"$ genesis {' '.join(args)}")
                return genesis(["--config", str(config), *args])

            say(f"A throw-away project in {directory}: a local .env with {len(app.local)} variables "
                "(the source of truth) and the same app on emulated Render, Netlify and GitHub Actions "
                "(real HTTP servers on 127.0.0.1, no credentials needed).")
            first = step("1. Find the drift",
                         "Every platform is read at once, compared key by key; secrets are shown only as "
                         "fingerprints. Exit code 1 means drift.", "sync")
            if first != 1:
                say(f"expected drift (exit 1), got exit {first}")
                return 2
            step("2. Truth recorded it", "The drift event is now in a signed, append-only ledger.",
                 "ledger", "show", "--limit", "2")
            step("3. Blueprint checked the schema",
                 "The schema expects at least 40 keys; this app has fewer, so Blueprint published a warning.",
                 "events", "history", "--topic", "blueprint.*", "--limit", "1")
            say("")
            say("━━ 4. Steward wrote a report")
            reports = sorted((home / "reports").glob("latest.*")) if (home / "reports").exists() else []
            for report in reports:
                say(f"   {report}")
            planned = step("5. The heal plan",
                           "Autonomy plans what to copy from the reference (local) to each platform. "
                           "Nothing is written yet.", "heal")
            if planned not in (0, 1):
                return 2
            applied = step("6. Apply it",
                           "One key at a time through each platform's API (GitHub secrets sealed with the "
                           "repository's public key, one Netlify context, one Render key); then re-read.",
                           "heal", "--apply")
            second = step("7. Sync again", "Parity: exit code 0.", "sync")
            verified = step("8. Verify the ledger",
                            "Every signature, the Merkle tree and the latest signed checkpoint.",
                            "ledger", "verify")
    say("")
    ok = applied == 0 and second == 0 and verified == 0
    say("The demo " + ("completed: drift found, recorded, reported, healed and verified." if ok
                       else "did not complete as expected; see the output above."))
    say("Explore what it left behind (the emulators have stopped, the state has not):")
    for args in ("events history", "events stats", "ledger show", "ledger verify", "steward report"):
        say(f"  {follow_up_command(config, home, args)}")
    return 0 if ok else 2


def follow_up_command(config: Path, home: Path, args: str) -> str:
    """Return a shell command running ``genesis ARGS`` on the demo's project and state.

    The demo keeps its state in ``home`` whatever ``GENESIS_HOME`` says; when
    ``GENESIS_HOME`` is set (and names another place) the command sets it to ``home``, since
    it would otherwise win over the project's state directory.
    """
    command = f"genesis --config {shlex.quote(str(config))} {args}"
    current = os.environ.get("GENESIS_HOME")
    if current and Path(current).expanduser().resolve() != home:
        command = f"GENESIS_HOME={shlex.quote(str(home))} {command}"
    return command
