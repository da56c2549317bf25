"""Decoding: dispatched SSE frames to JSON events.

ChatKit's client keys every event on the JSON ``type`` field of the ``data`` payload; the SSE
``event:`` name is kept for reference but decides nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from chatkit_lab.sse._frames import Frame


@dataclass(slots=True)
class Event:
    """One dispatched frame's payload, decoded."""

    index: int
    """Position among dispatched frames (the client's event number)."""
    frame_index: int
    arrived_ns: int
    data: str
    sse_event: str
    """The SSE ``event:`` name (``message`` when the frame had none)."""
    payload: Any = None
    """The decoded JSON value (``None`` when decoding failed; check ``decode_error``)."""
    decode_error: str | None = None
    byte_range: tuple[int, int] = (0, 0)

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
        return {
            "index": self.index,
            "frame_index": self.frame_index,
            "arrived_ns": self.arrived_ns,
            "sse_event": self.sse_event,
            "type": self.type,
            "decode_error": self.decode_error,
            "data": self.data,
            "byte_range": list(self.byte_range),
        }


def decode_event(frame: Frame, index: int) -> Event:
    """Decode one dispatched frame's data as JSON."""
    event = Event(  # positional: the field order of Event
        index,
        frame.index,
        frame.arrived_ns,
        frame.data,
        frame.event,
        None,
        None,
        (frame.start, frame.end),
    )
    try:
        payload = _loads(frame.data)
    except json.JSONDecodeError as exc:
        event.decode_error = f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        return event
    except RecursionError:
        event.decode_error = "not JSON: nested too deeply to decode"
        return event
    event.payload = payload
    if not isinstance(payload, dict):
        event.decode_error = (
            f"JSON {type(payload).__name__} where an object with a 'type' field was expected"
        )
    return event


def _loads(data: str) -> Any:
    """``json.loads(data)``, the same value, decoded faster and with repeated strings shared.

    pydantic-core's JSON parser returns the same values as ``json.loads`` for every document
    both accept (duplicate keys, NaN and Infinity, big numbers and float rounding included) and
    shares the Python objects of short strings it has seen before (keys such as ``type``, event
    names, item ids), which on a long stream is most of its payloads' memory. It rejects a few
    documents ``json.loads`` accepts (escaped lone surrogates, nesting past 200 levels); those,
    and every error, go to ``json.loads``, so values and error messages stay ``json.loads``'s.
    """
    try:
        return from_json(data)
    except (ValueError, TypeError):
        return json.loads(data)


def decode_events(frames: Iterable[Frame]) -> list[Event]:
    """Events for the frames a browser would dispatch, in order."""
    events: list[Event] = []
    for frame in frames:
        if frame.dispatched:
            events.append(decode_event(frame, len(events)))
    return events
