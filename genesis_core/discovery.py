"""Find the ``genesis`` entry points, from a cache while nothing installed has changed.

``importlib.metadata`` reads the metadata of every installed distribution and
imports ``email``, ``zipfile`` and ``csv`` to do it: most of the start-up time of
every ``genesis`` command.  What it finds for the ``genesis`` group (name, value,
distribution, version) is kept in ``<cache dir>/entry-points-<key>.json``, stamped
with the modification times of every ``sys.path`` entry and of every installed
distribution's metadata directory and ``entry_points.txt`` (not only the plugins':
a distribution can gain a ``[genesis]`` section in place).  Installing, removing,
upgrading or editing a distribution changes a stamp, so the next run discovers again.

Each plugin distribution's requirement on the core (``Requires-Dist:
genesis-envsync>=X.Y,<X.Y+1``) is judged against this core's plugin API when
discovery runs (``apiversion.py``, with ``packaging``), and the verdict is cached
too, keyed by the core's version: a warm start reads it without parsing anything.

Only discovery is cached: every plugin is still imported and registered one by
one on every run, so a broken plugin is always reported.  The cache is an
optimisation and never an error: a missing, unreadable, corrupt, foreign or
stale file means discovery runs; a cache that cannot be written is left alone.
``GENESIS_NO_PLUGIN_CACHE=1`` turns it off; ``GENESIS_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import time
import zlib

import attrs

from ._markers import ENTRY_POINT_GROUP
from ._version import __version__

CACHE_DIR_ENV = "GENESIS_CACHE_DIR"
NO_CACHE_ENV = "GENESIS_NO_PLUGIN_CACHE"
#: Bumped when the file's layout changes; a file of another format is a miss.
CACHE_FORMAT = 2
#: A stamp younger than this may hide a change made in the same clock tick (coarse
#: file-system timestamps), so discovery that sees one is not cached.
SETTLE_SECONDS = 2.0

Stamp = tuple[str, int, int]  # path, st_mtime_ns, st_size (-1, -1 when it does not exist)


@attrs.frozen
class FoundEntryPoint:
    """One ``genesis`` entry point: its name, ``module[:attribute]`` value and distribution.

    ``requires`` is the distribution's requirement on the core (``""`` when it has none);
    ``api_error`` says why it is built for another plugin API (``None`` when it is not).
    """

    name: str
    value: str
    distribution: str
    version: str
    requires: str = ""
    api_error: str | None = None

    def load(self) -> object:
        """Import the module the value names and return the object it points at."""
        return load_value(self.value)


def load_value(value: str) -> object:
    """Return the object an entry-point value (``module``, ``module:attr.sub``, extras ignored) names."""
    import importlib

    target = value.split("[", 1)[0].strip()
    module, colon, attribute = (part.strip() for part in target.partition(":"))
    if not all(part.isidentifier() for part in module.split(".")) or (
            colon and not all(part.isidentifier() for part in attribute.split("."))):
        raise ValueError(f"malformed entry point value {value!r} (expected 'module:attribute')")
    found: object = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        found = getattr(found, part)
    return found


def cache_dir(environ: dict[str, str] | None = None) -> str:
    """Return the directory the cache lives in (``$GENESIS_CACHE_DIR``, else the user's cache dir)."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_ENV):
        return env[CACHE_DIR_ENV]
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return os.path.join(env["LOCALAPPDATA"], "genesis", "cache")
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "genesis")


def cache_path(group: str = ENTRY_POINT_GROUP, directory: str | None = None) -> str:
    """Return the cache file for this interpreter, this ``sys.path`` and ``group``."""
    key = "\0".join([str(CACHE_FORMAT), sys.executable, group, *sys.path])
    name = f"entry-points-{zlib.crc32(key.encode('utf-8', 'surrogateescape')):08x}.json"
    return os.path.join(directory if directory is not None else cache_dir(), name)


def _stamp(path: str) -> Stamp:
    try:
        st = os.stat(path or ".")
    except OSError:
        return (path, -1, -1)
    return (path, st.st_mtime_ns, st.st_size)


def _path_stamps() -> list[Stamp]:
    return [_stamp(entry) for entry in sys.path]


def find_entry_points(group: str = ENTRY_POINT_GROUP, *, use_cache: bool | None = None
                      ) -> list[FoundEntryPoint]:
    """Return the installed entry points of ``group`` sorted by name, from the cache when it is current."""
    if use_cache is None:
        use_cache = not os.environ.get(NO_CACHE_ENV)
    if not use_cache or not all(isinstance(entry, str) for entry in sys.path):
        return _discover(group)[0]  # a Path or bytes entry on sys.path cannot be keyed: scan
    path = cache_path(group)
    cached = _read(path, group)
    if cached is not None:
        return cached
    found, stamps = _discover(group)
    newest = max((mtime for _, mtime, _ in stamps), default=0)
    if newest < time.time_ns() - int(SETTLE_SECONDS * 1e9):
        _write(path, group, found, stamps)
    return found


def _discover(group: str) -> tuple[list[FoundEntryPoint], list[Stamp]]:
    """Return the group's entry points read through ``importlib.metadata``, and what they depend on."""
    from importlib.metadata import distributions, entry_points

    stamps = _path_stamps()  # taken first: a change made while scanning makes the result stale
    for dist in distributions():
        where = getattr(dist, "_path", None)  # PathDistribution's metadata directory
        if where is not None:
            stamps += [_stamp(str(where)), _stamp(os.path.join(str(where), "entry_points.txt"))]
    found = []
    for ep in entry_points(group=group):
        owner = getattr(ep, "dist", None)
        if owner is None:
            found.append(FoundEntryPoint(ep.name, ep.value, "?", ""))
            continue
        from .apiversion import core_requirement, incompatibility

        requires = core_requirement(owner.requires) or ""
        found.append(FoundEntryPoint(ep.name, ep.value, owner.name, owner.version, requires,
                                     incompatibility(requires, owner.name, owner.version)))
    found.sort(key=lambda e: e.name)
    return found, stamps


def _read(path: str, group: str) -> list[FoundEntryPoint] | None:
    """Return the cached entry points, or ``None`` when the file is missing, foreign, corrupt or stale."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with open(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o022:
                return None  # not a plain file, or others may change it: it names modules to import
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                return None  # only trust a file this user wrote
            data = json.loads(handle.read())
        if (data["format"] != CACHE_FORMAT or data["group"] != group or data["core"] != __version__
                or data["executable"] != sys.executable or data["path"] != sys.path):
            return None
        for stamp_path, mtime, size in data["stamps"]:
            if _stamp(stamp_path) != (stamp_path, mtime, size):
                return None
        return [FoundEntryPoint(str(e["name"]), str(e["value"]), str(e["distribution"]), str(e["version"]),
                                str(e["requires"]), None if e["api_error"] is None else str(e["api_error"]))
                for e in data["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _write(path: str, group: str, found: list[FoundEntryPoint], stamps: list[Stamp]) -> None:
    """Store ``found`` atomically, readable by this user only; a cache that cannot be written is not used."""
    import tempfile

    data = {"format": CACHE_FORMAT, "group": group, "core": __version__, "executable": sys.executable,
            "path": sys.path,
            "stamps": stamps, "entry_points": [attrs.asdict(e) for e in found]}
    directory = os.path.dirname(path)
    temporary = None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".entry-points-", suffix=".tmp")
        with open(fd, "w", encoding="utf-8") as handle:  # mkstemp: O_EXCL, mode 0600
            json.dump(data, handle)
        os.replace(temporary, path)
    except (OSError, TypeError, ValueError):
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
