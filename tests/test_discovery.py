"""Entry-point discovery: the cache serves unchanged installs and never hides an install, removal or edit."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from genesis_core import discovery
from genesis_core.discovery import FoundEntryPoint, cache_dir, cache_path, find_entry_points, load_value
from genesis_core.plugins import build_plugin_host

GOOD = """
from genesis_core import hookimpl

@hookimpl
def genesis_register_platforms(register):
    from genesis_core.platforms.dotenv import DotenvAdapter
    from genesis_core.platforms.model import PlatformKind
    register(PlatformKind(name="cachedkind", factory=DotenvAdapter, description="test"))
"""


def settle(site: Path) -> None:
    """Date everything under ``site`` (and ``site`` itself) a minute back, as an install long done."""
    then = time.time_ns() - 60 * 10**9
    for path in [site, *site.rglob("*")]:
        os.utime(path, ns=(then, then))


def names(found: list[FoundEntryPoint]) -> dict[str, str]:
    return {ep.name: ep.value for ep in found}


@pytest.fixture(autouse=True)
def _no_settle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the cache be written even when an unrelated sys.path entry changed moments ago.

    The test fakes are dated back with ``settle``; the settle rule has its own test.
    """
    monkeypatch.setattr(discovery, "SETTLE_SECONDS", 0.0)


def warm(site: Path) -> list[FoundEntryPoint]:
    """Date ``site`` back, discover, and check the cache was written; return what was found."""
    settle(site)
    found = find_entry_points()
    assert Path(cache_path()).is_file(), "the cache was not written, so this test would test nothing"
    return found


@pytest.fixture
def no_discovery(monkeypatch: pytest.MonkeyPatch):
    """Return a function that makes ``importlib.metadata.entry_points`` fail, proving the cache answered."""
    def forbid() -> None:
        def refuse(**_kwargs: object) -> None:
            raise AssertionError("importlib.metadata was scanned although the cache is current")

        monkeypatch.setattr(importlib.metadata, "entry_points", refuse)

    return forbid


def test_an_unchanged_install_is_served_from_the_cache(fake_dist, no_discovery) -> None:
    site = fake_dist("genesis-cached", {"cached": "cached_mod"}, {"cached_mod": GOOD}, version="1.2")
    settle(site)
    first = find_entry_points()
    assert Path(cache_path()).is_file()
    assert FoundEntryPoint("cached", "cached_mod", "genesis-cached", "1.2") in first
    no_discovery()
    assert find_entry_points() == first


def test_the_cached_plugins_are_still_loaded_and_registered(fake_dist, no_discovery) -> None:
    site = fake_dist("genesis-cached", {"cached": "cached_mod", "kaput": "kaput_mod"},
                     {"cached_mod": GOOD, "kaput_mod": "raise ImportError('kaput')"})
    settle(site)
    build_plugin_host()
    no_discovery()
    host = build_plugin_host()
    infos = {i.name: i for i in host.plugin_infos()}
    assert "cachedkind" in host.platform_kinds()
    assert infos["cached"].distribution == "genesis-cached" and not infos["cached"].broken
    assert infos["kaput"].broken and "ImportError: kaput" in (infos["kaput"].error or "")


def test_installing_a_distribution_is_seen_on_the_next_run(fake_dist) -> None:
    site = fake_dist("genesis-one", {"one": "one_mod"}, {"one_mod": GOOD})
    assert "two" not in names(warm(site))
    fake_dist("genesis-two", {"two": "two_mod"}, {"two_mod": GOOD})
    assert names(find_entry_points())["two"] == "two_mod"


def test_removing_a_distribution_is_seen_on_the_next_run(fake_dist) -> None:
    site = fake_dist("genesis-gone", {"gone": "gone_mod"}, {"gone_mod": GOOD})
    assert "gone" in names(warm(site))
    shutil.rmtree(site / "genesis_gone-0.1.dist-info")
    assert "gone" not in names(find_entry_points())


def test_an_entry_point_edited_in_place_is_seen_on_the_next_run(fake_dist) -> None:
    site = fake_dist("genesis-edit", {"edit": "old_mod"}, {"old_mod": GOOD})
    assert names(warm(site))["edit"] == "old_mod"
    (site / "genesis_edit-0.1.dist-info" / "entry_points.txt").write_text("[genesis]\nedit = new_mod\n")
    assert names(find_entry_points())["edit"] == "new_mod"


def test_a_distribution_that_gains_a_genesis_entry_point_in_place_is_seen(fake_dist) -> None:
    # e.g. `setup.py develop` rewriting an egg-info: nothing that was a plugin changed
    site = fake_dist("genesis-later", {"later": "later_mod"}, {"later_mod": GOOD})
    info = site / "genesis_later-0.1.dist-info"
    (info / "entry_points.txt").write_text("[console_scripts]\nlater = later_mod:main\n")
    assert "later" not in names(warm(site))
    (info / "entry_points.txt").write_text("[console_scripts]\nlater = later_mod:main\n[genesis]\nlater = later_mod\n")
    assert names(find_entry_points())["later"] == "later_mod"


def test_a_distribution_that_gains_an_entry_points_file_is_seen(fake_dist) -> None:
    site = fake_dist("genesis-bare", {"bare": "bare_mod"}, {"bare_mod": GOOD})
    info = site / "genesis_bare-0.1.dist-info"
    (info / "entry_points.txt").unlink()
    assert "bare" not in names(warm(site))
    (info / "entry_points.txt").write_text("[genesis]\nbare = bare_mod\n")
    assert names(find_entry_points())["bare"] == "bare_mod"


def test_a_path_object_on_sys_path_is_scanned_not_cached(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    site = fake_dist("genesis-p", {"p": "p_mod"}, {"p_mod": GOOD})
    settle(site)
    monkeypatch.setattr(sys, "path", [*sys.path, Path("/nonexistent/genesis-test")])
    assert "p" in names(find_entry_points())
    assert not Path(cache_dir()).exists() or not list(Path(cache_dir()).iterdir())
    assert "p" in {i.name for i in build_plugin_host().plugin_infos()}


def test_the_cache_file_is_private_to_its_user(fake_dist) -> None:
    site = fake_dist("genesis-m", {"m": "m_mod"}, {"m_mod": GOOD})
    warm(site)
    assert os.stat(cache_path()).st_mode & 0o777 == 0o600
    assert [p.name for p in Path(cache_dir()).iterdir()] == [Path(cache_path()).name]  # no temporary left


@pytest.mark.parametrize("tamper", ["group-writable", "symlink", "deeply nested"])
def test_a_cache_file_others_could_change_is_not_trusted(fake_dist, tamper: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    site = fake_dist("genesis-t", {"t": "t_mod"}, {"t_mod": GOOD})
    warm(site)
    path = Path(cache_path())
    data = json.loads(path.read_text())
    data["entry_points"] = [{"name": "t", "value": "planted_mod", "distribution": "x", "version": "9"}]
    if tamper == "group-writable":
        path.write_text(json.dumps(data))
        path.chmod(0o620)
    elif tamper == "symlink":
        elsewhere = path.with_name("elsewhere.json")
        elsewhere.write_text(json.dumps(data))
        elsewhere.chmod(0o600)
        path.unlink()
        path.symlink_to(elsewhere)
    else:
        path.write_text("[" * 100_000 + "]" * 100_000)
        path.chmod(0o600)
    scans = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    assert names(find_entry_points())["t"] == "t_mod"
    assert scans == [{"group": "genesis"}]


def test_metadata_changed_within_the_settle_time_is_not_cached(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "SETTLE_SECONDS", 2.0)
    fake_dist("genesis-fresh", {"fresh": "fresh_mod"}, {"fresh_mod": GOOD})
    assert "fresh" in names(find_entry_points())
    assert not Path(cache_path()).exists()


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"format": 1}', b"\xff\xfe"])
def test_a_corrupt_cache_file_means_discovery(fake_dist, content: bytes) -> None:
    site = fake_dist("genesis-c", {"c": "c_mod"}, {"c_mod": GOOD})
    settle(site)
    path = Path(cache_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert names(find_entry_points())["c"] == "c_mod"
    assert b'"c_mod"' in path.read_bytes()  # rewritten whole


@pytest.mark.parametrize("damage", [
    lambda d: d.update(stamps=[["only-a-path"]]),
    lambda d: d.update(stamps="not a list"),
    lambda d: d.update(entry_points=[["c", "c_mod"]]),
    lambda d: d.update(entry_points=[{"name": "c"}]),
    lambda d: d.update(format=2),
    lambda d: d.update(group="other"),
    lambda d: d.update(path=["/elsewhere"]),
    lambda d: d.update(executable="/other/python"),
])
def test_a_cache_file_of_the_wrong_shape_means_discovery(fake_dist, damage) -> None:
    import json

    site = fake_dist("genesis-c", {"c": "c_mod"}, {"c_mod": GOOD})
    settle(site)
    find_entry_points()
    path = Path(cache_path())
    data = json.loads(path.read_text())
    data["entry_points"] = [{"name": "c", "value": "planted_mod", "distribution": "x", "version": "9"}]
    damage(data)
    path.write_text(json.dumps(data))
    assert names(find_entry_points())["c"] == "c_mod"


def test_a_cache_file_of_another_user_is_not_trusted(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    site = fake_dist("genesis-u", {"u": "u_mod"}, {"u_mod": GOOD})
    settle(site)
    find_entry_points()
    scans = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    monkeypatch.setattr(os, "getuid", lambda: os.stat(cache_path()).st_uid + 1)
    assert "u" in names(find_entry_points())
    assert scans == [{"group": "genesis"}]


def test_a_cache_that_cannot_be_written_is_not_an_error(fake_dist, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    site = fake_dist("genesis-w", {"w": "w_mod"}, {"w_mod": GOOD})
    settle(site)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GENESIS_CACHE_DIR", str(blocker / "cache"))
    assert "w" in names(find_entry_points())
    assert not (blocker / "cache").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_cache_can_be_turned_off(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    site = fake_dist("genesis-off", {"off": "off_mod"}, {"off_mod": GOOD})
    settle(site)
    monkeypatch.setenv("GENESIS_NO_PLUGIN_CACHE", "1")
    assert "off" in names(find_entry_points())
    assert not Path(cache_path()).exists()


def test_the_cache_is_keyed_by_sys_path(fake_dist, monkeypatch: pytest.MonkeyPatch) -> None:
    site = fake_dist("genesis-k", {"k": "k_mod"}, {"k_mod": GOOD})
    settle(site)
    before = cache_path()
    find_entry_points()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(site)])
    assert cache_path() != before
    assert "k" not in names(find_entry_points())


def test_the_cache_directory_follows_the_environment(tmp_path: Path) -> None:
    assert cache_dir({"GENESIS_CACHE_DIR": "/x/genesis", "XDG_CACHE_HOME": "/y"}) == "/x/genesis"
    if os.name != "nt":
        assert cache_dir({"XDG_CACHE_HOME": "/y"}) == os.path.join("/y", "genesis")
        assert cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "genesis")
    assert Path(cache_path(directory=str(tmp_path))).parent == tmp_path


def test_the_cache_file_holds_no_more_than_discovery_found(fake_dist) -> None:
    import json

    site = fake_dist("genesis-j", {"j": "j_mod:thing"}, {"j_mod": "thing = 1"})
    settle(site)
    find_entry_points()
    data = json.loads(Path(cache_path()).read_text())
    assert set(data) == {"format", "group", "core", "executable", "path", "stamps", "entry_points"}
    assert {"name": "j", "value": "j_mod:thing", "distribution": "genesis-j", "version": "0.1", "requires": "",
            "api_error": None} in data["entry_points"]
    stamped = {stamp[0] for stamp in data["stamps"]}
    assert str(site) in stamped
    assert str(site / "genesis_j-0.1.dist-info" / "entry_points.txt") in stamped


@pytest.mark.parametrize(("value", "expected"), [
    ("os.path", os.path),
    ("os.path:join", os.path.join),
    ("os:path.join", os.path.join),
    ("os.path : join", os.path.join),
    ("os.path:join [extra1, extra2]", os.path.join),
])
def test_entry_point_values_load_like_importlib_metadata(value: str, expected: object) -> None:
    assert load_value(value) is expected
    assert importlib.metadata.EntryPoint("x", value, "genesis").load() is expected


@pytest.mark.parametrize("value", ["", ":join", "os:", "os.:x", "1os:x", "os:path.", "os path"])
def test_a_malformed_entry_point_value_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="malformed entry point value"):
        load_value(value)



def test_the_cached_api_verdict_is_kept_for_one_core_version_only(fake_dist, monkeypatch: pytest.MonkeyPatch,
                                                                   no_discovery) -> None:
    site = fake_dist("genesis-envsync-later", {"later": "later_mod"}, {"later_mod": "x = 1"}, version="0.2.0",
                     requires=("genesis-envsync>=0.2,<0.3",))
    [found] = [ep for ep in warm(site) if ep.name == "later"]
    assert found.requires == "genesis-envsync>=0.2,<0.3" and "built for plugin API 0.2" in found.api_error
    no_discovery()
    [cached] = [ep for ep in find_entry_points() if ep.name == "later"]
    assert cached == found  # the verdict came from the cache
    monkeypatch.setattr(discovery, "__version__", "0.2.0")  # the same install under another core release
    assert discovery._read(cache_path(), "genesis") is None
