"""Decide which variables are secret and show secret values only as keyed fingerprints.

A value is *secret* when the platform marks it, when its key name matches a
secret-looking pattern, or when the value itself looks like a credential.
Secret values are never shown; they are replaced by ``<secret fp:xxxxxxxxxxxx>``,
the first 12 hex digits of an HMAC-SHA256 keyed with a per-project key, so
equal values have equal fingerprints and nobody without the key can test
guesses against them.  See ``docs/secrets.md`` for the rules in prose.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import math
import operator
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConfigError
from .patterns import REGEX_PREFIX, compile_patterns, patterns_setting

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "DEFAULT_NAME_PATTERNS",
    "FINGERPRINT_KEY_ENV",
    "FINGERPRINT_KEY_FILE",
    "MASKED_UNREADABLE",
    "VERIFIED_MARK",
    "SecretPolicy",
    "changed_mark",
    "compile_patterns",
    "is_masked",
    "load_or_create_fingerprint_key",
    "looks_like_credential",
    "mask_text",
    "policy_from_config",
    "stale_mark",
]

MASKED_UNREADABLE = "<secret>"
#: An unreadable value Genesis wrote itself and that is unchanged since (see ``docs/secrets.md``).
VERIFIED_MARK = "<secret ✓>"
FINGERPRINT_KEY_ENV = "GENESIS_FINGERPRINT_KEY"
FINGERPRINT_KEY_FILE = "fingerprint.key"
FINGERPRINT_KEY_BYTES = 32
MIN_KEY_BYTES = 16
_FP_HEX_DIGITS = 12
_KEY_WAIT_SECONDS = 2.0  # how long to wait for another process to finish writing the key file
_FP_DOMAIN = b"genesis-fingerprint-v1\x00"
_RECORD_DOMAIN = b"genesis-write-record-v1\x00"
_KEY_ID_DOMAIN = b"genesis-fingerprint-key-id-v1\x00"
# Payload fields that hold variable *names* (``missing_in_<instance>``), never values.
_KEY_NAME_FIELDS = re.compile(r"missing_in_[A-Za-z0-9_]+")
_WHEN = r"[0-9A-Za-z:.+\-]{1,40}"
# A mask, or a mark about an unreadable value that holds no value: verified, stale since, changed at.
_MASKED = re.compile(rf"<secret(?: fp:[0-9a-f]{{{_FP_HEX_DIGITS}}}| \u2713|, stale since {_WHEN}"
                     rf"|, changed outside Genesis {_WHEN})?>")
_SAFE_WHEN = re.compile(_WHEN)

# Case-insensitive globs over key names.  ``KEY`` is matched as a word at the
# end or between underscores so KEYBOARD_LAYOUT or KEYCLOAK_URL stay visible,
# while API_KEY, APIKEY, AWS_ACCESS_KEY_ID, PUBLIC_KEY and API_KEYS are secret
# (a public key is harmless, but erring on the safe side costs one fingerprint).
DEFAULT_NAME_PATTERNS: tuple[str, ...] = (
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*_PASS",
    "*_PWD",
    "?*KEY",
    "?*KEYS",
    "*_KEY_*",
    "*DSN*",
    "*CREDENTIAL*",
    "*_CREDS",
    "*PRIVATE*",
    "*AUTH",
    "*AUTHORIZATION*",
    "*SALT*",
    "*SIGNATURE*",
    "*CONNECTION_STRING*",
    "*CONN_STR*",
    "*WEBHOOK_URL*",
)

# Formats that are credentials whatever the key is called (``not_secret`` cannot override them).
# Compiled on first use (see ``_credential_formats``) to keep ``import genesis_core`` fast.
_CREDENTIAL_FORMAT_SOURCE = "|".join((
    r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}",       # GitHub tokens
    r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{20,}",     # GitHub fine-grained PAT
    r"(?<![A-Za-z0-9_])gl(?:pat|dt|rt|ptt|soat)-[A-Za-z0-9_\-]{16,}",  # GitLab
    r"(?<![A-Za-z0-9_])xox[abposr]-[A-Za-z0-9\-]{10,}",   # Slack
    r"(?<![A-Za-z0-9_])xapp-[A-Za-z0-9\-]{10,}",          # Slack app-level
    r"(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",  # Stripe secret/restricted
    r"(?<![A-Za-z0-9_])whsec_[A-Za-z0-9]{10,}",           # Stripe webhook secret
    r"(?<![A-Za-z0-9_])sk-[A-Za-z0-9_\-]{20,}",           # OpenAI / Anthropic style
    r"(?<![A-Za-z0-9])A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key id
    r"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_\-]{35}",           # Google API key
    r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}",              # npm
    r"(?<![A-Za-z0-9_])pypi-[A-Za-z0-9_\-]{50,}",         # PyPI
    r"(?<![A-Za-z0-9_])rnd_[A-Za-z0-9]{20,}",             # Render API key
    r"(?<![A-Za-z0-9_])nfp_[A-Za-z0-9]{20,}",             # Netlify PAT
    r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}",              # Hugging Face
    r"(?<![A-Za-z0-9_])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",  # Shopify
    r"(?<![A-Za-z0-9_])dp\.(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9_\-.]{20,}",  # Doppler
    r"(?<![A-Za-z0-9_])SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",  # SendGrid
    r"(?<![A-Za-z0-9_])key-[0-9a-f]{32}(?![0-9a-f])",     # Mailgun
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",  # JWT
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",  # PEM / OpenSSH / PGP private key
    r"[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@",    # scheme://user:password@host
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/\S+",
    r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\S+",
    r"^(?:Bearer|Basic|Token|Bot)\s+\S{8,}\s*$",          # an Authorization header value
))

_QUERY_SECRET = re.compile(
    r"[?&#;](?:access_token|auth|auth_token|token|api_key|apikey|key|secret|client_secret|"
    r"password|passwd|pwd|sig|signature|x-amz-signature|x-goog-signature)=[^&#\s]{6,}",
    re.IGNORECASE,
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_EMAIL = re.compile(r"[^@\s]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_HOSTNAME = re.compile(r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+\.[A-Za-z]{2,}(?::[0-9]+)?")
_DATE_LIKE = re.compile(r"[0-9TZtz:.+\-/ ]+")
_PATH_START = re.compile(r"(?:/|\./|\.\./|~/|[A-Za-z]:[\\/])")
_STRUCTURAL_SEPARATORS = re.compile(r"[-._+:]")
_SEGMENTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_MIN_GUESS_LENGTH = 20
_MIN_HEX_LENGTH = 32
_MIN_ENTROPY_BITS = 3.5
_MAX_AVG_SEGMENT = 3.5


def _shannon_entropy(text: str) -> float:
    """Return the Shannon entropy of ``text`` in bits per character."""
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


def _is_uuid_hex(text: str) -> bool:
    """Return whether 32 hex digits are a version 4 or 7 UUID written without dashes (an id, not a key)."""
    parsed = uuid.UUID(hex=text)
    return parsed.variant == uuid.RFC_4122 and parsed.version in (4, 7)


def _looks_random(value: str) -> bool:
    """Return whether ``value`` looks like a random token (the entropy heuristic)."""
    text = value.strip()
    if len(text) < _MIN_GUESS_LENGTH or any(ch.isspace() for ch in text):
        return False
    if "://" in text or _PATH_START.match(text) or _UUID.fullmatch(text):
        return False
    if _EMAIL.fullmatch(text) or _HOSTNAME.fullmatch(text) or _DATE_LIKE.fullmatch(text):
        return False
    if _HEX.fullmatch(text):
        if len(text) < _MIN_HEX_LENGTH or text.isdigit() or text.isalpha():
            return False
        return not (len(text) == 32 and _is_uuid_hex(text))
    chunks = _STRUCTURAL_SEPARATORS.split(text)
    if len(chunks) >= 4 and max(map(len, chunks)) <= 8:
        return False  # dotted/dashed identifiers: versions, host and cluster names
    letters = sum(ch.isalpha() for ch in text)
    if letters * 10 < len(text) * 3:
        return False  # mostly digits and punctuation: numbers, dates, versions
    classes = (any(ch.islower() for ch in text) + any(ch.isupper() for ch in text)
               + any(ch.isdigit() for ch in text))
    if classes < 2:
        return False
    segments = _SEGMENTS.findall(text)
    if not segments:
        return False
    average = sum(map(len, segments)) / len(segments)
    return average <= _MAX_AVG_SEGMENT and _shannon_entropy(text) >= _MIN_ENTROPY_BITS


@functools.cache
def _credential_formats() -> re.Pattern[str]:
    """Return the compiled known-credential-format regex."""
    return re.compile(_CREDENTIAL_FORMAT_SOURCE)


def _is_certain_credential(value: str) -> bool:
    """Return whether ``value`` contains a known credential format (prefixes, URL credentials, keys)."""
    return _credential_formats().search(value) is not None


def _is_guessed_credential(value: str) -> bool:
    """Return whether ``value`` looks random enough, or carries a secret query parameter."""
    return _QUERY_SECRET.search(value) is not None or _looks_random(value)


#: What a value alone says about secrecy (:func:`value_verdict`), weakest first.
PUBLIC, GUESSED, CERTAIN = 0, 1, 2


def value_verdict(value: str) -> int:
    """Return ``CERTAIN`` for a known credential format, ``GUESSED`` for a value the guess flags, else ``PUBLIC``.

    It depends on the value alone, not on the key or any policy, so a caller
    that meets the same value under many keys can classify it once.
    """
    if _is_certain_credential(value):
        return CERTAIN
    if len(value) >= 8 and _is_guessed_credential(value):
        return GUESSED
    return PUBLIC


def looks_like_credential(value: str) -> bool:
    """Return whether ``value`` looks like a credential.

    True for known token formats (GitHub, GitLab, Slack, Stripe secret keys,
    AWS key ids, Google API keys, npm, Render, Netlify, SendGrid, JWTs, PEM
    private keys...), for ``scheme://user:password@host`` URLs and URLs with a
    ``token=``/``key=``-style query parameter, and for long random-looking
    strings.  False for booleans, numbers, words, ordinary URLs, host names,
    paths, e-mail addresses, dates and UUIDs; Stripe *publishable* keys
    (``pk_live_``) are public by design and not flagged by value.
    """
    if not isinstance(value, str) or len(value) < 8:
        return False
    return _is_certain_credential(value) or _is_guessed_credential(value)


def is_masked(text: object) -> bool:
    """Return whether ``text`` is already a mask: ``<secret>``, a ``<secret fp:...>`` fingerprint or a
    write-record mark (``<secret ✓>``, ``<secret, stale since ...>``, ``<secret, changed outside Genesis ...>``)."""
    return isinstance(text, str) and _MASKED.fullmatch(text) is not None


_TOKEN = re.compile(r"[^\s'\"`(),;<>\[\]{}]{8,}")


def mask_text(text: str, secret_policy: object = None) -> str:
    """Return ``text`` (an error message, a reason) with credential-looking tokens masked.

    Uses the policy's ``mask_text`` if it has one; otherwise every token that
    :func:`looks_like_credential` flags is replaced by the policy's fingerprint,
    or by ``<secret>`` without a policy.  Never raises: text that cannot be
    masked is withheld.
    """
    custom = getattr(secret_policy, "mask_text", None)
    try:
        if custom is not None:
            return str(custom(text))
        fingerprint = getattr(secret_policy, "fingerprint", None)

        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if not looks_like_credential(token):
                return token
            return str(fingerprint(token)) if fingerprint is not None else MASKED_UNREADABLE

        return _TOKEN.sub(replace, text)
    except Exception:  # never let the unmasked text through
        return "<withheld: the message could not be masked>"


def _when(text: str | None) -> str:
    return text if text is not None and _SAFE_WHEN.fullmatch(text) else "unknown"


def stale_mark(since: str | None) -> str:
    """Return ``<secret, stale since DATE>``: the value Genesis wrote no longer matches the reference.

    ``since`` is an RFC 3339 time; the mark shows its date (``unknown`` when it is not a time).
    """
    return f"<secret, stale since {_when(since[:10] if since else None)}>"


def changed_mark(when: str | None) -> str:
    """Return ``<secret, changed outside Genesis WHEN>``: the platform's change stamp moved since Genesis wrote."""
    return f"<secret, changed outside Genesis {_when(when)}>"


_GLOB_SPECIALS = frozenset("*?[")


class NameMatcher:
    """Tells whether a name matches any of ``patterns``, ignoring case: ``compile_patterns(patterns,
    ignore_case=True).match`` with the same answers, faster on the names that match nothing.

    Globs that are a plain ASCII text with ``*`` only at the ends (``TOKEN``,
    ``VITE_*``, ``*_KEY``, ``*SECRET*``, and ``?*KEY``) are checked on an ASCII
    name with ``str`` methods on its lower-case form, which for ASCII gives what the
    case-insensitive regex gives, without the regex's backtracking through
    every leading ``*``.  Other patterns (``?``, ``[...]``, ``re:``) and
    non-ASCII names go through the regex.
    """

    __slots__ = ("_bare", "_contains", "_exact", "_longer", "_prefixes", "_regex", "_rest", "_suffixes")

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = tuple(patterns)
        self._regex = compile_patterns(patterns, ignore_case=True)
        exact: set[str] = set()
        prefixes: list[str] = []
        suffixes: list[str] = []
        contains: list[str] = []
        longer: list[str] = []
        rest: list[str] = []
        for pattern in patterns:
            core = pattern.strip("*")
            if pattern.startswith("?*") and pattern.isascii() and not _GLOB_SPECIALS & set(pattern[2:]):
                longer.append(pattern[2:].lower())  # "?*KEY": at least one character, then ...KEY
                continue
            if pattern.startswith(REGEX_PREFIX) or not pattern.isascii() or _GLOB_SPECIALS & set(core):
                rest.append(pattern)
                continue
            lead, trail = pattern.startswith("*"), pattern.endswith("*") and core != ""
            literal = core.lower()
            if not core or (lead and trail):
                contains.append(literal)
            elif lead:
                suffixes.append(literal)
            elif trail:
                prefixes.append(literal)
            else:
                exact.add(literal)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._suffixes = tuple(suffixes)
        self._longer = tuple(longer)
        self._bare = frozenset(self._longer)  # names "?*KEY" does not match though they end with KEY
        self._contains = re.compile("|".join(map(re.escape, contains))) if contains else None
        self._rest = compile_patterns(rest, ignore_case=True)

    def __bool__(self) -> bool:
        """Return whether there is any pattern at all."""
        return self._regex is not None

    def many(self, names: list[str]) -> list[bool]:
        """Return ``[self(name) for name in names]``, with the ASCII checks run in C over all names."""
        if self._regex is None:
            return [False] * len(names)
        if not all(map(str.isascii, names)):
            return list(map(self, names))
        lows = list(map(str.lower, names))
        checks: list[Iterable[bool]] = []
        if self._exact:
            checks.append(map(self._exact.__contains__, lows))
        if self._prefixes:
            checks.append(map(str.startswith, lows, itertools.repeat(self._prefixes)))
        if self._suffixes or self._longer:  # "?*KEY" is "*KEY" except on the name "KEY" itself
            checks.append(map(str.endswith, lows, itertools.repeat(self._suffixes + self._longer)))
        if self._contains is not None:
            checks.append(map(operator.is_not, map(self._contains.search, lows), itertools.repeat(None)))
        if self._rest is not None:
            checks.append(map(operator.is_not, map(self._rest.match, names), itertools.repeat(None)))
        found = list(functools.reduce(functools.partial(map, operator.or_), checks))
        if self._longer and not self._bare.isdisjoint(lows):
            for index, low in enumerate(lows):
                if low in self._bare:
                    found[index] = self(names[index])
        return found

    def __call__(self, name: str) -> bool:
        """Return whether ``name`` matches one of the patterns (as a whole, ignoring case)."""
        if self._regex is None:
            return False
        if not name.isascii():
            return self._regex.match(name) is not None
        low = name.lower()
        return (low in self._exact or low.startswith(self._prefixes) or low.endswith(self._suffixes)
                or (self._contains is not None and self._contains.search(low) is not None)
                or (low.endswith(self._longer) and any(len(low) > len(end) and low.endswith(end)
                                                       for end in self._longer))
                or (self._rest is not None and self._rest.match(name) is not None))


def _to_tuple(value: Iterable[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _check_key(_instance: Any, _attribute: Any, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) < MIN_KEY_BYTES:
        raise ValueError(f"fingerprint_key must be at least {MIN_KEY_BYTES} bytes")


def _check_patterns(_instance: Any, _attribute: Any, value: tuple[str, ...]) -> None:
    compile_patterns(value, ignore_case=True)


@attrs.frozen(repr=False)
class SecretPolicy:
    """Classifies variables as secret and renders them safely.

    ``name_patterns`` (defaults) plus ``extra_patterns`` mark key names
    secret; ``not_secret`` overrides the name patterns and the entropy guess
    but never a platform's mark or a known credential format; ``mask_all``
    treats every value as secret.
    """

    fingerprint_key: bytes = attrs.field(validator=_check_key)
    name_patterns: tuple[str, ...] = attrs.field(default=DEFAULT_NAME_PATTERNS, converter=_to_tuple,
                                                 validator=_check_patterns)
    extra_patterns: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple,
                                                  validator=_check_patterns)
    not_secret: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple,
                                              validator=_check_patterns)
    mask_all: bool = attrs.field(default=False, converter=bool)
    _secret_names: NameMatcher = attrs.field(init=False, eq=False, hash=False)
    _public_names: NameMatcher = attrs.field(init=False, eq=False, hash=False)

    @_secret_names.default
    def _compile_secret_names(self) -> NameMatcher:
        return NameMatcher(self.name_patterns + self.extra_patterns)

    @_public_names.default
    def _compile_public_names(self) -> NameMatcher:
        return NameMatcher(self.not_secret)

    def __repr__(self) -> str:
        return (f"SecretPolicy(fingerprint_key=<hidden>, patterns={len(self.name_patterns)}"
                f"+{len(self.extra_patterns)}, not_secret={len(self.not_secret)}, "
                f"mask_all={self.mask_all})")

    def _forced_public(self, key: str) -> bool:
        return self._public_names(key)

    def _name_matches(self, key: str) -> bool:
        return self._secret_names(key)

    def is_secret_name(self, key: str) -> bool:
        """Return whether ``key``'s name alone makes it secret (``not_secret`` applied)."""
        return self._name_matches(key) and not self._forced_public(key)

    def secret_names(self, keys: list[str]) -> list[bool]:
        """Return ``[is_secret_name(key) for key in keys]``, faster for many keys."""
        named = self._secret_names.many(keys)
        if not self._public_names:
            return named
        return list(map(operator.and_, named, map(operator.not_, self._public_names.many(keys))))

    def is_secret(self, key: str, value: str | None, *, platform_marked: bool = False) -> bool:
        """Return whether this variable's value must not be shown.

        Order: ``mask_all``, the platform's mark and a known credential format
        always win; then ``not_secret`` makes the key public; then the name
        patterns and the entropy guess on the value decide.
        """
        if self.mask_all or platform_marked:
            return True
        if value is not None and _is_certain_credential(value):
            return True
        if self._forced_public(key):
            return False
        if self._name_matches(key):
            return True
        return value is not None and len(value) >= 8 and _is_guessed_credential(value)

    def any_secret(self, key: str, values: Iterable[str], *, platform_marked: bool = False) -> bool:
        """Return whether any readable value of ``key`` must not be shown (the name is checked once).

        The same as ``any(is_secret(key, v) for v in values)``.
        """
        if self.mask_all or platform_marked:
            return True
        return self.secret_by_verdict(key, max(map(value_verdict, values), default=PUBLIC))

    def rule_for_verdict(self, verdict: int) -> bool | Callable[[str], bool]:
        """Return :meth:`secret_by_verdict` for ``verdict`` and any key: ``True``/``False`` when
        the name cannot change the answer, else a function of the key name.

        For a caller that decides many keys: it asks once per verdict.
        """
        if self.mask_all or verdict == CERTAIN:
            return True
        public, named = self._public_names, self._secret_names
        if verdict == GUESSED:
            return (lambda key: not public(key)) if public else True
        if not named:
            return False
        return (lambda key: named(key) and not public(key)) if public else named

    def secret_by_verdict(self, key: str, verdict: int, *, platform_marked: bool = False) -> bool:
        """Return whether ``key`` is secret when the strongest :func:`value_verdict` of its values is ``verdict``.

        ``any_secret`` for a caller that keeps the verdicts of values it has seen
        (the reconciler classifies each distinct value once per run).
        """
        if self.mask_all or platform_marked or verdict == CERTAIN:
            return True
        if self._forced_public(key):
            return False
        return verdict == GUESSED or self._name_matches(key)

    def fingerprint(self, value: str) -> str:
        """Return ``<secret fp:xxxxxxxxxxxx>``: 12 hex digits of HMAC-SHA256(key, value)."""
        digest = hmac.new(self.fingerprint_key, _FP_DOMAIN + value.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).hexdigest()
        return f"<secret fp:{digest[:_FP_HEX_DIGITS]}>"

    def record_fingerprint(self, value: str) -> str:
        """Return the keyed fingerprint a write record keeps for ``value``: 64 hex digits, never shown.

        HMAC-SHA256 under the project's fingerprint key, in its own domain, so it is not the
        12-digit display fingerprint; nobody without the key can test guesses against it.
        """
        return hmac.new(self.fingerprint_key, _RECORD_DOMAIN + value.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    @property
    def key_id(self) -> str:
        """Return 16 hex digits naming the fingerprint key (so a record made under another key is known)."""
        return hmac.new(self.fingerprint_key, _KEY_ID_DOMAIN, hashlib.sha256).hexdigest()[:16]

    def show(self, key: str, value: str | None, *, platform_marked: bool = False) -> str:
        """Return what may be displayed: ``<secret>`` if unreadable, a fingerprint if secret, else the value."""
        if value is None:
            return MASKED_UNREADABLE
        if self.is_secret(key, value, platform_marked=platform_marked):
            return self.fingerprint(value)
        return value

    def mask_payload(self, payload: Any) -> Any:
        """Return a copy of ``payload`` with every secret-looking string fingerprinted.

        Walks dicts, lists, tuples and sets.  A string is replaced when it
        sits (at any depth) under a dict key whose name matches the secret
        patterns (except ``missing_in_*`` fields, which list variable names),
        or when it looks like a credential itself; a dict key that contains a
        known credential format is replaced too.  Masks (``<secret>``,
        fingerprints) are kept; other values are returned unchanged.
        ``mask_all`` does not apply here (it is about variable values).
        """
        return self._mask(payload, under_secret=False)

    def _mask_text(self, text: str, under_secret: bool) -> str:
        if is_masked(text):
            return text
        if under_secret or (len(text) >= 8 and (_is_certain_credential(text)
                                                 or _is_guessed_credential(text))):
            return self.fingerprint(text)
        return text

    def _mask(self, item: Any, *, under_secret: bool) -> Any:
        if isinstance(item, str):
            return self._mask_text(item, under_secret)
        if isinstance(item, Mapping):
            masked: dict[Any, Any] = {}
            for key, value in item.items():
                secret_here = under_secret or (isinstance(key, str) and self.is_secret_name(key)
                                               and not _KEY_NAME_FIELDS.fullmatch(key))
                if isinstance(key, str) and not is_masked(key) and _is_certain_credential(key):
                    key = self.fingerprint(key)
                masked[key] = self._mask(value, under_secret=secret_here)
            return masked
        if isinstance(item, (list, tuple)):
            items = [self._mask(value, under_secret=under_secret) for value in item]
            return items if isinstance(item, list) else tuple(items)
        if isinstance(item, (set, frozenset)):
            return type(item)(self._mask(value, under_secret=under_secret) for value in item)
        return item


def _decode_key_text(text: str) -> bytes:
    """Return the bytes of a hex or base64 key; hex wins when both readings are possible."""
    text = text.strip()
    if len(text) % 2 == 0 and _HEX.fullmatch(text):
        return bytes.fromhex(text)
    standard = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode((standard + "=" * (-len(standard) % 4)).encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ConfigError(f"${FINGERPRINT_KEY_ENV} must be hex or base64") from None


def _read_key_file(path: Path) -> bytes | None:
    """Return the key stored in ``path``, ``None`` if it does not exist; waits out a half-written file."""
    from .files import KEY_LIMIT, FileProblem, read_bytes

    deadline = time.monotonic() + _KEY_WAIT_SECONDS
    while True:
        try:
            data = read_bytes(path, limit=KEY_LIMIT, what="fingerprint key")
        except FileProblem as exc:
            if exc.missing:
                return None
            raise ConfigError(exc.reason, file=str(path)) from None
        if len(data) >= FINGERPRINT_KEY_BYTES:
            return data[:FINGERPRINT_KEY_BYTES]
        if time.monotonic() > deadline:
            raise ConfigError(f"fingerprint key file is corrupt (expected {FINGERPRINT_KEY_BYTES} "
                              "bytes); delete it to create a new key", file=str(path))
        time.sleep(0.01)


def _create_key_file(path: Path) -> bytes | None:
    """Create ``path`` holding 32 random bytes (mode 0600); return them, or ``None`` if it already exists.

    The key is written to a private temporary file and published with
    ``os.link``, which fails when the name exists, so a reader never sees a
    half-written key and two concurrent creators agree on one winner.
    """
    key = os.urandom(FINGERPRINT_KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return None
        except OSError:
            # No hard links on this file system: claim the name directly.
            try:
                direct = os.open(path, flags, 0o600)
            except FileExistsError:
                return None
            with os.fdopen(direct, "wb") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
        return key
    finally:
        try:
            os.unlink(temp)
        except OSError:
            pass


def load_or_create_fingerprint_key(state_dir: Path) -> bytes:
    """Return the fingerprint key: ``$GENESIS_FINGERPRINT_KEY`` (hex or base64) or ``state_dir/fingerprint.key``.

    The file is created on first use with 32 random bytes and mode 0600; when
    several processes race to create it, all of them end up with the same key.
    Raises ``ConfigError`` (never showing key material) when the key is unusable.
    """
    configured = os.environ.get(FINGERPRINT_KEY_ENV)
    if configured:
        key = _decode_key_text(configured)
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"${FINGERPRINT_KEY_ENV} must hold at least {MIN_KEY_BYTES} bytes")
        return key
    state_dir = Path(state_dir)
    path = state_dir / FINGERPRINT_KEY_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            existing = _read_key_file(path)
            if existing is not None:
                _tighten_mode(path)
                return existing
            created = _create_key_file(path)
            if created is not None:
                return created
    except OSError as exc:
        raise ConfigError(f"cannot create fingerprint key: {exc.strerror or exc}",
                          file=str(path)) from None
    raise ConfigError("fingerprint key file keeps disappearing", file=str(path))


def _tighten_mode(path: Path) -> None:
    """Make an existing key file private to its owner (best effort)."""
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass


def policy_from_config(config: Config, state_dir: Path, *, mask_all: bool | None = None) -> SecretPolicy:
    """Return the policy described by ``[secrets]``, keyed with this project's fingerprint key.

    Keys: ``patterns`` (extra secret name patterns), ``not_secret`` (names
    forced public) and ``mask_all``; ``mask_all=`` (e.g. ``--mask-all``)
    overrides the file when not ``None``.  Raises ``ConfigError`` naming the
    file and key for unknown keys, wrong types and invalid patterns.
    """
    table = config.section("secrets")
    table.check_known({"patterns", "not_secret", "mask_all"})
    lists = {name: patterns_setting(table, name) for name in ("patterns", "not_secret")}
    configured_mask_all = table.bool("mask_all", False)
    return SecretPolicy(
        fingerprint_key=load_or_create_fingerprint_key(state_dir),
        extra_patterns=lists["patterns"],
        not_secret=lists["not_secret"],
        mask_all=configured_mask_all if mask_all is None else mask_all,
    )
