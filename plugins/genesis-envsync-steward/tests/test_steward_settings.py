"""``[engines.steward]`` validation: every mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from _steward_support import config_from

from genesis_core.api import ConfigError
from genesis_steward.settings import load_settings, redact_url


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(config_from(tmp_path, "").engine("steward"))
    assert settings.step_summary is True and settings.webhook is None


def test_full_webhook_table(tmp_path: Path) -> None:
    settings = load_settings(config_from(tmp_path, """
        [engines.steward]
        webhook_url = "https://hooks.example.com/T/secret-path"
        webhook_secret_env = "HOOK_KEY"
        webhook_attempts = 5
        webhook_timeout = 3
        webhook_backoff = 0.25
    """).engine("steward"))
    hook = settings.webhook
    assert hook is not None
    assert (hook.attempts, hook.timeout, hook.backoff, hook.secret_env) == (5, 3.0, 0.25, "HOOK_KEY")
    assert "secret-path" not in repr(hook)


@pytest.mark.parametrize(("body", "key", "message"), [
    ("webhok_url = 'https://x.example'", "engines.steward.webhok_url", "unknown key"),
    ("webhook_url = 'hooks.example.com'", "engines.steward.webhook_url", "http"),
    ("webhook_url = 3", "engines.steward.webhook_url", "expected a string"),
    ("webhook_url = 'https://x.example'\nwebhook_url_env = 'U'", "engines.steward.webhook_url_env", "not both"),
    ("webhook_secret_env = 'K'", "engines.steward.webhook_secret_env", "no effect"),
    ("webhook_url_env = 'MY URL'", "engines.steward.webhook_url_env", "environment variable"),
    ("webhook_url = 'https://x.example'\nwebhook_attempts = 0", "engines.steward.webhook_attempts", "at least 1"),
    ("webhook_url = 'https://x.example'\nwebhook_attempts = 50", "engines.steward.webhook_attempts", "at most 10"),
    ("webhook_url = 'https://x.example'\nwebhook_timeout = 0", "engines.steward.webhook_timeout", "at least"),
    ("step_summary = 'yes'", "engines.steward.step_summary", "true or false"),
])
def test_bad_settings(tmp_path: Path, body: str, key: str, message: str) -> None:
    config = config_from(tmp_path, "[engines.steward]\n" + body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config.engine("steward"))
    assert (caught.value.file, caught.value.key) == (str(tmp_path / "genesis.toml"), key)
    assert message in str(caught.value)


def test_redact_url_hides_path_and_credentials() -> None:
    assert redact_url("https://user:pw@hooks.slack.com:8443/services/T/B/X?token=1") == \
        "https://hooks.slack.com:8443/…"
