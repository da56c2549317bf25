"""Fuzzing: random bytes, chunkings, heads and payloads never make the kit raise a non-kit error.

Every stage is fed input no real server would send (random bytes cut at random points, random
status codes and content types, JSON of every shape with ChatKit-looking ``type`` values) and
must either work or raise one of the kit's documented :class:`ChatKitLabError` subclasses.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_lab import (
    Capture,
    ChatKitLabError,
    analyze_capture,
    analyze_events,
    diagnose_captures,
)
from chatkit_lab.capture import END_STATES, Chunk, Ending, RequestRecord
from chatkit_lab.client.protocol import CHATKIT_EVENT_TYPES, CHATKIT_ITEM_TYPES, KNOWN_TYPES
from chatkit_lab.report import events_table, findings_table, messages_table, table
from chatkit_lab.sse import MessageParser, decode_messages, dispatch_bytes, dispatch_messages

T = TypeVar("T")

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ------------------------------------------------------------------------------

SSE_TOKENS = [
    b"data:",
    b"data: ",
    b"event: ",
    b"id: ",
    b"retry: ",
    b": ping",
    b":",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"type"',
    b'"thread.item.done"',
    b"[DONE]",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xf0\x9f",
    "\u00e9\U0001f642".encode(),
]

sse_ish_bytes = st.lists(
    st.one_of(st.sampled_from(SSE_TOKENS), st.binary(max_size=12)), max_size=60
).map(b"".join)
"""Bytes that look enough like an event stream to reach every branch of the parser."""

any_body = st.one_of(st.binary(max_size=400), sse_ish_bytes)


@st.composite
def chunkings(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """``body`` cut at random points (empty pieces included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=12)))
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(body[start:cut])
        start = cut
    pieces.append(body[start:])
    return pieces


@st.composite
def body_and_chunks(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    body = draw(any_body)
    return body, draw(chunkings(body))


UPDATE_TYPES = [
    "assistant_message.content_part.added",
    "assistant_message.content_part.text_delta",
    "assistant_message.content_part.annotation_added",
    "assistant_message.content_part.done",
    "widget.root.updated",
    "workflow.task.added",
    "workflow.task.updated",
    "generated_image.updated",
]
TYPE_VALUES = (
    sorted(CHATKIT_EVENT_TYPES | CHATKIT_ITEM_TYPES)
    + UPDATE_TYPES
    + [
        "input_text",
        "output_text",
        "thread.message.delta",
        "response.output_text.delta",
        "chat.completion.chunk",
        "",
    ]
)
KEYS = [
    "type",
    "id",
    "thread_id",
    "item_id",
    "created_at",
    "item",
    "thread",
    "update",
    "content",
    "content_index",
    "delta",
    "text",
    "annotations",
    "status",
    "items",
    "data",
    "has_more",
    "after",
    "title",
    "metadata",
    "attachments",
    "inference_options",
    "stream_options",
    "allow_cancel",
    "code",
    "message",
    "allow_retry",
    "part",
    "object",
    "role",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(TYPE_VALUES),
    st.sampled_from(
        ["thr_1", "msg_1", "2026-02-11T10:00:00", "2026-02-11T10:00:00Z", "not a date"]
    ),
    st.text(max_size=20),
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    keyed = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    typed = st.builds(
        lambda rest, kind: {**rest, "type": kind}, keyed, st.sampled_from(TYPE_VALUES)
    )
    return keyed | typed


json_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=4) | _objects(children), max_leaves=30
)
"""Arbitrary JSON, biased toward objects with ChatKit keys and ``type`` values."""


@st.composite
def chatkit_like_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event shaped like a ChatKit one, with random holes and wrong values."""
    item = draw(_objects(json_values))
    item.setdefault("id", draw(st.sampled_from(["msg_1", "msg_2", "msg_3", ""])))
    item.setdefault("thread_id", "thr_1")
    item.setdefault("created_at", "2026-02-11T10:00:00")
    item["type"] = draw(st.sampled_from(sorted(CHATKIT_ITEM_TYPES) + ["other"]))
    if item["type"] == "assistant_message" and draw(st.booleans()):
        item["content"] = [{"type": "output_text", "text": draw(st.text(max_size=10))}]
    kind = draw(st.sampled_from(TYPE_VALUES))
    event: dict[str, Any] = {"type": kind, "item": item, "item_id": item["id"]}
    if draw(st.booleans()):
        event["update"] = {
            "type": draw(st.sampled_from(UPDATE_TYPES)),
            "content_index": draw(st.integers(-2, 3)),
            "delta": draw(st.text(max_size=8)),
        }
    if draw(st.booleans()):
        event["thread"] = {"id": "thr_1", "created_at": "2026-02-11T10:00:00", "items": {}}
    for key in draw(st.sets(st.sampled_from(sorted(event)), max_size=2)):
        if key != "type":
            del event[key]
    return event


payloads = st.one_of(json_values, chatkit_like_events())

request_types = st.one_of(st.none(), st.sampled_from(sorted(KNOWN_TYPES)), st.text(max_size=12))

content_types = st.one_of(
    st.sampled_from(
        [
            "",
            "text/event-stream",
            "text/event-stream; charset=utf-8",
            "TEXT/EVENT-STREAM",
            "application/json",
            "application/problem+json",
            "text/html",
            "text/plain",
            "application/octet-stream",
            ";",
        ]
    ),
    st.text(max_size=20),
)


@st.composite
def captures(draw: st.DrawFn) -> Capture:
    """A capture of a random exchange: random head, random body in random chunks."""
    body = draw(any_body)
    pieces = draw(chunkings(body))
    request_type = draw(request_types)
    request_body = (
        json.dumps({"type": request_type, "params": {}}).encode()
        if request_type is not None
        else draw(st.binary(max_size=30))
    )
    headers: list[tuple[str, str]] = []
    content_type = draw(content_types)
    if content_type:
        headers.append(("content-type", content_type))
    if draw(st.booleans()):
        headers.append(("content-encoding", draw(st.sampled_from(["gzip", "br", "identity", ""]))))
    if draw(st.booleans()):
        headers.append(("location", draw(st.text(max_size=20))))
    status = draw(st.none() | st.integers(100, 599))
    capture = Capture(
        request=RequestRecord("POST", "http://127.0.0.1:1/chatkit", [], request_body),
        status=status,
        response_headers=headers,
        headers_ns=draw(st.none() | st.integers(0, 10**9)),
        ending=Ending(draw(st.sampled_from(END_STATES)), draw(st.text(max_size=20))),
        label=draw(st.sampled_from(["", "fuzz"])),
        timing=draw(st.booleans()),
    )
    offset = 0
    for piece in pieces:
        offset += draw(st.integers(0, 10**8))
        capture.add_chunk(piece, offset)
    if draw(st.booleans()):
        capture.redirects = [{"status": 307, "url": "http://a", "location": "http://b"}]
    return capture


def survives(stage: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one stage; a documented kit error is an acceptable answer, anything else fails."""
    try:
        return stage(*args, **kwargs)
    except ChatKitLabError:
        return None


def message_key(messages: list[Any]) -> list[tuple[Any, ...]]:
    return [(m.start, m.end, m.data, m.event, m.id, m.retry, m.last_event_id) for m in messages]


# -- framing ---------------------------------------------------------------------------------


@FUZZ
@given(body_and_chunks())
def test_chatkits_message_parser_takes_any_bytes_in_any_chunking(
    sample: tuple[bytes, list[bytes]],
) -> None:
    body, pieces = sample
    parser = MessageParser()
    for index, piece in enumerate(pieces):
        survives(parser.feed, piece, index, index * 1000)
    survives(parser.close)
    ends = [0]
    for message in parser.messages:
        assert ends[-1] <= message.start <= message.end <= len(body)
        ends.append(message.end)
    if parser.undispatched is not None:
        assert ends[-1] <= parser.undispatched[0] <= parser.undispatched[1] == len(body)


@FUZZ
@given(body_and_chunks())
def test_messages_do_not_depend_on_how_the_bytes_were_chunked(
    sample: tuple[bytes, list[bytes]],
) -> None:
    body, pieces = sample
    whole = survives(dispatch_bytes, body)
    split = survives(dispatch_messages, pieces)
    assert whole is not None and split is not None
    assert message_key(split) == message_key(whole)


# -- decoding --------------------------------------------------------------------------------


@FUZZ
@given(body_and_chunks())
def test_decoding_takes_the_messages_of_any_bytes(sample: tuple[bytes, list[bytes]]) -> None:
    _, pieces = sample
    messages = survives(dispatch_messages, pieces) or []
    events = survives(decode_messages, messages) or []
    assert len(events) == sum(bool(message.data) for message in messages)
    for event in events:
        assert (event.decode_error is None) == isinstance(event.payload, dict)


@FUZZ
@given(st.lists(payloads, max_size=6), st.data())
def test_decoding_and_analysis_take_any_json_payload(payload_list: list[Any], data: Any) -> None:
    body = b"".join(b"data: " + json.dumps(payload).encode() + b"\n\n" for payload in payload_list)
    events = decode_messages(dispatch_bytes(body))
    assert [event.payload for event in events] == payload_list
    analysis = survives(analyze_events, events, data.draw(request_types))
    if analysis is not None:
        assert len(analysis.states) == len(events)
        survives(table, analysis)
        survives(analysis.summary)


# -- analysis and diagnosis ------------------------------------------------------------------


@FUZZ
@given(st.lists(chatkit_like_events(), min_size=1, max_size=8), request_types)
def test_event_analysis_takes_chatkit_looking_events_with_holes(
    events_json: list[dict[str, Any]], request_type: str | None
) -> None:
    body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events_json)
    events = decode_messages(dispatch_bytes(body))
    analysis = survives(analyze_events, events, request_type, "fuzz")
    if analysis is not None:
        assert all(item.layer for item in analysis.findings)
        survives(findings_table, analysis)


@FUZZ
@given(captures())
def test_capture_analysis_and_diagnosis_take_any_exchange(capture: Capture) -> None:
    survives(analyze_capture, capture)
    diagnosis = survives(diagnose_captures, [capture])
    if diagnosis is not None:
        assert set(diagnosis.layers) <= {
            "request",
            "transport",
            "framing",
            "decoding",
            "schema",
            "ordering",
            "rendering",
            "persistence",
        }
        survives(diagnosis.headline)
        survives(lambda: findings_table(diagnosis))
    survives(capture.summary)
    survives(messages_table, capture)
    survives(events_table, capture)


@settings(FUZZ, max_examples=60)
@given(captures())
def test_any_capture_survives_saving_and_loading_byte_for_byte(capture: Capture) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        saved = survives(capture.save, path, redact=False)
        if saved is None:
            return
        loaded = Capture.load(saved)
    assert loaded.chunks == capture.chunks
    assert all(isinstance(chunk, Chunk) for chunk in loaded.chunks)
    assert loaded.equivalent(capture)


def test_a_payload_nested_too_deeply_to_decode_is_a_decode_error_not_a_crash() -> None:
    body = b"data: " + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n\n"
    events = decode_messages(dispatch_bytes(body))
    assert events[0].decode_error is not None and "nested too deeply" in events[0].decode_error
    assert analyze_events(events).codes[0] == "decoding.not_json"
