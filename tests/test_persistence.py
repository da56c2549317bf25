"""The persistence diff on hand-built exchanges: what was streamed against what a reload returns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    Page,
    Thread,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.checks.persistence import (
    ItemView,
    Reload,
    diff_lifecycle,
    diff_reload,
    item_text,
    streamed_items,
)
from chatkit_lab.client import ClientRequest, Lifecycle, Step, envelope
from chatkit_lab.report import table as report_table

URL = "http://backend.test/chatkit"
THREAD = "thr_1"
WHEN = datetime(2026, 2, 11, 12, 0, 0)


# -- builders --------------------------------------------------------------------------------


def user(item_id: str, text: str = "hello") -> dict[str, Any]:
    item = UserMessageItem(
        id=item_id,
        thread_id=THREAD,
        created_at=WHEN,
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
    )
    return item.model_dump(mode="json")


def assistant(item_id: str, text: str = "hi there") -> dict[str, Any]:
    item = AssistantMessageItem(
        id=item_id,
        thread_id=THREAD,
        created_at=WHEN,
        content=[AssistantMessageContent(text=text)],
    )
    return item.model_dump(mode="json")


def thread(items: list[dict[str, Any]]) -> dict[str, Any]:
    payload = Thread(id=THREAD, created_at=WHEN, items=Page(data=[])).model_dump(mode="json")
    payload["items"] = {"data": items, "has_more": False, "after": None}
    return payload


def page(items: list[dict[str, Any]], has_more: bool = False, after: str | None = None) -> Any:
    return {"data": items, "has_more": has_more, "after": after}


def _request(kind: str, params: dict[str, Any]) -> RequestRecord:
    body = json.dumps(envelope(kind, params)).encode()
    return RequestRecord("POST", URL, [("content-type", "application/json")], body)


def json_step(
    name: str, kind: str, reply: Any, *, status: int = 200, params: dict[str, Any] | None = None
) -> Step:
    params = params if params is not None else {"thread_id": THREAD}
    capture = Capture(
        request=_request(kind, params),
        status=status,
        response_headers=[("content-type", "application/json")],
        label=name,
    )
    capture.add_chunk(json.dumps(reply).encode(), 1_000_000)
    request = ClientRequest.chatkit(URL, envelope(kind, params))
    return Step(name, kind, "json", request, capture)


def stream_step(name: str, kind: str, events: list[dict[str, Any]]) -> Step:
    capture = Capture(
        request=_request(kind, {"thread_id": THREAD}),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        label=name,
        ending=Ending("complete"),
    )
    for n, event in enumerate(events):
        capture.add_chunk(b"data: " + json.dumps(event).encode() + b"\n\n", (n + 1) * 1_000_000)
    request = ClientRequest.chatkit(URL, envelope(kind, {"thread_id": THREAD}))
    return Step(name, kind, "stream", request, capture)


def done(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "thread.item.done", "item": item}


def streamed(*items: dict[str, Any]) -> list[ItemView]:
    capture = stream_step("send", "threads.create", [done(item) for item in items]).capture
    return streamed_items([capture])


def reload_of(items: list[dict[str, Any]], sent: list[ItemView]) -> Reload:
    get = json_step("load: threads.get_by_id", "threads.get_by_id", thread(items))
    return diff_reload("load", sent, get, None, [])


def codes(reload: Reload) -> list[str]:
    return [f.code for f in reload.findings]


U1, A1 = user("msg_u1", "What is up?"), assistant("msg_a1", "Not much, and you?")


# -- the diff --------------------------------------------------------------------------------


def test_a_reload_that_returns_exactly_what_was_streamed_has_no_findings() -> None:
    reload = reload_of([U1, A1], streamed(U1, A1))
    assert reload.findings == []
    assert [v.id for v in reload.thread_items or []] == ["msg_u1", "msg_a1"]
    table = report_table(reload)
    assert table["same"].all()


def test_an_item_streamed_as_done_but_absent_from_the_reload_is_missing() -> None:
    reload = reload_of([U1], streamed(U1, A1))
    assert codes(reload) == ["persistence.missing_item"]
    [missing] = reload.findings
    assert missing.severity == "error"
    assert missing.evidence.detail["item_id"] == "msg_a1"
    assert missing.evidence.capture == "load: threads.get_by_id"


def test_an_item_in_the_reload_that_was_never_streamed_is_an_extra_item_warning() -> None:
    reload = reload_of([U1, A1, assistant("msg_x", "server-only")], streamed(U1, A1))
    assert codes(reload) == ["persistence.extra_item"]
    assert reload.findings[0].severity == "warning"
    assert reload.findings[0].evidence.detail["item_id"] == "msg_x"


def test_an_item_that_comes_back_twice_is_a_duplicate() -> None:
    reload = reload_of([U1, A1, A1], streamed(U1, A1))
    assert "persistence.duplicate_item" in codes(reload)
    dup = next(f for f in reload.findings if f.code == "persistence.duplicate_item")
    assert dup.evidence.detail == {"item_id": "msg_a1", "count": 2}
    assert "persistence.missing_item" not in codes(reload)


def test_an_item_with_the_same_content_under_a_new_id_is_a_changed_id() -> None:
    renamed = dict(A1, id="db_msg_a1")
    reload = reload_of([U1, renamed], streamed(U1, A1))
    assert codes(reload) == ["persistence.changed_id"]
    assert reload.findings[0].evidence.detail == {
        "streamed_id": "msg_a1",
        "reload_id": "db_msg_a1",
    }


def test_items_that_come_back_in_another_order_are_a_changed_order() -> None:
    reload = reload_of([A1, U1], streamed(U1, A1))
    assert codes(reload) == ["persistence.changed_order"]
    detail = reload.findings[0].evidence.detail
    assert detail["streamed"] == ["msg_u1", "msg_a1"]
    assert detail["reloaded"] == ["msg_a1", "msg_u1"]


def test_an_item_that_comes_back_with_other_text_is_a_changed_text() -> None:
    reload = reload_of([U1, assistant("msg_a1", "Not much")], streamed(U1, A1))
    assert codes(reload) == ["persistence.changed_text"]
    assert reload.findings[0].evidence.detail["item_id"] == "msg_a1"


def test_a_get_by_id_that_answers_with_a_stream_an_error_or_foreign_json_is_a_failed_reload() -> (
    None
):
    sent = streamed(U1, A1)
    stream = stream_step("load: threads.get_by_id", "threads.get_by_id", [done(A1)])
    stream.expects = "json"
    error = json_step("load: threads.get_by_id", "threads.get_by_id", {"error": "x"}, status=404)
    foreign = json_step("load: threads.get_by_id", "threads.get_by_id", {"messages": []})
    for step, words in (
        (stream, "an event stream"),
        (error, "HTTP 404"),
        (foreign, "not a ChatKit reply"),
    ):
        reload = diff_reload("load", sent, step, None, [])
        assert codes(reload) == ["persistence.reload_failed"], words
        assert words in reload.findings[0].summary
        assert reload.thread_items is None


def test_an_items_list_that_is_not_a_page_fails_on_its_own() -> None:
    get = json_step("load: threads.get_by_id", "threads.get_by_id", thread([U1, A1]))
    listed = json_step("load: items.list", "items.list", {"items": [U1, A1]})
    reload = diff_reload("load", streamed(U1, A1), get, listed, [])
    assert codes(reload) == ["persistence.items_list_failed"]


# -- pagination ------------------------------------------------------------------------------


def _paged(pages: list[Any], full: list[dict[str, Any]]) -> Reload:
    get = json_step("load: threads.get_by_id", "threads.get_by_id", thread(full))
    listed = json_step("load: items.list", "items.list", page(full))
    steps = [
        json_step(f"load: items.list page {n}", "items.list", reply)
        for n, reply in enumerate(pages, start=1)
    ]
    return diff_reload("load", streamed(*full), get, listed, steps)


U2, A2 = user("msg_u2", "And then?"), assistant("msg_a2", "Then nothing.")


def test_pages_that_follow_each_other_cleanly_have_no_findings() -> None:
    reload = _paged([page([U1, A1], True, "msg_a1"), page([U2, A2], False, None)], [U1, A1, U2, A2])
    assert reload.findings == []
    assert [v.id for v in reload.paged_items or []] == ["msg_u1", "msg_a1", "msg_u2", "msg_a2"]


def test_a_page_that_repeats_an_id_from_an_earlier_page_is_a_pagination_fault() -> None:
    reload = _paged(
        [page([U1, A1], True, "msg_a1"), page([A1, U2], True, "msg_u2"), page([A2])],
        [U1, A1, U2, A2],
    )
    assert codes(reload) == ["persistence.pagination"]
    assert "more than one page" in reload.findings[0].summary
    assert reload.findings[0].evidence.detail["paged"].count("msg_a1") == 2


def test_pages_whose_has_more_never_becomes_false_are_a_pagination_fault() -> None:
    # The last page still claims more but gives nothing to continue from: the walk stops there.
    reload = _paged(
        [page([U1, A1], True, "msg_a1"), page([U2, A2], True, "msg_a2"), page([], True, None)],
        [U1, A1, U2, A2],
    )
    assert codes(reload) == ["persistence.pagination"]
    assert "has_more never became false" in reload.findings[0].summary


def test_pages_that_skip_items_are_a_pagination_fault() -> None:
    reload = _paged([page([U1, A1], True, "msg_a1"), page([A2])], [U1, A1, U2, A2])
    assert codes(reload) == ["persistence.pagination"]
    assert "3 items, the full list 4" in reload.findings[0].summary


# -- what counts as streamed, and the load points of a lifecycle -----------------------------


def test_only_done_and_replaced_items_count_as_streamed_and_removed_ones_drop_out() -> None:
    events = [
        {"type": "thread.item.added", "item": assistant("msg_pending", "")},
        done(U1),
        done(A1),
        {"type": "thread.item.replaced", "item": assistant("msg_a1", "Edited")},
        done(assistant("msg_gone", "bye")),
        {"type": "thread.item.removed", "item_id": "msg_gone"},
    ]
    views = streamed_items([stream_step("send", "threads.create", events).capture])
    assert [(v.id, v.text) for v in views] == [("msg_u1", "What is up?"), ("msg_a1", "Edited")]
    assert item_text({"content": "not a list"}) == ""


def test_each_load_point_of_a_lifecycle_is_diffed_against_the_streams_before_it() -> None:
    life = Lifecycle("hand-built")
    life.steps = [
        stream_step("send: threads.create", "threads.create", [done(U1), done(A1)]),
        json_step("load: threads.get_by_id", "threads.get_by_id", thread([U1, A1])),
        stream_step("send: threads.add_user_message", "threads.add_user_message", [done(U2)]),
        # the second assistant reply was streamed nowhere, the user message is lost on reload
        json_step("reload: threads.get_by_id", "threads.get_by_id", thread([U1, A1])),
    ]
    load, reload = diff_lifecycle(life)
    assert (load.name, load.findings) == ("load", [])
    assert [v.id for v in reload.streamed] == ["msg_u1", "msg_a1", "msg_u2"]
    assert codes(reload) == ["persistence.missing_item"]
    assert reload.findings[0].evidence.detail["item_id"] == "msg_u2"
