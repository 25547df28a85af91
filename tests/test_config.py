"""Configuration: discovery, pyproject [tool.genesis], and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis_core.config import Table, find_config, load_config
from genesis_core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_found_from_a_subdirectory(tmp_path: Path) -> None:
    cfg = write(tmp_path / "genesis.toml", '[platforms.local]\nkind = "dotenv"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config(sub) == cfg
    config = load_config(start=sub)
    assert config.source == cfg and config.project_dir == tmp_path
    assert list(config.platforms()) == ["local"]


def test_pyproject_tool_table_is_used_and_errors_name_the_dotted_key(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n[tool.genesis.platforms.web]\nkind = 3\n')
    config = load_config(start=tmp_path)
    assert config.source == tmp_path / "pyproject.toml"
    with pytest.raises(ConfigError) as err:
        config.platforms()["web"].str("kind")
    assert str(err.value) == (f"{tmp_path / 'pyproject.toml'}: tool.genesis.platforms.web.kind: "
                              "expected a string, got an integer")


def test_pyproject_without_tool_genesis_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config(tmp_path) is None or find_config(tmp_path) != tmp_path / "pyproject.toml"


def test_explicit_path_overrides_and_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    cfg = write(tmp_path / "genesis.toml", "[platforms.local\nkind = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    message = str(err.value)
    assert message.startswith(f"{cfg}: invalid TOML")
    assert "line 1" in message and "\n" not in message


def test_unknown_top_level_table_is_rejected(tmp_path: Path) -> None:
    cfg = write(tmp_path / "genesis.toml", "[platfroms.local]\n")
    with pytest.raises(ConfigError, match="platfroms: unknown key"):
        load_config(cfg)


def test_state_dir_defaults_to_project_dot_genesis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENESIS_HOME")
    cfg = write(tmp_path / "genesis.toml", "")
    assert load_config(cfg).state_dir == tmp_path / ".genesis"
    write(cfg, '[bus]\nstate_dir = "var/state"\n')
    assert load_config(cfg).state_dir == tmp_path / "var" / "state"
    monkeypatch.setenv("GENESIS_HOME", str(tmp_path / "home"))
    assert load_config(cfg).state_dir == tmp_path / "home"


@pytest.mark.parametrize(("data", "call", "message"), [
    ({"n": "3"}, lambda t: t.int("n"), "t.n: expected an integer, got a string"),
    ({"n": True}, lambda t: t.int("n"), "t.n: expected an integer, got true or false"),
    ({"n": 0}, lambda t: t.int("n", minimum=1), "t.n: must be at least 1, got 0"),
    ({"f": float("nan")}, lambda t: t.float("f", minimum=0.0), "t.f: expected a finite number"),
    ({"f": float("inf")}, lambda t: t.float("f"), "t.f: expected a finite number"),
    ({}, lambda t: t.str("s"), "t.s: is required (a string)"),
    ({"l": ["a", 2]}, lambda t: t.str_list("l"), "t.l[1]: expected a string, got an integer"),
    ({"c": "x"}, lambda t: t.choice("c", ("a", "b")), "t.c: expected one of a, b, got 'x'"),
    ({"zz": 1}, lambda t: t.check_known({"a"}), "t.zz: unknown key (known keys: a)"),
])
def test_table_errors(data, call, message) -> None:
    with pytest.raises(ConfigError) as err:
        call(Table(data, "f.toml", "t"))
    assert str(err.value) == f"f.toml: {message}"


def test_table_defaults_and_single_string_list() -> None:
    table = Table({"l": "VITE_*", "f": 2}, "f.toml", "t")
    assert table.str_list("l") == ("VITE_*",)
    assert table.float("f") == 2.0
    assert table.bool("missing", False) is False
    assert table.table("sub") == Table({}, "f.toml", "t.sub")


def test_table_annotations_name_types_not_the_methods_that_shadow_them() -> None:
    """``Table.str`` (and ``int``, ``float``, ``bool``) shadow the built-ins in the class body.

    An annotation written after them is read in that scope (by type checkers, and by Python
    itself without ``from __future__ import annotations``): ``key: str`` named the method.
    Evaluated with the class namespace as it stood when each method was defined, every
    annotation must be made of types.
    """
    import inspect
    import types

    import genesis_core.config as module
    from genesis_core.config import Table

    def parts(value: object) -> list[object]:
        args = getattr(value, "__args__", ())
        return [value, *(part for arg in args for part in parts(arg))]

    seen: dict[str, object] = {}
    for name, member in vars(Table).items():
        if inspect.isfunction(member) and member.__code__.co_filename == module.__file__:  # not attrs'
            for param, annotation in member.__annotations__.items():
                value = eval(annotation, dict(vars(module)), dict(seen))
                bad = [p for p in parts(value) if isinstance(p, types.FunctionType)]
                assert not bad, f"Table.{name}: {param}: {annotation!r} names {bad}"
        seen[name] = member
