"""The built-in ``dotenv`` platform: one or more local ``.env`` files.

``paths`` are read in order and later files override earlier ones, as
``.env`` then ``.env.local`` usually do.  Parsing is python-dotenv's; a line
it cannot parse is an error naming the file and line, never a skipped key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from ..errors import ParseError, PlatformError
from .http_adapter import COMMON_KEYS
from .model import FetchContext, InstanceConfig, PlatformAdapter, Snapshot, Variable

DOTENV_KEYS = frozenset({"path", "paths", "optional", "write_to"})
#: What a variable name in a ``.env`` file may look like (POSIX names, plus ``.`` and ``-``).
DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def parse_dotenv(path: Path, display: str | None = None) -> dict[str, str]:
    """Return ``{key: value}`` from one ``.env`` file; raise ``ParseError`` on a bad line."""
    from dotenv.parser import parse_stream

    shown = display or str(path)
    values: dict[str, str] = {}
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.error:
                raise ParseError(shown, binding.original.line,
                                 "cannot parse this line (expected KEY=VALUE, a comment or a blank line)")
            if binding.key is None:
                continue
            # A line without "=" (python-dotenv reads it as a bare key) is usually a pasted value,
            # so the line is never echoed back.
            if binding.value is None or "=" not in binding.original.string:
                raise ParseError(shown, binding.original.line, "expected KEY=VALUE (the line has no '=')")
            if not DOTENV_KEY.fullmatch(binding.key):
                raise ParseError(shown, binding.original.line,
                                 "invalid variable name (use letters, digits and _ . -, not starting with a digit)")
            values[binding.key] = binding.value
    return values


class DotenvAdapter(PlatformAdapter):
    """Variables from local ``.env`` files (later paths override earlier ones)."""

    kind: ClassVar[str] = "dotenv"
    supports_write: ClassVar[bool] = True

    def __init__(self, instance: InstanceConfig) -> None:
        super().__init__(instance)
        table = instance.table
        table.check_known(COMMON_KEYS | DOTENV_KEYS)
        if "path" in table and "paths" in table:
            raise table.error("path", "give either path or paths, not both")
        if "paths" in table:
            raw = table.str_list("paths")
            if not raw:
                raise table.error("paths", "must list at least one file")
        else:
            raw = (table.str("path", ".env"),)
        self.paths: tuple[Path, ...] = tuple(instance.base_dir / Path(p).expanduser() for p in raw)
        self.optional: bool = table.bool("optional", False)
        write_to = table.str("write_to", None)
        self.write_path: Path = (instance.base_dir / Path(write_to).expanduser()) if write_to else self.paths[-1]
        self._base = instance.base_dir

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self._base))
        except ValueError:
            return str(path)

    def read(self) -> Snapshot:
        """Return the merged variables of every path (synchronously)."""
        merged: dict[str, str] = {}
        for path in self.paths:
            shown = self._display(path)
            if not path.is_file():
                if self.optional:
                    continue
                raise PlatformError(self.name, f"{shown}: file not found")
            try:
                merged.update(parse_dotenv(path, shown))
            except ParseError as exc:
                raise PlatformError(self.name, str(exc)) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise PlatformError(self.name, f"{shown}: cannot read ({type(exc).__name__})") from None
        return Snapshot(self.name, self.kind,
                        {key: Variable(key, value) for key, value in merged.items()})

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the merged variables of every path."""
        import asyncio

        return await asyncio.to_thread(self.read)

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Set one key in ``write_to`` (default: the last path), rewriting only that line."""
        from dotenv import set_key

        if not DOTENV_KEY.fullmatch(key):
            raise PlatformError(self.name, "refusing to write an invalid variable name (not shown)")

        def _write() -> None:
            try:
                set_key(self.write_path, key, value, quote_mode="always")
            except OSError as exc:
                raise PlatformError(self.name, f"{self._display(self.write_path)}: cannot write "
                                               f"({type(exc).__name__})") from None

        import asyncio

        await asyncio.to_thread(_write)

    def describe(self) -> str:
        """Return the files this instance reads."""
        return ", ".join(self._display(p) for p in self.paths)
