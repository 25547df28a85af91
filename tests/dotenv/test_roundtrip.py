"""Every value Genesis can write, written by the writer, read back identically by the real readers.

For each dialect, a set of tricky values plus a few hundred random ones is
encoded by the writer into one file.  Each reader the writer vouches for (always
the configured dialect and python-dotenv, and every reader when the form is
portable) must read each value back byte for byte; a refused value must be one
that the required readers really disagree on.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from genesis_core.errors import KeyRefused
from genesis_core.platforms.dotenv import DotenvAdapter
from genesis_core.platforms.dotenv_dialects import DIALECTS, Context
from genesis_core.platforms.dotenv_dialects.writer import Refused, Target, encode, forms, reads_back

EVERYONE = [Target(d, d.expands_by_default) for d in DIALECTS.values()]
FIXED = [
    "", "plain", "two words", " lead", "trail ", "  both  ", "a#b", "a #b", "#start", "https://x.io/p?q=1#frag",
    "it's", 'say "hi"', "it's \"x\"", "\"it's\"", "'quoted'", '"quoted"', "x'", 'x"', "`x`", "a`b",
    "a\\b", "C:\\\\path", "ends\\", "\\", "\\\\", "a\\nb", "a\\tb", "a\\'b", 'a\\"b', "\\$A",
    "line1\nline2", "trailing newline\n", "\nleading newline", "both\nreal\\nescaped", "a\rb", "a\r\nb", "\r",
    "$HOME", "${HOME}", "${A:-b}", "$$", "a$", "$5", "it's $HOME", "$(echo hi)", "`echo hi`", "encrypted:abc",
    "tab\there", "\ttab", "héllo wörld", "日本語", "😀", "x\u00a0", "\u00a0x", "\u2028", "a=b", "KEY=VALUE",
    "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC+/x=\n-----END PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC+/x=\\n-----END PRIVATE KEY-----",
    '{"json": "value", "n": [1, 2]}', "{\"escaped\": \"a\\\"b\"}", "export X=1", "# not a comment",
]
ALPHABET = list("abcXYZ019 _-.:/=@+,") + ["'", '"', "`", "\\", "#", "$", "{", "}", "(", ")", "\n", "\r", "\t",
                                          "n", "r", "t", "é", "✓", "😀", "\u00a0"]


def random_values(count: int, seed: int) -> list[str]:
    """Return ``count`` random values over an alphabet of the characters readers treat specially."""
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 10))) for _ in range(count)]


VALUES = list(dict.fromkeys(FIXED + random_values(300, seed=18)))


def required(dialect: str) -> list[Target]:
    chosen = DIALECTS[dialect]
    targets = [Target(chosen, chosen.expands_by_default)]
    return targets if dialect == "python" else [*targets, Target(DIALECTS["python"], False)]


def write_all(dialect: str, path: Path) -> tuple[dict[str, str], dict[str, frozenset[str]], list[str]]:
    """Encode every value into ``path``; return ``{key: value}``, the readers vouched for, and the refused keys."""
    values: dict[str, str] = {}
    vouched: dict[str, frozenset[str]] = {}
    refused: list[str] = []
    lines = []
    for i, value in enumerate(VALUES):
        key = f"K{i:03d}"
        try:
            encoded = encode(key, value, required(dialect), EVERYONE)
        except Refused:
            refused.append(value)
            continue
        values[key] = value
        vouched[key] = encoded.readers
        lines.append(f"{key}={encoded.text}\n")
    path.write_bytes("".join(lines).encode("utf-8"))
    return values, vouched, refused


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_written_values_read_back_identically(dialect: str, tmp_path: Path, python_reader, node_readers,
                                              compose_reader) -> None:
    path = tmp_path / f"{dialect}.env"
    values, vouched, refused = write_all(dialect, path)
    chosen = DIALECTS[dialect]
    readings = {
        "genesis": chosen.read(path.read_bytes().decode("utf-8"), expand=chosen.expands_by_default,
                               context=Context()).values(),
        "python": python_reader.read_many([path])[path]["values"],
        "compose": compose_reader.read_many([path])[path]["values"],
    }
    node = node_readers.read_many([path])[path]
    readings["node"], readings["dotenvx"] = node["node"]["values"], node["dotenvx"]["values"]
    wrong = []
    for key, value in values.items():
        for reader, read in readings.items():
            if (reader == "genesis" or reader in vouched[key]) and read.get(key) != value:
                wrong.append((key, reader, value, read.get(key)))
    assert wrong == []
    # python-dotenv can hold any value (double quotes with escapes); the others refuse only real conflicts.
    if dialect == "python":
        assert refused == []
    for value in refused:
        assert not any(all(reads_back(t, "K", form, value) for t in required(dialect)) for form in forms(value))
    assert len(values) > 0.9 * len(VALUES)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_adapter_writes_read_back_by_every_vouching_reader(dialect: str, tmp_path: Path, python_reader,
                                                           node_readers) -> None:
    """The same through ``DotenvAdapter.write_now`` (the path ``genesis heal`` takes), one key at a time."""
    from genesis_core.testing import instance_config

    env = tmp_path / ".env"
    env.write_bytes(b"# header\r\nexport KEEP=1\r\n")
    adapter = DotenvAdapter(instance_config("dotenv", {"dialect": dialect}, name="local", base_dir=tmp_path))
    written = {}
    for i, value in enumerate(FIXED):
        key = f"K{i:03d}"
        try:
            adapter.write_now(key, value)
        except KeyRefused as exc:
            assert "refusing to write" in str(exc)
            continue
        written[key] = value
    assert env.read_bytes().startswith(b"# header\r\nexport KEEP=1\r\n")
    assert {k: v for k, v in adapter.read().values().items() if k in written} == written
    python = python_reader.read_many([env])[env]["values"]
    assert {k: python.get(k) for k in written} == written
    if dialect in ("node", "dotenvx"):
        own = node_readers.read_many([env])[env][dialect]["values"]
        assert {k: own.get(k) for k in written} == written
