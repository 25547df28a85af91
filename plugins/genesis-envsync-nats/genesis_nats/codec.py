"""How an event travels as a NATS message: CloudEvents-style headers + the JSON payload as body.

Headers (CloudEvents NATS binding, binary mode): ``ce-specversion``, ``ce-id``
(the event id), ``ce-type`` (the topic), ``ce-source``, ``ce-time``,
``content-type``; and ``Nats-Msg-Id`` = the event id, which JetStream uses to
drop a retried publish inside its duplicate window.  The stream sequence is
the event's ``_genesis_seq``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from typing import Any

from genesis_core.api import BusError, Envelope, format_time

SPECVERSION = "1.0"
H_SPECVERSION = "ce-specversion"
H_ID = "ce-id"
H_TYPE = "ce-type"
H_SOURCE = "ce-source"
H_TIME = "ce-time"
H_CONTENT_TYPE = "content-type"
H_MSG_ID = "Nats-Msg-Id"
CONTENT_TYPE = "application/json"


_CONTROL = re.compile(r"[\x00-\x1f]")


def _header_value(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or _CONTROL.search(value) is not None:
        raise BusError(f"{name} must be a non-empty single-line string, got {value!r}")
    return value


def event_headers(topic: str, event_id: str, timestamp: str, source: str) -> dict[str, str]:
    """Return the headers that carry an event's envelope (everything but seq and payload)."""
    event_id = _header_value("event id", event_id)
    return {
        H_SPECVERSION: SPECVERSION,
        H_ID: event_id,
        H_TYPE: topic,
        H_SOURCE: _header_value("source", source),
        H_TIME: _header_value("timestamp", timestamp),
        H_CONTENT_TYPE: CONTENT_TYPE,
        H_MSG_ID: event_id,
    }


def _payload(data: bytes | None) -> dict[str, Any]:
    """Return the body as a payload dict; a body that is not a JSON object is wrapped as ``data``."""
    if not data:
        return {}
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return {"data": data.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"data": value}


def decode(*, stream: str, subject: str, seq: int, data: bytes | None,
           headers: Mapping[str, str] | None, stored_at: _dt.datetime | None,
           topic_of: Any) -> Envelope:
    """Return the envelope of one stream message.

    Messages that some other client put on the stream without Genesis headers
    still decode: the topic comes from the subject, the id is
    ``nats:STREAM:SEQ`` and the time is when the stream stored it.
    """
    head = headers or {}
    topic = head.get(H_TYPE) or topic_of(subject)
    event_id = head.get(H_ID) or head.get(H_MSG_ID) or f"nats:{stream}:{seq}"
    timestamp = head.get(H_TIME)
    if not timestamp:
        timestamp = format_time(stored_at) if stored_at is not None else ""
    source = head.get(H_SOURCE) or f"nats:{stream}"
    return Envelope(int(seq), event_id, topic, timestamp, _payload(data), source)


def decode_msg(msg: Any, stream: str, topic_of: Any) -> Envelope:
    """Return the envelope of a message delivered by a JetStream consumer."""
    meta = msg.metadata
    return decode(stream=stream, subject=msg.subject, seq=meta.sequence.stream, data=msg.data,
                  headers=msg.headers, stored_at=getattr(meta, "timestamp", None),
                  topic_of=topic_of)


def decode_raw(raw: Any, stream: str, topic_of: Any) -> Envelope:
    """Return the envelope of a message read with ``get_msg`` (a ``RawStreamMsg``)."""
    return decode(stream=stream, subject=raw.subject or "", seq=raw.seq, data=raw.data,
                  headers=raw.headers, stored_at=raw.time, topic_of=topic_of)
