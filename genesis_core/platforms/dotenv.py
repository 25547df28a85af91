"""The built-in ``dotenv`` platform: one or more local ``.env`` files.

``paths`` are read in order and later files override earlier ones, as
``.env`` then ``.env.local`` usually do.  ``dialect`` chooses whose reading
rules apply (python-dotenv by default, Node ``dotenv``, dotenvx, Docker
Compose: see :mod:`genesis_core.platforms.dotenv_dialects`).  A line the
dialect cannot read is an error naming the file, line and dialect, never a
skipped key, and never the line's text.  Writes change one line and use the
most portable quoting (:mod:`~genesis_core.platforms.dotenv_dialects.writer`).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from ..errors import KeyRefused, ParseError, PlatformError
from ..files import DOTENV_LIMIT, FileProblem, read_bytes
from .dotenv_dialects import DIALECTS, Context, Dialect, DialectError, Entry, Reading
from .dotenv_dialects.edit import EditError, set_key
from .dotenv_dialects.writer import Refused, Target, encode
from .http_adapter import COMMON_KEYS
from .model import FetchContext, InstanceConfig, PlatformAdapter, Snapshot, Variable

log = logging.getLogger(__name__)

DOTENV_KEYS = frozenset({"path", "paths", "optional", "write_to", "dialect", "expand", "expand_from_environment"})
#: What a variable name Genesis writes may look like (POSIX names, plus ``.`` and ``-``).
DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
#: The readers every write is checked against, with the expansion each applies by default.
EVERY_READER = tuple(Target(d, d.expands_by_default) for d in DIALECTS.values())


class RefusedValue(KeyRefused):
    """A value the file cannot hold so that its readers read it back unchanged; other keys can be written."""


def read_text(path: Path) -> str:
    """Return the file's text exactly (UTF-8, line endings untouched).

    Raises ``FileProblem`` (missing, not a regular file, over ``DOTENV_LIMIT``) or ``UnicodeDecodeError``.
    """
    return read_bytes(path, limit=DOTENV_LIMIT, what=".env file").decode("utf-8")


def _problem(exc: FileProblem) -> str:
    """Return what to say about a ``.env`` file that could not be read (after its name)."""
    return "file not found" if exc.missing else exc.reason


def parse_dotenv(path: Path, display: str | None = None, dialect: str = "python") -> dict[str, str | None]:
    """Return ``{key: value}`` from one ``.env`` file read with ``dialect``; raise ``ParseError`` on a bad line."""
    chosen = DIALECTS[dialect]
    try:
        reading = chosen.read(read_text(path), expand=chosen.expands_by_default, context=Context())
    except DialectError as exc:
        raise ParseError(f"{display or path}", exc.line, f"{exc.message} (dialect {chosen.name})") from None
    return reading.values()


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
        self.dialect: Dialect = DIALECTS[table.choice("dialect", tuple(DIALECTS), "python")]
        self.expand: bool = table.bool("expand", self.dialect.expands_by_default)
        if self.expand != self.dialect.expands_by_default and not self.dialect.expansion_optional:
            always = "always" if self.dialect.expands_by_default else "never"
            raise table.error("expand", f"the {self.dialect.name} dialect {always} expands variables, "
                                        f"as {self.dialect.title} does")
        self.expand_from_environment: bool = table.bool("expand_from_environment", False)
        if self.expand_from_environment and not self.expand:
            raise table.error("expand_from_environment", f"has no effect: the {self.dialect.name} dialect "
                                                         "does not expand variables here (see expand)")

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self._base))
        except ValueError:
            return str(path)

    def _environ(self, env: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if not self.expand_from_environment:
            return None
        return dict(os.environ if env is None else env)

    def _read_file(self, path: Path, text: str, context: Context) -> Reading:
        """Return the file's reading; raise ``PlatformError`` naming file, line and dialect."""
        shown = self._display(path)
        try:
            reading = self.dialect.read(text, expand=self.expand, context=context)
        except DialectError as exc:
            raise PlatformError(self.name, f"{shown}:{exc.line} (dialect {self.dialect.name}): {exc.message}") from None
        return reading

    def _warn(self, path: Path, reading: Reading) -> None:
        """Log what the reader does silently: duplicate keys, skipped lines, unset references."""
        shown = self._display(path)
        first_line: dict[str, int] = {}
        for entry in reading.entries:
            if entry.key in first_line:
                log.warning("%s: %s: %s is set on line %d and again on line %d; the last one wins (as in every "
                            "reader)", self.name, shown, entry.key, first_line[entry.key], entry.line)
            first_line[entry.key] = entry.line
        for line in reading.ignored_lines:
            log.warning("%s: %s:%d (dialect %s): %s ignores this line (no KEY=VALUE it can read), and so does "
                        "Genesis", self.name, shown, line, self.dialect.name, self.dialect.title)
        for note in reading.notes:
            log.warning("%s: %s:%d (dialect %s): %s", self.name, shown, note.line, self.dialect.name, note.message)

    def _files(self, env: Mapping[str, str] | None) -> list[tuple[Path, Reading]]:
        """Return each existing path with its reading, in order (expansion sees earlier files)."""
        environ = self._environ(env)
        merged: dict[str, str] = {}
        readings: list[tuple[Path, Reading]] = []
        for path in self.paths:
            shown = self._display(path)
            try:
                text = read_text(path)
            except FileProblem as exc:
                if exc.missing and self.optional:
                    continue
                raise PlatformError(self.name, f"{shown}: {_problem(exc)}") from None
            except UnicodeDecodeError as exc:
                raise PlatformError(self.name, f"{shown}: cannot read ({type(exc).__name__})") from None
            reading = self._read_file(path, text, Context(dict(merged), environ))
            readings.append((path, reading))
            merged.update({k: v for k, v in reading.values().items() if v is not None})
        return readings

    def read(self, env: Mapping[str, str] | None = None) -> Snapshot:
        """Return the merged variables of every path (synchronously); ``None`` values are unreadable.

        A value built by expansion carries its :class:`~.model.Expansion` (names only), and is
        marked secret when it was built from a secret (:mod:`.expansion`).
        """
        from .expansion import carried_secrets, expansion_of

        files = self._files(env)
        merged: dict[str, Entry] = {}
        for path, reading in files:
            self._warn(path, reading)
            merged.update({entry.key: entry for entry in reading.entries})
        carried = carried_secrets((reading for _, reading in files), self._environ(env))
        return Snapshot(self.name, self.kind, {
            key: Variable(key, entry.value, secret=entry.value is None or key in carried,
                          expansion=expansion_of(entry))
            for key, entry in merged.items()})

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        """Return the merged variables of every path."""
        import asyncio

        return await asyncio.to_thread(self.read, ctx.env)

    def _targets(self) -> list[Target]:
        """Return the readers a write must satisfy: this dialect and python-dotenv."""
        targets = [Target(self.dialect, self.expand)]
        if self.dialect.name != "python":
            targets.append(Target(DIALECTS["python"], False))
        return targets

    def _context_for(self, path: Path, env: Mapping[str, str] | None) -> Context:
        """Return what expansion in ``path`` sees: the files before it in ``paths``."""
        earlier: dict[str, str] = {}
        if path in self.paths:
            for other, reading in self._files(env):
                if other == path:
                    break
                earlier.update({k: v for k, v in reading.values().items() if v is not None})
        return Context(earlier, self._environ(env))

    def _new_text(self, key: str, value: str, env: Mapping[str, str] | None) -> tuple[str, bool]:
        """Return the file's new text and whether ``path`` existed; raise ``PlatformError`` if it cannot be set."""
        shown = self._display(self.write_path)
        try:
            text = read_text(self.write_path)
            existed = True
        except FileProblem as exc:
            if not exc.missing:
                raise PlatformError(self.name, f"{shown}: {_problem(exc)}") from None
            text, existed = "", False
        except UnicodeDecodeError as exc:
            raise PlatformError(self.name, f"{shown}: cannot read ({type(exc).__name__})") from None
        context = self._context_for(self.write_path, env)
        reading = self._read_file(self.write_path, text, context)
        try:
            encoded = encode(key, value, self._targets(), EVERY_READER)
            new_text = set_key(text, self.dialect, reading, key, encoded.text)
        except (Refused, EditError) as exc:
            raise RefusedValue(self.name, f"{shown}: {exc}") from None
        after = self._read_file(self.write_path, new_text, context).values()
        before = reading.values()
        if after.get(key) != value or set(after) != set(before) | {key}:
            raise RefusedValue(self.name, f"{shown}: refusing to write {key}: the file would not read back "
                                           f"as intended (dialect {self.dialect.name}; nothing was written)")
        others = sorted(set(DIALECTS) - encoded.readers)
        if others:
            log.warning("%s: %s: %s is written in a form %s read differently (the %s dialect and python-dotenv "
                        "read it as intended)", self.name, shown, key,
                        " and ".join(DIALECTS[name].title for name in others), self.dialect.name)
        return new_text, existed

    def write_now(self, key: str, value: str, env: Mapping[str, str] | None = None) -> None:
        """Set one key in ``write_to`` (synchronously), rewriting only that key's line."""
        if not DOTENV_KEY.fullmatch(key):
            raise PlatformError(self.name, "refusing to write an invalid variable name (not shown)")
        if "\x00" in value:
            raise RefusedValue(self.name, f"{self._display(self.write_path)}: refusing to write {key}: the value "
                                          "holds a NUL character, which no environment variable can")
        new_text, existed = self._new_text(key, value, env)
        try:
            data = new_text.encode("utf-8")
        except UnicodeEncodeError:
            raise RefusedValue(self.name, f"{self._display(self.write_path)}: refusing to write {key}: the value "
                                          "is not valid Unicode") from None
        try:
            _replace_file(self.write_path, data, existed)
        except OSError as exc:
            raise PlatformError(self.name, f"{self._display(self.write_path)}: cannot write "
                                           f"({type(exc).__name__})") from None

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        """Set one key in ``write_to`` (default: the last path), rewriting only that key's line."""
        import asyncio

        await asyncio.to_thread(self.write_now, key, value, ctx.env)

    def write_scope(self) -> str:
        """Return ``file:<real path of write_to>``: instances writing one file are written one after the other."""
        return f"file:{os.path.realpath(self.write_path)}"

    def describe(self) -> str:
        """Return the files this instance reads, and the dialect unless it is the default."""
        files = ", ".join(self._display(p) for p in self.paths)
        return files if self.dialect.name == "python" else f"{files} ({self.dialect.name} dialect)"


def _replace_file(path: Path, data: bytes, existed: bool) -> None:
    """Write ``data`` next to ``path`` and rename it over ``path``, keeping a regular file's permissions."""
    mode: int | None = None
    if existed:
        import stat

        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None
    handle, temporary = tempfile.mkstemp(prefix=".tmp_", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
