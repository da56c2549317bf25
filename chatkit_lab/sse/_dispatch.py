"""SSE as ChatKit parses it: the messages ``@microsoft/fetch-event-source`` hands to the UI.

ChatKit's host script reads every streamed reply with ``@microsoft/fetch-event-source`` (2.x),
not with the browser's ``EventSource``, and its rules differ from the WHATWG ones a browser's
``EventSource`` follows (each message's notes say where). Read from the package's parse module:

* lines end at CR, LF or CRLF, also when the CR and the LF arrive in different chunks;
* a line whose first colon is its first byte (a comment) is ignored, and so is a line with no
  colon at all (WHATWG makes that a field with an empty value);
* the field name is the bytes before the first colon; one space after the colon is dropped;
* every field name and every value is decoded on its own with a ``TextDecoder``: UTF-8, bad bytes
  become U+FFFD, and one leading BOM is dropped from each of them (so a BOM at the start of the
  stream, or of any line or value, is not seen);
* ``data`` values are joined with ``\\n``, except that while the data is still empty a new value
  replaces it: empty ``data`` lines before the first non-empty one are dropped;
* ``event`` and ``id`` are kept (last one wins), ``retry`` is kept when ``parseInt(value, 10)``
  gives a number (leading spaces, a sign and trailing junk are accepted), others are ignored;
* **every blank line dispatches a message**, even one with empty data and no fields;
* bytes after the last line ending are never dispatched, nor is a block without a blank line.

Each message is ``{data, event, id, retry}`` (``event`` and ``id`` are ``""`` when not set in
its block), plus what the kit adds for investigations: the byte range of its block, the chunk
that dispatched it, and the ``last-event-id`` a reconnect would send.

Linear in the body: each byte is scanned once, an unfinished line is kept in a growing buffer,
and a line is only copied when it ends. ``retry`` is read as ``parseInt(value, 10)`` reads it
(:func:`js_parse_int`), and every field name and value is decoded with its own ``TextDecoder``
call (:func:`text_decode`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chatkit_lab.redact import shorten

__all__ = [
    "BOM",
    "DEFAULT_RETRY_MS",
    "MAX_SAFE_INTEGER",
    "Message",
    "MessageParser",
    "dispatch_bytes",
    "dispatch_messages",
    "has_data_line",
    "js_parse_int",
    "run_message_parser",
    "text_decode",
]

BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, which ``TextDecoder`` drops from the start of each field and value."""

DEFAULT_RETRY_MS = 1000
"""The retry interval ``fetchEventSource`` starts with, before any ``retry`` field."""

MAX_SAFE_INTEGER = 2**53 - 1
"""``Number.MAX_SAFE_INTEGER``: integers beyond it may not survive ``JSON.parse`` exactly."""
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
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
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


def text_decode(raw: bytes) -> str:
    """``new TextDecoder().decode(raw)``: UTF-8 with U+FFFD for bad bytes, one BOM dropped."""
    text = raw.decode("utf-8", "replace")
    return text[1:] if text[:1] == "\ufeff" else text


_LINE_END = re.compile(rb"\r\n|\r|\n")
_MAX_NOTES = 12
"""Notes kept per message at most (a block of a million odd lines stays small)."""


_KNOWN = {b"data": "data", b"event": "event", b"id": "id", b"retry": "retry"}


class MessageParser:
    """Incremental parser following ``@microsoft/fetch-event-source``'s rules over raw bytes.

    ``feed`` returns the messages that chunk dispatched; ``close`` ends the stream (nothing more
    is ever dispatched: the library discards what is left). Any chunking of the same bytes gives
    the same messages and byte ranges; only chunk indexes and arrival times follow the chunking.
    A message whose blank line ended with a chunk-final CR has its ``end`` widened by one when
    the next chunk starts with the LF of that CRLF.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.last_event_id = ""
        """The ``last-event-id`` header a reconnect would send now (``""``: none)."""
        self.retry_ms: int | float = DEFAULT_RETRY_MS
        """The retry interval a reconnect would wait now (the last valid ``retry``)."""
        self.undispatched: tuple[int, int] | None = None
        """After :meth:`close`: the byte range left undispatched at the end, if any."""
        self.tail_notes: list[str] = []
        """After :meth:`close`: why the undispatched bytes were dropped."""
        self.unterminated: Message | None = None
        """After :meth:`close`: the message the undispatched bytes would have made, had a blank
        line ended them (never dispatched; ``data`` tells whether an event was lost)."""
        self._offset = 0
        """Body offset of the next byte fed."""
        self._line = bytearray()
        """The unfinished line's bytes (those after the last line ending)."""
        self._line_start = 0
        self._skip_lf = False
        """The last chunk ended with a CR: an LF starting the next one belongs to it."""
        self._cr_message: Message | None = None
        """The message that chunk-final CR dispatched, widened if that LF comes."""
        self._chunk = 0
        self._arrived = 0
        self._closed = False
        self._reset_block(0)

    def _reset_block(self, start: int) -> None:
        self._block_start = start
        self._data: list[str] = []
        self._has_data = False
        """Whether the data is non-empty (the library's ``message.data ? ... : value``)."""
        self._dropped_empty = 0
        self._bare_data = False
        """A ``data`` line without a colon was ignored in this block."""
        self._event = ""
        self._id = ""
        self._retry: int | float | None = None
        self._notes: list[str] | None = None

    def _note(self, text: str) -> None:
        notes = self._notes
        if notes is None:
            notes = self._notes = []
        if len(notes) < _MAX_NOTES and text not in notes:
            notes.append(text)

    def feed(
        self, data: bytes, chunk_index: int | None = None, arrived_ns: int = 0
    ) -> list[Message]:
        """Consume one chunk; return the messages it dispatched."""
        if self._closed:
            raise RuntimeError("MessageParser.feed() called after close()")
        if chunk_index is not None:
            self._chunk = chunk_index
        self._arrived = arrived_ns
        before = len(self.messages)
        if data:
            self._consume(bytes(data))
        if chunk_index is None:
            self._chunk += 1
        return self.messages[before:]

    def close(self) -> list[Message]:
        """End of the stream: record what was never dispatched. Returns ``[]`` (by the rules)."""
        if self._closed:
            return []
        self._closed = True
        if self._offset > self._block_start:
            self.undispatched = (self._block_start, self._offset)
            if self._line:
                self.tail_notes.append(
                    "the body ends inside a line (no line ending after its last bytes): "
                    "fetch-event-source never dispatches them"
                )
            if self._line_start > self._block_start:
                self.tail_notes.append(
                    "the last block has no blank line after it: fetch-event-source never "
                    "dispatches it"
                )
            # What those bytes would have dispatched had a blank line ended them (the reader's
            # state is put back: the library never read them as a message).
            last_event_id, retry_ms = self.last_event_id, self.retry_ms
            if self._line:
                self._take_line(bytes(self._line), self._offset)
            self.unterminated = self._dispatch(self._offset)
            self.messages.pop()
            self.last_event_id, self.retry_ms = last_event_id, retry_ms
        self._line = bytearray()  # never dispatched: not kept
        return []

    # -- internals -------------------------------------------------------------------------

    def _consume(self, data: bytes) -> None:
        base = self._offset
        self._offset += len(data)
        position = 0
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                position = 1
                self._line_start = base + 1
                if self._cr_message is not None:
                    self._cr_message.end += 1
                    self._block_start += 1
        self._cr_message = None
        if b"\r" not in data:
            self._consume_split(data, base, position, b"\n")
            return
        crs = data.count(b"\r")
        if crs == data.count(b"\n") == data.count(b"\r\n") and data[-1:] != b"\r":
            self._consume_split(data, base, position, b"\r\n")  # CRLF only, none cut off
            return
        length = len(data)
        for match in _LINE_END.finditer(data, position):
            line = data[position : match.start()]
            if self._line:
                self._line += line
                line = bytes(self._line)
                self._line.clear()
            position = match.end()
            self._line_start = base + position
            dispatched = self._take_line(line, base + position)
            if position == length and match.group() == b"\r":
                self._skip_lf = True
                self._cr_message = dispatched
        self._line += data[position:]

    def _consume_split(self, data: bytes, base: int, position: int, ending: bytes) -> None:
        """:meth:`_consume` for a chunk whose lines all end with ``ending``: split at once."""
        lines = (data[position:] if position else data).split(ending)
        step = len(ending)
        rest = lines.pop()
        if not lines:
            self._line += rest
            return
        offset = base + position
        if self._line:
            offset -= len(self._line)  # the unfinished line's bytes came before this chunk
            self._line += lines[0]
            lines[0] = bytes(self._line)
            self._line.clear()
        take = self._take_line
        messages = self.messages
        count = len(lines)
        at = 0
        while at < count:
            line = lines[at]
            at += 1
            start = offset
            offset += len(line) + step
            if line[:5] == b"data:" and line.isascii():
                if start == self._block_start and at < count and not lines[at]:
                    # The usual block, one ASCII ``data:`` line and a blank line: made directly.
                    at += 1
                    offset += step
                    value = line[6:] if line[5:6] == b" " else line[5:]
                    messages.append(
                        Message(
                            len(messages),
                            start,
                            offset,
                            self._chunk,
                            self._arrived,
                            value.decode("ascii"),
                            "",
                            "",
                            None,
                            self.last_event_id,
                        )
                    )
                    self._block_start = offset
                    continue
                self._ascii_data(line)
            elif line:
                take(line, offset)
            else:
                self._dispatch(offset)
        self._line_start = offset
        self._line += rest

    def _ascii_data(self, line: bytes) -> None:
        """A ``data:`` line of ASCII bytes (most lines of a real stream), without decoding."""
        value = line[6:] if line[5:6] == b" " else line[5:]
        self._add_data(value.decode("ascii"))

    def _add_data(self, value: str) -> None:
        if self._has_data:
            self._data.append(value)
        elif value:
            if self._data:
                self._dropped_empty += 1
            self._data = [value]
            self._has_data = True
        else:
            self._data = [value]

    def _take_line(self, line: bytes, end: int) -> Message | None:
        """Apply one complete line; return the message it dispatched (a blank line), if any."""
        if not line:
            return self._dispatch(end)
        colon = line.find(b":")
        if colon <= 0:
            if line == b"data":
                self._bare_data = True  # noted at the dispatch, when the block's data is known
            elif colon < 0:
                # WHATWG reads a lone known name as that field with an empty value; it differs
                # from ignoring the line only where that value changes what is dispatched.
                differs = (line == b"event" and self._event) or (
                    line == b"id" and self.last_event_id
                )
                self._note(
                    f"line without a colon ignored: {_excerpt(line)}"
                    + (f" (WHATWG reads it as {_NO_COLON_WHATWG[line]})" if differs else "")
                )
            return None
        name_bytes = line[:colon]
        value_bytes = (
            line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
        )
        name = _KNOWN.get(name_bytes)
        if name is None:
            decoded = text_decode(name_bytes)
            if "\ufffd" in decoded:
                self._note("invalid UTF-8 replaced with U+FFFD")
            if decoded in _KNOWN.values():
                name = decoded
                if self.messages or end - len(line) > 2:  # not the stream's first line
                    self._note(
                        f"BOM before the field name {decoded!r} dropped by TextDecoder "
                        "(WHATWG drops only a BOM at the start of the stream: for it the "
                        "field is unknown and ignored)"
                    )
            else:
                self._note(f"unknown field {decoded!r} ignored")
                return None
        value = text_decode(value_bytes)
        if "\ufffd" in value and b"\xef\xbf\xbd" not in value_bytes:
            self._note("invalid UTF-8 replaced with U+FFFD")
        if value_bytes.startswith(b"\xef\xbb\xbf"):
            self._note(
                f"BOM at the start of a {name!r} value dropped by TextDecoder (WHATWG keeps it)"
            )
        if name == "data":
            self._add_data(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" in value:
                self._note("id holding NUL kept (WHATWG ignores such an id)")
            self._id = value
            self.last_event_id = value
        else:
            retry = js_parse_int(value)
            if retry is None:
                self._note(f"retry value {_excerpt(value_bytes)} is not a number: ignored")
            else:
                if not (value.isascii() and value.isdigit()):
                    self._note(
                        f"retry value {_excerpt(value_bytes)} read as {retry} by parseInt "
                        "(WHATWG accepts ASCII digits only)"
                    )
                self._retry = retry
                self.retry_ms = retry
        return None

    def _dispatch(self, end: int) -> Message:
        if self._bare_data:
            # WHATWG adds an empty data line: a different message only beside other data lines
            self._note(
                "line without a colon ignored: 'data'"
                + (" (WHATWG reads it as an empty data line)" if self._data else "")
            )
        notes = self._notes
        if self._dropped_empty:
            notes = notes or []
            notes.append(
                "empty data line(s) before the first non-empty one dropped (WHATWG keeps them "
                "as leading newlines)"
            )
        message = Message(
            len(self.messages),
            self._block_start,
            end,
            self._chunk,
            self._arrived,
            "\n".join(self._data) if len(self._data) != 1 else self._data[0],
            self._event,
            self._id,
            self._retry,
            self.last_event_id,
            tuple(notes) if notes else (),
        )
        self.messages.append(message)
        self._reset_block(end)
        return message


_NO_COLON_WHATWG = {
    b"event": "an empty event name, which undoes the block's event name",
    b"id": "an empty id, which clears the last event id",
}
"""What a browser's ``EventSource`` reads a lone ``event`` or ``id`` line as (a lone ``data`` is
noted at the dispatch; other names it ignores too)."""


def _excerpt(raw: bytes, limit: int = 40) -> str:
    return shorten(repr(raw.decode("utf-8", "replace")), limit)


def has_data_line(block: bytes, *, stream_start: bool = False) -> bool:
    """Whether ``block`` (the bytes of one message) holds a ``data`` line, with or without a
    colon: a browser's ``EventSource`` dispatches such a block even when its data is empty.
    ``stream_start``: the block begins the stream, where a browser drops one leading BOM."""
    if stream_start:
        block = block.removeprefix(BOM)
    return any(line == b"data" or line.startswith(b"data:") for line in _LINE_END.split(block))


def dispatch_messages(chunks: Iterable[Any]) -> list[Message]:
    """The messages ChatKit's UI gets for a body given as chunks.

    Each chunk is ``bytes`` or an object with ``data``, ``index`` and ``offset_ns`` attributes
    (a :class:`chatkit_lab.Chunk`), fed in that chunking.
    """
    return run_message_parser(chunks).messages


def dispatch_bytes(body: bytes) -> list[Message]:
    """The messages ChatKit's UI gets for a body given in one piece."""
    return dispatch_messages([body])


def run_message_parser(chunks: Iterable[Any]) -> MessageParser:
    """Feed every chunk to a :class:`MessageParser`, close it, and return it (state included)."""
    return feed_all(MessageParser(), chunks)


def feed_all(parser: Any, chunks: Iterable[Any]) -> Any:
    """Feed every chunk to ``parser`` (a :class:`MessageParser`, or a reference parser of the
    same shape), close it and return it. Each chunk is ``bytes`` or an object with ``data``,
    ``index`` and ``offset_ns`` attributes (a :class:`chatkit_lab.Chunk`)."""
    for position, chunk in enumerate(chunks):
        if isinstance(chunk, bytes | bytearray | memoryview):
            parser.feed(bytes(chunk), position, 0)
        else:
            parser.feed(chunk.data, chunk.index, chunk.offset_ns)
    parser.close()
    return parser
