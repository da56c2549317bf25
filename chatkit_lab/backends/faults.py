"""Deliberately faulty stores: each breaks one persistence rule the ChatKit client relies on.

The stream a server sends can be perfect and the UI still goes blank or scrambles once the
thread is reloaded (``threads.get_by_id`` / ``items.list``), because what the client shows then
is what the store returns. Each wrapper below breaks exactly one rule, so diagnosis tests can
check that the kit names that rule:

* :class:`ReversedOrderStore`: items come back newest-first when oldest-first was asked for
  (and the other way round);
* :class:`DropAssistantStore`: assistant messages are never persisted, so they vanish on reload;
* :class:`RenamingStore`: items come back under different ids than were streamed, so the client
  cannot match them with what it already shows.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError, Store
from chatkit.types import AssistantMessageItem, Page, ThreadItem

from .stores import MemoryStore
from .wrappers import StoreWrapper

__all__ = ["DropAssistantStore", "RenamingStore", "ReversedOrderStore"]


class ReversedOrderStore(StoreWrapper):
    """``load_thread_items`` returns each page in the opposite order to the one requested."""

    def __init__(self, inner: Store[Any] | None = None) -> None:
        super().__init__(inner if inner is not None else MemoryStore())

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        page = await self.inner.load_thread_items(thread_id, after, limit, order, context)
        return page.model_copy(update={"data": list(reversed(page.data))})


class DropAssistantStore(StoreWrapper):
    """Silently never persists assistant messages (user messages and the rest are kept)."""

    def __init__(self, inner: Store[Any] | None = None) -> None:
        super().__init__(inner if inner is not None else MemoryStore())

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if not isinstance(item, AssistantMessageItem):
            await self.inner.add_thread_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if not isinstance(item, AssistantMessageItem):
            await self.inner.save_item(thread_id, item, context)


class RenamingStore(StoreWrapper):
    """Items come back with database ids (``prefix`` + the streamed id), not the streamed ids.

    This is what a backend does when it keeps its own primary keys and never returns the ids it
    streamed. Lookups accept either form so the server itself keeps working.
    """

    def __init__(self, inner: Store[Any] | None = None, prefix: str = "db_") -> None:
        super().__init__(inner if inner is not None else MemoryStore())
        self.prefix = prefix

    def _original(self, item_id: str) -> str:
        return item_id[len(self.prefix) :] if item_id.startswith(self.prefix) else item_id

    def _renamed(self, item: ThreadItem) -> ThreadItem:
        return item.model_copy(update={"id": self.prefix + item.id})

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        cursor = self._original(after) if after is not None else None
        page = await self.inner.load_thread_items(thread_id, cursor, limit, order, context)
        return Page(
            data=[self._renamed(item) for item in page.data],
            has_more=page.has_more,
            after=self.prefix + page.after if page.after is not None else None,
        )

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        try:
            item = await self.inner.load_item(thread_id, self._original(item_id), context)
        except NotFoundError:
            item = await self.inner.load_item(thread_id, item_id, context)
        return self._renamed(item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        stored = item.model_copy(update={"id": self._original(item.id)})
        await self.inner.save_item(thread_id, stored, context)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        await self.inner.delete_thread_item(thread_id, self._original(item_id), context)
