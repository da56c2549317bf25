"""Reference parsers for the tests: what WHATWG ``EventSource`` and ``httpx-sse`` make of a body.

The kit decides with one parser, ``@microsoft/fetch-event-source``'s rules
(:class:`chatkit_lab.sse.MessageParser`). The tests compare it, and the browser-rule frames
(:class:`whatwg.FrameParser`, beside this module), with two other opinions on the same bytes:

* :func:`crosscheck_httpx_sse`: the browser-rule frames against ``httpx-sse``, what a Python client
  of a ChatKit backend would typically use. It is not a browser: it drops comments, keeps no
  offsets or timing, decodes with the response charset (so a leading BOM is kept and spoils the
  first field name), yields a block that set only ``retry``, ``event`` or ``id`` as an event with
  empty data where a browser dispatches nothing, and accepts ``retry`` values that ``int()``
  accepts. Every disagreement is listed with the reason, never hidden.
* :func:`crosscheck_dispatchers`: ChatKit's parser, WHATWG ``EventSource`` and ``httpx-sse``. All
  three cut lines the same way, so every message ChatKit gets ends at a blank line, and what the
  others dispatch ends at one of those blank lines too. The comparison anchors on ChatKit's
  messages: WHATWG's frames are matched by the offset of their blank line, ``httpx-sse``'s events
  (which carry no offsets) by their order and content. Each row is one message where an opinion
  disagrees with ChatKit's, with the reason; the event names ``""`` (ChatKit) and ``"message"``
  (the others) count as the same.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import httpx
import pandas as pd
from httpx_sse import EventSource, ServerSentEvent
from whatwg import Frame, Opinion, _differences, _event, parse_frames, whatwg_opinion

from chatkit_lab.redact import shorten
from chatkit_lab.sse import BOM, Message, run_message_parser


class CaptureLike(Protocol):
    """What the cross-checks read of a :class:`chatkit_lab.Capture` (a lower stage cannot import
    it): its body chunks (each with ``data``) and its response headers."""

    @property
    def chunks(self) -> Sequence[Any]: ...

    def header(self, name: str) -> str | None: ...


Source = CaptureLike | bytes | bytearray | Sequence[bytes]
"""A capture, a whole body, or a list of body chunks (fed in that chunking)."""


def is_capture(source: object) -> TypeGuard[CaptureLike]:
    return hasattr(source, "chunks") and callable(getattr(source, "header", None))


COLUMNS = [
    "row",
    "kind",
    "browser_event",
    "httpx_sse_event",
    "frame",
    "bytes",
    "browser",
    "httpx_sse",
    "why",
]


@dataclass
class CrosscheckResult:
    """What a browser dispatches versus what ``httpx-sse`` yields for the same bytes."""

    browser: list[Frame]
    """The frames a browser dispatches, in order."""
    httpx_sse: list[ServerSentEvent]
    """The events ``httpx-sse`` yields, in order."""
    table: pd.DataFrame
    """One row per disagreement (empty when both agree); columns are :data:`COLUMNS`."""
    notes: list[str] = field(default_factory=list)
    """Differences that change no dispatched event (dropped comments, refused content type)."""

    @property
    def agree(self) -> bool:
        """Whether both dispatch the same events (name, data, last event id, retry)."""
        return self.table.empty

    def __repr__(self) -> str:
        verdict = "agree" if self.agree else f"{len(self.table)} disagreement(s)"
        return (
            f"CrosscheckResult({verdict}: browser {len(self.browser)} events, "
            f"httpx-sse {len(self.httpx_sse)} events)"
        )


def _chunks_of(source: Source) -> tuple[list[bytes], str]:
    if is_capture(source):
        return [chunk.data for chunk in source.chunks], source.header("content-type") or ""
    if isinstance(source, bytes | bytearray):
        return [bytes(source)], ""
    return [bytes(piece) for piece in source], ""


def _httpx_sse_events(chunks: list[bytes], content_type: str) -> list[ServerSentEvent]:
    """Run the chunks through httpx's text decoding and httpx-sse's line and event decoders."""
    response = httpx.Response(200, headers={"content-type": content_type}, content=_iterate(chunks))
    return list(EventSource(response).iter_sse())


def _iterate(chunks: list[bytes]) -> Iterable[bytes]:
    yield from chunks


def _describe_frame(frame: Frame) -> str:
    parts = [f"event={frame.event!r}", f"data={_short(frame.data)}"]
    if frame.last_event_id:
        parts.append(f"id={frame.last_event_id!r}")
    if frame.retry is not None:
        parts.append(f"retry={frame.retry}")
    return " ".join(parts)


def _describe_sse(sse: ServerSentEvent) -> str:
    parts = [f"event={sse.event!r}", f"data={_short(sse.data)}"]
    if sse.id:
        parts.append(f"id={sse.id!r}")
    if sse.retry is not None:
        parts.append(f"retry={sse.retry}")
    return " ".join(parts)


def _short(text: str, limit: int = 60) -> str:
    return shorten(repr(text), limit)


def _key_frame(frame: Frame) -> tuple[str, str, str]:
    return (frame.event, frame.data, frame.last_event_id)


def _key_sse(sse: ServerSentEvent) -> tuple[str, str, str]:
    return (sse.event, sse.data, sse.id)


def _why_extra(sse: ServerSentEvent) -> str:
    if sse.data == "":
        if sse.retry is not None:
            return (
                "a block that set only 'retry': httpx-sse yields it, a browser dispatches "
                "nothing (empty data buffer)"
            )
        if sse.event != "message":
            return (
                "a block with an 'event' name but no 'data': httpx-sse yields it, a browser "
                "dispatches nothing (empty data buffer)"
            )
        if sse.id:
            return (
                "a block without 'data' after an id was set (or an id-only block): httpx-sse "
                "yields it, a browser dispatches nothing (empty data buffer)"
            )
    return "httpx-sse yields an event the browser rules do not dispatch"


def _why_missing(frame: Frame, bom: bool) -> str:
    if bom and frame.index == 0:
        return (
            "leading BOM: a browser drops it, httpx decodes with the response charset and keeps "
            "U+FEFF, so the first field name is not 'data' and httpx-sse ignores it"
        )
    return "the browser rules dispatch this frame; httpx-sse yields nothing for it"


def _why_differs(frame: Frame, sse: ServerSentEvent, bom: bool) -> str:
    reasons = []
    if frame.event != sse.event:
        reasons.append(f"event name {frame.event!r} vs {sse.event!r}")
    if frame.data != sse.data:
        reasons.append("data differs")
    if frame.last_event_id != sse.id:
        reasons.append(f"last event id {frame.last_event_id!r} vs {sse.id!r}")
    if frame.retry != sse.retry:
        reasons.append(
            f"retry {frame.retry} vs {sse.retry}: a browser accepts ASCII digits only, "
            "httpx-sse accepts anything int() parses"
        )
    if bom and frame.index == 0:
        reasons.append("the leading BOM, kept by httpx's decoder, changed the first field name")
    return "; ".join(reasons) or "differs"


def crosscheck_httpx_sse(source: Source) -> CrosscheckResult:
    """Compare our browser-rule frames with what ``httpx-sse`` yields for the same bytes.

    ``source`` is a capture, a whole body, or a list of body chunks (fed in that chunking).
    Retry values are compared per event too: httpx-sse attaches ``retry`` to the event.
    """
    chunks, content_type = _chunks_of(source)
    notes: list[str] = []
    media = content_type.split(";")[0].strip().lower()
    if content_type and media != "text/event-stream":
        notes.append(
            f"httpx-sse refuses this response (content type {media!r} is not "
            "text/event-stream); compared as if it were an event stream"
        )
        content_type = "text/event-stream"
    if not content_type:
        content_type = "text/event-stream"
    if is_capture(source) and source.header("content-encoding"):
        notes.append(
            f"body is {source.header('content-encoding')}-encoded: both sides read the raw "
            "bytes here, while httpx-sse on a live response would decompress first"
        )
    frames = parse_frames(chunks)
    body = b"".join(chunks)
    bom = body.startswith(BOM)
    browser = [frame for frame in frames if frame.dispatched]
    yielded = _httpx_sse_events(chunks, content_type)

    comments = sum(len(frame.comments) for frame in frames)
    if comments:
        notes.append(f"{comments} comment line(s): a browser ignores them, httpx-sse drops them")
    partial = [frame for frame in frames if not frame.complete]
    if partial and partial[0].fields:
        notes.append("the stream ends mid-frame: both discard the unfinished frame")

    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(
        a=[_key_frame(f) for f in browser], b=[_key_sse(s) for s in yielded], autojunk=False
    )

    def add(kind: str, i: int | None, j: int | None, why: str) -> None:
        frame = browser[i] if i is not None else None
        sse = yielded[j] if j is not None else None
        rows.append(
            {
                "row": len(rows),
                "kind": kind,
                "browser_event": i,
                "httpx_sse_event": j,
                "frame": frame.index if frame else None,
                "bytes": f"{frame.start}..{frame.end}" if frame else None,
                "browser": _describe_frame(frame) if frame else "(nothing dispatched)",
                "httpx_sse": _describe_sse(sse) if sse else "(nothing yielded)",
                "why": why,
            }
        )

    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                if browser[i].retry != yielded[j].retry:
                    add("differs", i, j, _why_differs(browser[i], yielded[j], bom))
            continue
        # Inside a differing stretch, pair events only when their data agree.
        unpaired = list(range(b0, b1))
        for i in range(a0, a1):
            j = next((j for j in unpaired if yielded[j].data == browser[i].data), None)
            if j is None:
                add("browser only", i, None, _why_missing(browser[i], bom))
            else:
                unpaired.remove(j)
                add("differs", i, j, _why_differs(browser[i], yielded[j], bom))
        for j in unpaired:
            add("httpx-sse only", None, j, _why_extra(yielded[j]))

    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("browser_event", "httpx_sse_event", "frame"):
        table[column] = table[column].astype("Int64")
    return CrosscheckResult(browser=browser, httpx_sse=yielded, table=table, notes=notes)


# -- ChatKit's parser, WHATWG and httpx-sse side by side --------------------

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


def _describe(event: str, data: str, last_id: str, retry: Any) -> str:
    parts = [f"event={_event(event)!r}", f"data={_short(data)}"]
    if last_id:
        parts.append(f"id={last_id!r}")
    if retry is not None:
        parts.append(f"retry={retry}")
    return " ".join(parts)


def _describe_message(message: Message) -> str:
    return _describe(message.event, message.data, message.last_event_id, message.retry)


def _frame_or_nothing(frame: Frame | None) -> str:
    if frame is None:
        return NOTHING
    return _describe(frame.event, frame.data, frame.last_event_id, frame.retry)


def _sse_or_nothing(sse: ServerSentEvent | None) -> str:
    if sse is None:
        return NOTHING
    return _describe(sse.event, sse.data, sse.id, sse.retry)


def _key(event: str, data: str) -> tuple[str, str]:
    return (_event(event), data)


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
                "whatwg": _frame_or_nothing(frame),
                "httpx_sse": _sse_or_nothing(sse),
                "why": why,
            }
        )

    for message in messages:
        frame = by_message.get(message.index)
        sse_index = httpx_pairs.get(message.index)
        sse = events[sse_index] if sse_index is not None else None
        whatwg_view = whatwg_opinion(message, frame)
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
