"""One forwarding layer: a wrapper passes every Store call through one hook to the inner store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from chatkit.store import Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_lab.backends import (
    DropAssistantStore,
    MemoryStore,
    RecordingStore,
    RenamingStore,
    StoreWrapper,
)
from chatkit_lab.backends.wrappers import Call
from chatkit_lab.report import table as report_table

T = TypeVar("T")
T0 = datetime(2026, 2, 11, 12, 0, 0)
CTX: dict[str, Any] = {}


class Counting(StoreWrapper):
    """Overrides only the hook: sees every call, changes none."""

    def __init__(self, inner: Store[Any]) -> None:
        super().__init__(inner)
        self.seen: list[Call] = []

    async def _forward(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        self.seen.append(call)
        return await run()


def _user(item_id: str) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id="thr_1",
        created_at=T0,
        content=[UserMessageTextContent(text="hi")],
        inference_options=InferenceOptions(),
    )


def _assistant(item_id: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id="thr_1", created_at=T0, content=[AssistantMessageContent(text="ok")]
    )


async def _every_call(store: Store[Any]) -> list[Any]:
    """Each of the Store interface's data methods once; what each returned."""
    attachment = FileAttachment(id="att_1", name="a.txt", mime_type="text/plain")
    results: list[Any] = []
    results.append(await store.save_thread(ThreadMetadata(id="thr_1", created_at=T0), CTX))
    results.append((await store.load_thread("thr_1", CTX)).id)
    results.append(await store.add_thread_item("thr_1", _user("msg_1"), CTX))
    results.append(await store.save_item("thr_1", _assistant("msg_2"), CTX))
    page = await store.load_thread_items("thr_1", None, 10, "asc", CTX)
    results.append([item.id for item in page.data])
    results.append((await store.load_item("thr_1", "msg_1", CTX)).id)
    results.append(await store.save_attachment(attachment, CTX))
    results.append((await store.load_attachment("att_1", CTX)).id)
    results.append(await store.delete_attachment("att_1", CTX))
    threads = await store.load_threads(10, None, "desc", CTX)
    results.append([t.id for t in threads.data])
    results.append(await store.delete_thread_item("thr_1", "msg_2", CTX))
    results.append(await store.delete_thread("thr_1", CTX))
    return results


async def test_every_store_method_passes_through_the_one_forwarding_hook() -> None:
    wrapper = Counting(MemoryStore())
    await _every_call(wrapper)
    abstract = {name for name in Store.__abstractmethods__ if not name.startswith("generate_")}
    assert {call.method for call in wrapper.seen} == abstract
    assert len(wrapper.seen) == len(abstract)
    added = next(call for call in wrapper.seen if call.method == "add_thread_item")
    assert (added.thread_id, added.item_ids, added.params) == (
        "thr_1",
        ("msg_1",),
        {"type": "user_message"},
    )


async def test_a_wrapper_that_overrides_nothing_answers_like_the_store_it_wraps() -> None:
    assert await _every_call(Counting(MemoryStore())) == await _every_call(MemoryStore())
    inner = MemoryStore()
    thread = ThreadMetadata(id="thr_1", created_at=T0)
    assert StoreWrapper(inner).generate_item_id("message", thread, CTX).startswith("msg")


async def test_a_recording_store_logs_what_a_faulty_store_beneath_it_returned() -> None:
    recording = RecordingStore(RenamingStore(DropAssistantStore()))
    await recording.save_thread(ThreadMetadata(id="thr_1", created_at=T0), CTX)
    await recording.add_thread_item("thr_1", _user("msg_1"), CTX)
    await recording.add_thread_item("thr_1", _assistant("msg_2"), CTX)
    await recording.load_thread_items("thr_1", None, 10, "asc", CTX)
    methods = [call.method for call in recording.calls]
    assert methods == ["save_thread", "add_thread_item", "add_thread_item", "load_thread_items"]
    listed = recording.calls[-1]
    assert listed.item_ids == ["db_msg_1"], "the renamed id, and no dropped assistant message"
    assert listed.params == {"after": None, "limit": 10, "order": "asc"}
    assert list(report_table(recording.rows())["method"]) == methods
