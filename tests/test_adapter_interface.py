"""What every ``PlatformAdapter`` gets from the base class: the ``genesis doctor`` methods and their defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from genesis_core.api import CredentialCheck, FetchContext, InstanceConfig, PlatformAdapter, Snapshot, Table
from genesis_core.testing.example_adapter import ExampleAdapter

CANARY = "tok-canary-5e1f0a"


class _Plain(PlatformAdapter):
    kind: ClassVar[str] = "plain"
    credential_env: ClassVar[str | None] = "PLAIN_TOKEN"

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        return Snapshot.from_values(self.name, self.kind, {})


class _Local(_Plain):
    credential_env: ClassVar[str | None] = None


def _instance(kind: str, **table: Any) -> InstanceConfig:
    return InstanceConfig(name="one", kind=kind, table=Table({"kind": kind, **table}, "genesis.toml", "platforms.one"),
                          base_dir=Path.cwd())


def _check(adapter: PlatformAdapter, env: dict[str, str]) -> CredentialCheck | None:
    return asyncio.run(adapter.check_credentials(FetchContext(env=env)))


def test_default_credential_check_says_whether_the_variable_is_set_and_never_its_value() -> None:
    adapter = _Plain(_instance("plain"))
    assert adapter.credential_name == "PLAIN_TOKEN"
    missing = _check(adapter, {})
    assert missing == CredentialCheck(False, "credential PLAIN_TOKEN is not set",
                                      "export PLAIN_TOKEN=... (a token with read access; write access for "
                                      "`genesis heal`)")
    found = _check(adapter, {"PLAIN_TOKEN": CANARY})
    assert found == CredentialCheck(True, "credential PLAIN_TOKEN is set", "")
    assert CANARY not in repr(found) and found == adapter.check_credential_variable({"PLAIN_TOKEN": CANARY})


def test_an_adapter_without_a_credential_has_nothing_to_check_and_no_hint() -> None:
    adapter = _Local(_instance("plain"))
    assert adapter.credential_name is None
    assert _check(adapter, {}) is None and adapter.check_credential_variable({}) is None
    assert adapter.doctor_hint() is None


def test_an_http_adapter_checks_the_variable_its_table_names() -> None:
    adapter = ExampleAdapter(_instance("example", project="p", token_env="OTHER_TOKEN"))
    assert adapter.credential_name == "OTHER_TOKEN"
    check = _check(adapter, {"EXAMPLE_TOKEN": CANARY})
    assert check is not None and not check.ok and "OTHER_TOKEN" in check.detail


def test_a_credential_check_is_a_frozen_typed_value() -> None:
    check = CredentialCheck(True, "found")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        check.ok = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        CredentialCheck("yes", "found")  # type: ignore[arg-type]


def test_the_default_write_scope_is_the_instance() -> None:
    assert _Plain(_instance("plain")).write_scope() == "instance:one"


def test_dotenv_instances_writing_one_file_share_a_write_scope(tmp_path: Path) -> None:
    from genesis_core.platforms.dotenv import DotenvAdapter

    (tmp_path / "sub").mkdir()
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "link.env").symlink_to(tmp_path / ".env")

    def dotenv(name: str, **table: Any) -> DotenvAdapter:
        return DotenvAdapter(InstanceConfig(name=name, kind="dotenv", table=Table({"kind": "dotenv", **table}),
                                            base_dir=tmp_path))

    scope = dotenv("a").write_scope()
    assert scope == f"file:{(tmp_path / '.env').resolve()}"
    assert dotenv("b", path="sub/../.env").write_scope() == scope
    assert dotenv("c", paths=["base.env", "link.env"]).write_scope() == scope  # the last path, through the link
    assert dotenv("d", write_to=".env").write_scope() == scope
    assert dotenv("e", path=".env.local").write_scope() != scope
