"""A reference parser for the tests: raw bytes to frames as a browser's ``EventSource`` cuts them.

The kit judges with one SSE parser, ChatKit's (:class:`chatkit_lab.sse.MessageParser`, the rules
of ``@microsoft/fetch-event-source``). This one follows the WHATWG HTML "event stream
interpretation" rules, so the tests can state where a browser's own parser reads the same bytes
otherwise (and ``reference_parsers`` adds ``httpx-sse``). It keeps byte offsets, the chunk each
frame arrived in, its arrival time, the line-ending style, and whether a browser dispatches it:

* the stream is UTF-8; one leading BOM is dropped; bad bytes become U+FFFD;
* lines end with CRLF, LF or CR, in any mix, split across chunks in any way;
* an empty line dispatches the event being built; ``:`` starts a comment line;
* ``field: value`` drops one space after the colon; a line without a colon is a field with an
  empty value; ``event``, ``data``, ``id`` (ignored if it holds NUL) and ``retry`` (ASCII digits
  only) are known, anything else is ignored;
* an event with an empty data buffer is not dispatched; a frame cut off by the end of the stream
  (no final empty line) is discarded.

CR and LF never occur inside a multi-byte UTF-8 sequence, so the parser splits lines on bytes and
decodes each line on its own: byte offsets stay exact and the result equals decoding first.

A :class:`Frame`'s three lists are made lazily for the usual one-``data:``-line frame (see
:class:`_FrameLists`), which keeps a stream of a million small frames small in memory.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.redact import shorten
from chatkit_lab.sse import BOM, Message
from chatkit_lab.sse._dispatch import bounded_decimal, feed_all

__all__ = [
    "BOM",
    "Frame",
    "FrameParser",
    "parse_bytes",
    "parse_frames",
    "whatwg_differences",
    "whatwg_opinion",
]

_LINE_END = re.compile(rb"\r\n|\r|\n")


class _FrameLists:
    """Storage for :class:`Frame`'s three lists, which the properties installed below it read.

    Nearly every frame of a real stream is one ``data:`` line and an empty line; its lists are
    ``[("data", data)]``, ``[]`` and ``[]``, which take more memory than the frame itself. The
    parser leaves them :data:`_PLAIN` for such a frame and they are made when first read: the same
    values as building them up front, for the frame's ``data``.
    """

    __slots__ = ("comments", "fields", "notes")


class _Plain:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<a one-data-line frame's list, made when first read>"


_PLAIN: Any = _Plain()


@dataclass(slots=True)
class Frame(_FrameLists):
    """One SSE frame: the lines between two empty lines, and what a browser makes of them."""

    index: int
    start: int
    """Byte offset of the frame's first line in the response body."""
    end: int
    """Byte offset just past the frame's terminating empty line (or the end of the body)."""
    first_chunk: int
    last_chunk: int
    """Index of the chunk holding the byte that completed (dispatched) the frame."""
    arrived_ns: int
    """Arrival offset of that chunk: when a browser would have dispatched the event."""
    line_ending: str
    """``LF``, ``CRLF``, ``CR`` or ``mixed`` over the frame's lines and its terminator."""
    fields: list[tuple[str, str]] = field(default_factory=list)
    """Every non-comment line as ``(name, value)``, in order, unknown fields included."""
    comments: list[str] = field(default_factory=list)
    event: str = "message"
    """The event type a browser would dispatch (``message`` unless an ``event:`` line said)."""
    data: str = ""
    id: str | None = None
    """The ``id`` this frame set (``None`` if it set none or its id held NUL)."""
    last_event_id: str = ""
    """The stream's last event id after this frame."""
    retry: int | float | None = None
    dispatched: bool = False
    complete: bool = True
    """``False`` for a trailing frame cut off by the end of the stream."""
    notes: list[str] = field(default_factory=list)
    """Why it was not dispatched, ignored fields, BOM, and similar remarks."""

    @property
    def byte_range(self) -> tuple[int, int]:
        return (self.start, self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "first_chunk": self.first_chunk,
            "last_chunk": self.last_chunk,
            "arrived_ns": self.arrived_ns,
            "line_ending": self.line_ending,
            "fields": [list(pair) for pair in self.fields],
            "comments": list(self.comments),
            "event": self.event,
            "data": self.data,
            "id": self.id,
            "last_event_id": self.last_event_id,
            "retry": self.retry,
            "dispatched": self.dispatched,
            "complete": self.complete,
            "notes": list(self.notes),
        }


def _list_property(slot: Any, make: Any, doc: str) -> property:
    """A property over one of :class:`_FrameLists`' slots that makes a :data:`_PLAIN` list."""
    get_slot = slot.__get__
    set_slot = slot.__set__

    def get(self: Frame) -> list[Any]:
        value = get_slot(self)
        if value is _PLAIN:
            value = make(self)
            set_slot(self, value)
        return value

    def set(self: Frame, value: list[Any]) -> None:
        set_slot(self, value)

    return property(get, set, doc=doc)


# The dataclass machinery has already generated __init__/__eq__/__repr__ (which read and write
# these attributes by name), so the properties slot in without changing what they do.
Frame.fields = _list_property(  # type: ignore[assignment,method-assign]
    _FrameLists.fields,
    lambda frame: [("data", frame.data)],
    "Every non-comment line as ``(name, value)``, in order, unknown fields included.",
)
Frame.comments = _list_property(  # type: ignore[assignment,method-assign]
    _FrameLists.comments, lambda frame: [], None
)
Frame.notes = _list_property(  # type: ignore[assignment,method-assign]
    _FrameLists.notes,
    lambda frame: [],
    "Why it was not dispatched, ignored fields, BOM, and similar remarks.",
)


class _Building:
    __slots__ = (
        "start",
        "first_chunk",
        "fields",
        "comments",
        "data_lines",
        "event",
        "id",
        "retry",
        "endings",
        "notes",
    )

    def __init__(self, start: int, first_chunk: int) -> None:
        self.start = start
        self.first_chunk = first_chunk
        self.fields: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.data_lines: list[str] = []
        self.event: str | None = None
        self.id: str | None = None
        self.retry: int | float | None = None
        self.endings: dict[str, int] = {}
        self.notes: list[str] = []


class FrameParser:
    """Incremental WHATWG event-stream parser over raw bytes.

    ``feed`` returns the frames completed by that chunk; ``close`` returns the trailing partial
    frame, if any. Feeding the same bytes in any chunking gives the same frames (offsets, fields,
    data, dispatch decisions); only chunk indexes and arrival times follow the chunking.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._buffer_offset = 0
        """Absolute body offset of ``_buffer[0]``."""
        self._bom_checked = False
        self._pending_cr = False
        self._last_event_id = ""
        self._building: _Building | None = None
        self._last_frame: Frame | None = None
        """The most recent frame, while its CR terminator might still be followed by an LF."""
        self._last_line_building: _Building | None = None
        self._index = 0
        self._chunk = 0
        self._arrived = 0
        self._chunk_starts: list[tuple[int, int]] = []
        """``(body offset, chunk index)`` where each chunk still in the buffer began."""
        self.frames: list[Frame] = []
        self.bom_skipped = False
        self._closed = False

    @property
    def last_event_id(self) -> str:
        return self._last_event_id

    def feed(self, data: bytes, chunk_index: int | None = None, arrived_ns: int = 0) -> list[Frame]:
        """Consume one chunk; return the frames it completed."""
        if self._closed:
            raise RuntimeError("FrameParser.feed() called after close()")
        self._chunk = chunk_index if chunk_index is not None else self._chunk
        self._arrived = arrived_ns
        before = len(self.frames)
        if not data:
            if chunk_index is None:
                self._chunk += 1
            return []
        self._chunk_starts.append((self._buffer_offset + len(self._buffer), self._chunk))
        buffer = self._buffer + data
        if not self._bom_checked:
            if len(buffer) < len(BOM) and BOM.startswith(buffer):
                self._buffer = buffer
                if chunk_index is None:
                    self._chunk += 1
                return []
            self._bom_checked = True
            if buffer.startswith(BOM):
                buffer = buffer[len(BOM) :]
                self._buffer_offset += len(BOM)
                self.bom_skipped = True
        if self._pending_cr and buffer[:1] == b"\n":
            self._crlf_after_cr()
            buffer = buffer[1:]
            self._buffer_offset += 1
        self._pending_cr = False
        self._buffer = buffer
        self._consume_lines()
        if chunk_index is None:
            self._chunk += 1
        return self.frames[before:]

    def close(self) -> list[Frame]:
        """End of stream: discard (but record) a frame the stream cut off."""
        if self._closed:
            return []
        self._closed = True
        before = len(self.frames)
        if not self._bom_checked and self._buffer:
            self._bom_checked = True
        tail = self._buffer
        building = self._building
        if tail:
            if building is None:
                building = self._start_building(self._buffer_offset)
            self._process_line(building, tail, None)
            self._buffer_offset += len(tail)
            self._buffer = b""
        if building is not None:
            frame = self._make_frame(building, self._buffer_offset, complete=False)
            frame.notes.append(
                "the stream ended before the empty line that ends this frame: a browser discards it"
            )
            self.frames.append(frame)
            self._building = None
        return self.frames[before:]

    # -- internals -------------------------------------------------------------------------

    def _crlf_after_cr(self) -> None:
        """The LF after a chunk-final CR belongs to the same line ending: widen what it ended."""
        if self._last_line_building is None:
            return
        endings = self._last_line_building.endings
        endings["CR"] -= 1
        if not endings["CR"]:
            del endings["CR"]
        endings["CRLF"] = endings.get("CRLF", 0) + 1
        if self._last_frame is not None:
            self._last_frame.end += 1
            self._last_frame.line_ending = _ending_style(endings)

    def _start_building(self, start: int) -> _Building:
        self._building = _Building(start, self._chunk_at(start))
        return self._building

    def _chunk_at(self, offset: int) -> int:
        """Index of the chunk that carried the byte at ``offset`` (still in the buffer)."""
        found = self._chunk
        for begins, index in reversed(self._chunk_starts):
            if begins <= offset:
                found = index
                break
        return found

    def _forget_chunks_before(self, offset: int) -> None:
        starts = self._chunk_starts
        while len(starts) > 1 and starts[1][0] <= offset:
            starts.pop(0)

    def _consume_lines(self) -> None:
        buffer = self._buffer
        if b"\r" not in buffer:
            self._consume_lf_lines(buffer)
            return
        position = 0
        length = len(buffer)
        search = _LINE_END.search
        while position < length:
            match = search(buffer, position)
            if match is None:
                break
            line = buffer[position : match.start()]
            terminator = match.group()
            line_end_offset = self._buffer_offset + match.end()
            if terminator == b"\r" and match.end() == length:
                self._pending_cr = True
            ending = _ENDING_NAMES[terminator]
            if line:
                building = self._building or self._start_building(self._buffer_offset + position)
                building.endings[ending] = building.endings.get(ending, 0) + 1
                self._process_line(building, line, ending)
                self._last_line_building = building
                self._last_frame = None
            else:
                self._blank_line(ending, line_end_offset)
            position = match.end()
        self._buffer = buffer[position:]
        self._buffer_offset += position
        self._forget_chunks_before(self._buffer_offset)

    def _consume_lf_lines(self, buffer: bytes) -> None:
        """:meth:`_consume_lines` for a buffer without CR (the usual case): split on LF."""
        lines = buffer.split(b"\n")
        rest = lines.pop()  # the bytes after the last LF: an unfinished line
        base = self._buffer_offset
        position = 0
        process = self._process_line
        count = len(lines)
        at = 0
        while at < count:
            line = lines[at]
            at += 1
            end = position + len(line) + 1
            if (
                self._building is None
                and at < count
                and not lines[at]
                and line.startswith(b"data:")
                and line.isascii()
            ):
                # The usual frame, one ASCII ``data:`` line and an empty line: made directly.
                self._simple_frame(line, base + position, base + end + 1)
                at += 1
                position = end + 1
                continue
            if line:
                building = self._building or self._start_building(base + position)
                endings = building.endings
                endings["LF"] = endings.get("LF", 0) + 1
                process(building, line, "LF")
                self._last_line_building = building
                self._last_frame = None
            else:
                self._blank_line("LF", base + end)
            position = end
        self._buffer = rest
        self._buffer_offset = base + position
        self._forget_chunks_before(self._buffer_offset)

    def _simple_frame(self, line: bytes, start: int, end: int) -> None:
        """A frame of one ASCII ``data:`` line ended by LF LF (what the general path makes)."""
        value = line[6:] if line[5:6] == b" " else line[5:]
        data = value.decode("ascii")
        frame = Frame(
            self._index,
            start,
            end,
            self._chunk_at(start),
            self._chunk,
            self._arrived,
            "LF",
            _PLAIN,  # fields: [("data", data)], made when first read
            _PLAIN,  # comments: []
            "message",
            data,
            None,
            self._last_event_id,
            None,
            True,
            True,
            _PLAIN,  # notes: []
        )
        self._index += 1
        self.frames.append(frame)
        self._last_line_building = None
        self._last_frame = frame

    def _blank_line(self, ending: str, end_offset: int) -> None:
        building = self._building
        if building is None:
            # An empty line with nothing pending: nothing to dispatch, nothing to record.
            self._last_frame = None
            self._last_line_building = None
            return
        building.endings[ending] = building.endings.get(ending, 0) + 1
        self._last_line_building = building
        frame = self._make_frame(building, end_offset, complete=True)
        self.frames.append(frame)
        self._building = None
        self._last_frame = frame

    def _process_line(self, building: _Building, raw: bytes, ending: str | None) -> None:
        line = raw.decode("utf-8", errors="replace")
        if "\ufffd" in line and b"\xef\xbf\xbd" not in raw:
            building.notes.append("invalid UTF-8 replaced with U+FFFD")
        if line.startswith(":"):
            building.comments.append(line[1:])
            return
        name, colon, value = line.partition(":")
        name = _FIELD_NAMES.get(name, name)  # one shared string per known name
        if colon and value.startswith(" "):
            value = value[1:]
        building.fields.append((name, value))
        if name == "data":
            building.data_lines.append(value)
        elif name == "event":
            building.event = value
        elif name == "id":
            if "\x00" in value:
                building.notes.append("id field containing NUL ignored")
            else:
                building.id = value
                self._last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                building.retry = bounded_decimal(value)
            else:
                building.notes.append(f"retry field with non-digit value {value!r} ignored")
        else:
            building.notes.append(f"unknown field {name!r} ignored")

    def _make_frame(self, building: _Building, end: int, *, complete: bool) -> Frame:
        line_ending = _ending_style(building.endings)
        data = "\n".join(building.data_lines)
        dispatched = complete and bool(building.data_lines)
        notes = building.notes  # the building is dropped once its frame is made
        if complete and not building.data_lines:
            if building.fields:
                notes.append("no data field: a browser dispatches nothing for this frame")
            else:
                notes.append("comment-only frame: a browser dispatches nothing")
        frame = Frame(  # positional: the field order of Frame
            self._index,
            building.start,
            end,
            building.first_chunk,
            self._chunk,
            self._arrived,
            line_ending,
            building.fields,
            building.comments,
            building.event or "message",
            data,
            building.id,
            self._last_event_id,
            building.retry,
            dispatched,
            complete,
            notes,
        )
        self._index += 1
        return frame


_FIELD_NAMES = {name: name for name in ("data", "event", "id", "retry")}
_ENDING_NAMES = {b"\r\n": "CRLF", b"\r": "CR", b"\n": "LF"}


def _ending_style(counts: dict[str, int]) -> str:
    if len(counts) == 1:
        for name, count in counts.items():
            return name if count else ""
    styles = [name for name, count in counts.items() if count]
    if not styles:
        return ""
    return styles[0] if len(styles) == 1 else "mixed"


def parse_frames(chunks: Iterable[Any]) -> list[Frame]:
    """Frames of a whole body given as chunks.

    Each chunk is either ``bytes`` or an object with ``data``, ``index`` and ``offset_ns``
    attributes (a :class:`chatkit_lab.Chunk`).
    """
    return feed_all(FrameParser(), chunks).frames


def parse_bytes(body: bytes) -> list[Frame]:
    """Frames of a body given in one piece."""
    return parse_frames([body])


def _event(name: str) -> str:
    return name or "message"


def _short(text: str, limit: int = 60) -> str:
    return shorten(repr(text), limit)


def _differences(message: Message, event: str, data: str, last_id: str, retry: Any) -> list[str]:
    found = []
    if _event(message.event) != _event(event):
        found.append(f"event name {_event(message.event)!r} vs {_event(event)!r}")
    if message.data != data:
        found.append(f"data {_short(message.data, 30)} vs {_short(data, 30)}")
    if message.last_event_id != last_id:
        found.append(f"last event id {message.last_event_id!r} vs {last_id!r}")
    if message.retry != retry:
        found.append(f"retry {message.retry} vs {retry}")
    return found


Opinion = tuple[str, list[str]]
"""How one opinion differs from ChatKit's message (a statement), and the rules that caused it."""


def whatwg_opinion(message: Message, frame: Frame | None) -> Opinion | None:
    """How the WHATWG ``frame`` dispatched at ``message``'s blank line (``None``: nothing there)
    differs from ChatKit's message; ``None`` when it dispatches the same."""
    if frame is None:
        if message.data == "":
            return "WHATWG dispatches nothing (empty data buffer)", []
        return "WHATWG dispatches nothing for this block", list(message.notes)
    found = _differences(message, frame.event, frame.data, frame.last_event_id, frame.retry)
    if not found:
        return None
    causes = [*message.notes, *(f"WHATWG: {note}" for note in frame.notes if "ignored" in note)]
    return "WHATWG: " + ", ".join(found), causes


def whatwg_differences(
    messages: Sequence[Message], frames: Sequence[Frame], wanted: Iterable[int]
) -> dict[int, str]:
    """How a browser's ``EventSource`` (WHATWG) differs on some of ChatKit's messages.

    ``messages`` are what ChatKit's parser dispatched, ``frames`` the WHATWG frames of the same
    body, ``wanted`` the message indexes to compare. Returns one statement per wanted message
    that WHATWG dispatches differently (``"WHATWG dispatches nothing ..."``, ``"WHATWG: data
    ... vs ..."``); a message WHATWG dispatches alike is left out.
    """
    dispatched = [frame for frame in frames if frame.dispatched]
    ends = [frame.end for frame in dispatched]
    found: dict[int, str] = {}
    for index in wanted:
        message = messages[index]
        at = bisect.bisect_left(ends, message.end)
        frame = None
        if at < len(dispatched) and dispatched[at].end == message.end:
            frame = dispatched[at]
        opinion = whatwg_opinion(message, frame)
        if opinion is not None:
            found[index] = opinion[0]
    return found
