"""A message as ``@microsoft/fetch-event-source`` hands it to ChatKit, and how values are read.

The library reads ``retry`` with ``parseInt(value, 10)`` and decodes every field name and value
with its own ``TextDecoder`` call; :func:`js_parse_int` and :func:`_decode` do the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_RETRY_MS = 1000
"""The retry interval ``fetchEventSource`` starts with, before any ``retry`` field."""

_MAX_SAFE_INTEGER = 2**53 - 1
# JavaScript's StrWhiteSpaceChar (what parseInt skips): WhiteSpace and LineTerminator code points.
_JS_SPACE = frozenset(
    "\t\v\f \u00a0\ufeff\n\r\u2028\u2029\u1680\u202f\u205f\u3000"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
)
_DIGITS = re.compile(r"[0-9]+")


@dataclass(slots=True)
class Message:
    """One message ``fetch-event-source`` dispatches to ChatKit, and where it came from."""

    index: int
    start: int
    """Byte offset where the message's block begins (just past the previous blank line)."""
    end: int
    """Byte offset just past the blank line that dispatched it (its LF included after a CR)."""
    chunk: int
    """Index of the chunk holding the line ending that dispatched it."""
    arrived_ns: int
    """Arrival offset of that chunk: when ChatKit's UI would have received the message."""
    data: str = ""
    event: str = ""
    """The block's ``event`` value, ``""`` when it set none (ChatKit then gets ``""``)."""
    id: str = ""
    """The block's own ``id`` value, ``""`` when it set none."""
    retry: int | float | None = None
    """The block's ``retry`` as ``parseInt`` read it (a float past 2**53, as in JavaScript)."""
    last_event_id: str = ""
    """The ``last-event-id`` header a reconnect would send after this message (``""``: none)."""
    notes: tuple[str, ...] = ()
    """What in the block the rules ignored or changed (no-colon lines, dropped empty data, ...)."""

    @property
    def byte_range(self) -> tuple[int, int]:
        return (self.start, self.end)

    def delivered(self) -> dict[str, Any]:
        """The message as ChatKit's UI receives it: ``{data, event, id, retry}``."""
        return {"data": self.data, "event": self.event, "id": self.id, "retry": self.retry}

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "chunk": self.chunk,
            "arrived_ns": self.arrived_ns,
            **self.delivered(),
            "last_event_id": self.last_event_id,
            "notes": list(self.notes),
        }


def js_parse_int(text: str) -> int | float | None:
    """``parseInt(text, 10)`` as JavaScript computes it; ``None`` where it gives ``NaN``.

    Leading JavaScript white space is skipped, then an optional sign, then the longest run of
    ASCII digits; anything after it is ignored. Past 2**53 the result is a float (``inf`` when
    too large for one), as a JavaScript number would be.
    """
    position = 0
    length = len(text)
    while position < length and text[position] in _JS_SPACE:
        position += 1
    sign = 1
    if position < length and text[position] in "+-":
        sign = -1 if text[position] == "-" else 1
        position += 1
    digits = _DIGITS.match(text, position)
    if digits is None:
        return None
    value = sign * bounded_decimal(digits.group())
    if isinstance(value, float):
        return value
    if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        return value
    try:
        return float(value)
    except OverflowError:
        return float("inf") * sign


MAX_DECIMAL_DIGITS = 400
"""Digits past the leading zeros beyond which a decimal is read as infinity, as a JavaScript
number reads it (the largest finite double has 309 digits); Python's ``int()`` would refuse
more than 4,300 digits with a ``ValueError``."""


def bounded_decimal(digits: str) -> int | float:
    """The value of a run of ASCII ``digits``: an ``int``, or ``inf`` when it has more than
    :data:`MAX_DECIMAL_DIGITS` significant digits (never Python's int-size ``ValueError``)."""
    significant = digits.lstrip("0")
    if len(significant) > MAX_DECIMAL_DIGITS:
        return float("inf")
    return int(significant or "0")


def _decode(raw: bytes) -> str:
    """``new TextDecoder().decode(raw)``: UTF-8 with U+FFFD for bad bytes, one BOM dropped."""
    text = raw.decode("utf-8", "replace")
    return text[1:] if text[:1] == "\ufeff" else text
