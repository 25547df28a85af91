"""``[bus]`` keys of the NATS transport and ``[bus.worker]``, validated into typed settings.

Nothing here imports ``nats``: validating a configuration must stay cheap.
Secrets never live in these objects: ``credentials_env``/``token_env`` are the
*names* of environment variables, read only when a connection is opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from genesis_core.api import REST_WILDCARDS, BusError, validate_pattern, validate_topic

if TYPE_CHECKING:
    from genesis_core.api import Table

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_STREAM = "GENESIS"
DEFAULT_PREFIX = "genesis"
URL_SCHEMES = ("nats", "tls", "ws", "wss")
RETENTIONS = ("limits", "interest")
STORAGES = ("file", "memory")
DELIVER_POLICIES = ("all", "new")

_STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

#: Keys the core reads itself (``genesis_core.bus.core.BUS_KEYS``) plus ``local_engines``,
#: which the core is asked to read (see docs/nats.md); repeated here so validation does not
#: depend on the core's version.
CORE_KEYS = frozenset({"transport", "state_dir", "handler_timeout", "max_attempts", "source",
                       "local_engines"})
NATS_KEYS = frozenset({"url", "stream", "subject_prefix", "retention", "max_age", "max_msgs",
                       "max_bytes", "storage", "replicas", "duplicate_window", "connect_timeout",
                       "request_timeout", "credentials_env", "token_env", "worker"})
WORKER_KEYS = frozenset({"ack_wait", "max_deliver", "retry_delay", "batch", "max_ack_pending",
                         "deliver_policy", "durable_prefix", "poll_interval", "reconnect_max_wait"})


def redact_url(url: str) -> str:
    """Return ``url`` with any ``user:password@`` (or token) part replaced by ``***@``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


#: The longest duration any setting takes: about ten years (NATS counts them in int64 nanoseconds).
MAX_DURATION = 3650 * 86400.0
#: NATS's limits are int64.
MAX_INT64 = 2**63 - 1


def duration(table: Table, key: str, default: float, *, minimum: float = 0.0,
             maximum: float = MAX_DURATION) -> float:
    """Return ``key`` as seconds: a number, or a string like ``"90s"``, ``"12h"``, ``"30d"``, at most ``maximum``."""
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise table.error(key, f"expected seconds or a duration like \"30s\", \"12h\", "
                                   f"\"30d\", got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        seconds = table.float(key, default)
    if seconds < minimum:
        raise table.error(key, f"must be at least {minimum:g} seconds, got {seconds:g}")
    if not seconds <= maximum:  # also refuses inf, from a string of many digits
        raise table.error(key, f"must be at most {maximum:g} seconds")
    return seconds


def _servers(table: Table) -> tuple[str, ...]:
    raw = table.str_list("url", (DEFAULT_URL,))
    if isinstance(raw, tuple) and len(raw) == 1:
        raw = tuple(part.strip() for part in raw[0].split(",") if part.strip())
    if not raw:
        raise table.error("url", "must name at least one server, e.g. \"nats://127.0.0.1:4222\"")
    for url in raw:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise table.error("url", f"not a valid URL: {redact_url(url)!r}") from None
        if parts.scheme not in URL_SCHEMES or not parts.hostname or port == 0:
            raise table.error("url", f"expected nats://HOST:PORT (or tls://, ws://, wss://), "
                                     f"got {redact_url(url)!r}")
    return tuple(raw)


def _env_name(table: Table, key: str) -> str | None:
    name = table.str(key, None)
    if name is not None and not _ENV_NAME.match(name):
        raise table.error(key, f"expected the name of an environment variable, got {name!r}")
    return name


@attrs.frozen
class WorkerSettings:
    """``[bus.worker]``: how ``genesis worker`` consumes the stream."""

    ack_wait: float = 30.0
    max_deliver: int = 5
    retry_delay: float = 1.0
    batch: int = 16
    max_ack_pending: int = 1000
    deliver_policy: str = "all"
    durable_prefix: str = "genesis"
    poll_interval: float = 1.0
    reconnect_max_wait: float = 10.0

    @classmethod
    def from_table(cls, table: Table) -> WorkerSettings:
        """Return the settings in ``table`` (``[bus.worker]``); raise ``ConfigError`` naming the key."""
        table.check_known(WORKER_KEYS)
        prefix = table.str("durable_prefix", "genesis")
        if not _STREAM_NAME.match(prefix):
            raise table.error("durable_prefix", "letters, digits, '_' and '-' only (a NATS "
                                                f"consumer name), got {prefix!r}")
        return cls(
            ack_wait=duration(table, "ack_wait", 30.0, minimum=0.5),
            max_deliver=table.int("max_deliver", 5, minimum=1, maximum=10_000),
            retry_delay=duration(table, "retry_delay", 1.0),
            batch=table.int("batch", 16, minimum=1, maximum=10_000),
            max_ack_pending=table.int("max_ack_pending", 1000, minimum=1, maximum=1_000_000),
            deliver_policy=table.choice("deliver_policy", DELIVER_POLICIES, "all"),
            durable_prefix=prefix,
            poll_interval=duration(table, "poll_interval", 1.0, minimum=0.05),
            reconnect_max_wait=duration(table, "reconnect_max_wait", 10.0, minimum=0.1),
        )

    def durable(self, engine: str) -> str:
        """Return the durable consumer name of ``engine`` (``genesis-truth``)."""
        return f"{self.durable_prefix}-{engine}"


@attrs.frozen
class NatsSettings:
    """Everything the transport and the worker need to reach and shape the stream."""

    servers: tuple[str, ...] = (DEFAULT_URL,)
    stream: str = DEFAULT_STREAM
    subject_prefix: str = DEFAULT_PREFIX
    retention: str = "limits"
    max_age: float = 0.0
    max_msgs: int = 0
    max_bytes: int = 0
    storage: str = "file"
    replicas: int = 1
    duplicate_window: float = 120.0
    connect_timeout: float = 2.0
    request_timeout: float = 5.0
    credentials_env: str | None = None
    token_env: str | None = None
    worker: WorkerSettings = WorkerSettings()
    file: str = attrs.field(default="<defaults>", eq=False)

    @classmethod
    def from_table(cls, table: Table) -> NatsSettings:
        """Return validated settings from the ``[bus]`` table; raise ``ConfigError`` naming file and key."""
        table.check_known(CORE_KEYS | NATS_KEYS)
        table.bool("local_engines", False)
        stream = table.str("stream", DEFAULT_STREAM)
        if not _STREAM_NAME.match(stream):
            raise table.error("stream", "letters, digits, '_' and '-' only, at most 64 "
                                        f"(a JetStream stream name), got {stream!r}")
        prefix = table.str("subject_prefix", DEFAULT_PREFIX)
        try:
            validate_topic(prefix)
        except BusError:
            raise table.error("subject_prefix", "dot-separated names without wildcards, e.g. "
                                                f"\"genesis\" or \"acme.genesis\", got {prefix!r}"
                              ) from None
        retention = table.str("retention", "limits")
        if retention == "workqueue":
            raise table.error("retention", "\"workqueue\" cannot serve history or one durable "
                                           "per engine; use \"limits\" (default) or \"interest\"")
        if retention not in RETENTIONS:
            raise table.error("retention", f"expected one of {', '.join(RETENTIONS)}, "
                                           f"got {retention!r}")
        connect_timeout = duration(table, "connect_timeout", 2.0)
        request_timeout = duration(table, "request_timeout", 5.0)
        for key, value in (("connect_timeout", connect_timeout),
                           ("request_timeout", request_timeout)):
            if value <= 0:
                raise table.error(key, "must be more than 0 seconds")
        max_age = duration(table, "max_age", 0.0)
        duplicate_window = duration(table, "duplicate_window", 120.0)
        if max_age and duplicate_window > max_age:
            key = "duplicate_window" if "duplicate_window" in table else "max_age"
            raise table.error(key, f"the duplicate window ({duplicate_window:g}s) cannot be longer "
                                   f"than max_age ({max_age:g}s)")
        replicas = table.int("replicas", 1, minimum=1)
        if replicas > 5:
            raise table.error("replicas", f"JetStream allows at most 5 replicas, got {replicas}")
        return cls(
            servers=_servers(table),
            stream=stream,
            subject_prefix=prefix,
            retention=retention,
            max_age=max_age,
            max_msgs=table.int("max_msgs", 0, minimum=0, maximum=MAX_INT64),
            max_bytes=table.int("max_bytes", 0, minimum=0, maximum=MAX_INT64),
            storage=table.choice("storage", STORAGES, "file"),
            replicas=replicas,
            duplicate_window=duplicate_window,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            credentials_env=_env_name(table, "credentials_env"),
            token_env=_env_name(table, "token_env"),
            worker=WorkerSettings.from_table(table.table("worker")),
            file=table.file,
        )

    # ------------------------------------------------------------ naming
    @property
    def url(self) -> str:
        """Return the server list for messages, with credentials redacted."""
        return ",".join(redact_url(url) for url in self.servers)

    @property
    def connect_deadline(self) -> float:
        """Return the longest a connection attempt may take: two tries per server, then give up."""
        return 2 * len(self.servers) * (self.connect_timeout + 0.1) + 1.0

    @property
    def stream_subject(self) -> str:
        """Return the subject the stream captures: ``genesis.>``."""
        return f"{self.subject_prefix}.>"

    def subject(self, topic: str) -> str:
        """Return the subject of a concrete topic: ``envsync.drift`` -> ``genesis.envsync.drift``."""
        return f"{self.subject_prefix}.{topic}"

    def subject_filter(self, pattern: str | None) -> str:
        """Return the subject filter of a topic pattern (``**`` becomes ``>``; ``None`` is all)."""
        if pattern is None:
            return self.stream_subject
        validate_pattern(pattern)
        segments = [">" if segment in REST_WILDCARDS else segment for segment in pattern.split(".")]
        return f"{self.subject_prefix}.{'.'.join(segments)}"

    def topic_of(self, subject: str) -> str:
        """Return the topic of a stream subject (the subject itself if it lacks the prefix)."""
        head = self.subject_prefix + "."
        return subject[len(head):] if subject.startswith(head) else subject

    # ------------------------------------------------------------ credentials
    def connect_options(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Return ``nats.connect`` keyword arguments for authentication, read from the environment.

        Raises ``BusError`` naming the variable (never its value) when it is unset.
        """
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {}
        if self.credentials_env:
            path = env.get(self.credentials_env, "")
            if not path.strip():
                raise BusError(f"[bus] credentials_env names ${self.credentials_env}, which is not "
                               "set (it should hold the path of a NATS .creds file)")
            if not os.path.isfile(path):
                raise BusError(f"${self.credentials_env} does not name a readable .creds file")
            options["user_credentials"] = path
        if self.token_env:
            token = env.get(self.token_env, "")
            if not token:
                raise BusError(f"[bus] token_env names ${self.token_env}, which is not set")
            options["token"] = token
        return options


def cover_subject(subjects: Iterable[str]) -> str:
    """Return one subject filter that matches everything each of ``subjects`` matches.

    Used when the server cannot take several filter subjects (before 2.10): the
    worker then filters the rest itself.  ``a.b`` + ``a.c`` -> ``a.*``;
    ``a.b`` + ``a.c.d`` -> ``a.>``; anything that shares nothing -> ``>``.
    """
    split = [subject.split(".") for subject in dict.fromkeys(subjects)]
    if not split:
        raise ValueError("no subjects")
    if len(split) == 1:
        return ".".join(split[0])
    same_length = len({len(tokens) for tokens in split}) == 1
    if same_length and not any(tokens[-1] == ">" for tokens in split):
        merged = [tokens[0] if len(set(tokens)) == 1 else "*" for tokens in zip(*split)]
        return ".".join(merged)
    prefix: list[str] = []
    for tokens in zip(*split):
        if len(set(tokens)) != 1 or tokens[0] in ("*", ">"):
            break
        prefix.append(tokens[0])
    if any(len(tokens) == len(prefix) for tokens in split):  # one subject *is* the prefix
        prefix = prefix[:-1]
    return ".".join([*prefix, ">"])

