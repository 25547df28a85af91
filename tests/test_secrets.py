"""Secret classification, keyed fingerprints, payload masking and the fingerprint key file."""

from __future__ import annotations

import base64
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from genesis_core.config import load_config
from genesis_core.errors import ConfigError
from genesis_core.secrets import (
    DEFAULT_NAME_PATTERNS,
    FINGERPRINT_KEY_ENV,
    MASKED_UNREADABLE,
    NameMatcher,
    SecretPolicy,
    compile_patterns,
    is_masked,
    load_or_create_fingerprint_key,
    looks_like_credential,
    policy_from_config,
)

KEY = bytes(range(32))
ROOT = Path(__file__).resolve().parents[1]
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 4
RANDOM_TOKEN = "q83vEjRWeJ0rze8SNFZ4mgT7xLp2"


@pytest.fixture
def policy() -> SecretPolicy:
    return SecretPolicy(fingerprint_key=KEY)


@pytest.fixture(autouse=True)
def _no_key_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FINGERPRINT_KEY_ENV, raising=False)


# --- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    "GITHUB_TOKEN", "api_token", "JWT_SECRET", "SECRET_KEY_BASE", "DB_PASSWORD", "SMTP_PASSWD",
    "DB_PASS", "MYSQL_PWD", "API_KEY", "APIKEY", "STRIPE_KEY", "AWS_ACCESS_KEY_ID", "PUBLIC_KEY",
    "API_KEYS", "SENTRY_DSN", "GOOGLE_APPLICATION_CREDENTIALS", "PRIVATE_URL", "NPM_AUTH",
    "BASIC_AUTHORIZATION", "PASSWORD_SALT", "DATABASE_CONNECTION_STRING", "SLACK_WEBHOOK_URL",
])
def test_secret_looking_names_are_secret(policy: SecretPolicy, key: str) -> None:
    assert policy.is_secret_name(key)
    assert policy.is_secret(key, "plain")


@pytest.mark.parametrize("key", [
    "KEYBOARD_LAYOUT", "KEYCLOAK_URL", "DEBUG", "NODE_ENV", "PORT", "DATABASE_HOST", "AUTHOR_NAME",
    "COOKIE_DOMAIN", "PWD", "key",
])
def test_ordinary_names_are_not_secret(policy: SecretPolicy, key: str) -> None:
    assert not policy.is_secret_name(key)
    assert not policy.is_secret(key, "plain")


def test_extra_patterns_add_to_defaults_and_match_case_insensitively() -> None:
    policy = SecretPolicy(fingerprint_key=KEY, extra_patterns=("license_*", "re:^INTERNAL_"))
    assert policy.is_secret_name("LICENSE_NUMBER")
    assert policy.is_secret_name("internal_endpoint")
    assert policy.is_secret_name("GITHUB_TOKEN")
    assert not policy.is_secret_name("DEBUG")


def test_not_secret_overrides_names_and_guesses_but_not_formats_or_platform_marks() -> None:
    policy = SecretPolicy(fingerprint_key=KEY, not_secret=("STRIPE_PUBLISHABLE_KEY", "BUILD_*"))
    assert not policy.is_secret("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")
    assert policy.is_secret_name("STRIPE_SECRET_KEY")
    assert not policy.is_secret("BUILD_SHA", "3f2a9c1b7d4e8f60a5b2c9d1e7f3a8b4c6d2e0f1")
    assert policy.is_secret("BUILD_SHA", GITHUB_TOKEN)
    assert policy.is_secret("BUILD_SHA", "x", platform_marked=True)


def test_mask_all_makes_everything_secret() -> None:
    policy = SecretPolicy(fingerprint_key=KEY, mask_all=True)
    assert policy.is_secret("DEBUG", "true")
    assert policy.show("DEBUG", "true") == policy.fingerprint("true")


def test_invalid_pattern_is_rejected_with_its_text() -> None:
    with pytest.raises(ValueError, match=r"re:\(unclosed"):
        SecretPolicy(fingerprint_key=KEY, extra_patterns=("re:(unclosed",))


# --- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    GITHUB_TOKEN,
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "glpat-abcdefghij0123456789",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "rk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "npm_" + "a1B2" * 9,
    "rnd_abcdefghijKLMNOPQRST12",
    "nfp_abcdefghijKLMNOPQRST12",
    "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "postgres://app:hunter2@db.example.com:5432/app",
    "redis://:s3cretpw@cache.internal:6379/0",
    "https://api.example.com/hook?token=abcdef123456",
    "Bearer abcdefghijklmnop",
    RANDOM_TOKEN,
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Zx9!kP#2mQ@7zL$4wR&8tY^1",
])
def test_credentials_are_recognised_by_value(value: str) -> None:
    assert looks_like_credential(value)


@pytest.mark.parametrize("value", [
    "true", "false", "production", "3000", "", "https://example.com/x",
    "https://api.example.com/v1/users?page=2&limit=50", "postgres://db.internal:5432/app",
    "/usr/local/lib/python3.11/site-packages", "my-service-abc123.onrender.com",
    "john.doe1984@gmail.com", "2025-10-11T22:43:00.123Z", "550e8400-e29b-41d4-a716-446655440000",
    "1.2.3-beta.4+build.567", "MyApplicationName2024", "NEXT_PUBLIC_SUPABASE_ANON_KEY",
    "application/json; charset=utf-8", "pk_live_51H8abcdefghijklmnopqrstuv", "ghp_short",
    "fra1-prod-k8s-cluster-node-07", "12345678901234567890123",
])
def test_ordinary_values_are_not_credentials(value: str) -> None:
    assert not looks_like_credential(value)


def test_value_detection_makes_any_key_secret(policy: SecretPolicy) -> None:
    assert policy.is_secret("NOTES", RANDOM_TOKEN)
    assert policy.is_secret("DATABASE_URL", "postgres://app:hunter2@db:5432/app")
    assert not policy.is_secret("DATABASE_URL", "postgres://db:5432/app")


# --- fingerprints and show -------------------------------------------------------------------

def test_fingerprint_is_stable_keyed_and_hides_the_value(policy: SecretPolicy) -> None:
    first = policy.fingerprint("hunter2")
    assert first == policy.fingerprint("hunter2")
    assert first != policy.fingerprint("hunter3")
    assert first != SecretPolicy(fingerprint_key=bytes(32)).fingerprint("hunter2")
    assert is_masked(first)
    assert "hunter2" not in first
    assert first.startswith("<secret fp:") and len(first) == len("<secret fp:>") + 12


def test_show_masks_unreadable_and_secret_values_only(policy: SecretPolicy) -> None:
    assert policy.show("DEBUG", None) == MASKED_UNREADABLE
    assert policy.show("DEBUG", "true") == "true"
    assert policy.show("API_KEY", "abc") == policy.fingerprint("abc")
    assert policy.show("DEBUG", "true", platform_marked=True) == policy.fingerprint("true")


def test_is_masked_accepts_only_masks() -> None:
    assert is_masked("<secret>")
    assert is_masked("<secret fp:0123456789ab>")
    assert not is_masked("<secret fp:xyz>")
    assert not is_masked("secret")
    assert not is_masked(None)


def test_repr_hides_the_key() -> None:
    policy = SecretPolicy(fingerprint_key=b"K" * 32)
    assert "KKKK" not in repr(policy)
    assert repr(b"K" * 32) not in repr(policy)
    assert "hidden" in repr(policy)


def test_short_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SecretPolicy(fingerprint_key=b"short")


# --- mask_payload ----------------------------------------------------------------------------

def test_mask_payload_redacts_secret_fields_and_credentials_recursively(policy: SecretPolicy) -> None:
    payload = {
        "type": "heal_plan",
        "password": "hunter2",
        "config": {"db": {"dsn": "plain-but-secret-by-name"}},
        "notes": ["deploying", GITHUB_TOKEN, ("tuple", RANDOM_TOKEN)],
        "count": 3,
        "ok": True,
        "nothing": None,
        "api_token": {"nested": ["a", "b"]},
        "already": "<secret fp:0123456789ab>",
        "unreadable": MASKED_UNREADABLE,
        "key": "DATABASE_URL",
    }
    masked = policy.mask_payload(payload)
    assert masked["type"] == "heal_plan"
    assert masked["password"] == policy.fingerprint("hunter2")
    assert masked["config"]["db"]["dsn"] == policy.fingerprint("plain-but-secret-by-name")
    assert masked["notes"][0] == "deploying"
    assert masked["notes"][1] == policy.fingerprint(GITHUB_TOKEN)
    assert masked["notes"][2] == ("tuple", policy.fingerprint(RANDOM_TOKEN))
    assert masked["count"] == 3 and masked["ok"] is True and masked["nothing"] is None
    assert masked["api_token"] == {"nested": [policy.fingerprint("a"), policy.fingerprint("b")]}
    assert masked["already"] == "<secret fp:0123456789ab>"
    assert masked["unreadable"] == MASKED_UNREADABLE
    assert masked["key"] == "DATABASE_URL"
    assert payload["password"] == "hunter2", "the input must not be modified"


def test_mask_payload_is_idempotent_and_ignores_mask_all() -> None:
    policy = SecretPolicy(fingerprint_key=KEY, mask_all=True)
    payload = {"topic": "envsync.drift", "secret": "x" * 10, "list": [GITHUB_TOKEN]}
    once = policy.mask_payload(payload)
    assert once["topic"] == "envsync.drift"
    assert policy.mask_payload(once) == once


def test_mask_payload_keeps_variable_names_in_missing_lists(policy: SecretPolicy) -> None:
    payload = {"missing_in_secrets": ["DB_PASSWORD", GITHUB_TOKEN], "tags": {"x", GITHUB_TOKEN}}
    masked = policy.mask_payload(payload)
    assert masked["missing_in_secrets"] == ["DB_PASSWORD", policy.fingerprint(GITHUB_TOKEN)]
    assert masked["tags"] == {"x", policy.fingerprint(GITHUB_TOKEN)}


def test_mask_payload_masks_credential_dict_keys(policy: SecretPolicy) -> None:
    masked = policy.mask_payload({GITHUB_TOKEN: "seen"})
    assert list(masked) == [policy.fingerprint(GITHUB_TOKEN)]


# --- fingerprint key file --------------------------------------------------------------------

def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = load_or_create_fingerprint_key(state)
    path = state / "fingerprint.key"
    assert len(key) == 32
    assert path.read_bytes() == key
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_fingerprint_key(state) == key
    assert [p.name for p in state.iterdir()] == ["fingerprint.key"], "no temporary files left behind"


def test_truncated_key_file_is_an_error_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fingerprint.key").write_bytes(b"short")
    monkeypatch.setattr("genesis_core.secrets._KEY_WAIT_SECONDS", 0.0)
    with pytest.raises(ConfigError) as info:
        load_or_create_fingerprint_key(tmp_path)
    assert "fingerprint.key" in str(info.value) and "corrupt" in str(info.value)


def test_threads_racing_to_create_the_key_agree(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    keys: list[bytes] = []

    def worker() -> None:
        barrier.wait()
        keys.append(load_or_create_fingerprint_key(tmp_path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert (tmp_path / "fingerprint.key").read_bytes() == keys[0]


def test_processes_racing_to_create_the_key_agree(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from genesis_core.secrets import load_or_create_fingerprint_key\n"
        "go = Path(sys.argv[1])\n"
        "while not go.exists(): time.sleep(0.001)\n"
        "print(load_or_create_fingerprint_key(Path(sys.argv[2])).hex())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(FINGERPRINT_KEY_ENV, None)
    state = tmp_path / "state"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(go), str(state)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    go.touch()
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _out, err in outputs]
    keys = {out.strip() for out, _err in outputs}
    assert keys == {(state / "fingerprint.key").read_bytes().hex()}


def test_environment_key_wins_in_hex_and_base64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = bytes(range(100, 132))
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, raw.hex())
    assert load_or_create_fingerprint_key(tmp_path) == raw
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, base64.b64encode(raw).decode())
    assert load_or_create_fingerprint_key(tmp_path) == raw
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert load_or_create_fingerprint_key(tmp_path) == raw
    assert not (tmp_path / "fingerprint.key").exists()


@pytest.mark.parametrize("bad", ["not base64 at all!", "abcd"])
def test_unusable_environment_key_is_a_config_error_without_the_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, bad)
    with pytest.raises(ConfigError) as info:
        load_or_create_fingerprint_key(tmp_path)
    assert FINGERPRINT_KEY_ENV in str(info.value)
    assert bad not in str(info.value)


# --- policy_from_config ----------------------------------------------------------------------

def _config(tmp_path: Path, text: str):
    path = tmp_path / "genesis.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_policy_from_config_reads_the_secrets_table(tmp_path: Path) -> None:
    config = _config(tmp_path, '[secrets]\npatterns = ["LICENSE_*"]\nnot_secret = ["PUBLIC_KEY"]\n'
                               "mask_all = false\n")
    policy = policy_from_config(config, tmp_path / "state")
    assert policy.is_secret_name("LICENSE_ID")
    assert not policy.is_secret_name("PUBLIC_KEY")
    assert not policy.mask_all
    assert policy.fingerprint_key == (tmp_path / "state" / "fingerprint.key").read_bytes()
    assert policy_from_config(config, tmp_path / "state", mask_all=True).mask_all


def test_policy_from_config_defaults_without_a_table(tmp_path: Path) -> None:
    policy = policy_from_config(_config(tmp_path, ""), tmp_path)
    assert policy.is_secret_name("GITHUB_TOKEN") and not policy.mask_all


@pytest.mark.parametrize(("text", "key", "message"), [
    ("[secrets]\nmask = true\n", "secrets.mask", "unknown key"),
    ("[secrets]\nmask_all = 1\n", "secrets.mask_all", "true or false"),
    ("[secrets]\npatterns = [1]\n", "secrets.patterns[0]", "expected a string"),
    ('[secrets]\nnot_secret = ["ok", "re:(oops"]\n', "secrets.not_secret[1]", "invalid key pattern"),
    ('[secrets]\npatterns = [""]\n', "secrets.patterns[0]", "non-empty"),
])
def test_policy_from_config_errors_name_file_and_key(tmp_path: Path, text: str, key: str,
                                                     message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy_from_config(_config(tmp_path, text), tmp_path)
    assert info.value.file == str(tmp_path / "genesis.toml")
    assert info.value.key == key
    assert message in str(info.value)


def test_any_secret_agrees_with_is_secret_for_each_value() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from genesis_core.secrets import SecretPolicy

    policy = SecretPolicy(fingerprint_key=b"k" * 32, not_secret=("PUBLIC_*",))
    keys = st.sampled_from(["DEBUG", "API_TOKEN", "PUBLIC_TOKEN", "URL", "NAME"])
    values = st.lists(st.one_of(st.text(max_size=30), st.sampled_from(
        ["ghp_" + "a" * 36, "true", "postgres://u:p4ss@h/db", "x9Kq2LmZ7vB4nR8tY1wE5uI3oP6aS0dF"])),
                      min_size=1, max_size=4)

    @settings(max_examples=300, deadline=None)
    @given(keys, values, st.booleans())
    def check(key: str, vals: list[str], marked: bool) -> None:
        expected = any(policy.is_secret(key, v, platform_marked=marked) for v in vals)
        assert policy.any_secret(key, vals, platform_marked=marked) == expected

    check()


_NAME_CHARS = st.sampled_from("aAbBkKsSxX_-.0\u212a\u017f\u0130\u00df\n*?[")
_GLOBS = st.one_of(
    st.sampled_from(DEFAULT_NAME_PATTERNS),
    st.text(_NAME_CHARS, min_size=1, max_size=6),
    st.text(_NAME_CHARS, min_size=1, max_size=4).map(lambda t: f"*{t}*"),
    st.sampled_from(("re:^a", "re:K$", "[ab]*", "?*KEY", "*", "**", "*[!a]")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_GLOBS, min_size=1, max_size=5), st.lists(st.text(_NAME_CHARS, max_size=10), max_size=20))
@example(["ſ*", "*K", "*TOKEN*"], ["s", "S", "xk", "my_token", "ſtoken"])  # long s, Kelvin sign
@example(["?*KEY", "*_PASS"], ["KEY", "key", "aKEY", "_PASS", "x_pass", "KEYS"])  # "?*": one character at least
def test_name_matcher_answers_as_the_case_insensitive_regex(patterns: list[str], names: list[str]) -> None:
    # The fast paths for plain ASCII globs must never change an answer, on any name.
    assume(all(not p.startswith("re:") or _valid_regex(p[3:]) for p in patterns))
    matcher = NameMatcher(patterns)
    regex = compile_patterns(patterns, ignore_case=True)
    names = [*names, *(p.strip("*") for p in patterns), *(p.replace("*", "x").replace("?", "y") for p in patterns)]
    expected = [regex is not None and regex.match(name) is not None for name in names]
    assert [matcher(name) for name in names] == expected, patterns
    assert matcher.many(names) == expected, patterns  # the many-names path (non-ASCII among them)
    ascii_names = [name for name in names if name.isascii()]
    assert matcher.many(ascii_names) == [matcher(name) for name in ascii_names], patterns  # its C path
    policy = SecretPolicy(fingerprint_key=KEY, extra_patterns=tuple(patterns), not_secret=("*x*",))
    assert policy.secret_names(ascii_names) == [policy.is_secret_name(name) for name in ascii_names]


def _valid_regex(text: str) -> bool:
    try:
        re.compile(text)
    except re.error:
        return False
    return True
