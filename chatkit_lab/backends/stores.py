"""Stores for the reference backend: SQLite, in-memory, and a recorder that logs every call.

``openai-chatkit`` defines the :class:`chatkit.store.Store` interface but ships no implementation.
The two stores here implement all of it with the semantics ``ChatKitServer`` relies on:

* items keep the order in which they were first stored; ``add_thread_item`` and ``save_item`` both
  upsert by id (a second write of the same id replaces the item in place, it never duplicates it);
* ``load_thread_items`` pages with ``after`` (an item id), ``limit`` and ``order`` (``asc`` oldest
  first, ``desc`` newest first); ``after`` on the page is the cursor for the next page when
  ``has_more`` is true;
* threads are paged the same way, by creation time;
* ``save_thread`` stores metadata only: a full :class:`chatkit.types.Thread` passed in is saved
  without its items;
* a missing thread or item raises :class:`chatkit.store.NotFoundError`; deleting something that
  does not exist is a no-op.

:class:`RecordingStore` wraps any store and logs each call (method, thread, item ids, result,
monotonic time, error) so a notebook can show what the server asked of its store and when.
:class:`MemoryStore` is here; :class:`SQLiteStore` is in ``sqlite``, the wrappers in ``wrappers``.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

from ._paging import created_ts, page, thread_metadata
from .sqlite import SQLiteStore
from .wrappers import RecordingStore, StoreCall, StoreWrapper

__all__ = [
    "MemoryStore",
    "RecordingStore",
    "SQLiteStore",
    "StoreCall",
    "StoreWrapper",
    "thread_metadata",
]


class MemoryStore(Store[Any]):
    """A complete in-memory :class:`~chatkit.store.Store` (copies in, copies out)."""

    def __init__(self) -> None:
        self._threads: dict[str, ThreadMetadata] = {}
        self._thread_seq: dict[str, int] = {}
        self._items: dict[str, dict[str, ThreadItem]] = {}
        self._attachments: dict[str, Attachment] = {}
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _thread_items(self, thread_id: str) -> dict[str, ThreadItem]:
        if thread_id not in self._threads:
            raise NotFoundError(f"thread {thread_id!r} not found")
        return self._items.setdefault(thread_id, {})

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        try:
            return self._threads[thread_id].model_copy(deep=True)
        except KeyError:
            raise NotFoundError(f"thread {thread_id!r} not found") from None

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        self._threads[thread.id] = thread_metadata(thread)
        self._thread_seq.setdefault(thread.id, self._next())
        self._items.setdefault(thread.id, {})

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        items = self._thread_items(thread_id)
        pairs = [(key, item.model_copy(deep=True)) for key, item in items.items()]
        return page(pairs, after, limit, order)

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        self._attachments[attachment.id] = attachment.model_copy(deep=True)

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        try:
            return self._attachments[attachment_id].model_copy(deep=True)
        except KeyError:
            raise NotFoundError(f"attachment {attachment_id!r} not found") from None

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        self._attachments.pop(attachment_id, None)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        ordered = sorted(
            self._threads.values(), key=lambda t: (created_ts(t), self._thread_seq[t.id])
        )
        return page([(t.id, t.model_copy(deep=True)) for t in ordered], after, limit, order)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        # dict assignment keeps the first insertion position: upsert in place
        self._thread_items(thread_id)[item.id] = item.model_copy(deep=True)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        self._thread_items(thread_id)[item.id] = item.model_copy(deep=True)

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        try:
            return self._thread_items(thread_id)[item_id].model_copy(deep=True)
        except KeyError:
            raise NotFoundError(f"item {item_id!r} not found in thread {thread_id!r}") from None

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        self._threads.pop(thread_id, None)
        self._thread_seq.pop(thread_id, None)
        self._items.pop(thread_id, None)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        self._items.get(thread_id, {}).pop(item_id, None)
