"""``genesis blueprint init`` and ``check`` end to end on local .env platforms."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from _blueprint_support import CANARY

from genesis_core.api import reset_bus

CONFIG = """
[platforms.web]
kind = "dotenv"
path = "web.env"
[platforms.api]
kind = "dotenv"
path = "api.env"
"""

WEB = f"""
PORT=8080
DEBUG=false
SITE_URL=https://shop.example
ADMIN_EMAIL=ops@example.com
STRIPE_SECRET_KEY={CANARY}
"""

API = f"""
PORT=9090
DEBUG=true
SITE_URL=https://shop.example
ADMIN_EMAIL=ops@example.com
STRIPE_SECRET_KEY={CANARY}
WORKERS=4
"""


@pytest.fixture(autouse=True)
def _reset_process_bus():
    yield
    reset_bus()


def make_project(root: Path, config: str = CONFIG, web: str = WEB, api: str = API) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "genesis.toml").write_text(textwrap.dedent(config))
    (root / "web.env").write_text(textwrap.dedent(web))
    (root / "api.env").write_text(textwrap.dedent(api))
    return root


def test_init_then_check_passes(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p")
    code, out, err = run_cli(project, "blueprint", "init")
    assert (code, err) == (0, "")
    schema_file = project / "genesis.schema.toml"
    text = schema_file.read_text()
    for value in (CANARY, "8080", "shop.example", "ops@example.com"):
        assert value not in text and value not in out
    assert "min_keys = 6" in text
    assert "[keys.STRIPE_SECRET_KEY]\nsecret = true" in text
    assert "to use it" not in out  # genesis.schema.toml next to the config is found by itself
    code, out, err = run_cli(project, "blueprint", "check", "--no-publish")
    assert (code, err) == (0, "")
    assert "no violation" in out


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p")
    (project / "genesis.schema.toml").write_text("# mine\n")
    code, out, err = run_cli(project, "blueprint", "init")
    assert code == 2 and "--force" in err and out == ""
    assert (project / "genesis.schema.toml").read_text() == "# mine\n"
    code, _out, _err = run_cli(project, "blueprint", "init", "--force")
    assert code == 0 and "min_keys" in (project / "genesis.schema.toml").read_text()


def test_init_elsewhere_says_how_to_use_it(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p")
    code, out, _err = run_cli(project, "blueprint", "init", "--output", "conf/schema.toml")
    assert code == 0 and (project / "conf" / "schema.toml").is_file()
    assert 'schema = "conf/schema.toml"' in out


def test_check_reports_violations_without_secrets(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p", config=CONFIG + """
        [engines.blueprint]
        min_keys = 10
        required = ["SENTRY_DSN"]
        [engines.blueprint.keys.PORT]
        type = "int"
        [engines.blueprint.keys.STRIPE_SECRET_KEY]
        type = "regex"
        pattern = "sk_test_.*"
        [engines.blueprint.keys.DEBUG]
        one_of = ["false"]
        [engines.blueprint.platforms.api]
        required = ["WORKERS", "QUEUE_URL"]
    """, web=WEB.replace("PORT=8080", "PORT=eighty"))
    code, out, err = run_cli(project, "blueprint", "check", "--json")
    assert code == 1, err
    result = json.loads(out)
    assert result["ok"] is False
    found = {(v["rule"], v["key"], v["instance"]): v["actual"] for v in result["violations"]}
    assert found[("type", "PORT", "web")] == "eighty"
    assert found[("one_of", "DEBUG", "api")] == "true"
    assert found[("min_keys", None, None)] == 6
    assert found[("platform_required", "QUEUE_URL", "api")] == "missing"
    assert {("required", "SENTRY_DSN", "web"), ("required", "SENTRY_DSN", "api")} <= set(found)
    assert found[("regex", "STRIPE_SECRET_KEY", "web")].startswith("<secret fp:")
    assert CANARY not in out + err
    code, text_out, err = run_cli(project, "blueprint", "check", "--no-publish")
    assert code == 1 and CANARY not in text_out + err
    assert "PORT on web: type: expected int, got 'eighty'" in text_out


def test_check_publishes_a_warning(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p", config=CONFIG + """
        [engines.blueprint.keys.STRIPE_SECRET_KEY]
        type = "int"
    """)
    code, _out, err = run_cli(project, "blueprint", "check")
    assert code == 1 and err == ""
    code, out, _err = run_cli(project, "events", "history", "--topic", "blueprint.warning", "--json")
    [warning] = [json.loads(line) for line in out.splitlines()]
    assert warning["type"] == "schema_drift"
    assert warning["source"] == {"command": "genesis blueprint check"}
    assert CANARY not in out


def test_unreadable_platform_exits_2(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p", config=CONFIG + '[engines.blueprint]\nmin_keys = 1\n')
    (project / "api.env").unlink()
    code, out, err = run_cli(project, "blueprint", "check")
    assert code == 2 and out == ""
    assert err.startswith("genesis: api") and err.count("\n") == 1


def test_bad_schema_exits_2_with_one_line(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p", config=CONFIG + """
        [engines.blueprint.keys.PORT]
        type = "number"
    """)
    code, out, err = run_cli(project, "blueprint", "check")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "genesis.toml: engines.blueprint.keys.PORT.type: expected one of" in err
    assert "Traceback" not in err


def test_no_schema_exits_2(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p")
    code, _out, err = run_cli(project, "blueprint", "check")
    assert code == 2 and "blueprint init" in err


def test_scope_from_sync_config_applies(tmp_path: Path, run_cli) -> None:
    scoped = CONFIG.replace('path = "api.env"', 'path = "api.env"\nexclude = ["VITE_*"]')
    project = make_project(tmp_path / "p", config=scoped + """
        [engines.blueprint]
        required = ["VITE_API_URL"]
    """, web=WEB + "VITE_API_URL=https://api.example\n")
    code, out, err = run_cli(project, "blueprint", "check", "--no-publish")
    assert (code, err) == (0, ""), out


def test_genesis_sync_events_are_checked(tmp_path: Path, run_cli) -> None:
    project = make_project(tmp_path / "p", config=CONFIG + """
        [engines.blueprint]
        min_keys = 10
        required = ["WORKERS"]
    """)
    code, _out, err = run_cli(project, "sync", "--no-progress")
    assert code == 1, err
    code, out, _err = run_cli(project, "events", "history", "--topic", "blueprint.warning", "--json")
    [warning] = [json.loads(line) for line in out.splitlines()]
    assert warning["source"]["topic"] == "envsync.drift"
    assert sorted((v["rule"], v["key"], v["instance"]) for v in warning["violations"]) == [
        ("min_keys", None, None), ("required", "WORKERS", "web")]
    assert CANARY not in out
