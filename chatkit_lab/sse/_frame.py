"""The SSE frame: the lines between two empty lines, and what a browser makes of them.

:class:`Frame` is what :class:`chatkit_lab.sse.FrameParser` produces. Its three lists are made
lazily for the usual one-``data:``-line frame (see :class:`_FrameLists`), which keeps a stream
of a million small frames small in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
