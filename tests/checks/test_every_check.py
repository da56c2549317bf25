"""Every check trips on a broken input and stays quiet on a valid variant of it (h2spec style).

Each check code has a case here: a tiny exchange, stream or lifecycle that must raise it, and a
valid variant that must not. A check declared without its case fails
``test_every_declared_check_has_a_triggering_and_a_valid_case``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab import Capture
from chatkit_lab.capture import Ending, RequestRecord
from chatkit_lab.checks import (
    ExchangeContext,
    LifecycleContext,
    StreamContext,
    check_specs,
    diff_lifecycle,
    run_layer,
)
from chatkit_lab.client import ClientRequest, Lifecycle, Step
from chatkit_lab.report import checks_table
from chatkit_lab.sources import decode_capture

STREAMS = Path(__file__).resolve().parent.parent / "streams"
URL = "http://backend.test/chatkit"
SSE = "text/event-stream"
JSON = "application/json"
MS = 1_000_000


# -- builders --------------------------------------------------------------------------------


def envelope(kind: str = "threads.create") -> bytes:
    return json.dumps({"type": kind, "params": {}, "metadata": {}}).encode()


def sse(*payloads: Any) -> bytes:
    return b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)


def capture(
    body: bytes = b"",
    *,
    status: int | None = 200,
    content_type: str | None = SSE,
    request: bytes | None = None,
    kind: str = "threads.create",
    headers: tuple[tuple[str, str], ...] = (),
    ending: Ending | None = None,
    chunks: list[tuple[bytes, int]] | None = None,
    meta: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    label: str = "case",
    **fields: Any,
) -> Capture:
    response = ([("content-type", content_type)] if content_type else []) + list(headers)
    made = Capture(
        request=RequestRecord("POST", URL, [], envelope(kind) if request is None else request),
        status=status,
        response_headers=response if status is not None else [],
        headers_ns=MS,
        ending=ending or Ending(),
        label=label,
        meta=meta or {},
        notes=notes or [],
        **fields,
    )
    for data, at_ns in chunks if chunks is not None else [(body, 2 * MS)] if body else []:
        made.add_chunk(data, at_ns)
    return made


def reference() -> list[dict[str, Any]]:
    """The hand-made reference threads.create stream's payloads."""
    raw = (STREAMS / "reference_handmade_create.sse").read_text(encoding="utf-8")
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


def without(payloads: list[dict[str, Any]], *types: str, item_type: str | None = None) -> list:
    def dropped(p: dict[str, Any]) -> bool:
        if p["type"] not in types:
            return False
        return item_type is None or p.get("item", {}).get("type") == item_type

    return [p for p in payloads if not dropped(p)]


def exchange(made: Capture, expects: str | None = "stream", client_body: bytes | None = None):
    return ExchangeContext(made, expects, client_body)


def stream(body: bytes | list[dict[str, Any]], kind: str = "threads.create") -> StreamContext:
    raw = sse(*body) if isinstance(body, list) else body
    return StreamContext.of(capture(raw, kind=kind))


def _widget_item(item_id: str, value: str) -> dict[str, Any]:
    card = {"type": "Card", "children": [{"type": "Text", "value": value}]}
    return {
        "type": "widget",
        "id": item_id,
        "thread_id": "thr_1",
        "created_at": "2025-01-01T12:00:00",
        "widget": card,
    }


def action_stream(replaced: str, *, update: str | None = None) -> StreamContext:
    """A threads.custom_action stream on a thread that already holds widget ``wdg_1`` (the
    session recorded it): it replaces item ``replaced`` and, with ``update``, first updates
    that item's root."""
    payloads: list[dict[str, Any]] = []
    if update is not None:
        root = {"type": "Card", "children": [{"type": "Text", "value": "updating"}]}
        change = {"type": "widget.root.updated", "widget": root}
        payloads.append({"type": "thread.item.updated", "item_id": update, "update": change})
    payloads.append({"type": "thread.item.replaced", "item": _widget_item(replaced, "19 C")})
    made = capture(sse(*payloads), kind="threads.custom_action", thread_items_before=["wdg_1"])
    return StreamContext.of(made)


def fixture(name: str) -> StreamContext:
    return stream((STREAMS / name).read_bytes())


# -- lifecycles: a threads.create stream, then a load point -----------------------------------

ASSISTANT = "msg_asst_1"


def streamed_items() -> list[dict[str, Any]]:
    return [p["item"] for p in reference() if p["type"] == "thread.item.done"]


def thread_reply(items: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    thread = deepcopy(reference()[0]["thread"])
    thread["items"] = {"data": items, "has_more": has_more}
    return thread


def page(items: list[dict[str, Any]], has_more: bool = False, after: str | None = None) -> dict:
    return {"data": items, "has_more": has_more, "after": after}


def step(name: str, kind: str, expects: str, made: Capture) -> Step:
    request = ClientRequest("POST", URL, {}, made.request.body)
    return Step(name, kind, expects, request, made)


def json_step(name: str, kind: str, reply: Any, status: int = 200) -> Step:
    body = json.dumps(reply).encode()
    return step(name, kind, "json", capture(body, status=status, content_type=JSON, kind=kind))


def lifecycle(
    get: Any = None,
    listed: Any = None,
    pages: list[Any] | None = None,
    *,
    get_status: int = 200,
    stream_payloads: list[dict[str, Any]] | None = None,
    thread_id: str | None = "thr_1",
) -> LifecycleContext:
    """A lifecycle: threads.create, then (unless ``get`` is ``False``) one load point."""
    items = streamed_items()
    payloads = reference() if stream_payloads is None else stream_payloads
    created = capture(sse(*payloads), label="send: threads.create")
    life = Lifecycle("case", [step("send: threads.create", "threads.create", "stream", created)])
    life.thread_id = thread_id
    if get is not False:
        life.steps.append(
            json_step(
                "load: threads.get_by_id",
                "threads.get_by_id",
                thread_reply(items) if get is None else get,
                get_status,
            )
        )
        life.steps.append(
            json_step("load: items.list", "items.list", page(items) if listed is None else listed)
        )
        for n, reply in enumerate(pages if pages is not None else [page(items)], start=1):
            life.steps.append(json_step(f"load: items.list page {n}", "items.list", reply))
    return LifecycleContext(life, diff_lifecycle(life))


def renamed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = deepcopy(items)
    changed[-1]["id"] = "msg_asst_renamed"
    return changed


def retexted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = deepcopy(items)
    changed[-1]["content"][0]["text"] = "Something else"
    return changed


def extra(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    more = deepcopy(items[0])
    more["id"] = "msg_user_0"
    return [*items, more]


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    layer: str
    broken: Callable[[], Any]
    valid: Callable[[], Any]


ITEMS = streamed_items


def _error_event() -> list[dict[str, Any]]:
    return [*reference(), {"type": "error", "code": "stream.error", "allow_retry": True}]


def _widget_update() -> list[dict[str, Any]]:
    update = {
        "type": "widget.streaming_text.value_delta",
        "component_id": "c",
        "delta": "x",
        "done": False,
    }
    payloads = reference()
    payloads.insert(5, {"type": "thread.item.updated", "item_id": ASSISTANT, "update": update})
    return payloads


def _far_content_index() -> list[dict[str, Any]]:
    payloads = reference()
    payloads[5] = deepcopy(payloads[5])
    payloads[5]["update"]["content_index"] = 5
    return payloads


def _workflow(first: int) -> list[dict[str, Any]]:
    """The reference stream, then a workflow whose task updates count from ``first``."""

    def task(title: str, status: str) -> dict[str, Any]:
        return {"type": "custom", "title": title, "status_indicator": status}

    def update(kind: str, index: int, title: str, status: str) -> dict[str, Any]:
        change = {"type": kind, "task_index": index, "task": task(title, status)}
        return {"type": "thread.item.updated", "item_id": "wf_1", "update": change}

    def item(*tasks: dict[str, Any]) -> dict[str, Any]:
        workflow = {"type": "custom", "tasks": list(tasks), "expanded": True}
        return {
            "id": "wf_1",
            "thread_id": "thr_1",
            "created_at": "2026-02-11T10:00:01.000000",
            "type": "workflow",
            "workflow": workflow,
        }

    return [
        *reference(),
        {"type": "thread.item.added", "item": item(task("Dates", "loading"))},
        update("workflow.task.updated", first, "Dates", "complete"),
        update("workflow.task.added", 1, "Hotel", "loading"),
        update("workflow.task.updated", first + 1, "Hotel", "complete"),
        {
            "type": "thread.item.done",
            "item": item(task("Dates", "complete"), task("Hotel", "complete")),
        },
    ]


def _thread_second() -> list[dict[str, Any]]:
    payloads = reference()
    payloads[0], payloads[1] = payloads[1], payloads[0]
    return payloads


def _claimed_gzip(body: bytes) -> Capture:
    """A threads.get_by_id reply sent with Content-Encoding gzip, decoded as a source does."""
    headers = (("content-encoding", "gzip"),)
    raw = capture(body, content_type=JSON, kind="threads.get_by_id", headers=headers)
    return decode_capture(raw)


def _buffered(spread: list[int]) -> Capture:
    frames = sse(*reference()[:3]).split(b"\n\n")[:3]
    chunks = [(frame + b"\n\n", at * MS) for frame, at in zip(frames, spread, strict=True)]
    return capture(chunks=chunks)


def _load_stream(kind: str = "threads.get_by_id") -> Capture:
    """A thread load the target answered with a chat turn's event stream."""
    return capture(sse(*reference()), kind=kind, client_type=kind)


def _load_json(kind: str = "threads.get_by_id") -> Capture:
    body = json.dumps(thread_reply(streamed_items())).encode()
    return capture(body, content_type=JSON, kind=kind, client_type=kind)


def _streamed_only_at_done() -> list[dict[str, Any]]:
    """The reference stream with the assistant's added and text deltas dropped."""
    return without(
        without(reference(), "thread.item.updated"),
        "thread.item.added",
        item_type="assistant_message",
    )


def _retried(saved: int, threads: int) -> LifecycleContext:
    context = lifecycle()
    assert context.lifecycle is not None
    context.lifecycle.store_audit = {
        "attempts": saved,
        "new_threads": [f"thr_{n}" for n in range(threads)],
        "user_messages": {f"thr_{n}": 1 for n in range(threads)},
    }
    return context


def _cleaned(deleted: bool) -> LifecycleContext:
    context = lifecycle()
    life = context.lifecycle
    assert life is not None
    life.created_threads = ["thr_1"]
    delete = json_step("cleanup: threads.delete", "threads.delete", {})
    delete.capture.cleanup = True
    life.steps.append(delete)
    life.deleted_threads = ["thr_1"] if deleted else []
    return context


CASES: dict[str, Case] = {
    # request
    "request.answered_locally": Case(
        "request",
        lambda: exchange(capture(sse(*reference()), answered_locally=True)),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.rewritten": Case(
        "request",
        lambda: exchange(capture(sse(), request=b'{"message": "Hello"}'), "stream", envelope()),
        lambda: exchange(capture(sse(*reference())), "stream", envelope()),
    ),
    "request.not_chatkit": Case(
        "request",
        lambda: exchange(capture(sse(*reference()), request=b'{"message": "Hello"}')),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.redirect": Case(
        "request",
        lambda: exchange(capture(status=302, content_type=None, headers=(("location", "/x"),))),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.redirect_followed": Case(
        "request",
        lambda: exchange(capture(sse(*reference()), redirects=[{"status": 308, "location": URL}])),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.load_ran_a_turn": Case(
        "request",
        lambda: exchange(_load_stream(), "json"),
        lambda: exchange(_load_json(), "json"),
    ),
    "request.fetch_threw": Case(
        "request",
        lambda: exchange(
            capture(
                status=None,
                content_type=None,
                fetch_error="TypeError: no token",
                client_type="threads.create",
                ending=Ending("error", "the custom fetch threw", 0),
            )
        ),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.fetch_body_failed": Case(
        "request",
        lambda: exchange(
            capture(
                sse(*reference()),
                fetch_body_error="TypeError: boom",
                fetch_body_bytes=200,
            )
        ),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "request.fetch_name_undefined": Case(
        "request",
        lambda: exchange(
            capture(
                sse(*reference()),
                fetch_undefined=["tokenRef (fetch.ts line 12)"],
                client_type="x",
            )
        ),
        lambda: exchange(capture(sse(*reference()), client_type="threads.create")),
    ),
    "request.resent_by_chatkit": Case(
        "request",
        lambda: exchange(capture(sse(*reference()), attempt=2, retry_wait_s=(2, 4))),
        lambda: exchange(capture(sse(*reference()), attempt=0)),
    ),
    "request.http_error": Case(
        "request",
        lambda: exchange(capture(b"<h1>Unauthorized</h1>", status=401, content_type="text/html")),
        lambda: exchange(capture(sse(*reference()))),
    ),
    # transport
    "transport.no_response": Case(
        "transport",
        lambda: exchange(capture(status=None, ending=Ending("error", "connection refused"))),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "transport.incomplete": Case(
        "transport",
        lambda: exchange(capture(sse(*reference()[:2]), ending=Ending("timeout", "read timeout"))),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "transport.expected_stream_got_json": Case(
        "transport",
        lambda: exchange(capture(b'{"ok": true}', content_type=JSON)),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "transport.expected_json_got_stream": Case(
        "transport",
        lambda: exchange(capture(sse(*reference()), kind="threads.get_by_id"), "json"),
        lambda: exchange(
            capture(json.dumps(thread_reply(ITEMS())).encode(), content_type=JSON), "json"
        ),
    ),
    "transport.expected_json_got_other": Case(
        "transport",
        lambda: exchange(
            capture(b"<html>login</html>", content_type="text/html", kind="threads.get_by_id"),
            "json",
        ),
        lambda: exchange(
            capture(b'{"data": []}', content_type=JSON, kind="threads.get_by_id"), "json"
        ),
    ),
    "transport.content_type": Case(
        "transport",
        # a recorded stream of unknown request type: mislabelled, but nothing refused it
        lambda: exchange(capture(sse(*reference()), content_type="text/plain"), None),
        lambda: exchange(capture(sse(*reference())), None),
    ),
    "transport.stream_refused": Case(
        "transport",
        lambda: exchange(capture(sse(*reference()), content_type="Text/Event-Stream")),
        lambda: exchange(
            capture(sse(*reference()), content_type="text/event-stream; charset=utf-8")
        ),
    ),
    "transport.json_not_utf8": Case(
        "transport",
        lambda: exchange(
            capture(b'{"data": [{"title": "caf\xe9"}]}', content_type=JSON, kind="threads.list"),
            "json",
        ),
        lambda: exchange(
            capture('{"data": [{"title": "café"}]}'.encode(), content_type=JSON), "json"
        ),
    ),
    "transport.repeated_content_type": Case(
        "transport",
        lambda: exchange(capture(sse(*reference()), headers=(("content-type", "text/html"),))),
        lambda: exchange(capture(sse(*reference()), headers=(("cache-control", "no-cache"),))),
    ),
    "transport.compressed_stream": Case(
        "transport",
        lambda: exchange(capture(sse(*reference()), headers=(("content-encoding", "gzip"),))),
        lambda: exchange(capture(sse(*reference()), headers=(("content-encoding", "identity"),))),
    ),
    "transport.undecodable_body": Case(
        "transport",
        lambda: exchange(_claimed_gzip(b'{"data": []}'), "json"),
        lambda: exchange(_claimed_gzip(zlib.compress(b'{"data": []}', wbits=31)), "json"),
    ),
    "transport.buffered": Case(
        "transport",
        lambda: exchange(_buffered([195, 198, 200])),
        lambda: exchange(_buffered([10, 100, 200])),
    ),
    # framing
    "framing.no_events": Case(
        "framing",
        lambda: exchange(capture(b": keep-alive\n\n")),
        lambda: exchange(capture(b": keep-alive\n" + sse(*reference()))),
    ),
    "framing.truncated_frame": Case(
        "framing",
        lambda: exchange(capture(sse(*reference()).removesuffix(b"\n\n"))),
        lambda: exchange(capture(sse(*reference()))),
    ),
    "framing.undispatched_frame": Case(
        "framing",
        lambda: exchange(capture(b"event: thread.created\n\n" + sse(*reference()))),
        lambda: exchange(capture(b"event: thread.created\n" + sse(*reference()))),
    ),
    "framing.invalid_utf8": Case(
        "framing",
        lambda: exchange(capture(b'data: {"type": "notice", "message": "\xff"}\n\n')),
        lambda: exchange(capture('data: {"type": "notice", "message": "é"}\n\n'.encode())),
    ),
    "framing.empty_message": Case(
        "framing",
        lambda: exchange(capture(b": keep-alive\n\n" + sse(*reference()))),
        lambda: exchange(capture(b": keep-alive\n" + sse(*reference()))),
    ),
    "framing.parser_divergence": Case(
        "framing",
        lambda: exchange(capture(b"data\n" + sse(*reference()))),
        lambda: exchange(capture(b"\xef\xbb\xbf" + sse(*reference()))),
    ),
    # decoding
    "decoding.not_json": Case(
        "decoding",
        lambda: stream(sse(*reference()) + b"data: [DONE]\n\n"),
        lambda: stream(reference()),
    ),
    "decoding.not_object": Case(
        "decoding",
        lambda: stream(sse(*reference()) + b"data: [1, 2]\n\n"),
        lambda: stream(reference()),
    ),
    "decoding.number_changed": Case(
        "decoding",
        lambda: stream(sse(*reference()) + b'data: {"type": "notice", "n": 9007199254740993}\n\n'),
        lambda: stream(sse(*reference()) + b'data: {"type": "notice", "n": 9007199254740992}\n\n'),
    ),
    "decoding.lone_surrogate": Case(
        "decoding",
        lambda: stream(sse(*reference()) + b'data: {"type": "notice", "text": "a\\ud800"}\n\n'),
        lambda: stream(
            sse(*reference()) + b'data: {"type": "notice", "text": "\\ud83d\\ude00"}\n\n'
        ),
    ),
    # schema
    "schema.foreign_protocol": Case(
        "schema",
        lambda: fixture("legacy_attempt2_assistants.sse"),
        lambda: fixture("reference_handmade_create.sse"),
    ),
    "schema.missing_type": Case(
        "schema",
        lambda: stream([*reference(), {"item": reference()[1]["item"]}]),
        lambda: stream(reference()),
    ),
    "schema.unknown_type": Case(
        "schema",
        lambda: stream([*reference(), {"type": "thread.item.user_message"}]),
        lambda: stream(reference()),
    ),
    "schema.invalid_event": Case(
        "schema",
        lambda: fixture("fault_missing_created_at.sse"),
        lambda: fixture("valid_z_timestamps.sse"),
    ),
    # ordering
    "ordering.thread_not_first": Case(
        "ordering", lambda: stream(_thread_second()), lambda: stream(reference())
    ),
    "ordering.thread_missing": Case(
        "ordering",
        lambda: stream(without(reference(), "thread.created")),
        lambda: stream(without(reference(), "thread.created"), "threads.add_user_message"),
    ),
    "ordering.user_message_not_done": Case(
        "ordering",
        lambda: stream(without(reference(), "thread.item.done", item_type="user_message")),
        lambda: stream(
            without(reference(), "thread.item.done", item_type="user_message"),
            "threads.retry_after_item",
        ),
    ),
    "ordering.update_before_added": Case(
        "ordering",
        lambda: fixture("fault_update_before_added.sse"),
        lambda: fixture("valid_no_optional_events.sse"),
    ),
    "ordering.event_after_done": Case(
        "ordering",
        lambda: fixture("fault_update_after_done.sse"),
        lambda: fixture("valid_done_without_added.sse"),
    ),
    "ordering.replaced_unknown_item": Case(
        "ordering",
        lambda: action_stream("wdg_2"),
        lambda: action_stream("wdg_1", update="wdg_1"),
    ),
    "ordering.duplicate_item_id": Case(
        "ordering",
        lambda: fixture("fault_duplicate_ids.sse"),
        lambda: fixture("valid_key_order.sse"),
    ),
    "ordering.content_index": Case(
        "ordering", lambda: stream(_far_content_index()), lambda: stream(reference())
    ),
    "ordering.task_index": Case(
        "ordering", lambda: stream(_workflow(first=1)), lambda: stream(_workflow(first=0))
    ),
    "ordering.update_wrong_item": Case(
        "ordering", lambda: stream(_widget_update()), lambda: stream(reference())
    ),
    "ordering.unfinished_item": Case(
        "ordering",
        lambda: fixture("fault_ends_mid_item.sse"),
        lambda: fixture("valid_event_lines.sse"),
    ),
    "ordering.error_event": Case(
        "ordering", lambda: stream(_error_event()), lambda: stream(reference())
    ),
    # rendering
    "rendering.nothing_rendered": Case(
        "rendering",
        lambda: fixture("legacy_attempt1_thread_item.sse"),
        lambda: fixture("reference_handmade_create.sse"),
    ),
    "rendering.no_assistant_text": Case(
        "rendering",
        lambda: stream(reference()[:2]),
        lambda: stream(reference()),
    ),
    # persistence
    "persistence.reload_failed": Case(
        "persistence", lambda: lifecycle({"error": "boom"}, get_status=500), lambda: lifecycle()
    ),
    "persistence.items_list_failed": Case(
        "persistence", lambda: lifecycle(listed={"items": ITEMS()}), lambda: lifecycle()
    ),
    "persistence.items_list_differs": Case(
        "persistence",
        lambda: lifecycle(listed=page(ITEMS()[::-1]), pages=[page(ITEMS()[::-1])]),
        lambda: lifecycle(listed=page(ITEMS())),
    ),
    "persistence.missing_item": Case(
        "persistence",
        lambda: lifecycle(thread_reply(ITEMS()[:1]), page(ITEMS()[:1]), [page(ITEMS()[:1])]),
        lambda: lifecycle(),
    ),
    "persistence.load_other_thread": Case(
        "persistence",
        lambda: lifecycle({**thread_reply(ITEMS()), "id": "thr_someone_else"}),
        lambda: lifecycle(),
    ),
    "persistence.changed_id": Case(
        "persistence",
        lambda: lifecycle(
            thread_reply(renamed(ITEMS())), page(renamed(ITEMS())), [page(renamed(ITEMS()))]
        ),
        lambda: lifecycle(),
    ),
    "persistence.changed_text": Case(
        "persistence",
        lambda: lifecycle(
            thread_reply(retexted(ITEMS())), page(retexted(ITEMS())), [page(retexted(ITEMS()))]
        ),
        lambda: lifecycle(),
    ),
    "persistence.changed_order": Case(
        "persistence",
        lambda: lifecycle(thread_reply(ITEMS()[::-1]), page(ITEMS()[::-1]), [page(ITEMS()[::-1])]),
        lambda: lifecycle(),
    ),
    "persistence.duplicate_item": Case(
        "persistence",
        lambda: lifecycle(
            thread_reply([*ITEMS(), ITEMS()[0]]),
            page([*ITEMS(), ITEMS()[0]]),
            [page([*ITEMS(), ITEMS()[0]])],
        ),
        lambda: lifecycle(),
    ),
    "persistence.extra_item": Case(
        "persistence",
        lambda: lifecycle(
            thread_reply(extra(ITEMS())), page(extra(ITEMS())), [page(extra(ITEMS()))]
        ),
        lambda: lifecycle(),
    ),
    "persistence.pagination": Case(
        "persistence",
        lambda: lifecycle(pages=[page(ITEMS()[:1], True, "msg_user_1")] * 2),
        lambda: lifecycle(pages=[page(ITEMS()[:1], True, "msg_user_1"), page(ITEMS()[1:], False)]),
    ),
    "persistence.retry_duplicated": Case(
        "persistence",
        lambda: _retried(6, 6),
        lambda: _retried(1, 1),
    ),
    "persistence.cleanup_not_confirmed": Case(
        "persistence",
        lambda: _cleaned(False),
        lambda: _cleaned(True),
    ),
    "rendering.nothing_while_streaming": Case(
        "rendering",
        lambda: stream(_streamed_only_at_done()),
        lambda: stream(reference()),
    ),
    "persistence.no_thread_id": Case(
        "persistence",
        lambda: lifecycle(False, stream_payloads=reference()[1:], thread_id=None),
        lambda: lifecycle(False),
    ),
}


def codes_in(case: Case, context: Any) -> list[str]:
    return [finding.code for finding in run_layer(case.layer, context).findings]


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_broken_input_raises_the_check(code: str) -> None:
    case = CASES[code]
    assert code in codes_in(case, case.broken())


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_valid_variant_raises_nothing_in_its_layer(code: str) -> None:
    case = CASES[code]
    assert codes_in(case, case.valid()) == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_case_runs_the_layer_its_check_is_declared_in(code: str) -> None:
    assert check_specs()[code].layer == CASES[code].layer


def test_every_declared_check_has_a_triggering_and_a_valid_case() -> None:
    table = set(checks_table(scenarios_too=False)["code"])
    assert table == set(check_specs())
    assert set(CASES) == table, {
        "declared without a case": sorted(table - set(CASES)),
        "case without a declared check": sorted(set(CASES) - table),
    }
