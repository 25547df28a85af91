"""The ``github`` platform adapter: Actions secrets and variables of one repository or environment.

Secrets are write-only on GitHub: a fetch reports their names with an
unreadable value.  Variables are readable.  Every variable carries GitHub's
``updated_at`` as its change stamp (``Variable.stamp``), which moves whenever the
value is written, here or in the GitHub UI.  Writes touch exactly one name:
secrets are sealed to the scope's public key (libsodium sealed box) and sent
with ``PUT``; variables are created with ``POST`` and updated with ``PATCH``
when GitHub answers 409 (already exists).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from genesis_core.api import (
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    Variable,
)

from .links import parse_link_header

API_VERSION = "2022-11-28"
#: GitHub's ``per_page`` maximum for each list.
SECRETS_PER_PAGE = 100
VARIABLES_PER_PAGE = 30
#: A repository holds at most 100 secrets and 500 variables; 100 pages is far beyond any real list.
MAX_PAGES = 100

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GitHubAdapter(HttpPlatformAdapter):
    """GitHub Actions secrets (names only) and variables of a repository, or of one of its environments."""

    kind: ClassVar[str] = "github"
    credential_env: ClassVar[str | None] = "GITHUB_TOKEN"
    supports_write: ClassVar[bool] = True
    stamps_changes: ClassVar[bool] = True
    has_secret_kind: ClassVar[bool] = True  # Actions secrets and variables
    default_base_url: ClassVar[str] = "https://api.github.com"
    table_keys: ClassVar[frozenset[str]] = frozenset(
        {"repository", "environment", "include_secrets", "include_variables"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        repository = table.str("repository").strip()
        if not _REPOSITORY.match(repository) or repository.endswith("/.") or "/.." in repository:
            raise table.error("repository", f"expected \"owner/name\", got {repository!r}")
        self.repository: str = repository
        environment = table.str("environment", None)
        if environment is not None and not environment.strip():
            raise table.error("environment", "must not be empty (leave it out for repository secrets)")
        self.environment: str | None = environment
        self.include_secrets: bool = table.bool("include_secrets", True)
        self.include_variables: bool = table.bool("include_variables", True)
        if not (self.include_secrets or self.include_variables):
            raise table.error("include_variables", "include_secrets and include_variables are both false: "
                                                   "nothing to read")
        owner, name = repository.split("/", 1)
        repo_path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        if environment is None:
            self.scope_path: str = f"{repo_path}/actions"
        else:
            self.scope_path = f"{repo_path}/environments/{quote(environment, safe='')}"

    # -- description and headers -----------------------------------------------------------
    def describe(self) -> str:
        """Return e.g. ``github repository owner/name`` or ``github environment prod of owner/name``."""
        if self.environment is None:
            return f"github repository {self.repository}"
        return f"github environment {self.environment!r} of {self.repository}"

    @property
    def scope_label(self) -> str:
        """Return the scope recorded on each variable: ``repository`` or ``environment:NAME``."""
        return "repository" if self.environment is None else f"environment:{self.environment}"

    def auth_headers(self, ctx: FetchContext) -> dict[str, str]:
        """Return GitHub's REST headers with a ``Bearer`` token."""
        return {
            "Authorization": f"Bearer {self.token(ctx)}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    # -- fetch -----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the scope's variables (readable) and secrets (names only, unreadable)."""
        secret_names: list[tuple[str, str | None]] = []
        variables: dict[str, tuple[str, str | None]] = {}
        if self.include_secrets:
            for item in await self._list_all(ctx, "secrets", SECRETS_PER_PAGE):
                name = self._item_name(item, "secrets")
                secret_names.append((name, self._stamp(item, name)))
        if self.include_variables:
            for item in await self._list_all(ctx, "variables", VARIABLES_PER_PAGE):
                name = self._item_name(item, "variables")
                value = item.get("value")
                if not isinstance(value, str):
                    raise self.shape_error(f"variable {name!r} has no string \"value\"")
                if name in variables:
                    raise self.shape_error(f"variable {name!r} listed twice")
                variables[name] = (value, self._stamp(item, name))
        collected: dict[str, Variable] = {}
        for name, stamp in secret_names:
            if name in collected:
                raise self.shape_error(f"secret {name!r} listed twice")
            collected[name] = Variable(name, None, secret=True, scope=self.scope_label, stamp=stamp)
        for name, (value, stamp) in variables.items():
            if name in collected and collected[name].secret:
                raise PlatformError(
                    self.name,
                    f"{name} exists both as an Actions secret and as a variable in {self.describe()}; "
                    f"workflows read them separately (secrets.{name} and vars.{name}), so Genesis cannot "
                    "tell which value is meant: delete one of them, or set include_secrets or "
                    "include_variables to false for this instance")
            collected[name] = Variable(name, value, secret=False, scope=self.scope_label, stamp=stamp)
        return Snapshot(self.name, self.kind, collected)

    def _stamp(self, item: dict[str, Any], name: str) -> str | None:
        """Return the item's ``updated_at`` (its change stamp), ``None`` when GitHub leaves it out."""
        stamp = item.get("updated_at")
        if stamp is not None and not isinstance(stamp, str):
            raise self.shape_error(f"the \"updated_at\" of {name!r} is not a string")
        return stamp

    def _item_name(self, item: Any, what: str) -> str:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise self.shape_error(f"an item of \"{what}\" has no \"name\"")
        return str(item["name"])

    async def _list_all(self, ctx: FetchContext, what: str, per_page: int) -> list[Any]:
        """Return every item of ``{scope}/{what}``, following ``Link: rel="next"``."""
        items: list[Any] = []
        url: str = f"{self.base_url}{self.scope_path}/{what}"
        params: dict[str, Any] | None = {"per_page": per_page}
        seen: set[str] = set()
        total: int | None = None
        for _page in range(MAX_PAGES):
            response, data = await self.request(ctx, "GET", url, params=params)
            if not isinstance(data, dict) or not isinstance(data.get(what), list):
                raise self.shape_error(f"expected an object with a \"{what}\" list")
            count = data.get("total_count")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise self.shape_error(f"expected an integer \"total_count\" in the {what} list")
            total = count
            items.extend(data[what])
            next_url = parse_link_header(response.headers.get("link")).get("next")
            if not next_url:
                break
            self._check_same_origin(next_url)
            if next_url in seen:
                raise PlatformError(self.name, f"GitHub pagination of {what} loops (a \"next\" link repeats)")
            seen.add(next_url)
            url, params = next_url, None
        else:
            raise PlatformError(self.name, f"GitHub pagination of {what} did not end after {MAX_PAGES} pages")
        if total is not None and total != len(items):
            raise PlatformError(self.name, f"GitHub listed {len(items)} {what} but reported total_count {total} "
                                           "(the list changed while it was read, or pages are missing); "
                                           "run again")
        return items

    def _check_same_origin(self, url: str) -> None:
        """Refuse to send the token to a ``next`` link on another host."""
        base, other = urlsplit(self.base_url), urlsplit(url)
        if (other.scheme, other.netloc) != (base.scheme, base.netloc):
            raise PlatformError(self.name, f"GitHub pagination link points to another origin "
                                           f"({other.scheme}://{other.hostname}); refusing to follow it")

    # -- write -----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update one secret (``secret=True``) or one variable; touch nothing else."""
        self._check_name(key)
        if secret:
            await self._refuse_if_exists(ctx, "variables", key, "a variable", "secret")
            await self._write_secret(ctx, key, value)
        else:
            await self._refuse_if_exists(ctx, "secrets", key, "an Actions secret", "variable")
            await self._write_variable(ctx, key, value)

    def _check_name(self, key: str) -> None:
        if not _NAME.match(key):
            raise PlatformError(self.name, f"cannot write {key!r}: GitHub names hold only letters, digits and "
                                           "underscores and do not start with a digit")
        if key.upper().startswith("GITHUB_"):
            raise PlatformError(self.name, f"cannot write {key}: names starting with GITHUB_ are reserved by GitHub")
        if key != key.upper():
            raise PlatformError(self.name, f"cannot write {key!r}: GitHub stores secret and variable names in "
                                           f"upper case ({key.upper()}), so it would never match; rename the key")

    async def _refuse_if_exists(self, ctx: FetchContext, what: str, key: str, label: str, wanted: str) -> None:
        """Raise when ``key`` already exists as the other kind (writing would create a duplicate)."""
        response, _ = await self.request(ctx, "GET", f"{self.scope_path}/{what}/{quote(key, safe='')}",
                                         ok=(200, 404))
        if response.status_code == 200:
            raise PlatformError(self.name, f"cannot write {key} as a {wanted}: it exists as {label} in "
                                           f"{self.describe()}; delete one of them first")

    async def _write_secret(self, ctx: FetchContext, key: str, value: str) -> None:
        from .sealing import SealingError, seal

        _, data = await self.request(ctx, "GET", f"{self.scope_path}/secrets/public-key")
        if not isinstance(data, dict) or not isinstance(data.get("key"), str) \
                or not isinstance(data.get("key_id"), (str, int)) or isinstance(data.get("key_id"), bool):
            raise self.shape_error("the public key response has no \"key\" and \"key_id\"")
        try:
            encrypted = seal(data["key"], value)
        except SealingError as exc:
            raise self.shape_error(str(exc)) from None
        await self.request(ctx, "PUT", f"{self.scope_path}/secrets/{quote(key, safe='')}",
                           json_body={"encrypted_value": encrypted, "key_id": str(data["key_id"])},
                           ok=(201, 204))

    async def _write_variable(self, ctx: FetchContext, key: str, value: str) -> None:
        body = {"name": key, "value": value}
        response, _ = await self.request(ctx, "POST", f"{self.scope_path}/variables", json_body=body,
                                         ok=(201, 409))
        if response.status_code == 409:
            await self.request(ctx, "PATCH", f"{self.scope_path}/variables/{quote(key, safe='')}",
                               json_body=body, ok=(204,))
