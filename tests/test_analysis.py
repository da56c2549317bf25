"""Event analysis end to end: reference streams, the report's three attempts, faults, variants."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Attachment,
    Page,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.checks import check_specs
from chatkit_lab.checks._analysis import analyze_capture, analyze_events
from chatkit_lab.report import findings_table
from chatkit_lab.report import table as report_table
from chatkit_lab.report._tables import ANALYSIS_COLUMNS as TABLE_COLUMNS
from chatkit_lab.sse import Event, decode_messages, dispatch_bytes

STREAMS = Path(__file__).parent / "streams"
REPLY = ["Hello", " from", " the", " reference", " server."]


# -- a real ChatKitServer, so the reference streams are the SDK's own bytes ----------------


class DictStore(Store[dict[str, Any]]):
    """The smallest in-memory Store the SDK's server needs."""

    def __init__(self) -> None:
        self.threads: dict[str, ThreadMetadata] = {}
        self.items: dict[str, list[ThreadItem]] = {}

    async def load_thread(self, thread_id: str, context: dict[str, Any]) -> ThreadMetadata:
        if thread_id not in self.threads:
            raise NotFoundError(thread_id)
        return self.threads[thread_id]

    async def save_thread(self, thread: ThreadMetadata, context: dict[str, Any]) -> None:
        self.threads[thread.id] = ThreadMetadata(**thread.model_dump())

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: dict[str, Any],
    ) -> Page[ThreadItem]:
        items = list(self.items.get(thread_id, []))
        return Page(data=items if order == "asc" else items[::-1], has_more=False)

    async def save_attachment(self, attachment: Attachment, context: dict[str, Any]) -> None:
        raise NotImplementedError

    async def load_attachment(self, attachment_id: str, context: dict[str, Any]) -> Attachment:
        raise NotImplementedError

    async def delete_attachment(self, attachment_id: str, context: dict[str, Any]) -> None:
        raise NotImplementedError

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: dict[str, Any]
    ) -> Page[ThreadMetadata]:
        return Page(data=list(self.threads.values()), has_more=False)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: dict[str, Any]
    ) -> None:
        self.items.setdefault(thread_id, []).append(item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: dict[str, Any]) -> None:
        items = self.items.setdefault(thread_id, [])
        self.items[thread_id] = [item if i.id == item.id else i for i in items]

    async def load_item(self, thread_id: str, item_id: str, context: dict[str, Any]) -> ThreadItem:
        return next(i for i in self.items[thread_id] if i.id == item_id)

    async def delete_thread(self, thread_id: str, context: dict[str, Any]) -> None:
        self.threads.pop(thread_id, None)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: dict[str, Any]
    ) -> None:
        self.items[thread_id] = [i for i in self.items[thread_id] if i.id != item_id]


class EchoServer(ChatKitServer[dict[str, Any]]):
    """Streams a fixed reply as added → text deltas → done, and titles the thread."""

    def __init__(self, reply: list[str] | None = None) -> None:
        super().__init__(DictStore())
        self.reply = reply if reply is not None else REPLY

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        for chunk in self.reply:
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk),
            )
        text = "".join(self.reply)
        done = item.model_copy(update={"content": [AssistantMessageContent(text=text)]})
        yield ThreadItemDoneEvent(item=done)
        if thread.title is None:
            thread.title = "Greeting"


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


async def sdk_stream(server: EchoServer, request: dict[str, Any]) -> bytes:
    result = await server.process(json.dumps(request).encode(), {})
    assert isinstance(result, StreamingResult)
    return b"".join([chunk async for chunk in result])


async def sdk_conversation(reply: list[str] | None = None) -> tuple[bytes, bytes]:
    """A threads.create stream and a threads.add_user_message stream from the SDK server."""
    server = EchoServer(reply)
    create = await sdk_stream(
        server, {"type": "threads.create", "params": {"input": user_input("Hi")}}
    )
    thread_id = json.loads(create.split(b"\n\n")[0][len(b"data: ") :])["thread"]["id"]
    add = await sdk_stream(
        server,
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input("Again")},
        },
    )
    return create, add


def events_of(raw: bytes) -> list[Event]:
    return decode_messages(dispatch_bytes(raw))


def stream(name: str) -> list[Event]:
    return events_of((STREAMS / name).read_bytes())


def order(events: list[Event]) -> list[str]:
    out = []
    for event in events:
        kind = event.type or ""
        item = (event.payload or {}).get("item")
        if isinstance(item, dict):
            kind += f"({item.get('type')})"
        out.append(kind)
    return out


# -- reference streams ------------------------------------------------------------------


async def test_the_sdk_server_streams_the_documented_order_and_analysis_finds_nothing() -> None:
    create, add = await sdk_conversation()
    events = events_of(create)
    assert order(events) == [
        "thread.created",
        "thread.item.done(user_message)",
        "stream_options",
        "thread.item.added(assistant_message)",
        *["thread.item.updated"] * len(REPLY),
        "thread.item.done(assistant_message)",
        "thread.updated",
    ]
    analysis = analyze_events(events, "threads.create", "sdk-create")
    assert analysis.findings == []
    assert analysis.dialects == {"chatkit": len(events)}
    assert analysis.final.transcript() == "[user] Hi\n[assistant] " + "".join(REPLY)


async def test_an_add_user_message_stream_from_the_sdk_server_has_no_findings() -> None:
    _, add = await sdk_conversation()
    events = events_of(add)
    assert order(events)[0] == "thread.item.done(user_message)"
    assert "thread.created" not in order(events)
    analysis = analyze_events(events, "threads.add_user_message")
    assert analysis.findings == []
    assert not analysis.renders_nothing


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=6))
def test_any_reply_the_sdk_server_streams_is_clean_and_shown_in_full(reply: list[str]) -> None:
    import asyncio

    create, _ = asyncio.run(sdk_conversation(reply))
    analysis = analyze_events(events_of(create), "threads.create")
    allowed = {"rendering.no_assistant_text"} if not "".join(reply) else set()
    assert set(analysis.codes) <= allowed
    assert analysis.final.assistant_text == "".join(reply)


@pytest.mark.parametrize(
    ("name", "request_type"),
    [
        ("reference_handmade_create.sse", "threads.create"),
        ("reference_handmade_add_user_message.sse", "threads.add_user_message"),
    ],
)
def test_hand_made_reference_streams_have_no_findings(name: str, request_type: str) -> None:
    analysis = analyze_events(stream(name), request_type)
    assert analysis.findings == []
    assert analysis.final.transcript() == "[user] Hello\n[assistant] Hi there"


# -- the three attempts from the user report ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "dialects"),
    [
        ("legacy_attempt1_thread_item.sse", ["invented"] * 2),
        ("legacy_attempt2_assistants.sse", ["assistants"] * 6),
        ("legacy_attempt3_responses.sse", ["chatkit-invalid"] + ["responses"] * 9),
    ],
)
def test_each_legacy_attempt_flags_every_event_with_its_dialect_and_renders_nothing(
    name: str, dialects: list[str]
) -> None:
    analysis = analyze_events(stream(name), "threads.create", name)
    assert list(report_table(analysis)["dialect"]) == dialects
    assert not report_table(analysis)["valid"].any()
    assert report_table(analysis)["should_be"].notna().all()
    assert analysis.renders_nothing
    assert "the UI would draw nothing from this stream" in analysis.final.message
    codes = analysis.codes
    assert codes[0] == "schema.foreign_protocol"
    assert codes[-1] == "rendering.nothing_rendered"
    per_event = [c for c in codes if c.startswith("schema.") and c != "schema.foreign_protocol"]
    assert len(per_event) == len(dialects)
    assert not [c for c in codes if c.startswith("ordering.")]


def test_attempt_3_names_the_invalid_thread_created_fields() -> None:
    analysis = analyze_events(stream("legacy_attempt3_responses.sse"), "threads.create")
    first = next(f for f in analysis.findings if f.code == "schema.invalid_event")
    assert first.evidence.event_index == 0
    assert {e["path"] for e in first.evidence.detail["errors"]} == {
        "thread.created_at",
        "thread.items",
    }
    assert first.evidence.detail["should_be"].startswith("thread.created with a full Thread")


# -- faults: each gives its finding and nothing else --------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "event_index"),
    [
        ("fault_update_before_added.sse", "ordering.update_before_added", 3),
        ("fault_update_after_done.sse", "ordering.event_after_done", 7),
        ("fault_duplicate_ids.sse", "ordering.duplicate_item_id", 3),
        ("fault_wrong_content_part_type.sse", "schema.invalid_event", 6),
        ("fault_missing_created_at.sse", "schema.invalid_event", 1),
        ("fault_ends_mid_item.sse", "ordering.unfinished_item", 3),
    ],
)
def test_each_hand_made_fault_gives_its_specific_finding_and_nothing_else(
    name: str, code: str, event_index: int
) -> None:
    analysis = analyze_events(stream(name), "threads.create", name)
    assert analysis.codes == [code]
    assert analysis.findings[0].evidence.event_index == event_index
    assert analysis.findings[0].evidence.capture == name


def test_the_wrong_content_part_type_finding_says_text_instead_of_output_text() -> None:
    analysis = analyze_events(stream("fault_wrong_content_part_type.sse"), "threads.create")
    assert '`item.content[0].type` is "text", expected "output_text"' in (
        analysis.findings[0].summary
    )


def test_the_missing_created_at_finding_names_item_created_at() -> None:
    analysis = analyze_events(stream("fault_missing_created_at.sse"), "threads.create")
    assert "`item.created_at` is missing" in analysis.findings[0].summary


# -- valid variants -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "valid_crlf.sse",
        "valid_event_lines.sse",
        "valid_comments.sse",
        "valid_no_optional_events.sse",
        "valid_z_timestamps.sse",
        "valid_null_optional_fields.sse",
        "valid_key_order.sse",
    ],
)
def test_valid_variants_give_no_finding(name: str) -> None:
    analysis = analyze_events(stream(name), "threads.create")
    assert analysis.findings == []
    assert analysis.final.transcript() == "[user] Hello\n[assistant] Hi there"


def test_a_reply_sent_only_as_its_done_is_valid_but_warns_that_nothing_shows_while_streaming() -> (
    None
):
    # Valid protocol (thread.item.added is optional), but the user sees no text until the end:
    # the report's "no visible text during streaming" (issue 13). The only finding is a warning.
    analysis = analyze_events(stream("valid_done_without_added.sse"), "threads.create")
    assert [(f.code, f.severity) for f in analysis.findings] == [
        ("rendering.nothing_while_streaming", "warning")
    ]
    assert analysis.final.transcript() == "[user] Hello\n[assistant] Hi there"


def _reorder(payload: Any) -> Any:
    if isinstance(payload, dict):
        return {key: _reorder(payload[key]) for key in sorted(payload, reverse=True)}
    if isinstance(payload, list):
        return [_reorder(value) for value in payload]
    return payload


def _frames(raw: bytes) -> list[bytes]:
    return [block for block in raw.split(b"\n\n") if block]


VARIANTS = {
    "crlf": lambda raw: raw.replace(b"\n", b"\r\n"),
    "cr": lambda raw: raw.replace(b"\n", b"\r"),
    "bom and no space after colon": lambda raw: b"\xef\xbb\xbf" + raw.replace(b"data: ", b"data:"),
    "event and id lines": lambda raw: b"".join(
        b"event: " + json.loads(block[6:])["type"].encode() + b"\nid: %d\n" % n + block + b"\n\n"
        for n, block in enumerate(_frames(raw))
    ),
    "comments": lambda raw: b": ping\n\n" + raw.replace(b"data: ", b": keep-alive\ndata: "),
    "multi-line data": lambda raw: b"".join(
        b"data: "
        + json.dumps(json.loads(block[6:]), indent=1).replace("\n", "\ndata: ").encode()
        + b"\n\n"
        for block in _frames(raw)
    ),
    "no stream_options": lambda raw: b"".join(
        block + b"\n\n" for block in _frames(raw) if b'"stream_options"' not in block
    ),
    "Z timestamps": lambda raw: re.sub(rb'(T\d\d:\d\d:\d\d(?:\.\d+)?)"', rb'\1Z"', raw),
    "keys in another order": lambda raw: b"".join(
        b"data: " + json.dumps(_reorder(json.loads(block[6:]))).encode() + b"\n\n"
        for block in _frames(raw)
    ),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_valid_variants_of_the_sdk_stream_give_no_finding(variant: str) -> None:
    create, _ = await sdk_conversation()
    events = events_of(VARIANTS[variant](create))
    assert len(events) == len(events_of(create)) - (variant == "no stream_options")
    analysis = analyze_events(events, "threads.create")
    assert analysis.findings == []
    assert analysis.final.transcript() == "[user] Hi\n[assistant] " + "".join(REPLY)


# -- the analysis object ------------------------------------------------------------------


def test_the_table_has_one_row_per_event_with_the_documented_columns() -> None:
    analysis = analyze_events(stream("fault_wrong_content_part_type.sse"), "threads.create")
    table = report_table(analysis)
    assert list(table.columns) == TABLE_COLUMNS
    assert list(table["index"]) == list(range(7))
    assert list(table["ui_items_after"]) == [0, 1, 1, 2, 2, 2, 2]
    row = table.iloc[6]
    assert (row["type"], row["dialect"], bool(row["valid"])) == (
        "thread.item.done",
        "chatkit-invalid",
        False,
    )
    assert "output_text" in row["errors"] and row["item_id"] == "msg_asst_1"
    assert len(analysis.states) == 7 and analysis.final is analysis.states[-1]


def test_analyze_capture_uses_the_request_type_and_drops_time_without_timing() -> None:
    body = (STREAMS / "legacy_attempt3_responses.sse").read_bytes()
    request = RequestRecord(
        "POST",
        "http://backend.test/chatkit",
        [("content-type", "application/json")],
        json.dumps({"type": "threads.create", "params": {"input": user_input("x")}}).encode(),
    )
    timed = Capture(request=request, status=200, label="attempt3")
    timed.add_chunk(body[:200], 1_000_000)
    timed.add_chunk(body[200:], 5_000_000)
    analysis = analyze_capture(timed)
    assert analysis.request_type == "threads.create" and analysis.capture == "attempt3"
    assert report_table(analysis)["time_ms"].iloc[-1] == 5.0
    assert analysis.findings[0].evidence.capture == "attempt3"
    untimed = Capture(request=request, status=200, timing=False)
    untimed.add_chunk(body, 0)
    assert report_table(analyze_capture(untimed))["time_ms"].isna().all()


def test_an_error_event_and_undecodable_data_are_reported() -> None:
    raw = (STREAMS / "reference_handmade_create.sse").read_bytes()
    raw += b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\ndata: [DONE]\n\n'
    analysis = analyze_events(events_of(raw), "threads.create")
    assert analysis.codes == ["decoding.not_json", "ordering.error_event"]
    assert [f.severity for f in analysis.findings] == ["error", "warning"]


def test_the_summary_and_html_show_dialects_findings_and_the_client_model() -> None:
    analysis = analyze_events(stream("legacy_attempt2_assistants.sse"), "threads.create")
    assert "assistants: 6" in analysis.summary()
    assert "the UI would draw nothing from this stream" in repr(analysis)
    page = analysis._repr_html_()
    assert "rendering.nothing_rendered" in page and "not from ChatKit.js source" in page
    assert findings_table(analysis)["code"].iloc[-1] == "rendering.nothing_rendered"


EVENT_LEVEL_CODES = [
    "decoding.not_json",
    "decoding.not_object",
    "schema.missing_type",
    "schema.unknown_type",
    "schema.invalid_event",
    "schema.foreign_protocol",
    "ordering.thread_not_first",
    "ordering.thread_missing",
    "ordering.user_message_not_done",
    "ordering.update_before_added",
    "ordering.event_after_done",
    "ordering.duplicate_item_id",
    "ordering.content_index",
    "ordering.update_wrong_item",
    "ordering.unfinished_item",
    "ordering.error_event",
    "rendering.nothing_rendered",
    "rendering.no_assistant_text",
]


@pytest.mark.parametrize("code", EVENT_LEVEL_CODES)
def test_every_event_level_check_is_registered_with_a_concrete_fix(code: str) -> None:
    spec = check_specs()[code]
    assert spec.layer == code.split(".")[0]
    assert len(spec.fix) > 40 and spec.expectation and spec.description
