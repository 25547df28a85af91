"""The vault adapter against a real OpenBao dev server: reads, merge-patch writes, CAS, mounts, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from genesis_core.api import ConfigError, PlatformError
from genesis_core.testing import (
    FaultProxy,
    Request,
    Response,
    fetch_sync,
    free_port,
    write_sync,
)
from genesis_vault.adapter import VaultAdapter
from genesis_vault.testing import BaoServer, make_adapter, start_bao

CANARY = "vault-canary-value-7d1e"


class HookProxy(FaultProxy):
    """A recording proxy that can run ``before(request)`` before forwarding a request."""

    before: Callable[[Request], None] | None = None

    def forward(self, request: Request) -> Response:
        if self.before is not None:
            self.before(request)
        return super().forward(request)


@pytest.fixture
def proxy(bao: BaoServer) -> Iterator[HookProxy]:
    server = HookProxy(bao.url).start()
    try:
        yield server  # type: ignore[misc]
    finally:
        server.stop()


def adapter(proxy: FaultProxy, path: str, **table: Any) -> VaultAdapter:
    return make_adapter("vault", **{"address": proxy.base_url, "path": path, "timeout": 10.0, "retries": 1, **table})


def env(bao: BaoServer, **extra: str) -> dict[str, str]:
    return {"VAULT_TOKEN": bao.token, **extra}


def calls(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in proxy.requests]


def failure(run: Callable[[], Any]) -> str:
    with pytest.raises(PlatformError) as caught:
        run()
    text = str(caught.value)
    assert "\n" not in text
    return text


# -- reading -------------------------------------------------------------------------------------

def test_fetch_reads_data_data_all_secret(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"DATABASE_URL": "postgres://db", "API_KEY": CANARY})
    snapshot = fetch_sync(adapter(proxy, secret_path), env(bao))
    assert snapshot.values() == {"DATABASE_URL": "postgres://db", "API_KEY": CANARY}
    assert snapshot.secret_keys() == frozenset({"DATABASE_URL", "API_KEY"})
    assert calls(proxy) == [("GET", f"/v1/secret/data/{secret_path}")]
    headers = proxy.requests[0].headers
    assert headers["x-vault-token"] == bao.token
    assert "x-vault-namespace" not in headers and "authorization" not in headers


def test_vault_addr_is_used_when_the_table_has_no_address(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    target = make_adapter("vault", path=secret_path)
    assert fetch_sync(target, env(bao, VAULT_ADDR=proxy.base_url)).values() == {"A": "1"}
    assert target.resolve_address({}) == "https://127.0.0.1:8200"
    assert len(proxy.requests) == 1


def test_a_token_read_from_a_file_with_a_newline_works(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    assert fetch_sync(adapter(proxy, secret_path), {"VAULT_TOKEN": bao.token + "\n"}).values() == {"A": "1"}


def test_values_that_are_not_strings_are_an_error_naming_the_keys(bao: BaoServer, proxy: HookProxy,
                                                                   secret_path: str) -> None:
    bao.kv_put(secret_path, {"PORT": 5432, "DEBUG": True, "NESTED": {"a": "b"}, "OK": CANARY})
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path), env(bao)))
    assert text == (f"vault: vault secret secret/{secret_path}: every value must be a string: 'DEBUG' is a boolean, "
                    "'NESTED' is an object, 'PORT' is a number")
    assert CANARY not in text


def test_a_missing_secret_is_an_error_unless_allow_empty(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path), env(bao)))
    assert text == (f"vault: no secret at secret/{secret_path} (check path; set allow_empty = true to create it "
                    "with the first write)")
    assert fetch_sync(adapter(proxy, secret_path, allow_empty=True), env(bao)).values() == {}
    assert ("GET", f"/v1/sys/internal/ui/mounts/secret/{secret_path}") in calls(proxy)


def test_a_kv_version_1_mount_is_an_error_that_says_so(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.enable_kv("kv1-" + secret_path.rsplit("-", 1)[1], 1)
    mount = "kv1-" + secret_path.rsplit("-", 1)[1]
    bao.api("POST", f"{mount}/acme/prod", {"A": "1"})
    for allow_empty in (False, True):
        target = adapter(proxy, "acme/prod", mount=mount, allow_empty=allow_empty)
        text = failure(lambda: fetch_sync(target, env(bao)))  # noqa: B023 - called at once
        assert text == (f"vault: the mount {mount}/ is a KV version 1 engine; this kind reads KV version 2 "
                        f"(upgrade it: vault kv enable-versioning {mount})")
    with pytest.raises(PlatformError):
        write_sync(adapter(proxy, "acme/prod", mount=mount, allow_empty=True), env(bao), "B", "2")
    assert not [c for c in calls(proxy) if c[0] != "GET"]  # nothing was written to the v1 mount


def test_a_mount_that_is_not_kv_or_does_not_exist(bao: BaoServer, proxy: HookProxy) -> None:
    text = failure(lambda: fetch_sync(adapter(proxy, "acme/prod", mount="cubbyhole"), env(bao)))
    assert text == "vault: the mount cubbyhole/ is a cubbyhole secrets engine, not KV version 2 (check mount)"
    text = failure(lambda: fetch_sync(adapter(proxy, "acme/prod", mount="no-such-mount"), env(bao)))
    assert text in ("vault: no secrets engine is mounted at no-such-mount/ (check mount)",
                    "vault: no KV version 2 secret at no-such-mount/acme/prod: the secret or the mount does not "
                    "exist, or the token cannot see it (check mount and path)")


def test_a_deleted_current_version_is_an_error(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    bao.kv_put(secret_path, {"A": "2"})
    bao.api("DELETE", f"secret/data/{secret_path}")
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path, allow_empty=True), env(bao)))
    assert text == (f"vault: the current version (version 2) of vault secret secret/{secret_path} is deleted: "
                    "undelete it (vault kv undelete -versions=2) or write a new version")


def test_a_destroyed_current_version_is_an_error(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    bao.api("PUT", f"secret/destroy/{secret_path}", {"versions": [1]})
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path), env(bao)))
    assert text.startswith(f"vault: the current version (version 1) of vault secret secret/{secret_path} is "
                           "destroyed: its data is gone")


# -- writing -------------------------------------------------------------------------------------

def test_a_write_is_a_merge_patch_with_the_version_read(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"KEEP": "k", "CHANGE": "old"})
    bao.kv_put(secret_path, {"KEEP": "k", "CHANGE": "older"})
    target = adapter(proxy, secret_path)
    fetch_sync(target, env(bao))
    write_sync(target, env(bao), "CHANGE", CANARY)

    assert bao.kv_get(secret_path) == (3, {"KEEP": "k", "CHANGE": CANARY})
    assert bao.kv_get(secret_path, version=1)[1] == {"KEEP": "k", "CHANGE": "old"}  # the history is kept
    assert sorted(bao.kv_versions(secret_path)) == [1, 2, 3]
    patch = proxy.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", f"/v1/secret/data/{secret_path}")
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert patch.json() == {"data": {"CHANGE": CANARY}, "options": {"cas": 2}}


def test_consecutive_writes_follow_their_own_versions(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    target = adapter(proxy, secret_path)
    fetch_sync(target, env(bao))
    for key in ("B", "C", "D"):
        write_sync(target, env(bao), key, key.lower())
    assert bao.kv_get(secret_path) == (4, {"A": "1", "B": "b", "C": "c", "D": "d"})
    assert [r.json()["options"]["cas"] for r in proxy.requests if r.method == "PATCH"] == [1, 2, 3]


def test_a_write_without_a_fetch_reads_the_version_first(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    write_sync(adapter(proxy, secret_path), env(bao), "B", "2")
    assert calls(proxy) == [("GET", f"/v1/secret/data/{secret_path}"), ("PATCH", f"/v1/secret/data/{secret_path}")]
    assert bao.kv_get(secret_path) == (2, {"A": "1", "B": "2"})


def test_a_second_writer_between_read_and_write_is_a_conflict_not_retried(bao: BaoServer, proxy: HookProxy,
                                                                         secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1", "B": "1"})

    def second_client(request: Request) -> None:
        if request.method == "PATCH":
            proxy.before = None
            bao.kv_put(secret_path, {"A": "1", "B": "theirs"})

    proxy.before = second_client
    text = failure(lambda: write_sync(adapter(proxy, secret_path, retries=3), env(bao), "A", "ours"))
    assert text == (f"vault: conflict: vault secret secret/{secret_path} changed since Genesis read version 1; "
                    "nothing was written (run genesis sync again)")
    assert [c[0] for c in calls(proxy)] == ["GET", "PATCH"]  # one attempt: a CAS failure is not retried
    assert bao.kv_get(secret_path) == (2, {"A": "1", "B": "theirs"})


def test_a_write_after_someone_else_wrote_since_the_fetch_is_a_conflict(bao: BaoServer, proxy: HookProxy,
                                                                       secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    target = adapter(proxy, secret_path)
    fetch_sync(target, env(bao))
    bao.kv_put(secret_path, {"A": "someone"})
    assert "conflict" in failure(lambda: write_sync(target, env(bao), "A", "ours"))
    assert bao.kv_get(secret_path) == (2, {"A": "someone"})


def test_a_new_secret_is_created_with_cas_0(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    target = adapter(proxy, secret_path, allow_empty=True)
    assert fetch_sync(target, env(bao)).values() == {}
    write_sync(target, env(bao), "FIRST", "1")
    write_sync(target, env(bao), "SECOND", "2")
    assert bao.kv_get(secret_path) == (2, {"FIRST": "1", "SECOND": "2"})
    writes = [(r.method, r.json()) for r in proxy.requests if r.method != "GET"]
    assert writes == [("POST", {"data": {"FIRST": "1"}, "options": {"cas": 0}}),
                      ("PATCH", {"data": {"SECOND": "2"}, "options": {"cas": 1}})]


def test_a_secret_created_by_someone_else_meanwhile_is_a_conflict(bao: BaoServer, proxy: HookProxy,
                                                                  secret_path: str) -> None:
    target = adapter(proxy, secret_path, allow_empty=True)
    fetch_sync(target, env(bao))
    bao.kv_put(secret_path, {"THEIRS": "x"})
    text = failure(lambda: write_sync(target, env(bao), "OURS", "y"))
    assert "conflict: vault secret" in text and "was created by someone else" in text
    assert bao.kv_get(secret_path) == (1, {"THEIRS": "x"})


def test_a_secret_deleted_since_the_fetch_is_a_conflict(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    target = adapter(proxy, secret_path)
    fetch_sync(target, env(bao))
    bao.api("DELETE", f"secret/metadata/{secret_path}")
    assert "was deleted since Genesis read it" in failure(lambda: write_sync(target, env(bao), "A", "2"))


def test_only_reads_patches_and_creates_are_sent(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    target = adapter(proxy, secret_path, allow_empty=True)
    fetch_sync(target, env(bao))
    for i in range(3):
        write_sync(target, env(bao), f"K{i}", str(i))
    fetch_sync(target, env(bao))
    assert {method for method, _ in calls(proxy)} == {"GET", "POST", "PATCH"}
    assert {path for _, path in calls(proxy)} <= {f"/v1/secret/data/{secret_path}",
                                                  f"/v1/sys/internal/ui/mounts/secret/{secret_path}"}


# -- namespaces ----------------------------------------------------------------------------------

def test_a_namespace_from_the_table_or_vault_namespace(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    namespace = "team-" + secret_path.rsplit("-", 1)[1]
    bao.create_namespace(namespace)
    bao.enable_kv("secret", 2, namespace=namespace)
    bao.kv_put("acme/prod", {"IN_NAMESPACE": "yes"}, namespace=namespace)
    bao.kv_put("acme/prod", {"IN_ROOT": "yes"})
    assert fetch_sync(adapter(proxy, "acme/prod", namespace=namespace), env(bao)).values() == {"IN_NAMESPACE": "yes"}
    assert fetch_sync(adapter(proxy, "acme/prod"), env(bao, VAULT_NAMESPACE=namespace)).values() == {
        "IN_NAMESPACE": "yes"}
    assert fetch_sync(adapter(proxy, "acme/prod"), env(bao)).values() == {"IN_ROOT": "yes"}
    write_sync(adapter(proxy, "acme/prod", namespace=namespace), env(bao), "ADDED", "1")
    assert bao.kv_get("acme/prod", namespace=namespace)[1] == {"IN_NAMESPACE": "yes", "ADDED": "1"}
    assert [r.headers.get("x-vault-namespace") for r in proxy.requests] == [namespace, namespace, None,
                                                                           namespace, namespace]


def test_an_unknown_namespace_is_an_error(bao: BaoServer, proxy: HookProxy) -> None:
    text = failure(lambda: fetch_sync(adapter(proxy, "acme/prod", namespace="nope"), env(bao)))
    assert text == "vault: namespace 'nope' not found (check namespace or VAULT_NAMESPACE)"


# -- tokens and policies -------------------------------------------------------------------------

def test_a_bad_token_is_a_403_naming_the_variable(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path), {"VAULT_TOKEN": "s.not-a-real-token-canary"}))
    assert text == (f"vault: permission denied (HTTP 403): the token in VAULT_TOKEN is invalid or expired, or its "
                    f"policies do not allow read on secret/data/{secret_path}")
    assert "not-a-real-token-canary" not in text
    assert len(proxy.requests) == 1


def test_no_token_is_an_error_before_any_request(proxy: HookProxy, secret_path: str) -> None:
    text = failure(lambda: fetch_sync(adapter(proxy, secret_path), {}))
    assert text == "vault: no credentials: set the environment variable VAULT_TOKEN"
    assert proxy.requests == []


def test_a_read_only_policy_cannot_patch(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    bao.kv_put(secret_path, {"A": "1"})
    token = bao.token_for(f'path "secret/data/{secret_path}" {{ capabilities = ["read"] }}', name="read-only")
    target = adapter(proxy, secret_path)
    assert fetch_sync(target, {"VAULT_TOKEN": token}).values() == {"A": "1"}
    text = failure(lambda: write_sync(target, {"VAULT_TOKEN": token}, "A", CANARY))
    assert text.endswith(f"its policies do not allow patch on secret/data/{secret_path}")
    assert CANARY not in text
    assert bao.kv_get(secret_path) == (1, {"A": "1"})


def test_the_documented_policy_is_enough(bao: BaoServer, proxy: HookProxy, secret_path: str) -> None:
    token = bao.token_for(f'path "secret/data/{secret_path}" {{ capabilities = ["read", "create", "patch"] }}',
                          name="genesis-documented")
    target = adapter(proxy, secret_path, allow_empty=True)
    assert fetch_sync(target, {"VAULT_TOKEN": token}).values() == {}  # the mount preflight needs no policy
    write_sync(target, {"VAULT_TOKEN": token}, "A", "1")
    write_sync(target, {"VAULT_TOKEN": token}, "B", "2")
    assert fetch_sync(target, {"VAULT_TOKEN": token}).values() == {"A": "1", "B": "2"}


# -- server states -------------------------------------------------------------------------------

def test_a_sealed_server_is_an_error_that_says_so(waits: list[float], secret_path: str) -> None:
    server = start_bao()
    try:
        server.kv_put(secret_path, {"A": "1"})
        target = make_adapter("vault", address=server.url, path=secret_path, retries=1)
        assert fetch_sync(target, {"VAULT_TOKEN": server.token}).values() == {"A": "1"}
        server.seal()
        text = failure(lambda: fetch_sync(target, {"VAULT_TOKEN": server.token}))
        assert text == f"vault: Vault at {server.url} is sealed: unseal it (vault operator unseal) and run again"
        assert "sealed" in failure(lambda: write_sync(target, {"VAULT_TOKEN": server.token}, "A", "2"))
    finally:
        server.stop()


def test_an_unreachable_server_is_an_error(waits: list[float]) -> None:
    target = make_adapter("vault", address=f"http://127.0.0.1:{free_port()}", path="acme/prod", retries=1)
    text = failure(lambda: fetch_sync(target, {"VAULT_TOKEN": "t"}))
    assert "could not connect to 127.0.0.1:" in text
    assert waits and len(waits) == 1


def test_tls_with_ca_cert_or_vault_cacert(tmp_path: Any, secret_path: str) -> None:
    server = start_bao(tls=True)
    try:
        server.kv_put(secret_path, {"A": "1"})
        token = {"VAULT_TOKEN": server.token}
        with_table = make_adapter("vault", address=server.url, path=secret_path, ca_cert=str(server.ca_cert))
        assert fetch_sync(with_table, token).values() == {"A": "1"}
        write_sync(with_table, token, "B", "2")
        from_env = make_adapter("vault", address=server.url, path=secret_path)
        assert fetch_sync(from_env, {**token, "VAULT_CACERT": str(server.ca_cert)}).values() == {"A": "1", "B": "2"}
        untrusted = make_adapter("vault", address=server.url, path=secret_path, retries=0)
        text = failure(lambda: fetch_sync(untrusted, token))
        assert "the TLS certificate of 127.0.0.1 is not trusted (certificate verify failed)" in text
        (tmp_path / "not-a-ca.pem").write_text("not a certificate")
        text = failure(lambda: fetch_sync(from_env, {**token, "VAULT_CACERT": str(tmp_path / "not-a-ca.pem")}))
        assert text == ("vault: cannot load the CA certificate(s) from VAULT_CACERT (check the file exists and "
                        "holds PEM certificates)")
    finally:
        server.stop()


def test_a_custom_ca_client_is_made_once_per_session_and_closed_with_it(secret_path: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch and two writes on one context share one client trusting the CA; closing the context closes it."""
    import asyncio

    import httpx

    from genesis_core.api import FetchContext

    made: list[httpx.AsyncClient] = []

    class Counted(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    server = start_bao(tls=True)
    try:
        server.kv_put(secret_path, {"A": "1"})
        target = make_adapter("vault", address=server.url, path=secret_path, ca_cert=str(server.ca_cert))
        monkeypatch.setattr(httpx, "AsyncClient", Counted)

        async def session() -> dict[str, str]:
            ctx = FetchContext(env={"VAULT_TOKEN": server.token})
            try:
                await target.fetch(ctx)
                await target.write(ctx, "B", "2", secret=True)
                await target.write(ctx, "C", "3", secret=True)
                assert len(made) == 1 and not made[0].is_closed
                return (await target.fetch(ctx)).values()
            finally:
                await ctx.aclose()

        assert asyncio.run(session()) == {"A": "1", "B": "2", "C": "3"}
        assert len(made) == 1 and made[0].is_closed
    finally:
        server.stop()


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "message"), [
    ({}, "platforms.vault.path"),
    ({"path": "acme/../prod"}, "platforms.vault.path: expected a path like acme/prod"),
    ({"path": "acme prod"}, "platforms.vault.path"),
    ({"path": "a", "mount": "se?cret"}, "platforms.vault.mount"),
    ({"path": "a", "address": "vault:8200"}, "platforms.vault.address: expected an http(s) URL"),
    ({"path": "a", "address": "http://a", "base_url": "http://b"}, "set address only"),
    ({"path": "a", "namespace": "bad namespace"}, "platforms.vault.namespace"),
    ({"path": "a", "ca_cert": "/no/such/ca.pem"}, "platforms.vault.ca_cert: no such file"),
    ({"path": "a", "token_env": "hvs.CAESIJlU9Jfj2nKv3x"}, "platforms.vault.token_env"),
    ({"path": "a", "pth": "typo"}, "platforms.vault.pth: unknown key"),
])
def test_bad_tables_are_config_errors(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_adapter("vault", **table)
    assert message in str(caught.value)


def test_describe_and_repr_show_no_token() -> None:
    target = make_adapter("vault", path="acme/prod", namespace="team-a")
    assert target.describe() == "vault secret secret/acme/prod in namespace team-a"
    assert "token" not in repr(target).lower()
