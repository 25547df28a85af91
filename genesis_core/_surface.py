"""The plugin API's surface as text: every name of ``genesis_core.api`` and ``genesis_core.testing``
with its signature, one line each (a class's public members indented under it).

``docs/api-surface.txt`` holds the surface of the current ``API_VERSION``;
``tests/test_api.py`` fails when the code and the file differ, so a change to
what plugins may use is always deliberate.  Regenerate the file with::

    python -m genesis_core._surface --write

which refuses to record a different surface under the same ``API_VERSION`` unless
``--same-version`` says the version has not been released yet.
"""

from __future__ import annotations

import argparse
import enum
import functools
import importlib
import inspect
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODULES = ("genesis_core.api", "genesis_core.testing")
SURFACE_FILE = Path(__file__).resolve().parent.parent / "docs" / "api-surface.txt"
HEADER = "# genesis_core plugin API {version}"


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _signature(obj: Callable[..., Any]) -> str:
    """Return ``obj``'s signature as text, without the memory address of a sentinel default."""
    try:
        return _ADDRESS.sub("", str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(...)"


def _function(name: str, func: Callable[..., Any], indent: str = "") -> list[str]:
    prefix = "async def" if inspect.iscoroutinefunction(func) else "def"
    overloads = typing.get_overloads(func)
    if overloads:
        return [f"{indent}@overload {prefix} {name}{_signature(o)}" for o in overloads]
    return [f"{indent}{prefix} {name}{_signature(func)}"]


def _value(value: object) -> str:
    if isinstance(value, (str, int, float, bool, type(None))):
        return repr(value)
    if isinstance(value, (frozenset, set)):
        return f"{type(value).__name__}({sorted(map(repr, value))})"
    if isinstance(value, tuple) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return repr(value)
    if isinstance(value, dict):
        return f"dict(keys={sorted(map(str, value))})"
    if isinstance(value, tuple):
        return f"tuple(len={len(value)})"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _members(cls: type) -> list[str]:
    """Return the public members the class defines or inherits from ``genesis_core`` classes, by name."""
    found: dict[str, list[str]] = {}
    annotations: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(getattr(klass, "__annotations__", {}))
    for klass in cls.__mro__:
        if not klass.__module__.startswith("genesis_core"):
            continue
        for name, member in vars(klass).items():
            if name in found or name.startswith("_"):
                continue
            if isinstance(member, (property, functools.cached_property)):
                getter = member.fget if isinstance(member, property) else member.func
                ret = inspect.signature(getter).return_annotation if getter else "?"
                found[name] = [f"    property {name} -> {ret}"]
            elif isinstance(member, (classmethod, staticmethod)):
                kind = "classmethod" if isinstance(member, classmethod) else "staticmethod"
                found[name] = [f"    @{kind} {line}" for line in _function(name, member.__func__)]
            elif inspect.isfunction(member):
                found[name] = _function(name, member, "    ")
            elif name in annotations:
                found[name] = [f"    {name}: {annotations[name]}"]
            elif not callable(member):
                found[name] = [f"    {name} = {_value(member)}"]
    for name, annotation in annotations.items():  # fields without a class-level value (attrs, NamedTuple)
        if name not in found and not name.startswith("_"):
            found[name] = [f"    {name}: {annotation}"]
    return [line for name in sorted(found) for line in found[name]]


def describe(name: str, value: object) -> list[str]:
    """Return the surface lines of one exported name."""
    if inspect.isclass(value):
        bases = [b.__name__ for b in value.__bases__ if b is not object]
        kind = "enum" if issubclass(value, enum.Enum) else "class"
        based = f" [{', '.join(bases)}]" if bases else ""
        return [f"{kind} {name}{_signature(value)}{based}", *_members(value)]
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return _function(name, value)
    if callable(value) and type(value).__module__.startswith("pluggy"):
        return [f"{name}: <{type(value).__module__}.{type(value).__qualname__}>"]
    if callable(value) and hasattr(value, "__wrapped__"):  # functools.lru_cache and friends
        return _function(name, value.__wrapped__)
    return [f"{name} = {_value(value)}"]


def surface() -> list[str]:
    """Return the surface of every module in ``MODULES``, one section each."""
    lines: list[str] = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        lines.append(f"[{module_name}] {len(module.__all__)} names")
        for name in module.__all__:
            lines += describe(name, getattr(module, name))
    return lines


def render(version: str) -> str:
    """Return the text of ``docs/api-surface.txt`` for ``version``."""
    return "\n".join([HEADER.format(version=version), *surface()]) + "\n"


def recorded(path: Path | None = None) -> tuple[str, list[str]]:
    """Return ``(API version, surface lines)`` as the checked-in file (``SURFACE_FILE``) records them."""
    path = SURFACE_FILE if path is None else path
    first, *rest = path.read_text(encoding="utf-8").splitlines()
    prefix = HEADER.format(version="")
    if not first.startswith(prefix):
        raise ValueError(f"{path}: the first line must be {HEADER!r}")
    return first[len(prefix):].strip(), rest


def main(argv: list[str] | None = None) -> int:
    """Print the surface, or ``--write`` it to ``docs/api-surface.txt``; return the exit code."""
    from ._version import API_VERSION

    parser = argparse.ArgumentParser(prog="python -m genesis_core._surface", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write docs/api-surface.txt")
    parser.add_argument("--same-version", action="store_true",
                        help="record a changed surface under the same API_VERSION (only before it is released)")
    args = parser.parse_args(argv)
    text = render(API_VERSION)
    if not args.write:
        sys.stdout.write(text)
        return 0
    if SURFACE_FILE.exists():
        version, lines = recorded()
        if version == API_VERSION and lines != text.splitlines()[1:] and not args.same_version:
            sys.stderr.write(f"the plugin API changed but API_VERSION is still {API_VERSION}: bump it (the core's "
                             "minor version) or pass --same-version if it is unreleased\n")
            return 1
    SURFACE_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
