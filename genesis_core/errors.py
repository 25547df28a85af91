"""Exceptions that Genesis raises on purpose; each renders as one clear line."""

from __future__ import annotations


class GenesisError(Exception):
    """Base class: ``str(err)`` is a one-line message fit for a terminal."""

    exit_code = 2


class UsageError(GenesisError):
    """The command line was wrong."""


class ConfigError(GenesisError):
    """A configuration file or table is invalid; the message names file and key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PlatformError(GenesisError):
    """A platform could not be read or written; never carries a token or a value."""

    def __init__(self, platform: str, message: str, *, status: int | None = None,
                 retryable: bool = False) -> None:
        self.platform = platform
        self.reason = message
        self.status = status
        self.retryable = retryable
        super().__init__(f"{platform}: {message}")


class ParseError(GenesisError):
    """A local file could not be parsed; the message names file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


class PluginError(GenesisError):
    """A plugin registered something invalid."""


class BusError(GenesisError):
    """The event bus could not store or send an event."""
