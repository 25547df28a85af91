"""``aws-secrets-manager``: one secret whose ``SecretString`` is a JSON object of KEY -> string.

Reading is one ``GetSecretValue`` with ``VersionStage=AWSCURRENT``.  A binary secret, a
string that is not a JSON object, a member whose value is not a string or a name
that appears twice is an error naming the instance, never an empty snapshot.
Every value is secret.

Writing one key reads the current version again, changes that member in the
JSON text (every other byte stays as it was), and sends ``PutSecretValue`` with
a fresh ``ClientRequestToken`` (so an SDK retry cannot create a second version).
``DescribeSecret`` then shows whether the version it replaced was still
``AWSCURRENT`` at that moment: it must now be ``AWSPREVIOUS``.  If another writer
got in between, the conflict is reported and that writer's version is made
``AWSCURRENT`` again (``UpdateSecretVersionStage``): Genesis never silently
overwrites someone else's change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from botocore import exceptions as boto

from genesis_core.api import InstanceConfig, PlatformError, Snapshot

from .base import AwsAdapter, Connection
from .jsonedit import NotAnObject, parse_object, set_member

_READ_ACTION = "secretsmanager:GetSecretValue (and kms:Decrypt on the secret's key)"
_WRITE_ACTION = "secretsmanager:PutSecretValue (and kms:GenerateDataKey on the secret's key)"


class SecretsManagerAdapter(AwsAdapter):
    """One ``[platforms.NAME] kind = "aws-secrets-manager"`` instance: the members of one JSON secret."""

    kind = "aws-secrets-manager"
    service = "secretsmanager"
    supports_write = True
    table_keys = frozenset({"secret_id"})

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        self.secret_id: str = table.str("secret_id")
        if len(self.secret_id) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in self.secret_id):
            raise table.error("secret_id", "expected the name or ARN of a secret (no spaces)")
        #: The ``VersionId`` this adapter last read or wrote (``None`` before any).
        self._version: str | None = None

    def describe(self) -> str:
        """Return e.g. ``secret acme/prod/app``."""
        return f"secret {self.secret_id}"

    def shape_error(self, what: str) -> PlatformError:
        """Return the error for a secret or an answer that is not what this kind reads."""
        return PlatformError(self.name, f"{self.describe()}: {what}")

    # -- reading ----------------------------------------------------------------------------
    async def fetch(self, ctx: Any) -> Snapshot:
        """Return the secret's members, all secret; raise ``PlatformError`` when it cannot be read."""
        snapshot: Snapshot = await self.in_thread(self._fetch, ctx.env)
        return snapshot

    def _fetch(self, env: Mapping[str, str]) -> Snapshot:
        connection = self.connect(env)
        version, text = self._get(connection)
        values = self._values(text)
        self._version = version
        return Snapshot.from_values(self.name, self.kind, values, secret_keys=set(values))

    def _get(self, connection: Connection) -> tuple[str, str]:
        """Return ``(VersionId, SecretString)`` of the ``AWSCURRENT`` version."""
        try:
            answer = connection.call("GetSecretValue", target=self.describe(), iam_action=_READ_ACTION,
                                     passthrough=frozenset({"ResourceNotFoundException"}), SecretId=self.secret_id,
                                     VersionStage="AWSCURRENT")
        except boto.ClientError:  # only ResourceNotFoundException comes through
            raise PlatformError(self.name, f"secret {self.secret_id!r} not found in {connection.region} (check "
                                           "secret_id, region and the account the credentials belong to)") from None
        if not isinstance(answer, dict):
            raise self.shape_error("GetSecretValue did not answer an object")
        version = answer.get("VersionId")
        if not isinstance(version, str) or not version:
            raise self.shape_error("GetSecretValue has no VersionId")
        text = answer.get("SecretString")
        if not isinstance(text, str):
            if answer.get("SecretBinary") is not None:
                raise self.shape_error("is a binary secret; this kind reads a SecretString holding a JSON object")
            raise self.shape_error("GetSecretValue has no SecretString")
        return version, text

    def _values(self, text: str) -> dict[str, str]:
        """Return the members of the JSON object ``text``; raise naming the problem (never a value)."""
        try:
            members = parse_object(text)
        except NotAnObject as exc:
            raise self.shape_error(f"the SecretString is not a JSON object of KEY -> string ({exc})") from None
        if "" in members:
            raise self.shape_error("a member of the SecretString has an empty name")
        wrong = sorted(key for key, value in members.items() if not isinstance(value, str))
        if wrong:
            kinds = {key: type(members[key]).__name__.replace("NoneType", "null") for key in wrong[:3]}
            listed = ", ".join(f"{key!r} is {kind}" for key, kind in kinds.items())
            more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
            raise self.shape_error(f"every value must be a string: {listed}{more}")
        return {key: str(value) for key, value in members.items()}

    # -- writing ----------------------------------------------------------------------------
    async def write(self, ctx: Any, key: str, value: str, *, secret: bool) -> None:
        """Set the one member ``key`` (every value of a secret is secret, so ``secret`` changes nothing)."""
        if not isinstance(key, str) or not key:
            raise PlatformError(self.name, "cannot write a member with an empty name")
        if not isinstance(value, str):
            raise PlatformError(self.name, f"the value for {key!r} must be a string")
        await self.in_thread(self._write, ctx.env, key, value)

    def _write(self, env: Mapping[str, str], key: str, value: str) -> None:
        connection = self.connect(env)
        replaced, text = self._get(connection)
        if self._version is not None and replaced != self._version:
            raise PlatformError(self.name, f"conflict: {self.describe()} changed since Genesis read it (another "
                                           "version is AWSCURRENT now); nothing was written (run genesis sync again)")
        others = self._values(text)  # refuse to edit a secret this kind could not have read
        new_text = set_member(text, key, value)
        token = str(uuid.uuid4())
        answer = connection.call("PutSecretValue", target=self.describe(), iam_action=_WRITE_ACTION,
                                 sent=(value, *others.values()), SecretId=self.secret_id, SecretString=new_text,
                                 ClientRequestToken=token)
        written = answer.get("VersionId") if isinstance(answer, dict) else None
        if written != token:
            raise self.shape_error("PutSecretValue did not answer the version it created")
        self._check_replaced(connection, replaced, written, key)
        self._version = written

    def _check_replaced(self, connection: Connection, replaced: str, written: str, key: str) -> None:
        """Raise (after putting the other writer's version back) if ``replaced`` was not AWSCURRENT when we wrote."""
        stages = self._stages(connection)
        if "AWSPREVIOUS" in stages.get(replaced, ()):
            return
        other = next((version for version, labels in stages.items()
                      if "AWSPREVIOUS" in labels and version != written), None)
        if other is None or "AWSCURRENT" not in stages.get(written, ()):
            raise PlatformError(self.name, f"conflict: another writer changed {self.describe()} while {key} was "
                                           "being written; check its versions (aws secretsmanager "
                                           "list-secret-version-ids) and run genesis sync again")
        try:
            connection.call("UpdateSecretVersionStage", target=self.describe(),
                            iam_action="secretsmanager:UpdateSecretVersionStage", SecretId=self.secret_id,
                            VersionStage="AWSCURRENT", MoveToVersionId=other, RemoveFromVersionId=written)
        except PlatformError as exc:
            raise PlatformError(self.name, f"conflict: another writer changed {self.describe()} while {key} was "
                                           "being written, and putting their version back failed "
                                           f"({exc.reason}); check the secret's versions") from None
        raise PlatformError(self.name, f"conflict: another writer changed {self.describe()} while {key} was being "
                                       "written; their version is AWSCURRENT again and nothing of yours is current "
                                       "(run genesis sync again)")

    def _stages(self, connection: Connection) -> dict[str, tuple[str, ...]]:
        """Return ``{VersionId: stages}`` from ``DescribeSecret``."""
        answer = connection.call("DescribeSecret", target=self.describe(), iam_action="secretsmanager:DescribeSecret",
                                 SecretId=self.secret_id)
        stages = answer.get("VersionIdsToStages") if isinstance(answer, dict) else None
        if not isinstance(stages, dict):
            raise self.shape_error("DescribeSecret has no VersionIdsToStages")
        return {str(version): tuple(labels) for version, labels in stages.items() if isinstance(labels, list)}
