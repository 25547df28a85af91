"""The demo application's variables: a reference ``.env`` and how each platform has drifted from it.

Secret values are generated for each run (they only ever live on the loopback emulators).
"""

from __future__ import annotations

import secrets
import string

import attrs


def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def reference_values() -> dict[str, str]:
    """Return the local ``.env`` of the demo app (about thirty variables, some secret)."""
    alnum = string.ascii_letters + string.digits
    return {
        "APP_NAME": "acme-shop",
        "NODE_ENV": "production",
        "PORT": "8080",
        "LOG_LEVEL": "info",
        "DEBUG": "false",
        "API_BASE_URL": "https://api.acme-shop.example",
        "FRONTEND_URL": "https://acme-shop.example",
        "CORS_ALLOW_ALL": "false",
        "AUTO_DIAGNOSE": "true",
        "FEATURE_NEW_CHECKOUT": "true",
        "FEATURE_RECOMMENDATIONS": "false",
        "CACHE_TTL_SECONDS": "300",
        "SESSION_TIMEOUT_MINUTES": "30",
        "MAX_UPLOAD_MB": "25",
        "DEFAULT_LOCALE": "en-US",
        "SUPPORT_EMAIL": "support@acme-shop.example",
        "SENTRY_ENVIRONMENT": "production",
        "ANALYTICS_ID": "G-ACME2026",
        "RATE_LIMIT_PER_MINUTE": "120",
        "S3_BUCKET": "acme-shop-uploads",
        "WORKER_CONCURRENCY": "4",
        "DATABASE_POOL_SIZE": "10",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "DATABASE_URL": f"postgres://shop:{_token(alnum, 20)}@db.internal:5432/shop",
        "STRIPE_SECRET_KEY": "sk_live_" + _token(alnum, 24),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + _token(alnum, 32),
        "SENTRY_DSN": f"https://{_token(string.hexdigits.lower()[:16], 32)}@o4504.ingest.sentry.io/42",
        "JWT_SECRET": _token(alnum, 48),
        "SENDGRID_API_KEY": "SG." + _token(alnum, 22) + "." + _token(alnum, 43),
        "AWS_ACCESS_KEY_ID": "AKIA" + _token(string.ascii_uppercase + string.digits, 16),
        "AWS_SECRET_ACCESS_KEY": _token(alnum + "/+", 40),
    }


#: Keys a browser-facing Netlify site is not expected to hold (the demo's ``exclude`` for netlify).
NETLIFY_EXCLUDE = ("DATABASE_*", "AWS_*", "REDIS_URL", "WORKER_CONCURRENCY", "STRIPE_WEBHOOK_SECRET")


@attrs.frozen
class DemoApp:
    """The reference values and each platform's drifted copy."""

    local: dict[str, str]
    render: dict[str, str]
    netlify: dict[str, str]
    netlify_secret: frozenset[str]
    github_variables: dict[str, str]
    github_secrets: dict[str, str]


def is_secret_name(key: str) -> bool:
    """Return whether the demo stores ``key`` as a platform secret."""
    return any(word in key for word in ("SECRET", "KEY", "DSN", "DATABASE_URL", "REDIS_URL", "JWT"))


def drifted_app() -> DemoApp:
    """Return the demo app: Render misses one key, Netlify two (and says DEBUG=true), GitHub two."""
    local = reference_values()
    render = {k: v for k, v in local.items() if k != "FEATURE_RECOMMENDATIONS"}
    netlify = {k: v for k, v in local.items()
               if k not in ("CACHE_TTL_SECONDS", "SESSION_TIMEOUT_MINUTES")
               and not any(_match(k, p) for p in NETLIFY_EXCLUDE)}
    netlify["DEBUG"] = "true"
    github = {k: v for k, v in local.items() if k not in ("AUTO_DIAGNOSE", "CORS_ALLOW_ALL")}
    github_secrets = {k: v for k, v in github.items() if is_secret_name(k) or k == "DEBUG"}
    github_variables = {k: v for k, v in github.items() if k not in github_secrets}
    return DemoApp(local, render, netlify, frozenset(k for k in netlify if is_secret_name(k)),
                   github_variables, github_secrets)


def _match(key: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(key, pattern)


#: The first line of every ``.env`` the demo and ``genesis emulate --env`` write (so a later run
#: may replace such a file, and only such a file).
DOTENV_HEADER = "# acme-shop: the reference environment (Genesis demo)"


def dotenv_text(values: dict[str, str]) -> str:
    """Return ``values`` as a ``.env`` file, each value spelled as the dotenv platform's heal writes it.

    That is the most portable form (:mod:`genesis_core.platforms.dotenv_dialects.writer`): the
    demo's values read the same in python-dotenv, Node dotenv, dotenvx and Docker Compose.  A value
    no form gives every reader is written in the form python-dotenv (the demo's dialect) reads back.
    """
    from ..platforms.dotenv import EVERY_READER
    from ..platforms.dotenv_dialects import DIALECTS
    from ..platforms.dotenv_dialects.writer import Target, encode

    python = (Target(DIALECTS["python"], False),)
    lines = [DOTENV_HEADER]
    lines += [f"{key}={encode(key, value, python, EVERY_READER).text}" for key, value in values.items()]
    return "\n".join(lines) + "\n"
