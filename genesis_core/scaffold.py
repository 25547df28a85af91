"""``genesis new-adapter NAME``: write a plugin distribution for a new platform adapter.

The distribution (``genesis-envsync-NAME/``) holds a pyproject with the ``genesis`` entry
point, a working adapter for a small HTTP API, an emulator of that API and a
test module that runs the adapter contract against it.  It installs with pip
and passes its own tests before the author changes a line.
"""

from __future__ import annotations

import argparse
import keyword
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .cli.commands import Command
from .errors import GenesisError

if TYPE_CHECKING:
    from .cli.context import CommandContext

__all__ = ["NEW_ADAPTER_COMMAND", "ScaffoldError", "scaffold_adapter", "validate_name"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_PACKAGE = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{[A-Za-z_]+\}\}")
MAX_NAME_LENGTH = 40
#: Every distribution is named this plus the adapter's name (``genesis-envsync-acme``).
DIST_PREFIX = "genesis-envsync-"
#: Names that belong to Genesis' own distributions, extras and kinds.
RESERVED_NAMES = frozenset({
    "core", "testing", "all", "dotenv", "local",
    "render", "netlify", "github", "vercel", "heroku", "fly", "railway", "aws", "aws-ssm",
    "aws-secrets-manager", "vault", "truth", "blueprint", "steward", "cascade", "autonomy", "nats",
})
#: Template file (under ``scaffold_templates/``) -> path in the distribution; ``package`` is replaced.
TEMPLATES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "{package}/__init__.py",
    "package/plugin.py.tmpl": "{package}/plugin.py",
    "package/adapter.py.tmpl": "{package}/adapter.py",
    "package/emulator.py.tmpl": "{package}/emulator.py",
    "tests/test_contract.py.tmpl": "tests/test_contract.py",
}


class ScaffoldError(GenesisError):
    """The adapter could not be scaffolded (bad name, existing directory...)."""


def validate_name(name: str) -> str:
    """Return ``name`` if it can be a platform kind and distribution name; raise ``ScaffoldError``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScaffoldError(f"invalid adapter name {name!r}: use lowercase letters and digits, "
                            "words joined by '-' or '_', starting with a letter (e.g. 'acme' or 'my-cloud')")
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"invalid adapter name {name!r}: at most {MAX_NAME_LENGTH} characters")
    if name in RESERVED_NAMES:
        raise ScaffoldError(f"adapter name {name!r} is taken by Genesis itself; choose another name")
    return name


def _check_package(package: str) -> str:
    if not _PACKAGE.match(package) or keyword.iskeyword(package):
        raise ScaffoldError(f"invalid package name {package!r}: use a lowercase Python identifier")
    return package


def _placeholders(name: str, package: str) -> dict[str, str]:
    from ._version import __version__

    words = re.split(r"[-_]", name)
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return {
        "{{kind}}": name,
        "{{dist}}": DIST_PREFIX + name,
        "{{package}}": package,
        "{{Class}}": "".join(word.capitalize() for word in words),
        "{{ENV}}": "_".join(word.upper() for word in words) + "_TOKEN",
        "{{core_version}}": f"{major}.{minor}",
        "{{core_next}}": f"{major}.{minor + 1}",
    }


def render_files(name: str, *, package: str | None = None) -> dict[str, str]:
    """Return ``{relative path: text}`` of the distribution for adapter ``name`` (nothing is written)."""
    validate_name(name)
    package = _check_package(package or "genesis_" + name.replace("-", "_"))
    values = _placeholders(name, package)
    root = resources.files("genesis_core").joinpath("scaffold_templates")
    files: dict[str, str] = {}
    for template, target in TEMPLATES.items():
        text = root.joinpath(template).read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        leftover = _PLACEHOLDER.search(text)
        if leftover:  # pragma: no cover - guards the templates themselves
            raise ScaffoldError(f"template {template} has an unknown placeholder {leftover.group()}")
        files[target.format(package=package)] = text
    return files


def scaffold_adapter(name: str, dest: Path, *, package: str | None = None) -> list[Path]:
    """Write ``dest/genesis-envsync-NAME/`` and return the paths of the files written."""
    files = render_files(name, package=package)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} is not a directory")
    root = dest / (DIST_PREFIX + name)
    if root.exists():
        raise ScaffoldError(f"{root} already exists; remove it or choose another --dest")
    written: list[Path] = []
    try:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {root}: {exc.strerror or exc}") from None
    return written


# -- the CLI command ---------------------------------------------------------------------

def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the platform kind, e.g. 'acme' (makes genesis-envsync-acme/)")
    parser.add_argument("--dest", type=Path, default=Path("."), metavar="DIR",
                        help="directory to create genesis-envsync-NAME/ in (default: the current directory)")
    parser.add_argument("--package", default=None, metavar="PACKAGE",
                        help="Python package name (default: genesis_NAME)")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        written = scaffold_adapter(args.name, args.dest, package=args.package)
    except GenesisError as exc:
        ctx.error(str(exc))
        return 2
    root = Path(args.dest) / (DIST_PREFIX + args.name)
    ctx.print(f"created {_shown(root)}/ with {len(written)} files:")
    for path in written:
        ctx.print(f"  {_shown(path)}")
    ctx.print("")
    ctx.print("next steps:")
    ctx.print(f"  cd {_shown(root)}")
    ctx.print("  pip install -e '.[testing]'")
    ctx.print("  pytest            # the adapter contract passes against the bundled emulator")
    ctx.print("  then change adapter.py and emulator.py to match the real API, keeping pytest green")
    ctx.print("  (see docs/writing-an-adapter.md)")
    return 0


NEW_ADAPTER_COMMAND = Command(
    name="new-adapter",
    help="create a plugin distribution for a new platform adapter",
    configure=_configure,
    run=_run,
)
