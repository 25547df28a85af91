"""A base for adapters that talk to a platform's HTTP API.

It reads the table keys every HTTP adapter shares (``base_url``, ``timeout``,
``retries``), finds the token in the environment, and sends requests through
:func:`genesis_core.http.request` so retries, rate limits and error messages
behave the same on every platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import PlatformError
from .model import FetchContext, InstanceConfig, PlatformAdapter

if TYPE_CHECKING:
    from ..http import RetryPolicy

#: Keys the core reads from every ``[platforms.NAME]`` table; adapters must accept them.
COMMON_KEYS = frozenset({"kind", "include", "exclude"})
#: What an environment variable name looks like.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: Keys :class:`HttpPlatformAdapter` reads.
HTTP_KEYS = frozenset({"base_url", "timeout", "retries", "token_env"})
#: The bounds of ``timeout`` (seconds per attempt) and ``retries`` (attempts after the first).
TIMEOUT_RANGE = (0.05, 300)
MAX_RETRIES = 10


def _looks_like_credential(text: str) -> bool:
    from ..secrets import looks_like_credential

    return looks_like_credential(text)


class HttpPlatformAdapter(PlatformAdapter):
    """Adapter base with ``base_url``/``timeout``/``retries``/``token_env`` handling."""

    default_base_url: ClassVar[str]
    #: Adapter-specific table keys (besides COMMON_KEYS and HTTP_KEYS).
    table_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        table.check_known(COMMON_KEYS | HTTP_KEYS | self.table_keys)
        self.base_url: str = table.str("base_url", self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise table.error("base_url", f"expected an http(s) URL, got {self.base_url!r}")
        from ..http import url_problem

        problem = url_problem(self.base_url)
        if problem is not None:
            raise table.error("base_url", problem)
        self.timeout: float = table.float("timeout", 30.0, minimum=TIMEOUT_RANGE[0], maximum=TIMEOUT_RANGE[1])
        self.retries: int = table.int("retries", 3, minimum=0, maximum=MAX_RETRIES)
        self.token_env: str | None = table.str("token_env", self.credential_env)
        if self.token_env is not None and (not ENV_NAME.fullmatch(self.token_env)
                                           or _looks_like_credential(self.token_env)):
            raise table.error("token_env", "expected the NAME of an environment variable (like RENDER_API_KEY), "
                                           "not a token; the value is not shown")

    @property
    def credential_name(self) -> str | None:
        """Return the table's ``token_env`` (the kind's ``credential_env`` when it has none)."""
        return self.token_env

    def token(self, ctx: FetchContext) -> str:
        """Return the API token from the environment; raise ``PlatformError`` naming the variable."""
        name = self.token_env
        value = ctx.env.get(name, "") if name else ""
        if not value:
            raise PlatformError(self.name, f"no credentials: set the environment variable {name}")
        return value

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return the headers that authenticate a request (``Bearer`` token by default)."""
        return {"Authorization": f"Bearer {self.token(ctx)}", "Accept": "application/json"}

    def retry_policy(self) -> RetryPolicy:
        """Return the :class:`~genesis_core.http.RetryPolicy` for this instance."""
        from ..http import RetryPolicy

        return RetryPolicy(attempts=self.retries + 1)

    async def request(self, ctx: FetchContext, method: str, path: str, *,
                      params: Mapping[str, Any] | None = None, json_body: Any = None,
                      ok: tuple[int, ...] = (200,), target: str = "",
                      headers: Mapping[str, str] | None = None) -> tuple[Any, Any]:
        """Send a request to ``base_url + path``; return ``(httpx.Response, decoded JSON or None)``."""
        import httpx

        from ..http import Endpoint, parse_json, request

        endpoint = Endpoint(self.name, self.token_env, target or self.describe())
        all_headers = self.auth_headers(ctx)
        if headers:
            all_headers.update(headers)
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        retry = self.retry_policy()
        response, body = await request(
            ctx.http, endpoint, method, url, headers=all_headers, params=params, json_body=json_body,
            ok=ok, retry=retry, budget=ctx.retry_budget(self.name, retry.max_retry_seconds),
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
        )
        data = parse_json(endpoint, body) if body.strip() else None
        return response, data

    def shape_error(self, what: str) -> PlatformError:
        """Return the error for a response that does not match the documented shape."""
        return PlatformError(self.name, f"unexpected response shape from {self.kind} API: {what}")
