"""The ``vercel`` platform adapter: the environment variables of one target of one Vercel project.

Vercel stores a variable as an *entry* (``id``, ``key``, ``value``, ``type``, a list of
``target`` environments and an optional ``gitBranch``); one entry may serve several
targets.  An instance of this adapter represents one target, so:

* fetch keeps the entries whose ``target`` includes the instance's target (generic
  entries, plus the configured ``git_branch``'s entries, which override them);
* each variable carries the entry's ``updatedAt`` (as an RFC 3339 time) as its change stamp
  (``Variable.stamp``): it moves whenever the entry is written, here or in the dashboard;
* write changes one key for that target only.  An entry that also serves other targets
  is first narrowed to those other targets (``PATCH``, value untouched) and the key is
  then created for this target alone, so other targets never change.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import quote

import attrs

from genesis_core.api import (
    FetchContext,
    HttpPlatformAdapter,
    InstanceConfig,
    PlatformError,
    Snapshot,
    Variable,
)

TARGETS = ("production", "preview", "development")
#: Entry types whose value the API never returns in clear.
UNREADABLE_TYPES = frozenset({"sensitive", "secret"})
#: Pages are server-sized; a project holds at most a few thousand entries.
MAX_PAGES = 200

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@attrs.frozen
class EnvEntry:
    """One environment-variable entry as Vercel lists it (``value`` is ``None`` when absent)."""

    id: str | None
    key: str
    type: str
    targets: tuple[str, ...]
    git_branch: str | None
    value: str | None = attrs.field(default=None, repr=False)
    decrypted: bool | None = None
    custom_environment_ids: tuple[str, ...] = ()
    #: ``updatedAt`` as an RFC 3339 time (Vercel sends milliseconds since the epoch).
    updated_at: str | None = None

    @property
    def readable(self) -> bool:
        """Return whether ``value`` is the clear value."""
        if self.type in UNREADABLE_TYPES or self.value is None:
            return False
        return not (self.type == "encrypted" and self.decrypted is False)


def _rfc3339_ms(milliseconds: float) -> str:
    """Return Vercel's milliseconds since the epoch as ``2026-12-01T10:00:00.123Z``."""
    moment = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(milliseconds=milliseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class VercelAdapter(HttpPlatformAdapter):
    """Vercel project environment variables of one target."""

    kind: ClassVar[str] = "vercel"
    credential_env: ClassVar[str | None] = "VERCEL_TOKEN"
    supports_write: ClassVar[bool] = True
    stamps_changes: ClassVar[bool] = True
    has_secret_kind: ClassVar[bool] = True  # sensitive entries, never returned
    default_base_url: ClassVar[str] = "https://api.vercel.com"
    table_keys: ClassVar[frozenset[str]] = frozenset({"project", "team_id", "target", "git_branch"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        project = table.str("project").strip()
        if "/" in project or not project:
            raise table.error("project", f"expected a project id (prj_…) or name, got {project!r}")
        self.project: str = project
        team_id = table.str("team_id", None)
        if team_id is not None and not team_id.strip():
            raise table.error("team_id", "must not be empty (leave it out for a personal project)")
        self.team_id: str | None = team_id
        self.target: str = table.choice("target", TARGETS, "production")
        git_branch = table.str("git_branch", None)
        if git_branch is not None:
            if not git_branch.strip():
                raise table.error("git_branch", "must not be empty")
            if self.target != "preview":
                raise table.error("git_branch", "Vercel has branch-specific values only for target = \"preview\"")
        self.git_branch: str | None = git_branch
        self.env_path = f"/projects/{quote(project, safe='')}/env"

    def describe(self) -> str:
        """Return e.g. ``vercel project my-app (production)``."""
        where = self.target if self.git_branch is None else f"preview, branch {self.git_branch}"
        team = f" of team {self.team_id}" if self.team_id else ""
        return f"vercel project {self.project}{team} ({where})"

    def _params(self, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.team_id:
            params["teamId"] = self.team_id
        params.update(extra)
        return params

    # -- reading -----------------------------------------------------------------------------
    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the variables that apply to this instance's target (sensitive ones unreadable)."""
        chosen = self.select(await self.list_entries(ctx, decrypt=True))
        variables = {}
        for key, entry in chosen.items():
            readable = entry.readable
            scope = self.target if entry.git_branch is None else f"{self.target}:{entry.git_branch}"
            variables[key] = Variable(key, entry.value if readable else None, secret=not readable, scope=scope,
                                      stamp=entry.updated_at)
        return Snapshot(self.name, self.kind, variables)

    async def list_entries(self, ctx: FetchContext, *, decrypt: bool) -> list[EnvEntry]:
        """Return every entry of the project, following ``pagination.next`` (``until``)."""
        entries: list[EnvEntry] = []
        params = self._params(decrypt="true" if decrypt else "false")
        seen: set[float] = set()
        for _page in range(MAX_PAGES):
            _, data = await self.request(ctx, "GET", f"/v10{self.env_path}", params=params)
            if isinstance(data, dict) and "envs" not in data and isinstance(data.get("key"), str):
                items: list[Any] = [data]  # the API's documented single-entry answer
            elif isinstance(data, dict) and isinstance(data.get("envs"), list):
                items = data["envs"]
            else:
                raise self.shape_error("expected an object with an \"envs\" list")
            entries.extend(self._parse_entry(item) for item in items)
            pagination = data.get("pagination")
            if pagination is None:
                break
            if not isinstance(pagination, dict):
                raise self.shape_error("\"pagination\" is not an object")
            nxt = pagination.get("next")
            if nxt is None:
                break
            if isinstance(nxt, bool) or not isinstance(nxt, (int, float)):
                raise self.shape_error("\"pagination.next\" is not a timestamp")
            if nxt in seen:
                raise PlatformError(self.name, "Vercel pagination loops (\"pagination.next\" repeats)")
            seen.add(nxt)
            params = {**params, "until": int(nxt) if float(nxt).is_integer() else nxt}
        else:
            raise PlatformError(self.name, f"Vercel pagination did not end after {MAX_PAGES} pages")
        return entries

    def _parse_entry(self, item: Any) -> EnvEntry:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise self.shape_error("an entry of \"envs\" has no \"key\"")
        key = item["key"]
        kind = item.get("type")
        if not isinstance(kind, str):
            raise self.shape_error(f"entry {key!r} has no \"type\"")
        raw_target = item.get("target")
        if raw_target is None:
            targets: tuple[str, ...] = ()
        elif isinstance(raw_target, str):
            targets = (raw_target,)
        elif isinstance(raw_target, list) and all(isinstance(t, str) for t in raw_target):
            targets = tuple(raw_target)
        else:
            raise self.shape_error(f"entry {key!r} has a \"target\" that is not a list of strings")
        branch = item.get("gitBranch")
        if branch is not None and not isinstance(branch, str):
            raise self.shape_error(f"entry {key!r} has a \"gitBranch\" that is not a string")
        value = item.get("value")
        if value is not None and not isinstance(value, str):
            raise self.shape_error(f"entry {key!r} has a \"value\" that is not a string")
        updated = item.get("updatedAt")
        if updated is not None and (isinstance(updated, bool) or not isinstance(updated, (int, float))):
            raise self.shape_error(f"entry {key!r} has an \"updatedAt\" that is not a number")
        customs = item.get("customEnvironmentIds") or ()
        return EnvEntry(
            id=item["id"] if isinstance(item.get("id"), str) else None,
            key=key, type=kind, targets=targets, git_branch=branch or None,
            value=value,
            decrypted=item["decrypted"] if isinstance(item.get("decrypted"), bool) else None,
            custom_environment_ids=tuple(c for c in customs if isinstance(c, str)) if isinstance(customs, list) else (),
            updated_at=None if updated is None else _rfc3339_ms(updated),
        )

    def select(self, entries: Iterable[EnvEntry]) -> dict[str, EnvEntry]:
        """Return ``{key: entry}`` for this target: generic entries, overridden by this branch's."""
        generic: dict[str, EnvEntry] = {}
        branch: dict[str, EnvEntry] = {}
        for entry in entries:
            if self.target not in entry.targets:
                continue
            if entry.git_branch is None:
                bucket = generic
            elif entry.git_branch == self.git_branch:
                bucket = branch
            else:
                continue
            if entry.key in bucket:
                raise PlatformError(self.name, f"Vercel lists {entry.key} twice for {self.describe()}; "
                                               "remove the duplicate in the project settings")
            bucket[entry.key] = entry
        return {**generic, **branch}

    # -- writing -----------------------------------------------------------------------------
    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Create or update ``key`` for this target only; other targets and keys are not changed."""
        if not _KEY.match(key):
            raise PlatformError(self.name, f"cannot write {key!r}: Vercel names hold only letters, digits and "
                                           "underscores and do not start with a digit")
        current = [e for e in await self.list_entries(ctx, decrypt=False)
                   if e.key == key and e.git_branch == self.git_branch and self.target in e.targets]
        if len(current) > 1:
            raise PlatformError(self.name, f"cannot write {key}: Vercel holds {len(current)} entries for it in "
                                           f"{self.describe()}; remove the duplicates first")
        existing = current[0] if current else None
        if existing is not None and existing.type == "system":
            raise PlatformError(self.name, f"cannot write {key}: it is a Vercel system variable")
        entry_type = self._type_for(existing, secret)
        others = tuple(t for t in existing.targets if t != self.target) if existing else ()
        shared = existing is not None and (bool(others) or bool(existing.custom_environment_ids))
        if existing is not None and shared:
            if existing.id is None:
                raise self.shape_error(f"entry {key!r} has no \"id\"")
            # Narrow the shared entry to its other targets; its value stays as it is.
            await self._patch_targets(ctx, existing.id, list(others))
            try:
                await self._upsert(ctx, key, value, entry_type)
            except PlatformError as exc:
                restored = await self._restore(ctx, existing)
                note = "" if restored else (f"; restoring the shared entry failed too: {key} is now missing for "
                                            f"{self.target}, re-add it in the Vercel dashboard")
                raise PlatformError(self.name, f"{exc.reason}{note}", status=exc.status,
                                    retryable=exc.retryable) from None
            return
        await self._upsert(ctx, key, value, entry_type)

    def _type_for(self, existing: EnvEntry | None, secret: bool) -> str:
        """Return the entry type to write: never downgrade a sensitive value."""
        was = existing.type if existing else None
        if secret or was in UNREADABLE_TYPES:
            # Vercel does not allow sensitive values in the development target.
            return "encrypted" if self.target == "development" else "sensitive"
        return "plain" if was == "plain" else "encrypted"

    async def _upsert(self, ctx: FetchContext, key: str, value: str, entry_type: str) -> None:
        body: dict[str, Any] = {"key": key, "value": value, "type": entry_type, "target": [self.target]}
        if self.git_branch is not None:
            body["gitBranch"] = self.git_branch
        _, data = await self.request(ctx, "POST", f"/v10{self.env_path}", params=self._params(upsert="true"),
                                     json_body=body, ok=(200, 201))
        if not isinstance(data, dict) or "created" not in data:
            raise self.shape_error("the create answer has no \"created\"")
        failed = data.get("failed") or []
        if failed:
            code = ""
            first = failed[0] if isinstance(failed, list) else None
            if isinstance(first, dict) and isinstance(first.get("error"), dict):
                code = str(first["error"].get("code") or "")
            if not re.fullmatch(r"[A-Za-z_]{1,40}", code):  # an error code, never anything echoed
                code = ""
            raise PlatformError(self.name, f"Vercel did not write {key} ({code or 'unknown error'})")

    async def _patch_targets(self, ctx: FetchContext, entry_id: str, targets: list[str]) -> None:
        await self.request(ctx, "PATCH", f"/v9{self.env_path}/{quote(entry_id, safe='')}",
                           params=self._params(), json_body={"target": targets}, ok=(200,))

    async def _restore(self, ctx: FetchContext, entry: EnvEntry) -> bool:
        """Give a narrowed entry its original targets back; return whether that worked."""
        assert entry.id is not None
        try:
            await self._patch_targets(ctx, entry.id, list(entry.targets))
        except PlatformError:
            return False
        return True
