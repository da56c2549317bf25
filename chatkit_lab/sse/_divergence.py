"""Three opinions on one body: ChatKit's parser, WHATWG ``EventSource`` and ``httpx-sse``.

ChatKit's host script parses streams with ``@microsoft/fetch-event-source``
(:mod:`chatkit_lab.sse._dispatch`); a browser's ``EventSource`` follows WHATWG
(:mod:`chatkit_lab.sse._frames`); a Python client would typically use ``httpx-sse``. All three
cut lines the same way, so every message ChatKit gets ends at a blank line, and what the others
dispatch ends at one of those blank lines too. The comparison anchors on ChatKit's messages:
WHATWG's frames are matched by the offset of their blank line, ``httpx-sse``'s events (which carry
no offsets) by their order and content. Each row is one message where an opinion disagrees with
ChatKit's, with the reason; the event names ``""`` (ChatKit) and ``"message"`` (the others) count
as the same.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from httpx_sse import ServerSentEvent

from chatkit_lab.redact import shorten
from chatkit_lab.sse._crosscheck import Source, _chunks_of, _httpx_sse_events
from chatkit_lab.sse._dispatch import Message, run_message_parser
from chatkit_lab.sse._frames import BOM, Frame, parse_frames

DIVERGENCE_COLUMNS = [
    "row",
    "kind",
    "message",
    "bytes",
    "fetch_event_source",
    "whatwg",
    "httpx_sse",
    "why",
]
NOTHING = "(nothing dispatched)"


@dataclass
class DispatchCrosscheck:
    """What ChatKit's parser, WHATWG ``EventSource`` and ``httpx-sse`` dispatch for one body."""

    messages: list[Message]
    """The messages ``fetch-event-source`` hands to ChatKit's UI, in order."""
    whatwg: list[Frame]
    """The frames a WHATWG ``EventSource`` dispatches, in order."""
    httpx_sse: list[ServerSentEvent]
    """The events ``httpx-sse`` yields, in order."""
    table: pd.DataFrame
    """One row per disagreement (empty when all three agree); columns are
    :data:`DIVERGENCE_COLUMNS`."""
    undispatched: tuple[int, int] | None = None
    """Bytes at the end of the body that ChatKit's parser never dispatched."""

    @property
    def agree(self) -> bool:
        """Whether all three dispatch the same messages (data, event name, last event id, retry)."""
        return self.table.empty

    def __repr__(self) -> str:
        verdict = "agree" if self.agree else f"{len(self.table)} divergence(s)"
        return (
            f"DispatchCrosscheck({verdict}: fetch-event-source {len(self.messages)}, "
            f"WHATWG {len(self.whatwg)}, httpx-sse {len(self.httpx_sse)} messages)"
        )


def _event(name: str) -> str:
    return name or "message"


def _short(text: str, limit: int = 60) -> str:
    return shorten(repr(text), limit)


def _describe(event: str, data: str, last_id: str, retry: Any) -> str:
    parts = [f"event={_event(event)!r}", f"data={_short(data)}"]
    if last_id:
        parts.append(f"id={last_id!r}")
    if retry is not None:
        parts.append(f"retry={retry}")
    return " ".join(parts)


def _describe_message(message: Message) -> str:
    return _describe(message.event, message.data, message.last_event_id, message.retry)


def _describe_frame(frame: Frame | None) -> str:
    if frame is None:
        return NOTHING
    return _describe(frame.event, frame.data, frame.last_event_id, frame.retry)


def _describe_sse(sse: ServerSentEvent | None) -> str:
    if sse is None:
        return NOTHING
    return _describe(sse.event, sse.data, sse.id, sse.retry)


def _key(event: str, data: str) -> tuple[str, str]:
    return (_event(event), data)


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


def _empty_block(message: Message) -> str:
    if message.retry is not None:
        what = "a block that set only 'retry'"
    elif message.event:
        what = "a block with an 'event' name but no data"
    elif message.id:
        what = "a block that set only 'id'"
    elif message.end - message.start <= 2:
        what = "a blank line with nothing before it"
    else:
        what = "a block without data (comments or ignored lines only)"
    return f"{what}: fetch-event-source dispatches it with empty data"


Opinion = tuple[str, list[str]]
"""How one opinion differs from ChatKit's message (a statement), and the rules that caused it."""


def _whatwg_opinion(message: Message, frame: Frame | None) -> Opinion | None:
    if frame is None:
        if message.data == "":
            return "WHATWG dispatches nothing (empty data buffer)", []
        return "WHATWG dispatches nothing for this block", list(message.notes)
    found = _differences(message, frame.event, frame.data, frame.last_event_id, frame.retry)
    if not found:
        return None
    causes = [*message.notes, *(f"WHATWG: {note}" for note in frame.notes if "ignored" in note)]
    return "WHATWG: " + ", ".join(found), causes


def _httpx_opinion(message: Message, sse: ServerSentEvent | None, bom: bool) -> Opinion | None:
    if sse is None:
        if message.index == 0 and bom:
            return (
                "httpx-sse yields nothing: httpx keeps the leading BOM (TextDecoder drops it), "
                "so the first field name is not 'data'",
                [],
            )
        if message.data == "":
            return "httpx-sse yields nothing (no data, event, id or retry set)", []
        return "httpx-sse yields nothing for this block", list(message.notes)
    found = _differences(message, sse.event, sse.data, sse.id, sse.retry)
    if not found:
        return None
    causes = list(message.notes)
    if message.index == 0 and bom:
        causes.append("httpx keeps the leading BOM (U+FEFF) in the first field name")
    if message.retry != sse.retry:
        causes.append("httpx-sse reads retry with int(), fetch-event-source with parseInt")
    if message.last_event_id != sse.id and "\x00" in message.last_event_id:
        causes.append("httpx-sse ignores an id holding NUL, fetch-event-source keeps it")
    return "httpx-sse: " + ", ".join(found), causes


def _why(message: Message, opinions: list[Opinion]) -> str:
    parts = [_empty_block(message)] if message.data == "" else []
    causes: list[str] = []
    for statement, because in opinions:
        parts.append(statement)
        causes.extend(cause for cause in because if cause not in causes)
    return "; ".join(parts + causes)


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
        opinion = _whatwg_opinion(message, frame)
        if opinion is not None:
            found[index] = opinion[0]
    return found


def _pair_httpx(messages: list[Message], events: list[ServerSentEvent]) -> dict[int, int]:
    """Message index -> httpx-sse event index, pairing in order by event name and data."""
    pairs: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(
        a=[_key(m.event, m.data) for m in messages],
        b=[_key(s.event, s.data) for s in events],
        autojunk=False,
    )
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and a1 - a0 == b1 - b0):
            # same length: each side's stretch ends at the same blank lines, in order
            pairs.update(zip(range(a0, a1), range(b0, b1), strict=True))
        elif tag == "replace":
            # otherwise pair, in order, only the messages whose data agree
            j = b0
            for i in range(a0, a1):
                match = next((k for k in range(j, b1) if events[k].data == messages[i].data), None)
                if match is not None:
                    pairs[i] = match
                    j = match + 1
    return pairs


def _starts_with_bom(chunks: list[bytes]) -> bool:
    head = b""
    for chunk in chunks:
        head += chunk[: len(BOM)]
        if len(head) >= len(BOM):
            break
    return head.startswith(BOM)


def crosscheck_dispatchers(source: Source) -> DispatchCrosscheck:
    """Compare what ChatKit's parser, WHATWG ``EventSource`` and ``httpx-sse`` dispatch.

    ``source`` is a capture, a whole body, or a list of body chunks (fed in that chunking). The
    body is read as an event stream whatever its content type (each opinion's parser only).
    """
    chunks, _content_type = _chunks_of(source)
    parser = run_message_parser(chunks)
    messages = parser.messages
    whatwg = [frame for frame in parse_frames(chunks) if frame.dispatched]
    events = _httpx_sse_events(chunks, "text/event-stream")
    bom = _starts_with_bom(chunks)

    ends = [message.end for message in messages]
    by_message: dict[int, Frame] = {}
    stray_frames: list[Frame] = []
    for frame in whatwg:
        at = bisect.bisect_left(ends, frame.end)
        if at < len(messages) and messages[at].start < frame.end:
            by_message[at] = frame
        else:
            stray_frames.append(frame)
    httpx_pairs = _pair_httpx(messages, events)
    paired_events = set(httpx_pairs.values())

    rows: list[dict[str, Any]] = []

    def add(kind: str, message: Message | None, frame: Frame | None, sse: Any, why: str) -> None:
        rows.append(
            {
                "row": len(rows),
                "kind": kind,
                "message": message.index if message else None,
                "bytes": f"{message.start}..{message.end}" if message else None,
                "fetch_event_source": _describe_message(message) if message else NOTHING,
                "whatwg": _describe_frame(frame),
                "httpx_sse": _describe_sse(sse),
                "why": why,
            }
        )

    for message in messages:
        frame = by_message.get(message.index)
        sse_index = httpx_pairs.get(message.index)
        sse = events[sse_index] if sse_index is not None else None
        whatwg_view = _whatwg_opinion(message, frame)
        httpx_view = _httpx_opinion(message, sse, bom)
        opinions = [view for view in (whatwg_view, httpx_view) if view is not None]
        if not opinions:
            continue
        if whatwg_view is not None and httpx_view is not None:
            kind = "WHATWG and httpx-sse differ"
        elif whatwg_view is not None:
            kind = "WHATWG differs"
        else:
            kind = "httpx-sse differs"
        why = _why(message, opinions)
        add(kind, message, frame, sse, why)
    for frame in stray_frames:
        add("WHATWG only", None, frame, None, "WHATWG dispatches a frame ChatKit's parser does not")
    for index, sse in enumerate(events):
        if index not in paired_events:
            add("httpx-sse only", None, None, sse, "httpx-sse yields an event ChatKit never gets")

    table = pd.DataFrame(rows, columns=DIVERGENCE_COLUMNS)
    table["message"] = table["message"].astype("Int64")
    return DispatchCrosscheck(
        messages=messages,
        whatwg=whatwg,
        httpx_sse=events,
        table=table,
        undispatched=parser.undispatched,
    )
