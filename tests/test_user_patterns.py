"""Patterns users write (issue 19, item 5): no pattern can hang Genesis, and a bad one is one line.

``re:`` patterns run on RE2, in time linear in the name; globs keep fnmatch's translation.
Each CLI test runs ``genesis`` in a subprocess with a generous ``timeout``: before RE2, the
catastrophic pattern below kept ``genesis sync`` busy for minutes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genesis_core.patterns import MAX_PATTERN_LENGTH, compile_patterns, compile_regex

CATASTROPHIC = "^(a+)+$"
EVIL_KEY = "a" * 34 + "b"  # no match: a backtracking engine tries 2**34 ways first


def _project(tmp_path: Path, sync_table: str, *, key: str = EVIL_KEY, extra: str = "") -> Path:
    (tmp_path / ".env").write_text(f"{key}=1\nSHARED=1\n")
    (tmp_path / ".env.prod").write_text(f"{key}=2\nSHARED=1\n")
    config = tmp_path / "genesis.toml"
    config.write_text(f"[sync]\n{sync_table}\n"
                      '[platforms.local]\nkind = "dotenv"\npath = ".env"\n'
                      '[platforms.prod]\nkind = "dotenv"\npath = ".env.prod"\n' + extra)
    return config


def _genesis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genesis_core", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=20)


def test_a_catastrophic_ignore_pattern_does_not_hang_sync(tmp_path: Path) -> None:
    _project(tmp_path, f'ignore = ["re:{CATASTROPHIC}"]')
    proc = _genesis(tmp_path, "sync", "--json")
    assert proc.returncode == 1, proc.stderr  # the key is not ignored (no match): its values differ
    assert EVIL_KEY in proc.stdout
    _project(tmp_path, f'ignore = ["re:{CATASTROPHIC}"]', key="a" * 34)  # now it matches: ignored
    assert _genesis(tmp_path, "sync").returncode == 0


def test_a_catastrophic_secret_pattern_does_not_hang_sync(tmp_path: Path) -> None:
    _project(tmp_path, "", extra=f'[secrets]\npatterns = ["re:{CATASTROPHIC}"]\n')
    proc = _genesis(tmp_path, "sync", "--json")
    assert proc.returncode == 1, proc.stderr


@pytest.mark.parametrize("length", [MAX_PATTERN_LENGTH + 1, 3 * 1024 * 1024], ids=["just over", "3 MiB"])
def test_an_oversized_pattern_is_refused_in_one_line(tmp_path: Path, length: int) -> None:
    # The 10 MB pattern no longer fits in a config file at all (the config file limit is
    # 4 MiB, tests/test_file_limits.py); 3 MiB is the largest pattern case that reaches the pattern check.
    config = _project(tmp_path, f'ignore = ["re:{"a" * length}"]')
    proc = _genesis(tmp_path, "sync")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(config) in lines[0] and "sync.ignore[0]" in lines[0]
    assert f"at most {MAX_PATTERN_LENGTH}" in lines[0] and len(lines[0]) < 300


@pytest.mark.parametrize("pattern", ["re:^(A)\\\\1$", "re:^(?=A)", "re:(?<!X)KEY"],
                         ids=["backreference", "lookahead", "lookbehind"])
def test_a_pattern_re2_cannot_run_is_refused_in_one_line(tmp_path: Path, pattern: str) -> None:
    config = _project(tmp_path, "", extra=f'[secrets]\nnot_secret = ["OK_*", "{pattern}"]\n')
    proc = _genesis(tmp_path, "sync")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{config}: secrets.not_secret[1]: invalid key pattern" in lines[0], lines[0]
    assert "RE2" in lines[0] and "backreferences or lookaround" in lines[0]
    assert "Traceback" not in proc.stderr


def test_include_and_exclude_are_checked_the_same_way(tmp_path: Path) -> None:
    config = _project(tmp_path, "")
    text = config.read_text().replace('path = ".env.prod"\n', 'path = ".env.prod"\nexclude = ["re:(x)\\\\1"]\n')
    config.write_text(text)
    proc = _genesis(tmp_path, "sync")
    assert proc.returncode == 2
    assert "platforms.prod.exclude[0]: invalid key pattern" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_globs_keep_their_meaning_and_re_searches_anywhere() -> None:
    patterns = compile_patterns(["VITE_*", "DB_?", "[!A]X", "re:_TMP$"])
    assert patterns is not None
    assert [bool(patterns.match(k)) for k in ("VITE_URL", "DB_1", "DB_12", "BX", "AX", "A_TMP", "A_TMPX")] == [
        True, True, False, True, False, True, False]
    assert compile_patterns([]) is None
    folded = compile_patterns(["re:^token"], ignore_case=True)
    assert folded is not None and folded.match("token_x") and not folded.match("X_TOKEN")
    unicode = compile_patterns(["re:^é.$"])
    assert unicode is not None and unicode.match("éä") and not unicode.match("x\udcff")  # no UnicodeEncodeError


def test_compile_patterns_refuses_without_repeating_a_huge_pattern() -> None:
    with pytest.raises(ValueError) as err:
        compile_patterns(["*" * (MAX_PATTERN_LENGTH + 1)])
    assert len(str(err.value)) < 200
    compile_patterns(["re:" + "a" * (MAX_PATTERN_LENGTH - 3)])  # the limit counts the whole pattern


def test_value_regex_runs_on_re2() -> None:
    regex = compile_regex(CATASTROPHIC)
    assert not regex.fullmatch("a" * 5000 + "b") and regex.fullmatch("aaa")
    with pytest.raises(ValueError, match="RE2"):
        compile_regex("(a)\\1")
