"""The built-in dotenv platform: merge order, malformed lines, missing files, surgical writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from genesis_core.config import Table
from genesis_core.errors import ConfigError, PlatformError
from genesis_core.platforms.dotenv import DotenvAdapter
from genesis_core.platforms.model import FetchContext, InstanceConfig


def adapter(tmp_path: Path, **table) -> DotenvAdapter:
    return DotenvAdapter(InstanceConfig("local", "dotenv", Table(table, "genesis.toml", "platforms.local"), tmp_path))


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
                              "python-dotenv reads no value for it, so it is unreadable: write KEY= for an empty value)")


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
    built = kind.factory(InstanceConfig("local", "dotenv", Table({}, "genesis.toml", "platforms.local"), tmp_path))
    assert isinstance(built, DotenvAdapter)
    assert fetch(built).values() == {"A": "1"}
