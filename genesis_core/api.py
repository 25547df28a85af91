"""The plugin API: everything a Genesis plugin may import from the core, in one place.

A plugin (an adapter, an engine, a transport, a command) imports from this module
only, and its tests from here and from :mod:`genesis_core.testing`; every other
module of ``genesis_core`` is internal and may change in any release.  What this
module exports is listed with its signatures in ``docs/api-surface.txt`` and
versioned by :data:`API_VERSION` (the core's minor release while Genesis is 0.x):
a plugin declares ``genesis-envsync>=X.Y,<X.Y+1`` for the API it was built
against, and the core refuses to load a plugin built for another one.  A test
compares this module with the list, so a change to it is never accidental.

Names are resolved on first use (a plugin's entry-point module that imports
``hookimpl`` loads nothing else), grouped below by the core module that holds
them; ``docs/hooks.md`` describes them group by group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import API_VERSION as API_VERSION

#: Where each name lives (module inside ``genesis_core``), grouped as ``docs/hooks.md`` presents them.
_EXPORTS: dict[str, tuple[str, ...]] = {
    # hooks and the plugin host
    "_markers": ("hookimpl",),
    "plugins": ("PluginHost", "PluginInfo", "get_plugin_host"),
    # platforms: the model, the HTTP base and helper, dotenv parsing
    "platforms.model": ("CredentialCheck", "Expansion", "FetchContext", "InstanceConfig", "PlatformAdapter",
                        "PlatformKind", "REDEPLOY", "RESTART", "STAGED", "Snapshot", "Variable", "VariableWrite",
                        "WRITE_EFFECT_KINDS", "WriteEffect"),
    "platforms.http_adapter": ("COMMON_KEYS", "HttpPlatformAdapter"),
    "http": ("Endpoint", "HTTP_DEFAULT_TIMEOUT", "HTTP_USER_AGENT", "RetryBudget", "RetryPolicy", "error_detail",
             "http_request", "install_log_redaction", "redact_url", "scrub_detail", "url_problem"),
    "platforms.dotenv": ("parse_dotenv",),
    "platforms.expansion": ("built_from_secrets",),
    # configuration and errors
    "config": ("Config", "Table", "load_config"),
    "errors": ("BusError", "ConfigError", "GenesisError", "KeyRefused", "ParseError", "PlatformError",
               "PluginError", "UsageError", "one_line"),
    # files a user names: regular files only, within a size limit
    "files": ("FileProblem", "check_regular", "read_bytes", "read_stream", "read_text"),
    # secrets
    "secrets": ("SecretPolicy", "mask_text", "policy_from_config"),
    # patterns users write: globs and RE2 regular expressions
    "patterns": ("KeyPatterns", "Regex", "compile_patterns", "compile_regex", "patterns_setting"),
    # engines and commands
    "engines": ("Engine", "EngineContext", "Subscription"),
    "cli.commands": ("Command",),
    "cli.context": ("CommandContext",),
    "processed": ("ProcessedEvents", "event_identity"),
    # reconciling and reporting
    "reconciliation": ("DriftReport", "ReconcileOptions", "reconcile"),
    "sync": ("FetchResults", "build_adapters", "collect_snapshots", "fetch_all", "reconcile_options"),
    "report.view": ("DriftView", "build_view"),
    "report.render": ("RENDERERS", "render_markdown", "report_document"),
    # environments and write-only values
    "environments": ("Environment", "Environments", "environments_from_config", "reference_for"),
    "scope": ("Scope",),
    "writeonly": ("WriteOnlyCheck", "check_write_only"),
    "writerecords": ("WriteRecord", "WriteRecords"),
    # the bus
    "bus.core": ("BLOCKED_TOPIC", "BoundBus", "GenesisBus"),
    "bus.results": ("PublishResult", "RetryReport"),
    "bus.process": ("current_bus", "reset_bus"),
    "bus.setup": ("ENGINE_ROLE", "configure_bus"),
    "bus.envelope": ("Envelope", "ID_KEY", "RESERVED_KEYS", "SEQ_KEY", "TIMESTAMP_KEY", "TOPIC_KEY",
                     "format_time", "utc_now"),
    "bus.topics": ("COMMIT_TOPIC", "CROSS_TOPIC", "DRIFT_TOPIC", "ERROR_TOPIC", "INIT_TOPIC", "REST_WILDCARDS",
                   "compile_pattern", "topic_matches", "validate_pattern", "validate_topic"),
    "bus.guardian": ("Decision", "DefaultPolicy", "Guardian"),
    "bus.transport": ("DeadLetter", "DeadLetterStore", "Transport", "TransportKind"),
    "bus.dispatcher": ("HandlerFailure", "SubscriptionHandle", "encode_payload", "make_event"),
    "bus.standalone": ("Delivery", "Dispatcher"),
    "bus.store": ("SqliteTransport", "open_store"),
    "bus.memory": ("MemoryTransport",),
}
#: Names exported under another name than the one they have in their module.
_RENAMED = {"http_request": "request", "HTTP_DEFAULT_TIMEOUT": "DEFAULT_TIMEOUT", "HTTP_USER_AGENT": "USER_AGENT"}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(["API_VERSION", *_WHERE])

if TYPE_CHECKING:  # what a type checker sees; at run time each name is imported on first use
    from ._markers import hookimpl as hookimpl
    from .bus.core import BLOCKED_TOPIC as BLOCKED_TOPIC
    from .bus.core import BoundBus as BoundBus
    from .bus.core import GenesisBus as GenesisBus
    from .bus.dispatcher import HandlerFailure as HandlerFailure
    from .bus.dispatcher import SubscriptionHandle as SubscriptionHandle
    from .bus.dispatcher import encode_payload as encode_payload
    from .bus.dispatcher import make_event as make_event
    from .bus.envelope import ID_KEY as ID_KEY
    from .bus.envelope import RESERVED_KEYS as RESERVED_KEYS
    from .bus.envelope import SEQ_KEY as SEQ_KEY
    from .bus.envelope import TIMESTAMP_KEY as TIMESTAMP_KEY
    from .bus.envelope import TOPIC_KEY as TOPIC_KEY
    from .bus.envelope import Envelope as Envelope
    from .bus.envelope import format_time as format_time
    from .bus.envelope import utc_now as utc_now
    from .bus.guardian import Decision as Decision
    from .bus.guardian import DefaultPolicy as DefaultPolicy
    from .bus.guardian import Guardian as Guardian
    from .bus.memory import MemoryTransport as MemoryTransport
    from .bus.process import current_bus as current_bus
    from .bus.process import reset_bus as reset_bus
    from .bus.results import PublishResult as PublishResult
    from .bus.results import RetryReport as RetryReport
    from .bus.setup import ENGINE_ROLE as ENGINE_ROLE
    from .bus.setup import configure_bus as configure_bus
    from .bus.standalone import Delivery as Delivery
    from .bus.standalone import Dispatcher as Dispatcher
    from .bus.store import SqliteTransport as SqliteTransport
    from .bus.store import open_store as open_store
    from .bus.topics import COMMIT_TOPIC as COMMIT_TOPIC
    from .bus.topics import CROSS_TOPIC as CROSS_TOPIC
    from .bus.topics import DRIFT_TOPIC as DRIFT_TOPIC
    from .bus.topics import ERROR_TOPIC as ERROR_TOPIC
    from .bus.topics import INIT_TOPIC as INIT_TOPIC
    from .bus.topics import REST_WILDCARDS as REST_WILDCARDS
    from .bus.topics import compile_pattern as compile_pattern
    from .bus.topics import topic_matches as topic_matches
    from .bus.topics import validate_pattern as validate_pattern
    from .bus.topics import validate_topic as validate_topic
    from .bus.transport import DeadLetter as DeadLetter
    from .bus.transport import DeadLetterStore as DeadLetterStore
    from .bus.transport import Transport as Transport
    from .bus.transport import TransportKind as TransportKind
    from .cli.commands import Command as Command
    from .cli.context import CommandContext as CommandContext
    from .config import Config as Config
    from .config import Table as Table
    from .config import load_config as load_config
    from .engines import Engine as Engine
    from .engines import EngineContext as EngineContext
    from .engines import Subscription as Subscription
    from .environments import Environment as Environment
    from .environments import Environments as Environments
    from .environments import environments_from_config as environments_from_config
    from .environments import reference_for as reference_for
    from .errors import BusError as BusError
    from .errors import ConfigError as ConfigError
    from .errors import GenesisError as GenesisError
    from .errors import KeyRefused as KeyRefused
    from .errors import ParseError as ParseError
    from .errors import PlatformError as PlatformError
    from .errors import PluginError as PluginError
    from .errors import UsageError as UsageError
    from .errors import one_line as one_line
    from .files import FileProblem as FileProblem
    from .files import check_regular as check_regular
    from .files import read_bytes as read_bytes
    from .files import read_stream as read_stream
    from .files import read_text as read_text

    # Renamed on export: an assignment exports a name where an ``import ... as`` would not.
    from .http import DEFAULT_TIMEOUT as _DEFAULT_TIMEOUT
    from .http import USER_AGENT as _USER_AGENT
    from .http import Endpoint as Endpoint
    from .http import RetryBudget as RetryBudget
    from .http import RetryPolicy as RetryPolicy
    from .http import error_detail as error_detail
    from .http import install_log_redaction as install_log_redaction
    from .http import redact_url as redact_url
    from .http import request as _request
    from .http import scrub_detail as scrub_detail
    from .http import url_problem as url_problem
    from .patterns import KeyPatterns as KeyPatterns
    from .patterns import Regex as Regex
    from .patterns import compile_patterns as compile_patterns
    from .patterns import compile_regex as compile_regex
    from .patterns import patterns_setting as patterns_setting
    from .platforms.dotenv import parse_dotenv as parse_dotenv
    from .platforms.expansion import built_from_secrets as built_from_secrets
    from .platforms.http_adapter import COMMON_KEYS as COMMON_KEYS
    from .platforms.http_adapter import HttpPlatformAdapter as HttpPlatformAdapter
    from .platforms.model import REDEPLOY as REDEPLOY
    from .platforms.model import RESTART as RESTART
    from .platforms.model import STAGED as STAGED
    from .platforms.model import WRITE_EFFECT_KINDS as WRITE_EFFECT_KINDS
    from .platforms.model import CredentialCheck as CredentialCheck
    from .platforms.model import Expansion as Expansion
    from .platforms.model import FetchContext as FetchContext
    from .platforms.model import InstanceConfig as InstanceConfig
    from .platforms.model import PlatformAdapter as PlatformAdapter
    from .platforms.model import PlatformKind as PlatformKind
    from .platforms.model import Snapshot as Snapshot
    from .platforms.model import Variable as Variable
    from .platforms.model import VariableWrite as VariableWrite
    from .platforms.model import WriteEffect as WriteEffect
    from .plugins import PluginHost as PluginHost
    from .plugins import PluginInfo as PluginInfo
    from .plugins import get_plugin_host as get_plugin_host
    from .processed import ProcessedEvents as ProcessedEvents
    from .processed import event_identity as event_identity
    from .reconciliation import DriftReport as DriftReport
    from .reconciliation import ReconcileOptions as ReconcileOptions
    from .reconciliation import reconcile as reconcile
    from .report.render import RENDERERS as RENDERERS
    from .report.render import render_markdown as render_markdown
    from .report.render import report_document as report_document
    from .report.view import DriftView as DriftView
    from .report.view import build_view as build_view
    from .scope import Scope as Scope
    from .secrets import SecretPolicy as SecretPolicy
    from .secrets import mask_text as mask_text
    from .secrets import policy_from_config as policy_from_config
    from .sync import FetchResults as FetchResults
    from .sync import build_adapters as build_adapters
    from .sync import collect_snapshots as collect_snapshots
    from .sync import fetch_all as fetch_all
    from .sync import reconcile_options as reconcile_options
    from .writeonly import WriteOnlyCheck as WriteOnlyCheck
    from .writeonly import check_write_only as check_write_only
    from .writerecords import WriteRecord as WriteRecord
    from .writerecords import WriteRecords as WriteRecords

    HTTP_DEFAULT_TIMEOUT = _DEFAULT_TIMEOUT
    HTTP_USER_AGENT = _USER_AGENT
    http_request = _request
else:
    def __getattr__(name: str) -> object:
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f"genesis_core.{module}"), _RENAMED.get(name, name))
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
