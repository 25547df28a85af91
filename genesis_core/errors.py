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


class KeyRefused(PlatformError):
    """The platform refused one key (its name or its value) and is otherwise fine.

    An adapter raises it when the refusal says nothing about the platform's health (a value a
    ``.env`` file cannot hold so that it reads back unchanged): ``genesis heal`` records the key as
    failed and goes on with the instance's other keys, where any other ``PlatformError`` stops
    writing to that instance.
    """


class ParseError(GenesisError):
    """A local file could not be parsed; the message names file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}:{line}: {message}")


class PluginError(GenesisError):
    """A plugin failed at run time: an engine that could not start, a plugin built for another core.

    Problems found while plugins load and register (an import error, a bad hook, a
    refused registration) are not raised: the plugin host records them per plugin
    (``PluginInfo.error``, ``RegistrationProblem``) and ``genesis plugins`` shows them.
    """


class BusError(GenesisError):
    """The event bus could not store or send an event."""


def one_line(exc: BaseException, limit: int = 300, *, every_line: bool = False) -> str:
    """Return ``Type: first line of the message`` for ``exc``, at most ``limit`` characters.

    With ``every_line`` the message's lines are joined (pluggy's validation errors put
    the useful part on the second line); a handler's failure keeps only the first, so
    a value dumped below it never reaches the dead-letter store.
    """
    lines = str(exc).strip().splitlines()
    text = " ".join(" ".join(lines).split()) if every_line else (lines[0].strip() if lines else "")
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"
