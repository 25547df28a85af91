#!/usr/bin/env python3
"""Keep every distribution of this repository in lockstep, and check a release before it is published.

    python scripts/release.py show               # each distribution, its directory and version
    python scripts/release.py bump 0.2.0         # every __version__, and the >=X.Y,<X.Y+1 pins
    python scripts/release.py check [--tag v0.2.0]
    python scripts/release.py dists dist/        # one wheel and one sdist of each, nothing else

The core (``genesis-envsync``, this directory) and every plugin (``plugins/genesis-envsync-<name>``)
share one version. Each distribution's version lives in one module (``[tool.hatch.version] path``);
plugins, the core's ``all`` extra and the docs pin the core's minor release (``>=X.Y,<X.Y+1``: the
plugin API version). Only the standard library is used, so this runs before anything is installed.
RELEASING.md describes the whole procedure.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = "genesis-envsync"
VERSION = re.compile(r'^__version__ = "(?P<version>\d+\.\d+\.\d+)"$', re.M)
#: The core's plugin API version (its minor release), next to its ``__version__``.
API_VERSION = re.compile(r'^API_VERSION = "(?P<api>\d+\.\d+)"$', re.M)
#: The first line of the plugin API's surface list, which names the API version it records.
SURFACE = "docs/api-surface.txt"
SURFACE_HEADER = re.compile(r"^# genesis_core plugin API (?P<api>\d+\.\d+)$", re.M)
#: A requirement with a minor-release range, e.g. genesis-envsync[testing]>=0.1,<0.2 (NAME is filled in).
PIN = r"(?P<name>(?:NAME)(?:\[[\w,-]+\])?)>=\d+\.\d+,<\d+\.\d+"
#: Where pins are written besides the pyproject files (docs and the example workflow).
PINNED_TEXT = ("README.md", "docs/**/*.md", "plugins/*/README.md", "examples/**/*.yml")


@dataclass(frozen=True)
class Distribution:
    """One distribution: its name, its directory and the module holding its ``__version__``."""

    name: str
    directory: Path
    version_file: Path

    @property
    def version(self) -> str:
        """Return the ``__version__`` in its version file."""
        found = VERSION.search(self.version_file.read_text(encoding="utf-8"))
        if found is None:
            raise SystemExit(f"{self.version_file}: no line __version__ = \"X.Y.Z\"")
        return found["version"]


def distributions(root: Path = ROOT) -> list[Distribution]:
    """Return the core, then every plugin under ``plugins/`` in name order."""
    found = []
    for directory in [root, *sorted(p for p in (root / "plugins").iterdir() if (p / "pyproject.toml").is_file())]:
        pyproject = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8"))
        version_path = pyproject["tool"]["hatch"]["version"]["path"]
        found.append(Distribution(pyproject["project"]["name"], directory, directory / version_path))
    return found


def minor_range(version: str) -> str:
    """Return ``>=X.Y,<X.Y+1`` for ``X.Y.Z``."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 1}"


def _pin_pattern(root: Path) -> re.Pattern[str]:
    """Return the pattern of a pinned requirement on one of this repository's distributions."""
    names = sorted((re.escape(d.name) for d in distributions(root)), key=len, reverse=True)
    return re.compile(r"(?<![\w-])" + PIN.replace("NAME", "|".join(names)) + r"(?![\w-])")


def _pinned_files(root: Path) -> list[Path]:
    files = [d.directory / "pyproject.toml" for d in distributions(root)]
    for pattern in PINNED_TEXT:
        files += sorted(root.glob(pattern))
    return [f for f in dict.fromkeys(files) if f.is_file()]


def check(root: Path = ROOT, tag: str | None = None) -> list[str]:
    """Return every way the repository is not in lockstep (an empty list when it is)."""
    dists = distributions(root)
    core = next(d for d in dists if d.name == CORE)
    version = core.version
    problems = [f"{d.version_file.relative_to(root)}: {d.name} is {d.version}, the core is {version}"
                for d in dists if d.version != version]
    if tag is not None and tag != f"v{version}":
        problems.append(f"tag {tag} does not match version {version} (expected v{version})")
    api = ".".join(version.split(".")[:2])
    found = API_VERSION.search(core.version_file.read_text(encoding="utf-8"))
    if found is None or found["api"] != api:
        problems.append(f"{core.version_file.relative_to(root)}: API_VERSION is "
                        f"{found['api'] if found else 'missing'}, expected {api} (the core's minor release)")
    surface = root / SURFACE
    header = SURFACE_HEADER.search(surface.read_text(encoding="utf-8")) if surface.is_file() else None
    if header is None or header["api"] != api:
        problems.append(f"{SURFACE}: records plugin API {header['api'] if header else '(none)'}, expected {api} "
                        "(python -m genesis_core._surface --write)")
    wanted = minor_range(version)
    pin = _pin_pattern(root)
    for path in _pinned_files(root):
        for match in pin.finditer(path.read_text(encoding="utf-8")):
            if match.group()[len(match["name"]):] != wanted:
                problems.append(f"{path.relative_to(root)}: {match.group()} (expected {match['name']}{wanted})")
    core_pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    extra = sorted(core_pyproject["project"]["optional-dependencies"].get("all", []))
    expected = sorted(f"{d.name}{wanted}" for d in dists if d.name != CORE)
    if extra != expected:
        problems.append(f"pyproject.toml: the all extra is {extra}, expected {expected}")
    for dist in dists:
        if dist.name == CORE:
            continue
        deps = tomllib.loads((dist.directory / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
        if f"{CORE}{wanted}" not in deps:
            problems.append(f"{dist.name}: depends on {[d for d in deps if d.startswith(CORE)]}, "
                            f"expected {CORE}{wanted}")
    return problems


def bump(new: str, root: Path = ROOT) -> list[Path]:
    """Set every distribution to ``new`` and move every minor-range pin with it; return the files changed."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", new):
        raise SystemExit(f"version must be X.Y.Z, got {new!r}")
    changed = []
    api = ".".join(new.split(".")[:2])
    for dist in distributions(root):
        text = dist.version_file.read_text(encoding="utf-8")
        updated = VERSION.sub(f'__version__ = "{new}"', text, count=1)
        updated = API_VERSION.sub(f'API_VERSION = "{api}"', updated, count=1)
        if updated != text:
            dist.version_file.write_text(updated, encoding="utf-8")
            changed.append(dist.version_file)
    surface = root / SURFACE
    if surface.is_file():  # the surface is unchanged; it now belongs to the new API version
        text = surface.read_text(encoding="utf-8")
        updated = SURFACE_HEADER.sub(f"# genesis_core plugin API {api}", text, count=1)
        if updated != text:
            surface.write_text(updated, encoding="utf-8")
            changed.append(surface)
    wanted = minor_range(new)
    pin = _pin_pattern(root)
    for path in _pinned_files(root):
        text = path.read_text(encoding="utf-8")
        updated = pin.sub(lambda m: f"{m['name']}{wanted}", text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return list(dict.fromkeys(changed))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def check_dists(directory: Path, root: Path = ROOT) -> list[str]:
    """Return what is wrong with a directory of built files (one wheel and one sdist of each, at the version)."""
    version = next(d for d in distributions(root) if d.name == CORE).version
    expected = {f"{_normalise(d.name)}-{version}{suffix}" for d in distributions(root)
                for suffix in ("-py3-none-any.whl", ".tar.gz")}
    found = {path.name for path in directory.iterdir() if path.is_file()}
    return ([f"missing: {name}" for name in sorted(expected - found)]
            + [f"unexpected: {name}" for name in sorted(found - expected)])


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 problems found, 2 usage)."""
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("show", help="list each distribution, its directory and version")
    bump_parser = sub.add_parser("bump", help="set every distribution's version and move the pins with it")
    bump_parser.add_argument("version", help="the new version, X.Y.Z")
    check_parser = sub.add_parser("check", help="check that every version and pin is in lockstep")
    check_parser.add_argument("--tag", help="the release tag, which must be v<version>")
    dists_parser = sub.add_parser("dists", help="check a directory of built wheels and sdists")
    dists_parser.add_argument("directory", type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.action == "show":
        for dist in distributions(root):
            print(f"{dist.name:<28} {str(dist.directory.relative_to(root)):<36} {dist.version}")
        return 0
    if args.action == "bump":
        for path in bump(args.version, root):
            print(f"updated {path.relative_to(root)}")
        problems = check(root)
    elif args.action == "check":
        problems = check(root, args.tag)
    else:
        problems = check_dists(args.directory, root)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
