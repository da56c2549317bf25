"""Store wrappers: one forwarding layer, and a recorder that logs every call through it.

:class:`StoreWrapper` forwards every :class:`chatkit.store.Store` call (and id generation) to
the store it wraps. Every forwarded call passes through one method, :meth:`StoreWrapper._forward`,
together with a :class:`Call` describing it (method, thread, item ids, parameters). A wrapper
that changes some calls overrides just those methods (the faulty stores do); a wrapper that acts
on every call overrides ``_forward`` alone (:class:`RecordingStore` does).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chatkit.store import Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

__all__ = ["Call", "RecordingStore", "StoreCall", "StoreWrapper"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """What one store call is about, as a wrapper sees it."""

    method: str
    thread_id: str | None = None
    item_ids: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


class StoreWrapper(Store[Any]):
    """A store that forwards every call (and id generation) to ``inner``; subclass to alter it."""

    def __init__(self, inner: Store[Any]) -> None:
        self.inner = inner

    async def _forward(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        """Every forwarded store call goes through here: ``run()`` makes it on ``inner``."""
        return await run()

    def generate_thread_id(self, context: Any) -> str:
        return self.inner.generate_thread_id(context)

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: Any
    ) -> str:
        return self.inner.generate_item_id(item_type, thread, context)

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        return await self._forward(
            Call("load_thread", thread_id), lambda: self.inner.load_thread(thread_id, context)
        )

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        params = {"title": thread.title} if thread.title else {}
        await self._forward(
            Call("save_thread", thread.id, params=params),
            lambda: self.inner.save_thread(thread, context),
        )

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        return await self._forward(
            Call("load_thread_items", thread_id, params=_paging(after, limit, order)),
            lambda: self.inner.load_thread_items(thread_id, after, limit, order, context),
        )

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        await self._forward(
            Call("save_attachment", attachment.thread_id, (attachment.id,)),
            lambda: self.inner.save_attachment(attachment, context),
        )

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        return await self._forward(
            Call("load_attachment", None, (attachment_id,)),
            lambda: self.inner.load_attachment(attachment_id, context),
        )

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        await self._forward(
            Call("delete_attachment", None, (attachment_id,)),
            lambda: self.inner.delete_attachment(attachment_id, context),
        )

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        return await self._forward(
            Call("load_threads", None, params=_paging(after, limit, order)),
            lambda: self.inner.load_threads(limit, after, order, context),
        )

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._forward(
            Call("add_thread_item", thread_id, (item.id,), {"type": item.type}),
            lambda: self.inner.add_thread_item(thread_id, item, context),
        )

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._forward(
            Call("save_item", thread_id, (item.id,), {"type": item.type}),
            lambda: self.inner.save_item(thread_id, item, context),
        )

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        return await self._forward(
            Call("load_item", thread_id, (item_id,)),
            lambda: self.inner.load_item(thread_id, item_id, context),
        )

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        await self._forward(
            Call("delete_thread", thread_id), lambda: self.inner.delete_thread(thread_id, context)
        )

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        await self._forward(
            Call("delete_thread_item", thread_id, (item_id,)),
            lambda: self.inner.delete_thread_item(thread_id, item_id, context),
        )


def _paging(after: str | None, limit: int, order: str) -> dict[str, Any]:
    return {"after": after, "limit": limit, "order": order}


@dataclass
class StoreCall:
    """One logged store call."""

    index: int
    method: str
    thread_id: str | None
    item_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    started_ns: int = 0
    """``time.monotonic_ns()`` when the call started."""
    duration_ns: int = 0
    error: str | None = None


def _summarize(value: Any) -> tuple[str, list[str]]:
    """A short description of a store result, plus the item/thread ids it carries."""
    if value is None:
        return "None", []
    if isinstance(value, Page):
        ids = [getattr(entry, "id", "?") for entry in value.data]
        return f"{len(ids)} rows, has_more={value.has_more}, after={value.after}", ids
    kind = getattr(value, "type", None) or type(value).__name__
    if isinstance(value, ThreadMetadata):
        kind = "thread"
    return f"{kind} {getattr(value, 'id', '')}".strip(), []


class RecordingStore(StoreWrapper):
    """Wraps any store and logs every call: ``.calls``, ``.rows()``, ``.clear()``."""

    def __init__(self, inner: Store[Any]) -> None:
        super().__init__(inner)
        self.calls: list[StoreCall] = []
        self._origin_ns = time.monotonic_ns()

    def clear(self) -> None:
        """Forget the calls logged so far (times in :meth:`rows` restart from now)."""
        self.calls.clear()
        self._origin_ns = time.monotonic_ns()

    def rows(self) -> list[dict[str, Any]]:
        """One row per call: when, how long, method, thread, item ids, parameters, result (for
        ``chatkit_lab.report.table(store.rows())``)."""
        return [
            {
                "call": call.index,
                "t_ms": round((call.started_ns - self._origin_ns) / 1e6, 3),
                "duration_ms": round(call.duration_ns / 1e6, 3),
                "method": call.method,
                "thread_id": call.thread_id,
                "item_ids": ", ".join(call.item_ids),
                "params": ", ".join(f"{key}={value}" for key, value in call.params.items()),
                "result": call.result,
                "error": call.error,
            }
            for call in self.calls
        ]

    async def _forward(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        entry = StoreCall(
            index=len(self.calls),
            method=call.method,
            thread_id=call.thread_id,
            item_ids=list(call.item_ids),
            params=copy.deepcopy(call.params),
            started_ns=time.monotonic_ns(),
        )
        self.calls.append(entry)
        try:
            result = await run()
        except Exception as exc:
            entry.duration_ns = time.monotonic_ns() - entry.started_ns
            entry.error = f"{type(exc).__name__}: {exc}"
            entry.result = "raised"
            raise
        entry.duration_ns = time.monotonic_ns() - entry.started_ns
        entry.result, ids = _summarize(result)
        if ids and not entry.item_ids:
            entry.item_ids = ids
        return result
