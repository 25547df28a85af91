"""``aws-ssm``: the parameters below one path of AWS Systems Manager Parameter Store.

Reading is ``GetParametersByPath`` (``WithDecryption``, ten a page, the most AWS
allows) followed through ``NextToken`` to the end; a token that repeats, a page
holding more than asked for, or more than :data:`MAX_PAGES` pages is an error.
A key is the parameter name below ``path``.  ``SecureString`` values are
decrypted and always secret; ``String`` and ``StringList`` follow the secret policy.

Writing one key is ``DescribeParameters`` (the parameter's type, KMS key, tier,
data type, pattern and description) then one ``PutParameter``: an existing
parameter is overwritten keeping all of those, so a ``SecureString`` stays one,
encrypted with the same key; a new one is created (``Overwrite=false``) as a
``SecureString`` when the value is secret, else a ``String``.  Nothing is ever
deleted and no call touches more than one parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore import exceptions as boto

from genesis_core.api import InstanceConfig, PlatformError, Snapshot

from .base import AwsAdapter, Connection

#: Parameters per ``GetParametersByPath`` page: the API's maximum.
PAGE_SIZE = 10
#: Pages read before giving up (100,000 parameters, the advanced tier's per-region quota).
MAX_PAGES = 10_000
#: ``DescribeParameters`` pages read while looking for one parameter.
MAX_DESCRIBE_PAGES = 100
#: The longest parameter name AWS accepts, and the deepest hierarchy.
MAX_NAME_LENGTH = 1011
MAX_LEVELS = 15
TYPES = ("String", "StringList", "SecureString")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_READ_ACTION = "ssm:GetParametersByPath (and kms:Decrypt on the key of any SecureString)"


def _path_prefix(instance: InstanceConfig) -> str:
    """Return ``path`` as a prefix ending in ``/``; refuse anything that is not a parameter hierarchy."""
    table = instance.table
    path = table.str("path")
    if not path.startswith("/"):
        raise table.error("path", f"expected a parameter hierarchy starting with / (like /acme/prod/), got {path!r}")
    segments = path.strip("/").split("/") if path.strip("/") else []
    if any(not _SEGMENT.match(segment) for segment in segments):
        raise table.error("path", f"{path!r} is not a parameter path: segments of letters, digits, _ . - "
                                  "separated by single slashes")
    return "/" + "".join(f"{segment}/" for segment in segments)


class SsmAdapter(AwsAdapter):
    """One ``[platforms.NAME] kind = "aws-ssm"`` instance: the parameters below ``path``."""

    kind = "aws-ssm"
    service = "ssm"
    supports_write = True
    has_secret_kind = True  # SecureString parameters
    table_keys = frozenset({"path", "recursive", "allow_empty", "kms_key_id"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.prefix = _path_prefix(instance)
        self.recursive: bool = table.bool("recursive", False)
        self.allow_empty: bool = table.bool("allow_empty", False)
        self.kms_key_id: str | None = table.str("kms_key_id", None)
        #: ``{key: Version}`` of the last read (``None`` before any): a write refuses a parameter changed since.
        self._versions: dict[str, int] | None = None

    @property
    def api_path(self) -> str:
        """Return the ``Path`` argument: the prefix without its trailing slash (``/`` for the root)."""
        return self.prefix.rstrip("/") or "/"

    def describe(self) -> str:
        """Return e.g. ``SSM path /acme/prod/``."""
        return f"SSM path {self.prefix}" + (" (recursive)" if self.recursive else "")

    def parameter_name(self, key: str) -> str:
        """Return the parameter name of ``key``; raise ``PlatformError`` (before any request) if it is invalid."""
        segments = key.split("/") if self.recursive else [key]
        if not key or not all(_SEGMENT.match(segment) for segment in segments):
            allowed = "letters, digits, _ . -" + (" and / between segments" if self.recursive else "")
            raise PlatformError(self.name, f"{key!r} is not a valid SSM parameter name below {self.prefix} "
                                           f"(allowed: {allowed}); nothing was sent")
        name = self.prefix + key
        if len(name) > MAX_NAME_LENGTH or name.count("/") > MAX_LEVELS:
            raise PlatformError(self.name, f"the parameter name for {key!r} is too long or too deep (at most "
                                           f"{MAX_NAME_LENGTH} characters and {MAX_LEVELS} levels); nothing was sent")
        return name

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: Any) -> Snapshot:
        """Return every parameter below ``path`` (decrypted); raise ``PlatformError`` when it cannot be read."""
        snapshot: Snapshot = await self.in_thread(self._fetch, ctx.env)
        return snapshot

    def _fetch(self, env: Mapping[str, str]) -> Snapshot:
        connection = self.connect(env)
        values: dict[str, str] = {}
        secret_keys: set[str] = set()
        versions: dict[str, int] = {}
        seen_tokens: set[str] = set()
        token: str | None = None
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, Any] = {"Path": self.api_path, "Recursive": self.recursive,
                                      "WithDecryption": True, "MaxResults": PAGE_SIZE}
            if token is not None:
                params["NextToken"] = token
            answer = connection.call("GetParametersByPath", target=self.describe(), iam_action=_READ_ACTION,
                                     **params)
            items = answer.get("Parameters") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise self.shape_error(f"page {page} of GetParametersByPath has no Parameters list")
            if len(items) > PAGE_SIZE:
                raise self.shape_error(f"page {page} of GetParametersByPath holds {len(items)} parameters, "
                                       f"more than the {PAGE_SIZE} asked for")
            for index, item in enumerate(items):
                key, value, kind, version = self._parse(item, page, index)
                if key in values:
                    raise self.shape_error(f"parameter {self.prefix}{key} listed twice")
                values[key] = value
                versions[key] = version
                if kind == "SecureString":
                    secret_keys.add(key)
            next_token = answer.get("NextToken")
            if next_token is None or next_token == "":
                break
            if not isinstance(next_token, str):
                raise self.shape_error(f"NextToken of page {page} is not a string")
            if next_token in seen_tokens:
                raise PlatformError(self.name, f"pagination of {self.prefix} does not advance: AWS returned a "
                                               f"NextToken it had returned before (page {page})")
            seen_tokens.add(next_token)
            token = next_token
        else:
            raise PlatformError(self.name, f"pagination of {self.prefix} did not end after {MAX_PAGES} pages")
        if not values and not self.allow_empty:
            raise PlatformError(self.name, f"no parameters below {self.prefix} in {connection.region} (check path "
                                           "and region; set allow_empty = true to fill a new path)")
        self._versions = versions
        return Snapshot.from_values(self.name, self.kind, values, secret_keys=secret_keys)

    def _parse(self, item: Any, page: int, index: int) -> tuple[str, str, str, int]:
        """Return ``(key, value, Type, Version)`` of one listed parameter, or raise a shape error."""
        where = f"parameter {index} of page {page}"
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise self.shape_error(f"{where} has no Name")
        name = item["Name"]
        if not name.startswith(self.prefix) or len(name) == len(self.prefix):
            raise self.shape_error(f"{where} ({name}) is not below {self.prefix}")
        key = name[len(self.prefix):]
        if not self.recursive and "/" in key:
            raise self.shape_error(f"{name} is not a direct child of {self.prefix} (recursive is false)")
        kind = item.get("Type")
        if kind not in TYPES:
            raise self.shape_error(f"{name} has an unknown Type")
        if not isinstance(item.get("Value"), str):
            raise self.shape_error(f"{name} has no string Value")
        version = item.get("Version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise self.shape_error(f"{name} has no Version")
        return key, item["Value"], kind, version

    def shape_error(self, what: str) -> PlatformError:
        """Return the error for an answer that does not have the documented shape."""
        return PlatformError(self.name, f"unexpected response shape from SSM: {what}")

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: Any, key: str, value: str, *, secret: bool) -> None:
        """Create or overwrite the one parameter ``path + key``, keeping an existing parameter's type and key."""
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key!r} must be a string")
        self.parameter_name(key)
        if value == "":
            raise PlatformError(self.name, f"SSM cannot store an empty value ({key!r}); nothing was sent")
        await self.in_thread(self._write, ctx.env, key, value, secret)

    def _write(self, env: Mapping[str, str], key: str, value: str, secret: bool) -> None:
        name = self.parameter_name(key)
        connection = self.connect(env)
        current = self._describe(connection, name)
        seen = self._versions
        if current is None:
            if seen is not None and key in seen:
                raise self._conflict(name, "was deleted")
            answer = self._create(connection, name, key, value, secret)
        else:
            version = current.get("Version")
            if seen is not None and seen.get(key) != version:
                raise self._conflict(name, "was created" if key not in seen else
                                     f"changed (version {seen[key]} -> {version})")
            answer = self._overwrite(connection, name, value, current)
        version = answer.get("Version") if isinstance(answer, dict) else None
        if seen is not None and isinstance(version, int):
            seen[key] = version

    def _conflict(self, name: str, what: str) -> PlatformError:
        return PlatformError(self.name, f"conflict: {name} {what} since Genesis read it; nothing was written "
                                        "(run genesis sync again)")

    def _describe(self, connection: Connection, name: str) -> dict[str, Any] | None:
        """Return the parameter's metadata (Type, KeyId, Tier, DataType...), or ``None`` if it does not exist."""
        token: str | None = None
        seen_tokens: set[str] = set()
        for page in range(1, MAX_DESCRIBE_PAGES + 1):
            params: dict[str, Any] = {"ParameterFilters": [{"Key": "Name", "Option": "Equals", "Values": [name]}],
                                      "MaxResults": 50}
            if token is not None:
                params["NextToken"] = token
            answer = connection.call("DescribeParameters", target=name, iam_action="ssm:DescribeParameters",
                                     **params)
            items = answer.get("Parameters") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise self.shape_error("DescribeParameters has no Parameters list")
            for item in items:
                if isinstance(item, dict) and item.get("Name") == name:
                    if item.get("Type") not in TYPES:
                        raise self.shape_error(f"{name} has an unknown Type")
                    return item
            next_token = answer.get("NextToken")
            if not next_token:
                return None
            if not isinstance(next_token, str) or next_token in seen_tokens:
                raise PlatformError(self.name, f"DescribeParameters for {name} does not advance (page {page})")
            seen_tokens.add(next_token)
            token = next_token
        raise PlatformError(self.name, f"DescribeParameters for {name} did not end after {MAX_DESCRIBE_PAGES} pages")

    def _overwrite(self, connection: Connection, name: str, value: str, current: Mapping[str, Any]) -> Any:
        params: dict[str, Any] = {"Name": name, "Value": value, "Type": current["Type"], "Overwrite": True}
        if current["Type"] == "SecureString" and isinstance(current.get("KeyId"), str):
            params["KeyId"] = current["KeyId"]
        for field in ("Tier", "DataType", "AllowedPattern", "Description"):
            if isinstance(current.get(field), str) and current[field]:
                params[field] = current[field]
        action = "ssm:PutParameter" + (" (and kms:Encrypt on its key)" if current["Type"] == "SecureString" else "")
        return connection.call("PutParameter", target=name, iam_action=action, sent=(value,), **params)

    def _create(self, connection: Connection, name: str, key: str, value: str, secret: bool) -> Any:
        params: dict[str, Any] = {"Name": name, "Value": value, "Type": "SecureString" if secret else "String",
                                  "Overwrite": False}
        if secret and self.kms_key_id:
            params["KeyId"] = self.kms_key_id
        action = "ssm:PutParameter" + (" (and kms:Encrypt on the key)" if secret else "")
        try:
            return connection.call("PutParameter", target=name, iam_action=action, sent=(value,),
                                   passthrough=frozenset({"ParameterAlreadyExists"}), **params)
        except boto.ClientError:  # only ParameterAlreadyExists comes through
            raise self._conflict(name, "was created by someone else") from None
