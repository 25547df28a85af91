"""Find, parse and validate ``genesis.toml`` (or ``[tool.genesis]`` in ``pyproject.toml``).

Every error names the file, the dotted key and what was expected.  Each
plugin reads its own table through :class:`Table`, which keeps that promise
for plugin code too.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import attrs

from .errors import ConfigError

CONFIG_NAMES = ("genesis.toml", "pyproject.toml")
#: ``[engines.NAME] required = true/false``: read by the core, never passed to the engine (``Config.engine``).
ENGINE_REQUIRED_KEY = "required"
T = TypeVar("T")
_MISSING: Any = object()


def _type_name(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


@attrs.frozen
class Table(Mapping[str, Any]):
    """A read-only TOML table that knows its file and dotted path, for error messages.

    Its methods ``str``, ``int``, ``float`` and ``bool`` shadow the built-in names inside the
    class body, so its annotations spell ``builtins.str`` and so on.
    """

    data: Mapping[builtins.str, Any]
    file: builtins.str = "<defaults>"
    path: builtins.str = ""

    def __getitem__(self, key: builtins.str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[builtins.str]:
        return iter(self.data)

    def __len__(self) -> builtins.int:
        return len(self.data)

    def key_path(self, key: builtins.str) -> builtins.str:
        """Return the dotted path of ``key`` inside this table."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: builtins.str, message: builtins.str) -> ConfigError:
        """Return a ``ConfigError`` naming this file and ``key``."""
        return ConfigError(message, file=self.file, key=self.key_path(key))

    def _get(self, key: builtins.str, types: tuple[type, ...], expected: builtins.str, default: Any) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, f"is required ({expected})")
            return default
        value = self.data[key]
        if isinstance(value, builtins.bool) and bool not in types:
            raise self.error(key, f"expected {expected}, got {_type_name(value)}")
        if not isinstance(value, types):
            raise self.error(key, f"expected {expected}, got {_type_name(value)}")
        return value

    # The accessors are named after the types they return, so inside this class the
    # builtin types are spelled ``builtins.str`` etc. (``str`` here is the method).
    @overload
    def str(self, key: builtins.str) -> builtins.str: ...
    @overload
    def str(self, key: builtins.str, default: T) -> builtins.str | T: ...

    def str(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """Return a string value (required and non-empty unless ``default`` is given)."""
        value = self._get(key, (builtins.str,), "a string", default)
        if isinstance(value, builtins.str) and not value.strip() and default is _MISSING:
            raise self.error(key, "must not be empty")
        return value

    @overload
    def int(self, key: builtins.str, *, minimum: builtins.int | None = None,
            maximum: builtins.int | None = None) -> builtins.int: ...
    @overload
    def int(self, key: builtins.str, default: T, *, minimum: builtins.int | None = None,
            maximum: builtins.int | None = None) -> builtins.int | T: ...

    def int(self, key: builtins.str, default: Any = _MISSING, *, minimum: builtins.int | None = None,
            maximum: builtins.int | None = None) -> Any:
        """Return an integer value, optionally bounded below and above."""
        value = self._get(key, (builtins.int,), "an integer", default)
        if isinstance(value, builtins.int):
            self._check_range(key, value, minimum, maximum)
        return value

    @overload
    def float(self, key: builtins.str, *, minimum: builtins.float | None = None,
              maximum: builtins.float | None = None) -> builtins.float: ...
    @overload
    def float(self, key: builtins.str, default: T, *, minimum: builtins.float | None = None,
              maximum: builtins.float | None = None) -> builtins.float | T: ...

    def float(self, key: builtins.str, default: Any = _MISSING, *, minimum: builtins.float | None = None,
              maximum: builtins.float | None = None) -> Any:
        """Return a number as float (an integer default too), optionally bounded below and above."""
        value = self._get(key, (builtins.int, builtins.float), "a number", default)
        if value is not None and not isinstance(value, builtins.bool):
            try:
                value = builtins.float(value)
            except OverflowError:  # an integer beyond any float
                raise self.error(key, f"must be at most {maximum}" if maximum is not None
                                 else "expected a finite number") from None
            if value != value or value in (builtins.float("inf"), builtins.float("-inf")):
                raise self.error(key, "expected a finite number")
            self._check_range(key, value, minimum, maximum)
        return value

    def _check_range(self, key: builtins.str, value: builtins.float, minimum: builtins.float | None,
                     maximum: builtins.float | None) -> None:
        shown = value if len(builtins.str(value)) <= 24 else "a larger number"
        if minimum is not None and value < minimum:
            shown = shown if value > -1e24 else "a smaller number"
            raise self.error(key, f"must be at least {minimum}, got {shown}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {shown}")

    @overload
    def bool(self, key: builtins.str) -> builtins.bool: ...
    @overload
    def bool(self, key: builtins.str, default: T) -> builtins.bool | T: ...

    def bool(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """Return ``true``/``false``."""
        return self._get(key, (builtins.bool,), "true or false", default)

    @overload
    def str_list(self, key: builtins.str) -> tuple[builtins.str, ...]: ...
    @overload
    def str_list(self, key: builtins.str, default: T) -> tuple[builtins.str, ...] | T: ...

    def str_list(self, key: builtins.str, default: Any = _MISSING) -> Any:
        """Return a list of strings as a tuple; a single string is accepted as a one-item list."""
        value = self._get(key, (list, builtins.str), "a list of strings", default)
        if isinstance(value, builtins.str):
            return (value,)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, builtins.str):
                    raise self.error(f"{key}[{i}]", f"expected a string, got {_type_name(item)}")
            return tuple(value)
        return value

    @overload
    def choice(self, key: builtins.str, choices: tuple[builtins.str, ...]) -> builtins.str: ...
    @overload
    def choice(self, key: builtins.str, choices: tuple[builtins.str, ...], default: T) -> builtins.str | T: ...

    def choice(self, key: builtins.str, choices: tuple[builtins.str, ...], default: Any = _MISSING) -> Any:
        """Return a string that must be one of ``choices``."""
        value = self.str(key, default)
        if value is not default and value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def table(self, key: builtins.str) -> Table:
        """Return a sub-table (empty when absent)."""
        value = self._get(key, (dict,), "a table", {})
        return Table(value, self.file, self.key_path(key))

    def check_known(self, known: set[builtins.str] | frozenset[builtins.str] | tuple[builtins.str, ...]) -> None:
        """Raise ``ConfigError`` for any key not in ``known`` (typos fail loudly)."""
        for key in self.data:
            if key not in known:
                hint = ", ".join(sorted(known)) or "none"
                raise self.error(key, f"unknown key (known keys: {hint})")


@attrs.frozen
class Config:
    """The whole parsed configuration and where it came from."""

    root: Table
    source: Path | None
    project_dir: Path

    def section(self, name: str) -> Table:
        """Return the top-level table ``name`` (empty when absent)."""
        return self.root.table(name)

    def platforms(self) -> dict[str, Table]:
        """Return ``{instance_name: table}`` for every ``[platforms.NAME]``."""
        section = self.section("platforms")
        return {name: section.table(name) for name in section}

    def engine(self, name: str) -> Table:
        """Return ``[engines.NAME]`` (empty when absent).

        ``required = true/false`` is the core's switch (see ``engine_required``)
        and is left out; any other ``required`` (Blueprint's list of keys) stays.
        """
        table = self.section("engines").table(name)
        if isinstance(table.get(ENGINE_REQUIRED_KEY), bool):
            return Table({k: v for k, v in table.items() if k != ENGINE_REQUIRED_KEY}, table.file, table.path)
        return table

    def engine_enabled(self, name: str, default: bool) -> bool:
        """Return ``[engines.NAME] enabled`` (``default`` when absent)."""
        return self.section("engines").table(name).bool("enabled", default)

    def engine_required(self, name: str, default: bool) -> bool:
        """Return ``[engines.NAME] required`` when it is true or false, else ``default``.

        A ``required`` that is not a bool belongs to the engine, which checks it.
        """
        value = self.section("engines").table(name).get(ENGINE_REQUIRED_KEY)
        return value if isinstance(value, bool) else default

    @property
    def state_dir(self) -> Path:
        """Return the state directory: ``$GENESIS_HOME``, ``[bus] state_dir`` or ``.genesis/``."""
        home = home_state_dir()
        if home is not None:
            return home
        configured = self.section("bus").str("state_dir", None)
        if configured:
            return (self.project_dir / Path(configured).expanduser()).resolve()
        return (self.project_dir / ".genesis").resolve()


def home_state_dir() -> Path | None:
    """Return ``$GENESIS_HOME`` as an absolute path, or ``None`` when it is not set."""
    env = os.environ.get("GENESIS_HOME")
    return Path(env).expanduser().resolve() if env else None


def ensure_state_dir(path: Path) -> Path:
    """Create the state directory if needed and return it; a ``ConfigError`` when it cannot be one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError("the state directory is a file, not a directory "
                          "(check GENESIS_HOME or [bus] state_dir)", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot create the state directory ({exc.strerror or type(exc).__name__}; "
                          "check GENESIS_HOME or [bus] state_dir)", file=str(path)) from None
    if not path.is_dir():
        raise ConfigError("the state directory is not a directory (check GENESIS_HOME or [bus] state_dir)",
                          file=str(path))
    return path


def _load_toml(path: Path) -> dict[str, Any]:
    import tomllib

    from .files import CONFIG_LIMIT, FileProblem, read_bytes
    try:
        return tomllib.loads(read_bytes(path, limit=CONFIG_LIMIT, what="config file").decode("utf-8"))
    except FileProblem as exc:
        raise ConfigError(exc.reason, file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError("invalid TOML: arrays or inline tables nested too deeply", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None


def find_config(start: Path | None = None) -> Path | None:
    """Return the nearest ``genesis.toml``, or ``pyproject.toml`` with ``[tool.genesis]``, upwards."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "genesis.toml"
        if candidate.is_file():
            return candidate
        if os.path.lexists(candidate):  # a directory, FIFO or device by that name is a mistake, not "no config"
            from .files import FileProblem, check_regular

            try:
                check_regular(candidate, what="config file")
            except FileProblem as exc:
                raise ConfigError(exc.reason, file=str(candidate)) from None
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = _load_toml(pyproject)
            except ConfigError:
                continue
            if isinstance(data.get("tool"), dict) and "genesis" in data["tool"]:
                return pyproject
    return None


def load_config(path: str | os.PathLike[str] | None = None, *, start: Path | None = None) -> Config:
    """Return the configuration from ``path``, or the one found upwards, or empty defaults."""
    if path is not None:
        from .files import FileProblem, check_regular

        source: Path | None = Path(path).expanduser().resolve()
        try:
            check_regular(source, what="config file")  # type: ignore[arg-type]
        except FileProblem as exc:
            raise ConfigError("file not found" if exc.missing else exc.reason, file=str(path)) from None
    else:
        source = find_config(start)
    if source is None:
        return Config(Table({}, "<defaults>"), None, (start or Path.cwd()).resolve())
    data = _load_toml(source)
    prefix = ""
    if source.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("genesis", {}) if isinstance(tool, dict) else {}
        if not isinstance(data, dict):
            raise ConfigError("expected a table", file=str(source), key="tool.genesis")
        prefix = "tool.genesis"
    root = Table(data, str(source), prefix)
    known = {"sync", "platforms", "environments", "engines", "guardian", "bus", "secrets"}
    root.check_known(known)
    for name in known:
        root.table(name)  # type-check each top-level section early
    return Config(root, source, source.parent)
