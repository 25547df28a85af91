"""Check the bearer token a client presents, in any of the three places it may be put.

* ``Authorization: Bearer <token>`` — for non-browser clients (browsers cannot set
  headers on a WebSocket).
* Sub-protocol ``genesis.bearer.<base64url(token), no padding>`` offered next to
  ``genesis.cascade.v1`` — what browsers should use; the server answers with
  ``genesis.cascade.v1`` and never echoes the token.  Offered without
  ``genesis.cascade.v1`` it is not a credential (the server could not answer with a
  sub-protocol the client offered), so the request is refused like one without a token.
* Query parameter ``?token=<token>`` — the fallback for opening the status page in a
  browser; it ends up in history and proxy logs, so prefer the others.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

SUBPROTOCOL = "genesis.cascade.v1"
BEARER_SUBPROTOCOL_PREFIX = "genesis.bearer."
QUERY_PARAMETER = "token"


def encode_subprotocol_token(token: str) -> str:
    """Return the sub-protocol that carries ``token`` (base64url, no padding)."""
    encoded = base64.urlsafe_b64encode(token.encode("utf-8")).decode("ascii").rstrip("=")
    return BEARER_SUBPROTOCOL_PREFIX + encoded


def offered_subprotocols(headers: Any) -> list[str]:
    """Return every sub-protocol listed in the request's ``Sec-WebSocket-Protocol`` headers."""
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(part.strip() for part in value.split(",") if part.strip())
    return offered


def _decode_subprotocol_token(value: str) -> str | None:
    encoded = value[len(BEARER_SUBPROTOCOL_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def presented_tokens(path: str, headers: Any) -> Iterator[str]:
    """Yield every token the request carries (header, sub-protocol, query parameter).

    The sub-protocol token counts only when ``genesis.cascade.v1`` is offered with it.
    """
    for value in headers.get_all("Authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            yield credentials.strip()
    protocols = offered_subprotocols(headers)
    if SUBPROTOCOL in protocols:  # the documented pair; a lone bearer sub-protocol is no credential
        for offered in protocols:
            if offered.startswith(BEARER_SUBPROTOCOL_PREFIX):
                decoded = _decode_subprotocol_token(offered)
                if decoded:
                    yield decoded
    query = parse_qs(urlsplit(path).query, keep_blank_values=False)
    yield from query.get(QUERY_PARAMETER, [])


class TokenGate:
    """Decides whether a request may pass; ``repr`` never shows the token."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def required(self) -> bool:
        """Return whether clients must present a token."""
        return self._token is not None

    def allows(self, path: str, headers: Mapping[str, str] | Any) -> bool:
        """Return whether the request may pass (always, when no token is configured)."""
        if self._token is None:
            return True
        matched = False
        for candidate in presented_tokens(path, headers):
            # compare every candidate so the time taken does not say which one matched
            matched |= hmac.compare_digest(candidate.encode("utf-8"), self._token)
        return matched

    def __repr__(self) -> str:
        return f"TokenGate(required={self.required})"
