"""Decoding: the messages ChatKit's parser dispatches to JSON events.

ChatKit's client keys every event on the JSON ``type`` field of the ``data`` payload; the SSE
``event:`` name is kept for reference but decides nothing. Payloads are judged as the browser's
``JSON.parse`` judges them (:func:`chatkit_lab.sse.parse_browser_json`): ``NaN`` and
``Infinity`` are not JSON, numbers the browser reads differently and lone surrogates are kept as
``json_issues`` on the event (with lone surrogates replaced by U+FFFD in ``payload``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatkit_lab.sse._dispatch import Message
from chatkit_lab.sse._json import SLOW, JsonIssue, fast_json, plain_json, slow_json


@dataclass(slots=True)
class Event:
    """One dispatched message's payload, decoded."""

    index: int
    """Position among decoded events (the client's event number)."""
    frame_index: int
    """Index of the ``fetch-event-source`` message it was decoded from."""
    arrived_ns: int
    data: str
    """The ``data`` as dispatched, verbatim (escapes untouched)."""
    sse_event: str
    """The SSE ``event:`` name; ``message`` when the block set none (ChatKit itself gets ``""``:
    the name decides nothing)."""
    payload: Any = None
    """The decoded JSON value (``None`` when decoding failed; check ``decode_error``). Lone
    surrogates in its strings are replaced with U+FFFD (see ``json_issues``)."""
    decode_error: str | None = None
    byte_range: tuple[int, int] = (0, 0)
    json_issues: tuple[JsonIssue, ...] = ()
    """Where the browser reads the payload differently from Python (numbers), or where the kit
    changed it (lone surrogates); at most a few, see :class:`chatkit_lab.sse.JsonIssue`."""
    json_error_kind: str | None = None
    """``syntax``, ``constant`` (``NaN``/``Infinity``), ``depth`` (too deep for the kit) or
    ``type`` (JSON, but not an object); ``None`` when the payload is an object."""

    @property
    def ok(self) -> bool:
        return self.decode_error is None

    @property
    def type(self) -> str | None:
        """The JSON ``type`` field when the payload is an object with a string ``type``."""
        if isinstance(self.payload, dict):
            value = self.payload.get("type")
            return value if isinstance(value, str) else None
        return None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "frame_index": self.frame_index,
            "arrived_ns": self.arrived_ns,
            "sse_event": self.sse_event,
            "type": self.type,
            "decode_error": self.decode_error,
            "data": self.data,
            "byte_range": list(self.byte_range),
        }
        if self.json_issues:
            out["json_issues"] = [issue.to_dict() for issue in self.json_issues]
        return out


def _decode(
    index: int,
    source_index: int,
    arrived_ns: int,
    data: str,
    name: str,
    byte_range: tuple[int, int],
    careful: bool = True,
) -> Event:
    payload = fast_json(data) if careful else plain_json(data)
    if isinstance(payload, dict):  # the usual event, decoded on the fast path
        return Event(index, source_index, arrived_ns, data, name, payload, None, byte_range)
    event = Event(index, source_index, arrived_ns, data, name, None, None, byte_range)
    if payload is SLOW:
        decoded = slow_json(data)
        if decoded.error is not None:
            kind = decoded.error_kind
            event.decode_error = decoded.error if kind == "depth" else f"not JSON: {decoded.error}"
            event.json_error_kind = kind
            return event
        payload = decoded.value
        if decoded.issues:
            event.json_issues = decoded.issues
    event.payload = payload
    if not isinstance(payload, dict):
        event.decode_error = (
            f"JSON {type(payload).__name__} where an object with a 'type' field was expected"
        )
        event.json_error_kind = "type"
    return event


def decode_message(message: Message, index: int, *, careful: bool = True) -> Event:
    """Decode one ``fetch-event-source`` message's data as JSON.

    ``careful=False`` skips looking for long numbers and escaped surrogates: only for data known
    to hold none (see :func:`chatkit_lab.sse.may_differ`).
    """
    return _decode(
        index,
        message.index,
        message.arrived_ns,
        message.data,
        message.event or "message",
        (message.start, message.end),
        careful,
    )


def decode_messages(messages: Iterable[Message], *, careful: bool = True) -> list[Event]:
    """Events for the messages ChatKit's parser dispatches that carry data, in order.

    A message with empty data (a keep-alive comment's blank line, a ``retry:``-only block) is
    handed to ChatKit's UI too, but what the UI does with it is not known; the kit models it as
    ignored (it is not an event), and the framing layer reports it. ``careful=False`` when
    :func:`chatkit_lab.sse.may_differ` found nothing in the body: each message is then not
    scanned again.
    """
    events: list[Event] = []
    for message in messages:
        if message.data:
            events.append(decode_message(message, len(events), careful=careful))
    return events
