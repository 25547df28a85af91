"""Schema loading: inline, from a file, discovered; every mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from _blueprint_support import config_from, write_config

from genesis_blueprint.schema import load_schema
from genesis_core.api import ConfigError, load_config

PLATFORMS = """
[platforms.web]
kind = "dotenv"
[platforms.api]
kind = "dotenv"
"""


def test_inline_schema_is_parsed(tmp_path: Path) -> None:
    config = config_from(tmp_path, PLATFORMS + """
        [engines.blueprint]
        min_keys = 40
        required = ["DATABASE_URL"]
        [engines.blueprint.keys.PORT]
        type = "int"
        required = true
        [engines.blueprint.keys.MODE]
        one_of = ["dev", "prod"]
        [engines.blueprint.keys.TAG]
        type = "regex"
        pattern = "v[0-9]+"
        [engines.blueprint.keys.API_TOKEN]
        secret = true
        [engines.blueprint.platforms.web]
        required = ["VITE_API_URL"]
    """)
    schema = load_schema(config)
    assert schema.min_keys == 40
    assert schema.required_everywhere() == ("DATABASE_URL", "PORT")
    assert schema.keys["MODE"].one_of == ("dev", "prod")
    assert schema.keys["TAG"].compiled is not None and schema.keys["TAG"].compiled.fullmatch("v12")
    assert schema.is_secret("API_TOKEN") and not schema.is_secret("PORT")
    assert schema.required_on("web") == {"DATABASE_URL": "required", "PORT": "required",
                                         "VITE_API_URL": "platform_required"}
    assert schema.required_on("api") == {"DATABASE_URL": "required", "PORT": "required"}
    assert schema.source == str(tmp_path / "genesis.toml")


def test_schema_file_is_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    write_config(project / "conf", 'min_keys = 3\nrequired = ["A"]\n', name="rules.toml")
    config = config_from(project, '[engines.blueprint]\nschema = "conf/rules.toml"\n')
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    schema = load_schema(config)
    assert (schema.min_keys, schema.required) == (3, ("A",))
    assert schema.source == str((project / "conf" / "rules.toml").resolve())


def test_default_schema_file_is_discovered(tmp_path: Path) -> None:
    write_config(tmp_path, '[keys.PORT]\ntype = "int"\n', name="genesis.schema.toml")
    schema = load_schema(config_from(tmp_path, "[engines.blueprint]\n"))
    assert schema.keys["PORT"].type == "int"


def test_no_schema_at_all_is_empty(tmp_path: Path) -> None:
    assert load_schema(config_from(tmp_path, PLATFORMS)).empty


BAD_INLINE = [
    ("mnimum_keys = 4", "engines.blueprint.mnimum_keys", "unknown key"),
    ("min_keys = -1", "engines.blueprint.min_keys", "at least 0"),
    ('min_keys = "40"', "engines.blueprint.min_keys", "expected an integer"),
    ('required = "A"\nrequired2 = 1', "engines.blueprint.required2", "unknown key"),
    ("required = [1]", "engines.blueprint.required[0]", "expected a string"),
    ('required = [""]', "engines.blueprint.required[0]", "must not be empty"),
    ('[engines.blueprint.keys.PORT]\ntype = "integer"', "engines.blueprint.keys.PORT.type", "expected one of"),
    ('[engines.blueprint.keys.PORT]\ntype = "int"\nmax = 3', "engines.blueprint.keys.PORT.max", "unknown key"),
    ('[engines.blueprint.keys.TAG]\ntype = "regex"', "engines.blueprint.keys.TAG.pattern", "is required"),
    ('[engines.blueprint.keys.TAG]\ntype = "regex"\npattern = "v[0-9"', "engines.blueprint.keys.TAG.pattern",
     "invalid regular expression"),
    ('[engines.blueprint.keys.TAG]\ntype = "int"\npattern = "x"', "engines.blueprint.keys.TAG.pattern",
     "only allowed"),
    ("[engines.blueprint.keys.MODE]\none_of = []", "engines.blueprint.keys.MODE.one_of", "at least one"),
    ("[engines.blueprint.keys.MODE]\none_of = [1, 2]", "engines.blueprint.keys.MODE.one_of[0]",
     "expected a string"),
    ('[engines.blueprint.keys.PORT]\ntype = "int"\none_of = ["80", "http"]',
     "engines.blueprint.keys.PORT.one_of[1]", "not of type int"),
    ('[engines.blueprint.keys.PORT]\nrequired = "yes"', "engines.blueprint.keys.PORT.required", "true or false"),
    ("[engines.blueprint.keys.PORT]\nsecret = 1", "engines.blueprint.keys.PORT.secret", "true or false"),
    ("[engines.blueprint.keys.PORT]\n", "engines.blueprint.keys.PORT", "has no rule"),
    ("keys = 3", "engines.blueprint.keys", "expected a table"),
    ('[engines.blueprint.platforms.wbe]\nrequired = ["A"]', "engines.blueprint.platforms.wbe",
     "unknown platform instance"),
    ('[engines.blueprint.platforms.web]\nrequire = ["A"]', "engines.blueprint.platforms.web.require",
     "unknown key"),
    ('schema = "rules.toml"\nmin_keys = 3', "engines.blueprint.min_keys", "schema file"),
    ('schema = "missing.toml"', "engines.blueprint.schema", "not found"),
]


@pytest.mark.parametrize(("body", "key", "message"), BAD_INLINE)
def test_bad_inline_schema_names_file_and_key(tmp_path: Path, body: str, key: str, message: str) -> None:
    if body.startswith(("[", "keys")):
        text = PLATFORMS + "[engines.blueprint]\n" + (body if body.startswith("keys") else "") + "\n" \
            + (body if body.startswith("[") else "")
    else:
        text = PLATFORMS + "[engines.blueprint]\n" + body + "\n"
    config = load_config(write_config(tmp_path, text))
    with pytest.raises(ConfigError) as caught:
        load_schema(config)
    error = caught.value
    assert error.file == str(tmp_path / "genesis.toml")
    assert error.key == key
    assert message in str(error)
    assert str(error).startswith(f"{tmp_path / 'genesis.toml'}: {key}: ")
    assert "\n" not in str(error)


@pytest.mark.parametrize(("body", "key", "message"), [
    ('[keys.PORT]\ntype = "bool"\none_of = ["maybe"]', "keys.PORT.one_of[0]", "not of type bool"),
    ("[keys.MODE]\nallowed = []", "keys.MODE.allowed", "unknown key"),
    ("schema = 'nested.toml'", "schema", "unknown key"),
])
def test_bad_schema_file_names_that_file(tmp_path: Path, body: str, key: str, message: str) -> None:
    rules = write_config(tmp_path, body, name="genesis.schema.toml")
    config = config_from(tmp_path, '[engines.blueprint]\nschema = "genesis.schema.toml"\n')
    with pytest.raises(ConfigError) as caught:
        load_schema(config)
    assert caught.value.file == str(rules.resolve())
    assert caught.value.key == key
    assert message in str(caught.value)


def test_invalid_toml_in_schema_file_names_the_file(tmp_path: Path) -> None:
    rules = write_config(tmp_path, "min_keys = = 3\n", name="genesis.schema.toml")
    with pytest.raises(ConfigError) as caught:
        load_schema(config_from(tmp_path, "[engines.blueprint]\n"))
    assert caught.value.file == str(rules.resolve())
    assert "invalid TOML" in str(caught.value)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "directory", "oversize", "default-directory"])
def test_a_schema_file_that_is_not_a_small_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    """Issue 19 item 4: never block on a FIFO, never read a directory or a huge file; name the file."""
    import os

    target = tmp_path / ("genesis.schema.toml" if kind == "default-directory" else "rules.toml")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind in ("directory", "default-directory"):
        target.mkdir()
    else:
        with target.open("wb") as fh:
            fh.truncate(4 * 1024 * 1024 + 1)
    body = "" if kind == "default-directory" else '[engines.blueprint]\nschema = "rules.toml"\n'
    config = load_config(write_config(tmp_path, PLATFORMS + body))
    with pytest.raises(ConfigError) as caught:
        load_schema(config)
    expected = {"fifo": "is a named pipe (FIFO)", "directory": "is a directory",
                "default-directory": "is a directory", "oversize": "too large"}[kind]
    assert str(caught.value).startswith(f"{target}: schema file ") and expected in str(caught.value)
