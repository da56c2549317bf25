"""HAR import: DevTools exports from Chrome and Firefox become captures; damage becomes problems."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from chatkit.types import ThreadStreamEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from whatwg import parse_frames

from chatkit_lab.capture import Capture, RequestRecord, load_captures
from chatkit_lab.errors import HarFormatError
from chatkit_lab.report import chunks_table
from chatkit_lab.report import table as report_table
from chatkit_lab.sources import (
    EMPTY_STREAM_MESSAGE,
    MISSING_BODY_MESSAGE,
    NO_TIMING_NOTE,
    HarImport,
    load_har,
)

HAR_DIR = Path(__file__).parent / "har"
CHROME = HAR_DIR / "chrome_reference.har"
FIREFOX = HAR_DIR / "firefox_legacy.har"
MISSING = HAR_DIR / "chrome_missing_body.har"
TRUNCATED = HAR_DIR / "broken_truncated.har"
NOT_A_HAR = HAR_DIR / "not_a_har.json"

REFERENCE_ORDER = [
    "thread.created",
    "thread.item.done",
    "stream_options",
    "thread.item.added",
    "thread.item.updated",
    "thread.item.updated",
    "thread.item.updated",
    "thread.item.updated",
    "thread.item.updated",
    "thread.item.done",
]
ATTEMPT_3_ORDER = [
    "thread.created",
    "conversation.item.created",
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.text.delta",
    "response.text.delta",
    "response.text.delta",
    "response.text.delta",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
]


def _by_label(imported: HarImport) -> dict[str, Capture]:
    return {capture.label: capture for capture in imported.captures}


def _chrome_dict() -> dict[str, Any]:
    return json.loads(CHROME.read_text(encoding="utf-8"))


def _one_entry_har(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [entry]}
    }


def _stream_entry() -> dict[str, Any]:
    return copy.deepcopy(_chrome_dict()["log"]["entries"][4])


# -- Chrome ---------------------------------------------------------------------------------------


def test_a_chrome_har_becomes_one_capture_per_fetch_entry() -> None:
    imported = load_har(CHROME)

    assert [c.label for c in imported.captures] == [
        "OPTIONS /chatkit",
        "threads.list",
        "threads.create",
    ]
    assert [(s.entry, s.reason) for s in imported.skipped] == [
        (0, "resource type 'script' (not fetch/xhr)"),
        (1, "resource type 'image' (not fetch/xhr)"),
    ]
    assert imported.problems == []
    assert imported.creator == "WebInspector 537.36"
    assert imported.entries == 5
    for capture in imported.captures:
        assert capture.transport == "har"
        assert capture.target == "https://api.example.test"
        assert capture.meta["source"] == "har"


def test_keep_static_imports_every_chrome_entry_including_scripts_and_images() -> None:
    imported = load_har(CHROME, keep_static=True)

    assert len(imported.captures) == 5
    assert imported.skipped == []
    assert imported.captures[0].label == "GET /_next/static/chunks/app-page-3f9a1c.js"


def test_the_chrome_stream_decodes_into_valid_chatkit_events_in_the_documented_order() -> None:
    stream = _by_label(load_har(CHROME))["threads.create"]

    assert stream.status == 200
    assert stream.is_event_stream
    assert [event.type for event in stream.events] == REFERENCE_ORDER
    assert all(frame.dispatched and frame.complete for frame in parse_frames(stream.chunks))
    adapter: TypeAdapter[Any] = TypeAdapter(ThreadStreamEvent)
    for event in stream.events:
        assert event.ok
        adapter.validate_python(event.payload)
    assert stream.request.json["params"]["input"]["content"][0]["text"] == (
        "What is on my todo list?"
    )


def test_the_chrome_threads_list_reply_is_a_json_body() -> None:
    listing = _by_label(load_har(CHROME))["threads.list"]

    assert listing.request_type == "threads.list"
    assert listing.content_type == "application/json"
    assert listing.json_body() == {"data": [], "has_more": False, "after": None}


def test_http2_pseudo_headers_are_kept_apart_from_the_request_headers() -> None:
    stream = _by_label(load_har(CHROME))["threads.create"]

    assert all(not name.startswith(":") for name, _ in stream.request.headers)
    assert stream.request.header("origin") == "https://app.example.test"
    pseudo = dict(stream.meta["har"]["request_pseudo_headers"])
    assert pseudo == {
        ":authority": "api.example.test",
        ":method": "POST",
        ":path": "/chatkit",
        ":scheme": "https",
    }


def test_capture_meta_names_the_har_entry_its_start_time_and_the_creator() -> None:
    stream = _by_label(load_har(CHROME))["threads.create"]

    har = stream.meta["har"]
    assert har["entry"] == 4
    assert har["startedDateTime"] == "2026-02-11T14:03:07.398Z"
    assert har["creator"] == "WebInspector 537.36"
    assert har["resource_type"] == "fetch"
    assert har["initiator"] == "script"
    assert stream.started_at == "2026-02-11T14:03:07.398+00:00"


def test_har_timings_give_the_header_offset_and_the_end_but_no_per_chunk_timing() -> None:
    stream = _by_label(load_har(CHROME))["threads.create"]

    assert stream.timing is False
    assert NO_TIMING_NOTE in stream.notes
    assert len(stream.chunks) == 1
    assert stream.headers_ns == 131_700_000
    assert stream.ending.state == "complete"
    assert stream.ending.at_ns == 131_700_000 + 1_874_200_000
    assert chunks_table(stream)["arrived_ms"].isna().all()
    assert stream.summary()["duration_ms"] is None


def test_reimporting_the_same_har_gives_the_same_capture_ids() -> None:
    first = [c.id for c in load_har(CHROME).captures]
    second = [c.id for c in load_har(CHROME).captures]

    assert first == second
    assert len(set(first)) == len(first)


def test_the_table_has_one_row_per_entry_with_its_outcome() -> None:
    table = report_table(load_har(CHROME))

    assert list(table["entry"]) == [0, 1, 2, 3, 4]
    assert list(table["outcome"]) == [
        "skipped: resource type 'script' (not fetch/xhr)",
        "skipped: resource type 'image' (not fetch/xhr)",
        "imported",
        "imported",
        "imported",
    ]
    assert table.loc[4, "request"] == "threads.create"
    assert table.loc[4, "events"] == 10


# -- Firefox --------------------------------------------------------------------------------------


def test_a_firefox_har_without_resource_types_keeps_every_entry() -> None:
    imported = load_har(FIREFOX)

    assert imported.creator == "Firefox 135.0"
    assert imported.browser == "Firefox 135.0"
    assert imported.problems == []
    assert [c.label for c in imported.captures] == [
        "GET /_next/static/chunks/app/chat/page.js",
        "OPTIONS /user-1/chat",
        "POST /user-1/chat",
    ]


def test_a_base64_response_body_is_decoded_before_framing() -> None:
    chat = _by_label(load_har(FIREFOX))["POST /user-1/chat"]

    assert chat.body.startswith(b'data: {"type":"thread.created"')
    assert chat.size == 1851
    assert [event.type for event in chat.events] == ATTEMPT_3_ORDER
    assert chat.request.json == {"message": "Add buy milk to my list", "conversation_id": 223}
    assert chat.request_type is None
    assert chat.headers_ns == 846_000_000
    assert chat.timing is False


def test_url_contains_picks_the_chat_endpoint_entries() -> None:
    imported = load_har(FIREFOX, url_contains="/user-1/chat")

    assert [c.request.method for c in imported.captures] == ["OPTIONS", "POST"]
    assert [s.entry for s in imported.skipped] == [0]


def test_only_chatkit_keeps_envelopes_and_event_streams_even_when_the_body_was_rewritten() -> None:
    firefox = load_har(FIREFOX, only_chatkit=True)
    chrome = load_har(CHROME, only_chatkit=True)

    assert [c.label for c in firefox.captures] == ["POST /user-1/chat"]
    assert [c.label for c in chrome.captures] == ["threads.list", "threads.create"]


def test_saving_an_imported_capture_redacts_the_authorization_header(tmp_path: Path) -> None:
    chat = _by_label(load_har(FIREFOX))["POST /user-1/chat"]
    token = chat.request.header("Authorization").split(" ", 1)[1]
    assert token.startswith("eyJ") and token.count(".") == 2

    saved = chat.save(tmp_path / "chat.jsonl")
    text = saved.read_text(encoding="utf-8")

    assert token not in text
    assert token.split(".")[1] not in text
    assert "[REDACTED jwt alg=HS256" in text
    reloaded = load_captures(saved)[0]
    assert reloaded.timing is False
    assert reloaded.transport == "har"
    assert [event.type for event in reloaded.events] == ATTEMPT_3_ORDER


def test_har_import_save_writes_every_capture_redacted(tmp_path: Path) -> None:
    imported = load_har(FIREFOX)

    saved = imported.save(tmp_path / "all.jsonl")

    assert "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" not in saved.read_text(encoding="utf-8")
    assert len(load_captures(saved)) == 3


# -- damaged exports ------------------------------------------------------------------------------


def test_a_missing_event_stream_body_is_reported_while_the_other_entries_import() -> None:
    imported = load_har(MISSING)

    assert [c.label for c in imported.captures] == ["threads.list", "threads.create"]
    assert [(p.entry, p.url, p.message) for p in imported.problems] == [
        (1, "https://api.example.test/chatkit", MISSING_BODY_MESSAGE)
    ]
    stream = imported.captures[1]
    assert stream.chunks == []
    assert stream.body_missing is True
    assert stream.ending.state == "error"
    assert "not saved in the HAR" in stream.ending.message
    assert imported.captures[0].json_body() == {"data": [], "has_more": False, "after": None}
    assert report_table(imported).loc[1, "problems"] == MISSING_BODY_MESSAGE


def test_an_empty_event_stream_body_is_flagged_as_ambiguous() -> None:
    entry = _stream_entry()
    entry["response"]["content"].update(text="", size=0)

    imported = load_har(_one_entry_har(entry))

    assert [p.message for p in imported.problems] == [EMPTY_STREAM_MESSAGE]
    assert imported.captures[0].ending.state == "complete"


def test_a_truncated_har_salvages_the_complete_entries_before_the_cut() -> None:
    imported = load_har(TRUNCATED)

    assert imported.truncated is True
    assert [c.label for c in imported.captures] == ["OPTIONS /chatkit", "threads.list"]
    assert imported.creator == "WebInspector 537.36"
    (problem,) = imported.problems
    assert problem.entry is None
    assert "truncated" in problem.message
    assert "4 complete entries" in problem.message
    assert "entry 4 was cut off" in problem.message
    assert "it ends at line 551" in problem.message


def test_a_har_cut_before_any_complete_entry_raises_a_clear_error() -> None:
    text = CHROME.read_text(encoding="utf-8")
    cut = text[: text.index('"_resourceType": "script"')]

    with pytest.raises(HarFormatError, match="truncated.*no complete entry"):
        load_har(cut)


def test_a_har_cut_before_its_log_raises_a_clear_error() -> None:
    with pytest.raises(HarFormatError, match="truncated.*nothing of a HAR 'log'"):
        load_har('{"log"')


def test_every_cut_of_a_har_gives_an_import_or_a_har_format_error() -> None:
    text = CHROME.read_text(encoding="utf-8")
    for end in range(1, len(text), 97):
        try:
            imported = load_har(text[:end])
        except HarFormatError as exc:
            assert "truncated" in str(exc) or "not" in str(exc)
        else:
            assert imported.truncated
            assert all(c.transport == "har" for c in imported.captures)


def test_malformed_json_is_rejected_with_its_line_and_column() -> None:
    text = CHROME.read_text(encoding="utf-8").replace('"version": "1.2",', '"version": "1.2"', 1)

    with pytest.raises(HarFormatError, match=r"not valid JSON at line 4 column 5"):
        load_har(text)


def test_json_that_is_not_a_har_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(HarFormatError, match=r"not_a_har\.json: not a HAR file \(no 'log' object"):
        load_har(NOT_A_HAR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "the JSON is an array"),
        ('{"log": []}', "'log' is an array"),
        ('{"log": {"version": "1.2"}}', "no 'entries' list"),
        ('{"log": {"entries": {}}}', "'log.entries' is an object"),
        ("{} {}", "more than one JSON value"),
        ("   ", "empty"),
    ],
)
def test_other_shapes_that_are_not_a_har_are_rejected_by_name(text: str, message: str) -> None:
    with pytest.raises(HarFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_har(text.encode())


def test_a_capture_file_passed_as_a_har_is_named_as_such(tmp_path: Path) -> None:
    capture = Capture(request=RequestRecord("POST", "http://127.0.0.1:8000/chatkit"), status=200)
    capture.add_chunk(b"data: {}\n\n", 1000)
    path = capture.save(tmp_path / "capture.jsonl")

    with pytest.raises(HarFormatError, match="chatkit-lab capture file.*load_captures"):
        load_har(path)


def test_unreadable_sources_raise_a_har_format_error(tmp_path: Path) -> None:
    with pytest.raises(HarFormatError, match="no such HAR file"):
        load_har(tmp_path / "nope.har")
    with pytest.raises(HarFormatError, match="is a directory"):
        load_har(tmp_path)
    zipped = tmp_path / "export.har.gz"
    zipped.write_bytes(gzip.compress(CHROME.read_bytes()))
    with pytest.raises(HarFormatError, match="gzip"):
        load_har(zipped)


def test_har_text_bytes_and_parsed_objects_load_like_the_file() -> None:
    text = CHROME.read_text(encoding="utf-8")
    from_file = [c.id for c in load_har(CHROME).captures]

    assert [c.id for c in load_har(text).captures] == from_file
    assert [c.id for c in load_har(text.encode("utf-8")).captures] == from_file
    assert [c.id for c in load_har(b"\xef\xbb\xbf" + text.encode("utf-8")).captures] == from_file
    assert [c.id for c in load_har(json.loads(text)).captures] == from_file
    assert load_har(json.loads(text)).source == "<HAR object>"


def _damage(entry: dict[str, Any], change: str) -> None:
    request, response = entry["request"], entry["response"]
    if change == "invalid base64":
        response["content"].update(encoding="base64", text="!!not base64!!")
    elif change == "unknown encoding":
        response["content"]["encoding"] = "rot13"
    elif change == "lone surrogate":
        response["content"]["text"] = 'data: {"type":"x","t":"\ud800"}\n\n'
    elif change == "no request":
        del entry["request"]
    elif change == "no url":
        del request["url"]
    elif change == "no method":
        del request["method"]
    elif change == "no response":
        del entry["response"]
    elif change == "no content":
        del response["content"]
    elif change == "no post data":
        del request["postData"]
    elif change == "params only":
        request["postData"] = {
            "mimeType": "application/x-www-form-urlencoded",
            "params": [{"name": "q", "value": "hi there"}],
        }
    elif change == "headers not a list":
        request["headers"] = "accept: */*"
    elif change == "nameless header":
        response["headers"].append({"value": "orphan"})
    elif change == "no start time":
        del entry["startedDateTime"]
    elif change == "bad start time":
        entry["startedDateTime"] = "yesterday"
    elif change == "text not a string":
        response["content"]["text"] = 42
    elif change == "short body":
        response["content"]["size"] = 10**6


DAMAGE = {
    "invalid base64": "is marked base64 but is not valid base64",
    "unknown encoding": "unknown content.encoding 'rot13'",
    "lone surrogate": "invalid Unicode",
    "no request": "no 'request' object",
    "no url": "request has no URL",
    "no method": "assumed GET",
    "no response": "no 'response' object",
    "no content": "no 'content' object",
    "no post data": "request body not saved in the HAR",
    "params only": "rebuilt from postData.params",
    "headers not a list": "'headers' is a string",
    "nameless header": "malformed response header",
    "no start time": "no startedDateTime",
    "bad start time": "not an ISO 8601 time",
    "text not a string": "content.text is a number",
    "short body": "the HAR may have cut it short",
}


@pytest.mark.parametrize("change", sorted(DAMAGE))
def test_a_damaged_entry_becomes_a_problem_while_the_next_entry_imports(change: str) -> None:
    har = _chrome_dict()
    _damage(har["log"]["entries"][4], change)
    har["log"]["entries"].append(copy.deepcopy(_chrome_dict()["log"]["entries"][3]))

    imported = load_har(har)

    messages = [p.message for p in imported.problems_for(4)]
    assert any(DAMAGE[change] in message for message in messages), messages
    assert imported.capture_for(5) is not None
    assert imported.capture_for(5).request_type == "threads.list"
    # the appended copy of entry 3 started before entry 4: read in time order, with a note
    assert all(p.entry == 4 for p in imported.problems if "time order" not in p.message)


def test_a_failed_request_with_status_0_keeps_the_browser_error() -> None:
    entry = _stream_entry()
    entry["response"].update(status=0, _error="net::ERR_FAILED", content={"size": 0})

    imported = load_har(_one_entry_har(entry))

    (capture,) = imported.captures
    assert capture.status is None
    assert capture.ending.state == "error"
    assert "net::ERR_FAILED" in capture.ending.message
    assert imported.problems == []


def test_a_request_body_marked_base64_is_decoded() -> None:
    entry = _stream_entry()
    entry["request"]["postData"] = {
        "mimeType": "application/json",
        "encoding": "base64",
        "text": "eyJ0eXBlIjoidGhyZWFkcy5saXN0IiwicGFyYW1zIjp7fX0=",
    }

    (capture,) = load_har(_one_entry_har(entry)).captures

    assert capture.request_type == "threads.list"
    assert capture.label == "threads.list"


def test_bytes_that_are_not_utf8_inside_the_file_are_kept_raw_and_reported() -> None:
    entry = _stream_entry()
    entry["response"]["content"].update(text='data: {"type":"PLACEHOLDER"}\n\n', size=23)
    raw = json.dumps(_one_entry_har(entry), ensure_ascii=False).encode("utf-8")
    raw = raw.replace(b"PLACEHOLDER", b"caf\xe9")

    imported = load_har(raw)

    (capture,) = imported.captures
    assert capture.body == b'data: {"type":"caf\xe9"}\n\n'
    assert [p.message for p in imported.problems] == [
        "response body is not valid UTF-8 in the HAR file; its raw bytes were kept as they are"
    ]


def test_an_entry_that_is_not_an_object_is_a_problem() -> None:
    har = _chrome_dict()
    har["log"]["entries"].insert(0, "oops")

    imported = load_har(har)

    assert imported.problems[0].entry == 0
    assert "entry is a string, not an object" in imported.problems[0].message
    assert len(imported.captures) == 3


def test_a_har_with_no_entries_imports_nothing_and_says_so() -> None:
    imported = load_har({"log": {"version": "1.2", "entries": []}})

    assert imported.captures == []
    assert [p.message for p in imported.problems] == ["the HAR holds no entries"]
    assert report_table(imported).empty


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, prefix + (index,))
    return found


_STREAM_PATHS = _paths(_stream_entry())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_STREAM_PATHS), _json_values), max_size=4))
def test_any_replaced_field_gives_an_import_and_never_a_traceback(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    entry = _stream_entry()
    for path, value in changes:
        target: Any = entry
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue

    imported = load_har(_one_entry_har(entry))

    assert len(imported.captures) + len(imported.problems) >= 1
    assert not any("could not import" in p.message for p in imported.problems)
    report_table(imported)
    for capture in imported.captures:
        assert capture.timing is False
        capture.events  # noqa: B018 - deriving must not fail either
