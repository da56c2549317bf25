"""One Store contract, held by both stores; the recorder logs calls; the faulty stores misbehave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    Page,
    Thread,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_lab.backends import (
    DropAssistantStore,
    MemoryStore,
    RecordingStore,
    RenamingStore,
    ReversedOrderStore,
    SQLiteStore,
)
from chatkit_lab.report import table as report_table

T0 = datetime(2026, 2, 11, 12, 0, 0)
CTX: dict[str, Any] = {}


def user(
    item_id: str, thread_id: str = "thr_1", text: str = "hi", minute: int = 0
) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=T0 + timedelta(minutes=minute),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


def assistant(item_id: str, thread_id: str = "thr_1", text: str = "hello") -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=T0,
        content=[AssistantMessageContent(text=text)],
    )


def thread(thread_id: str = "thr_1", minute: int = 0, title: str | None = None) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=T0 + timedelta(minutes=minute), title=title)


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store[Any]]:
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "store.sqlite3")
        yield sqlite
        sqlite.close()
    else:
        yield MemoryStore()


async def filled(store: Store[Any], count: int = 5) -> list[str]:
    await store.save_thread(thread(), CTX)
    ids = [f"msg_{n}" for n in range(count)]
    for n, item_id in enumerate(ids):
        await store.add_thread_item("thr_1", user(item_id, minute=n), CTX)
    return ids


async def test_items_page_oldest_first_with_after_and_has_more(store: Store[Any]) -> None:
    ids = await filled(store)
    first = await store.load_thread_items("thr_1", None, 2, "asc", CTX)
    assert [i.id for i in first.data] == ids[:2] and first.has_more and first.after == ids[1]
    second = await store.load_thread_items("thr_1", first.after, 2, "asc", CTX)
    assert [i.id for i in second.data] == ids[2:4] and second.has_more
    last = await store.load_thread_items("thr_1", second.after, 2, "asc", CTX)
    assert [i.id for i in last.data] == ids[4:] and not last.has_more and last.after is None
    everything = await store.load_thread_items("thr_1", None, 50, "asc", CTX)
    assert [i.id for i in everything.data] == ids and not everything.has_more


async def test_items_page_newest_first_with_after_and_has_more(store: Store[Any]) -> None:
    ids = await filled(store)
    first = await store.load_thread_items("thr_1", None, 3, "desc", CTX)
    assert [i.id for i in first.data] == ids[::-1][:3] and first.has_more
    rest = await store.load_thread_items("thr_1", first.after, 3, "desc", CTX)
    assert [i.id for i in rest.data] == ids[::-1][3:] and not rest.has_more
    exact = await store.load_thread_items("thr_1", None, 5, "desc", CTX)
    assert len(exact.data) == 5 and not exact.has_more


async def test_missing_threads_items_and_attachments_raise_not_found(store: Store[Any]) -> None:
    await filled(store, 1)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_nope", CTX)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_nope", CTX)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_nope", "msg_0", CTX)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_nope", None, 10, "asc", CTX)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_nope", user("msg_x", "thr_nope"), CTX)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_nope", CTX)
    await store.delete_thread_item("thr_1", "msg_nope", CTX)  # deleting nothing is fine
    await store.delete_thread("thr_nope", CTX)


async def test_items_are_upserted_by_id_in_place(store: Store[Any]) -> None:
    ids = await filled(store, 3)
    await store.add_thread_item("thr_1", user(ids[1], text="rewritten"), CTX)
    await store.save_item("thr_1", assistant(ids[0], text="replaced"), CTX)
    await store.save_item("thr_1", assistant("msg_new"), CTX)
    page = await store.load_thread_items("thr_1", None, 10, "asc", CTX)
    assert [i.id for i in page.data] == [*ids, "msg_new"]
    assert page.data[0].type == "assistant_message" and page.data[0].content[0].text == "replaced"
    assert page.data[1].content[0].text == "rewritten"
    loaded = await store.load_item("thr_1", ids[1], CTX)
    assert loaded == user(ids[1], text="rewritten")


async def test_thread_metadata_is_saved_without_its_items(store: Store[Any]) -> None:
    full = Thread(
        id="thr_1", created_at=T0, title="first", items=Page(data=[user("msg_in_thread")])
    )
    await store.save_thread(full, CTX)
    loaded = await store.load_thread("thr_1", CTX)
    assert type(loaded) is ThreadMetadata
    assert loaded == thread(title="first")
    assert (await store.load_thread_items("thr_1", None, 10, "asc", CTX)).data == []
    await store.save_thread(thread(title="renamed"), CTX)
    assert (await store.load_thread("thr_1", CTX)).title == "renamed"


async def test_threads_page_by_creation_time(store: Store[Any]) -> None:
    for number, minute in ((1, 5), (2, 1), (3, 9)):
        await store.save_thread(thread(f"thr_{number}", minute), CTX)
    newest = await store.load_threads(2, None, "desc", CTX)
    assert [t.id for t in newest.data] == ["thr_3", "thr_1"] and newest.has_more
    older = await store.load_threads(2, newest.after, "desc", CTX)
    assert [t.id for t in older.data] == ["thr_2"] and not older.has_more
    oldest = await store.load_threads(10, None, "asc", CTX)
    assert [t.id for t in oldest.data] == ["thr_2", "thr_1", "thr_3"]
    await store.save_thread(thread("thr_2", 1, title="updated"), CTX)
    assert [t.id for t in (await store.load_threads(10, None, "asc", CTX)).data][0] == "thr_2"


async def test_deleting_a_thread_removes_its_items(store: Store[Any]) -> None:
    ids = await filled(store, 3)
    await store.delete_thread_item("thr_1", ids[1], CTX)
    assert [i.id for i in (await store.load_thread_items("thr_1", None, 9, "asc", CTX)).data] == [
        ids[0],
        ids[2],
    ]
    await store.delete_thread("thr_1", CTX)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", CTX)
    await store.save_thread(thread(), CTX)
    assert (await store.load_thread_items("thr_1", None, 9, "asc", CTX)).data == []
    assert (await store.load_threads(10, None, "desc", CTX)).data == [thread()]


async def test_attachments_are_saved_loaded_and_deleted(store: Store[Any]) -> None:
    file = FileAttachment(id="atc_1", name="a.txt", mime_type="text/plain", metadata={"k": 1})
    image = ImageAttachment(
        id="atc_2", name="b.png", mime_type="image/png", preview_url="https://example.test/b.png"
    )
    await store.save_attachment(file, CTX)
    await store.save_attachment(image, CTX)
    assert await store.load_attachment("atc_1", CTX) == file
    assert await store.load_attachment("atc_2", CTX) == image
    await store.save_attachment(file.model_copy(update={"thread_id": "thr_1"}), CTX)
    assert (await store.load_attachment("atc_1", CTX)).thread_id == "thr_1"
    await store.delete_attachment("atc_1", CTX)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", CTX)


async def test_loaded_items_are_copies_and_ids_come_from_the_sdk_generator(
    store: Store[Any],
) -> None:
    await filled(store, 1)
    loaded = await store.load_item("thr_1", "msg_0", CTX)
    loaded.content[0].text = "mutated"  # type: ignore[union-attr]
    assert (await store.load_item("thr_1", "msg_0", CTX)).content[0].text == "hi"  # type: ignore[union-attr]
    assert store.generate_thread_id(CTX).startswith("thr_")
    assert store.generate_item_id("message", thread(), CTX).startswith("msg_")


async def test_concurrent_writes_all_land(store: Store[Any]) -> None:
    await store.save_thread(thread(), CTX)
    ids = [f"msg_{n:02d}" for n in range(20)]
    await asyncio.gather(*(store.add_thread_item("thr_1", user(i), CTX) for i in ids))
    page = await store.load_thread_items("thr_1", None, 100, "asc", CTX)
    assert sorted(i.id for i in page.data) == ids


async def test_sqlite_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "reopen.sqlite3"
    first = SQLiteStore(path)
    ids = await filled(first, 3)
    first.close()
    again = SQLiteStore(path)
    assert [i.id for i in (await again.load_thread_items("thr_1", None, 9, "asc", CTX)).data] == ids
    again.close()


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=12),
    limit=st.integers(min_value=1, max_value=5),
    order=st.sampled_from(["asc", "desc"]),
)
def test_paging_through_items_visits_each_once_in_order(count: int, limit: int, order: str) -> None:
    async def walk() -> tuple[list[str], list[str]]:
        store = MemoryStore()
        ids = await filled(store, count)
        seen: list[str] = []
        after = None
        while True:
            page = await store.load_thread_items("thr_1", after, limit, order, CTX)
            seen += [i.id for i in page.data]
            if not page.has_more:
                return ids, seen
            after = page.after

    ids, seen = asyncio.run(walk())
    assert seen == (ids if order == "asc" else ids[::-1])


async def test_the_recording_store_logs_every_call() -> None:
    recorder = RecordingStore(MemoryStore())
    await filled(recorder, 2)
    await recorder.load_thread_items("thr_1", None, 10, "desc", CTX)
    with pytest.raises(NotFoundError):
        await recorder.load_item("thr_1", "msg_missing", CTX)
    methods = [call.method for call in recorder.calls]
    assert methods == [
        "save_thread",
        "add_thread_item",
        "add_thread_item",
        "load_thread_items",
        "load_item",
    ]
    load = recorder.calls[3]
    assert load.thread_id == "thr_1" and load.item_ids == ["msg_1", "msg_0"]
    assert load.params == {"after": None, "limit": 10, "order": "desc"}
    assert "2 rows" in load.result
    assert recorder.calls[-1].error is not None and "NotFoundError" in recorder.calls[-1].error
    starts = [call.started_ns for call in recorder.calls]
    assert starts == sorted(starts)
    table = report_table(recorder.rows())
    assert list(table.columns[:4]) == ["call", "t_ms", "duration_ms", "method"]
    assert table["item_ids"].tolist()[1:3] == ["msg_0", "msg_1"]
    assert table["error"].notna().tolist() == [False] * 4 + [True]
    recorder.clear()
    assert recorder.calls == [] and report_table(recorder.rows()).empty


async def test_the_faulty_stores_break_one_rule_each() -> None:
    reversed_store = ReversedOrderStore(MemoryStore())
    ids = await filled(reversed_store, 3)
    page = await reversed_store.load_thread_items("thr_1", None, 10, "asc", CTX)
    assert [i.id for i in page.data] == ids[::-1]

    dropping = DropAssistantStore()
    await filled(dropping, 1)
    await dropping.add_thread_item("thr_1", assistant("msg_a"), CTX)
    await dropping.save_item("thr_1", assistant("msg_b"), CTX)
    kept = await dropping.load_thread_items("thr_1", None, 10, "asc", CTX)
    assert [i.type for i in kept.data] == ["user_message"]

    renaming = RenamingStore()
    ids = await filled(renaming, 3)
    page = await renaming.load_thread_items("thr_1", None, 2, "asc", CTX)
    assert [i.id for i in page.data] == [f"db_{i}" for i in ids[:2]]
    rest = await renaming.load_thread_items("thr_1", page.after, 2, "asc", CTX)
    assert [i.id for i in rest.data] == [f"db_{ids[2]}"]
    assert (await renaming.load_item("thr_1", ids[0], CTX)).id == f"db_{ids[0]}"
    await renaming.save_item("thr_1", page.data[0], CTX)
    assert len((await renaming.inner.load_thread_items("thr_1", None, 9, "asc", CTX)).data) == 3
