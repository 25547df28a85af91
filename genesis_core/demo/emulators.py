"""Start the Render, Netlify and GitHub emulators seeded with the demo app (for `genesis demo` and `genesis emulate`)."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from ..errors import GenesisError
from .app_data import DemoApp, NETLIFY_EXCLUDE

RENDER_SERVICE = "srv-demo0acmeshop0api"
NETLIFY_ACCOUNT = "acme"
NETLIFY_SITE = "acme-shop-web"
GITHUB_REPO = "acme/shop"

#: The identifiers a ``[platforms.KIND]`` table needs to reach the demo app on each emulator.
DEMO_IDS = {
    "render": {"service_id": RENDER_SERVICE},
    "netlify": {"account_id": NETLIFY_ACCOUNT, "site_id": NETLIFY_SITE},
    "github": {"repository": GITHUB_REPO},
}

#: kind -> (module, emulator class); the plugin providing each is in ``first_party.KINDS``.
EMULATORS = {
    "render": ("genesis_render.emulator", "RenderEmulator"),
    "netlify": ("genesis_netlify.emulator", "NetlifyEmulator"),
    "github": ("genesis_github.emulator", "GitHubEmulator"),
}


@attrs.frozen
class RunningEmulator:
    """One started emulator: its kind, base URL, the token it accepts and the env var holding it."""

    kind: str
    server: Any
    token: str
    token_env: str

    @property
    def base_url(self) -> str:
        """Return the emulator's ``http://127.0.0.1:PORT``."""
        return str(self.server.base_url)


TOKEN_ENV = {"render": "RENDER_API_KEY", "netlify": "NETLIFY_AUTH_TOKEN", "github": "GITHUB_TOKEN"}


def _emulator_class(kind: str) -> Any:
    from ..first_party import KINDS, missing

    module, cls = EMULATORS[kind]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError:
        raise GenesisError(missing(f"the {kind} emulator", KINDS[kind])) from None


def seed(kind: str, server: Any, app: DemoApp) -> None:
    """Put the demo app's drifted variables for ``kind`` on ``server``."""
    if kind == "render":
        server.set_env(RENDER_SERVICE, app.render)
    elif kind == "netlify":
        server.add_site(NETLIFY_ACCOUNT, NETLIFY_SITE)
        for key, value in app.netlify.items():
            server.set_var(NETLIFY_ACCOUNT, NETLIFY_SITE, key, {"production": value},
                           secret=key in app.netlify_secret)
    elif kind == "github":
        server.add_repo(GITHUB_REPO)
        for key, value in app.github_secrets.items():
            server.set_secret(GITHUB_REPO, key, value)
        for key, value in app.github_variables.items():
            server.set_variable(GITHUB_REPO, key, value)
    else:  # pragma: no cover - EMULATORS lists the kinds
        raise ValueError(kind)


@contextmanager
def running_emulators(app: DemoApp, kinds: tuple[str, ...] = ("render", "netlify", "github"),
                      port: int = 0) -> Iterator[dict[str, RunningEmulator]]:
    """Start each emulator on 127.0.0.1 seeded with ``app``; stop them all on exit."""
    classes = {kind: _emulator_class(kind) for kind in kinds}
    started: dict[str, RunningEmulator] = {}
    try:
        for i, kind in enumerate(kinds):
            token = f"demo-{kind}-{secrets.token_hex(8)}"
            server = classes[kind](token=token, port=(port + i) if port else 0)
            seed(kind, server, app)
            server.start()
            started[kind] = RunningEmulator(kind, server, token, TOKEN_ENV[kind])
        yield started
    finally:
        for running in started.values():
            running.server.stop()


def platform_tables(emulators: dict[str, RunningEmulator]) -> str:
    """Return the ``[platforms.KIND]`` tables that reach the demo app on each running emulator."""
    exclude = ", ".join(f'"{p}"' for p in NETLIFY_EXCLUDE)
    tables = {
        "render": f'service_id = "{RENDER_SERVICE}"',
        "netlify": (f'account_id = "{NETLIFY_ACCOUNT}"\nsite_id = "{NETLIFY_SITE}"\ncontext = "production"\n'
                    f"exclude = [{exclude}]  # backend-only keys a browser-facing site must not hold"),
        "github": f'repository = "{GITHUB_REPO}"',
    }
    return "\n".join(f'[platforms.{kind}]\n{tables[kind]}\nbase_url = "{running.base_url}"\n'
                      for kind, running in emulators.items())


def demo_config(emulators: dict[str, RunningEmulator]) -> str:
    """Return the demo's ``genesis.toml`` pointing at the running emulators."""
    return f"""\
# Written by `genesis demo`: a local .env (the source of truth) and three emulated platforms.
# The emulators ran on 127.0.0.1 only while the demo ran; `genesis events history`,
# `genesis ledger show` and `genesis steward report` still work on the state left in .genesis/.

[platforms.local]
kind = "dotenv"
path = ".env"

{platform_tables(emulators)}
[engines.blueprint]
min_keys = 40                  # the seed's expectation: this app has fewer, so Blueprint warns
required = ["DATABASE_URL", "PORT", "APP_NAME"]

[engines.blueprint.keys.PORT]
type = "int"

[engines.autonomy]
reference = "local"
overwrite_conflicts = true     # also fix values that differ (e.g. DEBUG=true on Netlify)
"""
