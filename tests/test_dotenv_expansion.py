"""Values built by ``${VAR}`` expansion: the snapshot says what they came from, the reports show it, never a value.

Issue 18, item 2: the dotenv platform records, per variable, that its value came
from expansion and from which keys (or names of the process environment); the sync
payload carries it as ``expanded`` (names only) and the table, Markdown and HTML
views add a note for the keys that are missing or conflicting.  A value built from
a secret is secret itself: the canary test plants secrets that expanded values
refer to and searches every output of real ``genesis`` processes for them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from genesis_core.config import Table
from genesis_core.platforms.dotenv import DotenvAdapter
from genesis_core.platforms.model import Expansion, FetchContext, InstanceConfig, Snapshot, Variable
from genesis_core.report import build_view, render_html


def adapter(tmp_path: Path, **table) -> DotenvAdapter:
    return DotenvAdapter(InstanceConfig("local", "dotenv", Table(table, "genesis.toml", "platforms.local"), tmp_path))


def fetch(a: DotenvAdapter, env: dict[str, str] | None = None) -> Snapshot:
    return asyncio.run(a.fetch(FetchContext(env=env or {})))


@pytest.mark.parametrize("dialect,table", [("python", {"expand": True}), ("dotenvx", {}), ("compose", {})])
def test_each_expanding_dialect_records_what_a_value_came_from(tmp_path: Path, dialect: str, table: dict) -> None:
    (tmp_path / ".env").write_text("HOST=db\nPORT=5432\n")
    (tmp_path / ".env.local").write_text("URL=pg://${HOST}:${PORT}/${HOST}\nPLAIN=x\nQUOTED='${HOST}'\n"
                                         "FROM_ENV=${REGION}-${NOWHERE:-d}\n")
    a = adapter(tmp_path, paths=[".env", ".env.local"], dialect=dialect, expand_from_environment=True, **table)
    snap = fetch(a, {"REGION": "eu"})
    assert snap.values()["URL"] == "pg://db:5432/db"
    assert snap.expansions() == {
        "URL": Expansion(keys=("HOST", "PORT")),
        "FROM_ENV": Expansion(environment=("REGION",), unset=1),
        **({"QUOTED": Expansion(keys=("HOST",))} if dialect == "python" else {}),  # python-dotenv expands in '...'
    }
    assert snap.variables["PLAIN"].expansion is None
    assert not snap.variables["URL"].secret


def test_a_non_expanding_read_records_nothing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HOST=db\nURL=${HOST}/x\n")
    for a in (adapter(tmp_path), adapter(tmp_path, dialect="node")):
        snap = fetch(a)
        assert snap.values()["URL"] == "${HOST}/x" and snap.expansions() == {}


def test_compose_bare_key_taken_from_the_environment_says_so(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FLAG\n")
    snap = fetch(adapter(tmp_path, dialect="compose", expand_from_environment=True), {"FLAG": "on"})
    assert snap.variables["FLAG"].expansion == Expansion(environment=("FLAG",))


def test_a_value_built_from_a_secret_is_secret(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "WEBHOOK_TOKEN=plainwords\nHOOK=https://hooks.example/${WEBHOOK_TOKEN}/in\nVIA=${HOOK}\n"
        "HOST=db\nPUBLIC=${HOST}/status\nRANDOM=Zq8rT2vLx9Wk4mNp7Qs3\nFROM_RANDOM=${RANDOM}\n"
        "FROM_ENV=${SERVICE_PASSWORD}\n")
    snap = fetch(adapter(tmp_path, dialect="dotenvx", expand_from_environment=True), {"SERVICE_PASSWORD": "pw"})
    secret = {key for key, var in snap.variables.items() if var.secret}
    # By the referenced name, through another expanded key, by a credential-looking value, from the environment.
    assert secret == {"HOOK", "VIA", "FROM_RANDOM", "FROM_ENV"}


def test_expansion_descriptions_and_reprs_hold_names_only() -> None:
    assert Expansion(keys=("DB_HOST",)).describe() == "expanded from ${DB_HOST}"
    assert Expansion(keys=("A", "B"), environment=("HOME",), unset=2).describe() == (
        "expanded from ${A}, ${B}, ${HOME} (process environment); 2 references set nowhere")
    assert Expansion(unset=1).describe() == "expanded (1 reference set nowhere)"
    assert Expansion(keys=("A", "A")).keys == ("A",)
    shown = repr(Variable("URL", "pg://sekrit@db", expansion=Expansion(keys=("PASSWORD",))))
    assert "sekrit" not in shown and "PASSWORD" in shown


# --------------------------------------------------------------- real processes, canaries


def _genesis(project: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "genesis_core", "--config", str(project / "genesis.toml"), *args],
                          capture_output=True, text=True, env=env, cwd=project, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def test_sync_reports_expanded_values_by_name_and_never_their_secrets(tmp_path: Path, genesis_home: Path,
                                                                        robust) -> None:
    token = "canaryhook" + robust.random(20).lower()
    password = "canarypw" + robust.random(20)
    from_env = "canaryenv" + robust.random(20)
    (tmp_path / ".env").write_text(textwrap.dedent(f"""\
        DB_HOST=db.internal
        WEBHOOK_TOKEN={token}
        DB_PASSWORD={password}
        CALLBACK_URL=https://hooks.example/${{WEBHOOK_TOKEN}}/in
        DATABASE_URL=postgres://shop:${{DB_PASSWORD}}@${{DB_HOST}}/shop
        STATUS_URL=https://${{DB_HOST}}/status
        REGION_URL=https://${{GENESIS_TEST_REGION}}.example/${{SERVICE_SECRET}}
        SAME=${{DB_HOST}}
        """))
    (tmp_path / ".env.render").write_text(textwrap.dedent(f"""\
        DB_HOST=db.internal
        WEBHOOK_TOKEN={token}
        DB_PASSWORD={password}
        CALLBACK_URL=https://hooks.example/other/in
        DATABASE_URL=postgres://shop:other@db.internal/shop
        STATUS_URL=https://db.other/status
        SAME=db.internal
        """))
    (tmp_path / "genesis.toml").write_text(textwrap.dedent("""\
        [platforms.local]
        kind = "dotenv"
        path = ".env"
        dialect = "dotenvx"
        expand_from_environment = true

        [platforms.render]
        kind = "dotenv"
        path = ".env.render"
        """))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(GENESIS_HOME=str(genesis_home), GENESIS_TEST_REGION="eu", SERVICE_SECRET=from_env,
               GENESIS_DISABLE_PLUGINS="blueprint,cascade,steward,truth,autonomy")
    outputs: dict[str, str | bytes] = {}

    code, out, err = _genesis(tmp_path, "sync", "--json", env=env)
    outputs.update({"sync --json stdout": out, "sync --json stderr": err})
    assert code == 1, err
    payload = json.loads(out)
    assert payload["expanded"] == [
        {"instance": "local", "key": key, "keys": keys, "environment": environment, "unset": 0}
        for key, keys, environment in [
            ("CALLBACK_URL", ["WEBHOOK_TOKEN"], []), ("DATABASE_URL", ["DB_PASSWORD", "DB_HOST"], []),
            ("REGION_URL", [], ["GENESIS_TEST_REGION", "SERVICE_SECRET"]), ("SAME", ["DB_HOST"], []),
            ("STATUS_URL", ["DB_HOST"], [])]]
    assert payload["missing_in_render"] == ["REGION_URL"]
    conflicts = payload["conflicts"]
    assert set(conflicts) == {"CALLBACK_URL", "DATABASE_URL", "STATUS_URL"}
    assert all(shown.startswith("<secret fp:") for shown in conflicts["CALLBACK_URL"].values())
    assert conflicts["STATUS_URL"] == {"local": "https://db.internal/status", "render": "https://db.other/status"}

    code, out, err = _genesis(tmp_path, "sync", env=env)
    outputs.update({"sync stdout": out, "sync stderr": err})
    assert code == 1, err
    assert "Values from expansion (names only)" in out
    for line in ("local CALLBACK_URL: expanded from ${WEBHOOK_TOKEN}",
                 "local DATABASE_URL: expanded from ${DB_PASSWORD}, ${DB_HOST}",
                 "local REGION_URL: expanded from ${GENESIS_TEST_REGION} (process environment), "
                 "${SERVICE_SECRET} (process environment)",
                 "local STATUS_URL: expanded from ${DB_HOST}"):
        assert line in out, out
    assert "SAME:" not in out  # the same everywhere: nothing to explain

    code, out, err = _genesis(tmp_path, "sync", "--format", "markdown", env=env)
    outputs.update({"sync markdown stdout": out, "sync markdown stderr": err})
    assert code == 1, err
    assert "**Values from expansion** (names only)" in out
    assert r"- `local` `CALLBACK_URL`: expanded from $\{WEBHOOK\_TOKEN\}" in out

    code, out, err = _genesis(tmp_path, "events", "history", "--json", env=env)
    outputs.update({"events stdout": out, "events stderr": err})
    drift = [json.loads(line) for line in out.splitlines()][-1]
    assert drift["_genesis_topic"] == "envsync.drift" and drift["expanded"] == payload["expanded"]
    page = render_html(build_view(drift))  # the page Steward publishes from the same event
    outputs["html report"] = page
    assert "<h2>Values from expansion (names only)</h2>" in page
    assert "<li><code>local</code> <code>CALLBACK_URL</code>: expanded from ${WEBHOOK_TOKEN}</li>" in page

    written = {tmp_path / name for name in (".env", ".env.render", "genesis.toml")}
    outputs.update({str(path): path.read_bytes() for path in tmp_path.rglob("*")
                    if path.is_file() and path not in written})
    assert robust.find_leaks({"token": token, "password": password, "from the environment": from_env},
                             outputs) == []


def test_the_projects_own_secret_patterns_reach_values_built_from_them(tmp_path: Path, run_cli) -> None:
    (tmp_path / ".env").write_text("SHOP_HOOKID=canaryplainhook\nCALLBACK=https://hooks.example/${SHOP_HOOKID}\n"
                                   "HOST=db\nSTATUS=https://${HOST}/status\n")
    (tmp_path / ".env.render").write_text("SHOP_HOOKID=canaryplainhook\nCALLBACK=https://hooks.example/x\n"
                                          "HOST=db\nSTATUS=https://db.other/status\n")
    (tmp_path / "genesis.toml").write_text(textwrap.dedent("""\
        [secrets]
        patterns = ["*_HOOKID"]

        [platforms.local]
        kind = "dotenv"
        path = ".env"
        dialect = "compose"

        [platforms.render]
        kind = "dotenv"
        path = ".env.render"
        """))
    code, out, err = run_cli("--config", str(tmp_path / "genesis.toml"), "sync", "--json")
    assert code == 1, err
    conflicts = json.loads(out)["conflicts"]
    assert all(shown.startswith("<secret fp:") for shown in conflicts["CALLBACK"].values())
    assert conflicts["STATUS"] == {"local": "https://db/status", "render": "https://db.other/status"}
    assert "canaryplainhook" not in out + err


def test_each_environment_carries_and_shows_its_own_expanded_values(tmp_path: Path, run_cli) -> None:
    for name, url in (("prod", "https://${HOST}/x"), ("prod_remote", "https://other/x"),
                      ("staging", "https://s/x"), ("staging_remote", "https://s/x")):
        (tmp_path / f".env.{name}").write_text(f"HOST=h\nURL={url}\n")
    tables = "".join(f'[platforms.{name}]\nkind = "dotenv"\npath = ".env.{name}"\ndialect = "compose"\n\n'
                     for name in ("prod", "prod_remote", "staging", "staging_remote"))
    (tmp_path / "genesis.toml").write_text(
        tables + '[environments.production]\nplatforms = ["prod", "prod_remote"]\n\n'
                 '[environments.staging]\nplatforms = ["staging", "staging_remote"]\n')
    config = str(tmp_path / "genesis.toml")
    code, out, err = run_cli("--config", config, "sync", "--json")
    assert code == 1, err
    environments = json.loads(out)["environments"]
    assert environments["production"]["expanded"] == [
        {"instance": "prod", "key": "URL", "keys": ["HOST"], "environment": [], "unset": 0}]
    assert "expanded" not in environments["staging"]
    code, out, err = run_cli("--config", config, "sync")
    assert "  prod URL: expanded from ${HOST}" in out, out
    code, out, err = run_cli("--config", config, "sync", "--format", "markdown")
    assert out.count("**Values from expansion**") == 1 and r"`prod` `URL`: expanded from $\{HOST\}" in out
