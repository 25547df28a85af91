"""Start the platform emulators seeded with the demo app (for `genesis demo` and `genesis emulate`).

`genesis demo` uses Render, Netlify and GitHub; `genesis emulate` can also serve Heroku, Fly.io,
Railway and any kind whose plugin names an emulator (``PlatformKind.emulator``, imported only here).
The demo app's data seeds the first-party kinds; another kind's emulator starts empty.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import GenesisError, one_line
from .app_data import NETLIFY_EXCLUDE, DemoApp

if TYPE_CHECKING:
    from ..platforms.model import PlatformKind

RENDER_SERVICE = "srv-demo0acmeshop0api"
NETLIFY_ACCOUNT = "acme"
NETLIFY_SITE = "acme-shop-web"
GITHUB_REPO = "acme/shop"
HEROKU_APP = "acme-shop-api"
FLY_APP = "acme-shop"
RAILWAY_PROJECT = "prj-demo-acme-shop"
RAILWAY_ENVIRONMENT = "env-demo-production"
RAILWAY_SERVICE = "svc-demo-api"

#: The identifiers a ``[platforms.KIND]`` table needs to reach the demo app on each emulator.
DEMO_IDS = {
    "render": {"service_id": RENDER_SERVICE},
    "netlify": {"account_id": NETLIFY_ACCOUNT, "site_id": NETLIFY_SITE},
    "github": {"repository": GITHUB_REPO},
    "heroku": {"app": HEROKU_APP},
    "fly": {"app": FLY_APP},
    "railway": {"project_id": RAILWAY_PROJECT, "environment_id": RAILWAY_ENVIRONMENT, "service_id": RAILWAY_SERVICE},
}

@attrs.frozen
class RunningEmulator:
    """One started emulator: its kind, base URL, the token it accepts and the env var holding it."""

    kind: str
    server: Any
    token: str
    token_env: str | None

    @property
    def base_url(self) -> str:
        """Return the emulator's ``http://127.0.0.1:PORT``."""
        return str(self.server.base_url)


def emulated_kinds(platform_kinds: Mapping[str, PlatformKind]) -> dict[str, PlatformKind]:
    """Return the kinds that offer an emulator: the first-party ones in their usual order, then the others."""
    from ..first_party import EMULATED_KINDS

    order = {kind: i for i, kind in enumerate(EMULATED_KINDS)}
    offered = [kind for kind in platform_kinds.values() if kind.emulator is not None]
    return {kind.name: kind for kind in sorted(offered, key=lambda k: order.get(k.name, len(order)))}


def emulator_class(kind: str, platform_kinds: Mapping[str, PlatformKind]) -> Any:
    """Return the emulator class ``kind`` registers (imported now); ``GenesisError`` when there is none."""
    from ..discovery import load_value
    from ..first_party import EMULATED_KINDS, KINDS, missing
    from ..testing.emulator import EmulatorServer

    registered = platform_kinds.get(kind)
    if registered is None or registered.emulator is None:
        if registered is None and kind in EMULATED_KINDS:
            raise GenesisError(missing(f"the {kind} emulator", KINDS[kind]))
        raise GenesisError(f"no emulator for {kind}")
    try:
        found = load_value(registered.emulator)
    except (ImportError, AttributeError) as exc:
        raise GenesisError(f"the {kind} emulator {registered.emulator!r} cannot be loaded ({one_line(exc)})") from None
    if not (isinstance(found, type) and issubclass(found, EmulatorServer)):
        raise GenesisError(f"the {kind} emulator {registered.emulator!r} is not an EmulatorServer subclass")
    return found


def seed(kind: str, server: Any, app: DemoApp) -> None:
    """Put the demo app's drifted variables for ``kind`` on ``server`` (nothing for a kind the demo lacks)."""
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
    elif kind == "heroku":
        # Heroku Postgres owns DATABASE_URL (an add-on value Genesis reads but never writes), with its own value.
        config = {k: v for k, v in app.local.items() if k not in ("DATABASE_URL", "FEATURE_RECOMMENDATIONS")}
        server.add_app(HEROKU_APP, config)
        server.attach_addon(HEROKU_APP, "DATABASE",
                            {"DATABASE_URL": "postgres://u" + secrets.token_hex(4) + ":" + secrets.token_hex(12)
                                             + "@ec2-0-0-0-0.compute-1.amazonaws.com:5432/d" + secrets.token_hex(4)})
    elif kind == "fly":
        server.add_app(FLY_APP, {k: v for k, v in app.local.items() if k != "SESSION_TIMEOUT_MINUTES"})
    elif kind == "railway":
        server.add_environment(RAILWAY_PROJECT, RAILWAY_ENVIRONMENT, services={RAILWAY_SERVICE: "api"})
        server.add_project_token(RAILWAY_PROJECT, RAILWAY_ENVIRONMENT, server.token)
        variables = {k: v for k, v in app.local.items() if k != "CACHE_TTL_SECONDS"}
        variables["LOG_LEVEL"] = "debug"
        server.set_variables(RAILWAY_PROJECT, RAILWAY_ENVIRONMENT, variables, service_id=RAILWAY_SERVICE)


@contextmanager
def running_emulators(app: DemoApp, kinds: tuple[str, ...] = ("render", "netlify", "github"),
                      port: int = 0, platform_kinds: Mapping[str, PlatformKind] | None = None,
                      ) -> Iterator[dict[str, RunningEmulator]]:
    """Start each kind's emulator on 127.0.0.1 seeded with ``app``; stop them all on exit.

    ``platform_kinds`` are the registered kinds (default: every installed plugin's).
    """
    if platform_kinds is None:
        from ..plugins import get_plugin_host

        platform_kinds = get_plugin_host().platform_kinds()
    classes = {kind: emulator_class(kind, platform_kinds) for kind in kinds}
    started: dict[str, RunningEmulator] = {}
    try:
        for i, kind in enumerate(kinds):
            token = f"demo-{kind}-{secrets.token_hex(8)}"
            server = classes[kind](token=token, port=(port + i) if port else 0)
            seed(kind, server, app)
            server.start()
            started[kind] = RunningEmulator(kind, server, token, platform_kinds[kind].credential_env)
        yield started
    finally:
        for running in started.values():
            running.server.stop()


def platform_tables(emulators: dict[str, RunningEmulator]) -> str:
    """Return the ``[platforms.KIND]`` tables that reach the demo app on each running emulator."""
    exclude = ", ".join(f'"{p}"' for p in NETLIFY_EXCLUDE)
    extra = {"netlify": ['context = "production"',
                         f"exclude = [{exclude}]  # backend-only keys a browser-facing site must not hold"]}
    tables = []
    for kind, running in emulators.items():
        lines = [f"[platforms.{kind}]", *(f'{key} = "{value}"' for key, value in DEMO_IDS.get(kind, {}).items()),
                 *extra.get(kind, ()), f'base_url = "{running.base_url}"']
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


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
