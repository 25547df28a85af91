"""``genesis heal --apply`` into a ``.env``: every reader reads back exactly the reference's values.

The reference is the Render emulator holding values that trip naive writers
(backslashes, both quote kinds, ``#``, ``$``, PEM keys with real and escaped
newlines, carriage returns, unicode, surrounding spaces).  After the heal the
file is read by python-dotenv, Node dotenv, dotenvx and Docker Compose: each key
is either identical for the readers the writer vouched for, or refused with a
one-line error and absent from the file.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

CANARY = "canary-7d41c0ffee-dotenv-heal"
VALUES = {
    "BACKSLASH": "C:\\Users\\app",
    "DOUBLE_BACKSLASH": "a\\\\b",
    "TRAILING_BACKSLASH": "ends\\",
    "SINGLE_QUOTE": "it's",
    "DOUBLE_QUOTE": 'say "hi"',
    "BOTH_QUOTES": "it's \"quoted\"",
    "QUOTED_BOTH": "\"it's\"",
    "HASH": "value#frag",
    "URL_FRAGMENT": "https://x.io/app#top",
    "HASH_AFTER_SPACE": "a #b",
    "DOLLAR": "pa$$word",
    "DOLLAR_REFERENCE": "${HOME}/data",
    "DOLLAR_AND_QUOTE": "it's $5, or $HOME",
    "COMMAND": "$(echo hi)",
    "PEM": ("-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ\n"
            "Yx2eqOD+/x==\n-----END PRIVATE KEY-----"),
    "PEM_ESCAPED": "-----BEGIN PRIVATE KEY-----\\nMIIBVQIBADANBgkqhkiG9w0B\\n-----END PRIVATE KEY-----",
    "PEM_BOTH": "-----BEGIN-----\nreal newline, then \\n an escaped one\n-----END-----",
    "CARRIAGE_RETURN": "a\rb",
    "CRLF_INSIDE": "line one\r\nline two",
    "UNICODE": "héllo wörld ✓ 日本語 😀",
    "SPACES": "  padded  ",
    "TAB": "a\tb",
    "BACKTICKS": "`cmd`",
    "EQUALS": "a=b==",
    "EMPTY": "",
    "API_TOKEN": CANARY,
}
SEED = "# managed by hand; keep this comment\r\nexport SINGLE_QUOTE='old'\r\nUNTOUCHED=1\r\n\r\n# tail\r\n"
REFUSAL = re.compile(r"^\.env: refusing to write (?P<key>[A-Z_]+): no quoting makes (?P<who>.+) "
                     r"read (the same value|this value back unchanged) \(nothing was written\)$")


@pytest.fixture(scope="module")
def compose_or_none(request: pytest.FixtureRequest):
    """Return Docker Compose, or ``None`` where its binary cannot run (never ``None`` in CI)."""
    try:
        return request.getfixturevalue("compose_reader")
    except pytest.skip.Exception:
        return None


@pytest.mark.parametrize("dialect", ["python", "node", "dotenvx", "compose"])
def test_heal_writes_values_every_reader_reads_back(dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     genesis_cli, python_reader, node_readers,
                                                     compose_or_none, caplog: pytest.LogCaptureFixture) -> None:
    from genesis_render.emulator import RenderEmulator

    monkeypatch.setenv("GENESIS_DISABLE_PLUGINS", "blueprint,cascade,steward,truth")
    render = RenderEmulator(token="rnd_dotenv_heal_token").start()
    try:
        monkeypatch.setenv("RENDER_API_KEY", render.token)
        render.set_env("srv-dotenvheal", VALUES)
        env_file = tmp_path / ".env"
        env_file.write_bytes(SEED.encode())
        config = tmp_path / "genesis.toml"
        config.write_text(textwrap.dedent(f"""\
            [platforms.local]
            kind = "dotenv"
            path = ".env"
            dialect = "{dialect}"

            [platforms.render]
            service_id = "srv-dotenvheal"
            base_url = "{render.base_url}"
            retries = 1
            timeout = 5

            [engines.autonomy]
            reference = "render"
            overwrite_conflicts = true
            """), encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        code, out, err = genesis_cli("--config", str(config), "heal", "--apply", "--only", "local", "--json")
    finally:
        render.stop()
    assert CANARY not in out + err + caplog.text
    results = {r["key"]: r for r in json.loads(out)["result"]["results"]}
    assert set(results) == set(VALUES) - {"SINGLE_QUOTE"} | {"SINGLE_QUOTE"}

    refused = {key for key, r in results.items() if r["status"] != "verified"}
    for key in refused:
        detail = results[key]["detail"]
        match = REFUSAL.match(detail)
        assert match and match["key"] == key, (key, detail)
        assert "python-dotenv" in match["who"]
    # Nothing the writer can represent is refused; what it refuses, no common quoting can hold.
    expected_refusals = {"python": set(), "compose": {"DOLLAR_AND_QUOTE"},
                         "node": {"QUOTED_BOTH"}, "dotenvx": {"QUOTED_BOTH", "DOLLAR_AND_QUOTE"}}
    assert refused == expected_refusals[dialect]
    assert code == (1 if refused else 0), err

    # The untouched lines keep their bytes, CRLF endings and export prefix included.
    data = env_file.read_bytes()
    assert data.startswith(b"# managed by hand; keep this comment\r\nexport SINGLE_QUOTE=it's\r\nUNTOUCHED=1\r\n"
                           b"\r\n# tail\r\n")
    # New lines end as the file's do; only a multi-line value keeps its own line feeds (every reader wants \n).
    assert all(chunk.startswith(b"PEM_BOTH='") for chunk in data.split(b"\r\n") if b"\n" in chunk)

    paths = [env_file]
    readings = {"python": python_reader.read_many(paths)[env_file]["values"]}
    node = node_readers.read_many(paths)[env_file]
    readings["node"], readings["dotenvx"] = node["node"]["values"], node["dotenvx"]["values"]
    if compose_or_none is not None:
        readings["compose"] = compose_or_none.read_many(paths)[env_file]["values"]
    warned = set(re.findall(r"local: \.env: ([A-Z_]+) is written in a form", caplog.text))
    # dotenvx is the strictest of the three Node/Python readers ($ expansion): with it, all three must agree.
    strict = {"python", "node", "dotenvx"} if dialect == "dotenvx" else {"python", dialect}
    for key, value in VALUES.items():
        for reader, values in readings.items():
            if key in refused:
                assert key not in values, (reader, key)
            elif reader in strict or key not in warned:
                assert values.get(key) == value, (dialect, reader, key)
    for key in warned:  # a warning names a key some reader really reads differently
        assert any(values.get(key) != VALUES[key] for values in readings.values()) or "compose" not in readings
    assert readings["python"]["UNTOUCHED"] == "1"
