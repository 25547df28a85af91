"""The built-in dotenv platform: merge order, malformed lines, missing files, surgical writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from genesis_core.errors import ConfigError, PlatformError
from genesis_core.platforms.dotenv import DotenvAdapter
from genesis_core.platforms.model import FetchContext
from genesis_core.testing import instance_config


def adapter(tmp_path: Path, **table) -> DotenvAdapter:
    return DotenvAdapter(instance_config("dotenv", table, name="local", base_dir=tmp_path))


def fetch(a: DotenvAdapter):
    return asyncio.run(a.fetch(FetchContext(env={})))


def test_later_paths_override_earlier(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nB=2\n# comment\n\nexport C='three words'\n")
    (tmp_path / ".env.local").write_text('B="from local"\nD=\n')
    snap = fetch(adapter(tmp_path, paths=[".env", ".env.local"]))
    assert snap.values() == {"A": "1", "B": "from local", "C": "three words", "D": ""}
    assert snap.platform == "local" and snap.kind == "dotenv"


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOD=1\nthis is not valid\nLATER=2\n")
    with pytest.raises(PlatformError) as err:
        fetch(adapter(tmp_path))
    assert str(err.value) == ("local: .env:2 (dialect python): cannot parse this line "
                              "(expected KEY=VALUE, a comment or a blank line)")


def test_missing_file_is_an_error_unless_optional(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match=r"local: \.env: file not found"):
        fetch(adapter(tmp_path))
    assert fetch(adapter(tmp_path, optional=True)).values() == {}


def test_table_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="platforms.local.pth: unknown key"):
        adapter(tmp_path, pth=".env")
    with pytest.raises(ConfigError, match="platforms.local.path: give either path or paths"):
        adapter(tmp_path, path=".env", paths=[".env"])
    with pytest.raises(ConfigError, match="platforms.local.paths: must list at least one file"):
        adapter(tmp_path, paths=[])


def test_write_changes_one_line_only(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# keep me\nA=1\nB='x y'\n")
    a = adapter(tmp_path)
    asyncio.run(a.write(FetchContext(env={}), "B", "new value", secret=False))
    asyncio.run(a.write(FetchContext(env={}), "C", "it's", secret=True))
    text = env.read_text()
    assert text.startswith("# keep me\nA=1\n")
    assert fetch(a).values() == {"A": "1", "B": "new value", "C": "it's"}


def test_repr_never_shows_values(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=canary-5f2b9c\n")
    snap = fetch(adapter(tmp_path))
    assert "canary-5f2b9c" not in repr(snap) and "canary-5f2b9c" not in repr(snap.variables)


@pytest.mark.parametrize("line", ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", "postgres://u:pw@h/db", "JUSTAKEY"])
def test_a_line_without_equals_is_an_error_that_does_not_echo_it(tmp_path: Path, line: str) -> None:
    (tmp_path / ".env").write_text(f"A=1\n{line}\n")
    with pytest.raises(PlatformError) as err:
        fetch(adapter(tmp_path))
    assert str(err.value) == ("local: .env:2 (dialect python): expected KEY=VALUE (the line has no '='; "
                              "python-dotenv reads no value for it, so it is unreadable: "
                              "write KEY= for an empty value)")


def test_invalid_names_are_rejected_on_read_and_write(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("9LIVES=1\n")
    with pytest.raises(PlatformError, match=r"\.env:1 \(dialect python\): invalid variable name"):
        fetch(adapter(tmp_path))
    (tmp_path / ".env").write_text("A=1\n")
    with pytest.raises(PlatformError, match="refusing to write an invalid variable name"):
        asyncio.run(adapter(tmp_path).write(FetchContext(env={}), "NEW\nDEBUG", "true", secret=False))
    assert (tmp_path / ".env").read_text() == "A=1\n"


def test_the_registered_dotenv_kind_builds_a_working_adapter(tmp_path: Path) -> None:
    from genesis_core.plugins import build_plugin_host

    kind = build_plugin_host(entry_points=False).platform_kinds()["dotenv"]
    assert kind.supports_write and kind.credential_env is None and 'paths = [".env"]' in kind.config_example
    (tmp_path / ".env").write_text("A=1\n")
    built = kind.factory(instance_config("dotenv", name="local", base_dir=tmp_path))
    assert isinstance(built, DotenvAdapter)
    assert fetch(built).values() == {"A": "1"}


# ----------------------------------------------------------------- dialects


CANARY = "canary-0d07e4v-dialects"


def write_env(tmp_path: Path, data: str | bytes, name: str = ".env") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@pytest.mark.parametrize("table, message", [
    ({"dialect": "ruby"}, "platforms.local.dialect: expected one of python, node, dotenvx, compose, got 'ruby'"),
    ({"dialect": "node", "expand": True}, "platforms.local.expand: the node dialect never expands variables"),
    ({"dialect": "compose", "expand": False}, "platforms.local.expand: the compose dialect always expands"),
    ({"expand_from_environment": True}, "platforms.local.expand_from_environment: has no effect"),
])
def test_dialect_options_are_validated(tmp_path: Path, table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        adapter(tmp_path, **table)


@pytest.mark.parametrize("dialect, expected", [
    ("python", {"A": "value#x", "B": "${A}", "C": "`x`", "D": "a\tb"}),
    ("node", {"A": "value", "B": "${A}", "C": "x", "D": "a\\tb"}),
    ("dotenvx", {"A": "value", "B": "value", "C": "x", "D": "a\tb"}),
    ("compose", {"A": "value#x", "B": "value#x", "C": "`x`", "D": "a\tb"}),
])
def test_each_dialect_reads_as_its_reader_does(tmp_path: Path, dialect: str, expected: dict) -> None:
    write_env(tmp_path, 'A=value#x\nB=${A}\nC=`x`\nD="a\\tb"\n')
    assert fetch(adapter(tmp_path, dialect=dialect)).values() == expected


def test_python_expand_interpolates_as_load_dotenv_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dotenv import dotenv_values

    path = write_env(tmp_path, "A=1\nB=${A}/x\nC='${A}'\nD=${HOME_DIR:-none}\nE=$A\n")
    a = adapter(tmp_path, expand=True)
    assert fetch(a).values() == {"A": "1", "B": "1/x", "C": "1", "D": "none", "E": "$A"}
    monkeypatch.setenv("HOME_DIR", "/home/app")
    with_env = adapter(tmp_path, expand=True, expand_from_environment=True)
    assert with_env.read() == with_env.read()  # reads os.environ when called without a context
    assert with_env.read().values() == dotenv_values(path) == {**fetch(a).values(), "D": "/home/app"}
    # Without expand_from_environment the process environment is never consulted.
    assert fetch(a).values()["D"] == "none"


def test_expansion_uses_earlier_files_and_only_optionally_the_environment(tmp_path: Path, caplog) -> None:
    write_env(tmp_path, "BASE=https://x.io\n")
    write_env(tmp_path, "URL=${BASE}/api\nHOST=${HOSTNAME_X}\n", ".env.local")
    plain = adapter(tmp_path, paths=[".env", ".env.local"], dialect="compose")
    assert asyncio.run(plain.fetch(FetchContext(env={"HOSTNAME_X": "h1"}))).values() == {
        "BASE": "https://x.io", "URL": "https://x.io/api", "HOST": ""}
    assert "local: .env.local:2 (dialect compose): ${HOSTNAME_X} is not set; Docker Compose uses an empty string" \
        in caplog.text
    with_env = adapter(tmp_path, paths=[".env", ".env.local"], dialect="compose", expand_from_environment=True)
    assert asyncio.run(with_env.fetch(FetchContext(env={"HOSTNAME_X": "h1", "BASE": "env-wins"}))).values() == {
        "BASE": "https://x.io", "URL": "env-wins/api", "HOST": "h1"}


def test_compose_bare_key_comes_from_the_environment_or_is_unreadable(tmp_path: Path) -> None:
    write_env(tmp_path, "A=1\nFLAG\nOTHER\n")
    snap = fetch(adapter(tmp_path, dialect="compose"))
    assert snap.values() == {"A": "1", "FLAG": None, "OTHER": None}
    assert not snap.variables["FLAG"].readable and snap.variables["FLAG"].secret
    with_env = adapter(tmp_path, dialect="compose", expand_from_environment=True)
    assert asyncio.run(with_env.fetch(FetchContext(env={"FLAG": "on"}))).values() == {"A": "1", "FLAG": "on"}


@pytest.mark.parametrize("dialect", ["node", "dotenvx"])
def test_node_readers_skip_lines_without_equals_and_say_so(tmp_path: Path, caplog, dialect: str) -> None:
    write_env(tmp_path, f"A=1\nghp_{CANARY}\nFLAG\nB=2\n")
    assert fetch(adapter(tmp_path, dialect=dialect)).values() == {"A": "1", "B": "2"}
    assert f"local: .env:2 (dialect {dialect}):" in caplog.text and f".env:3 (dialect {dialect}):" in caplog.text
    assert CANARY not in caplog.text and "FLAG" not in caplog.text


def test_dotenvx_command_substitution_is_an_error_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write_env(tmp_path, f"A=1\nB=$(touch {marker})\n")
    with pytest.raises(PlatformError) as err:
        fetch(adapter(tmp_path, dialect="dotenvx"))
    assert str(err.value) == ("local: .env:2 (dialect dotenvx): command substitution $(...): dotenvx would run it "
                              "as a shell command; Genesis never runs anything from a .env file")
    assert not marker.exists()
    # In single quotes dotenvx runs nothing either, and the text is the value.
    write_env(tmp_path, f"B='$(touch {marker})'\n")
    assert fetch(adapter(tmp_path, dialect="dotenvx")).values() == {"B": f"$(touch {marker})"}
    assert not marker.exists()


@pytest.mark.parametrize("dialect, text, line", [
    ("python", f'A=1\nB="{CANARY}\n', 2),
    ("compose", f'A=1\n\nB="{CANARY}\n', 3),
    ("compose", f"A=1\nB C={CANARY}\n", 2),
    ("compose", f"A=1\nB=${{{CANARY}\n", 2),
    ("compose", f"A=1\nB=${{NOPE:?{CANARY}}}\n", 2),
    ("dotenvx", f"A=1\n\n\nB=$(echo {CANARY})\n", 4),
])
def test_errors_name_file_line_and_dialect_never_the_text(tmp_path: Path, dialect: str, text: str,
                                                          line: int) -> None:
    write_env(tmp_path, text)
    with pytest.raises(PlatformError) as err:
        fetch(adapter(tmp_path, dialect=dialect))
    assert str(err.value).startswith(f"local: .env:{line} (dialect {dialect}): ")
    assert CANARY not in str(err.value) and CANARY not in repr(err.value)


def test_duplicate_keys_warn_with_both_lines_and_the_last_wins(tmp_path: Path, caplog) -> None:
    write_env(tmp_path, f"TOKEN={CANARY}\nA=1\nTOKEN=second\n")
    assert fetch(adapter(tmp_path)).values() == {"TOKEN": "second", "A": "1"}
    assert ("local: .env: TOKEN is set on line 1 and again on line 3; the last one wins (as in every reader)"
            in caplog.text)
    assert CANARY not in caplog.text


def test_readings_never_show_values(tmp_path: Path) -> None:
    from genesis_core.platforms.dotenv_dialects import DIALECTS, Context

    for dialect in DIALECTS.values():
        reading = dialect.read(f"TOKEN={CANARY}\n", expand=dialect.expands_by_default,
                               context=Context({"X": CANARY}, {"Y": CANARY}))
        assert CANARY not in repr(reading) + repr(reading.entries) + repr(Context({"X": CANARY}, {"Y": CANARY}))


# ----------------------------------------------------------------- writes


def test_write_keeps_every_other_byte(tmp_path: Path) -> None:
    original = "\ufeff# top comment\r\n  export A='old' # note\r\nB=2\r\n\r\n# end\r\nA=1\r\n"
    env = write_env(tmp_path, original)
    a = adapter(tmp_path)
    a.write_now("A", "new value")
    a.write_now("C", "c")
    # The last A (the one readers use) is rewritten; its indentation and export prefix stay.
    assert env.read_bytes().decode() == ("\ufeff# top comment\r\n  export A='old' # note\r\nB=2\r\n\r\n# end\r\n"
                                         "A=new value\r\nC=c\r\n")
    a.write_now("A", "first")
    assert fetch(a).values() == {"A": "first", "B": "2", "C": "c"}


def test_write_replaces_an_export_line_in_place(tmp_path: Path) -> None:
    env = write_env(tmp_path, "# c\n\texport DEBUG=true\nLAST=1")
    adapter(tmp_path, dialect="node").write_now("DEBUG", "false")
    assert env.read_text() == "# c\n\texport DEBUG=false\nLAST=1"
    adapter(tmp_path, dialect="node").write_now("NEW", "x")
    assert env.read_text() == "# c\n\texport DEBUG=false\nLAST=1\nNEW=x\n"


@pytest.mark.parametrize("dialect", ["python", "node", "dotenvx", "compose"])
def test_a_carriage_return_survives_the_round_trip(tmp_path: Path, dialect: str) -> None:
    env = write_env(tmp_path, "A=1\n")
    a = adapter(tmp_path, dialect=dialect)
    a.write_now("CR", "a\rb")
    a.write_now("CRLF", "one\r\ntwo")
    assert env.read_bytes() == b'A=1\nCR="a\\rb"\nCRLF="one\\r\\ntwo"\n'
    assert fetch(a).values() == {"A": "1", "CR": "a\rb", "CRLF": "one\r\ntwo"}


def test_a_refused_value_names_key_and_dialects_and_writes_nothing(tmp_path: Path) -> None:
    from genesis_core.errors import KeyRefused
    from genesis_core.platforms.dotenv import RefusedValue

    env = write_env(tmp_path, "A=1\r\n")
    value = f"\"it's {CANARY}\""
    with pytest.raises(RefusedValue) as err:
        adapter(tmp_path, dialect="node").write_now("TOKEN", value)
    assert str(err.value) == ("local: .env: refusing to write TOKEN: no quoting makes Node dotenv and python-dotenv "
                              "read the same value (nothing was written)")
    assert isinstance(err.value, KeyRefused) and CANARY not in repr(err.value)
    assert env.read_bytes() == b"A=1\r\n"
    # python-dotenv alone can hold it (double quotes with escapes).
    adapter(tmp_path).write_now("TOKEN", value)
    assert fetch(adapter(tmp_path)).values()["TOKEN"] == value


def test_a_non_portable_form_is_written_with_a_warning(tmp_path: Path, caplog) -> None:
    write_env(tmp_path, "")
    adapter(tmp_path, dialect="node").write_now("PRICE", f"it's $HOME {CANARY}")
    assert fetch(adapter(tmp_path, dialect="node")).values()["PRICE"] == f"it's $HOME {CANARY}"
    assert ("local: .env: PRICE is written in a form Docker Compose and dotenvx read differently (the node dialect "
            "and python-dotenv read it as intended)") in caplog.text
    assert CANARY not in caplog.text


def test_a_file_that_cannot_be_read_is_never_written(tmp_path: Path) -> None:
    env = write_env(tmp_path, 'A=1\nB="unterminated\n')
    with pytest.raises(PlatformError, match=r"^local: \.env:2 \(dialect compose\): unterminated quoted value$"):
        adapter(tmp_path, dialect="compose").write_now("C", "x")
    assert env.read_text() == 'A=1\nB="unterminated\n'


def test_a_write_updates_what_expands_from_the_key(tmp_path: Path) -> None:
    write_env(tmp_path, "HOST=old.example\nURL=https://${HOST}/api\n")
    a = adapter(tmp_path, dialect="dotenvx")
    a.write_now("HOST", "new.example")
    assert fetch(a).values() == {"HOST": "new.example", "URL": "https://new.example/api"}
    assert (tmp_path / ".env").read_text() == "HOST=new.example\nURL=https://${HOST}/api\n"


def test_a_new_file_is_private_and_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    a = adapter(tmp_path, optional=True)
    a.write_now("A", "1")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    (tmp_path / ".env").chmod(0o640)
    a.write_now("B", "2")
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o640
    assert fetch(a).values() == {"A": "1", "B": "2"}
