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
:class:`SQLiteStore` keeps everything in one SQLite file (stdlib ``sqlite3``), :class:`MemoryStore`
in memory; the wrappers are in ``wrappers``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

from .wrappers import RecordingStore, StoreCall, StoreWrapper

__all__ = [
    "MemoryStore",
    "RecordingStore",
    "SQLiteStore",
    "StoreCall",
    "StoreWrapper",
    "thread_metadata",
]


T = TypeVar("T")


def thread_metadata(thread: ThreadMetadata) -> ThreadMetadata:
    """The metadata of ``thread`` alone: a :class:`~chatkit.types.Thread` loses its items."""
    return ThreadMetadata.model_validate(thread.model_dump(exclude={"items"}))


def check_order(order: str) -> str:
    """``order`` itself, or :class:`ValueError` unless it is ``asc`` or ``desc``."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    return order


def page(ordered: Sequence[tuple[str, T]], after: str | None, limit: int, order: str) -> Page[T]:
    """Cut one page from ``(id, value)`` pairs in ascending order."""
    rows = list(ordered) if check_order(order) == "asc" else list(reversed(ordered))
    start = 0
    if after is not None:
        for position, (key, _) in enumerate(rows):
            if key == after:
                start = position + 1
                break
    return first_page(rows[start:], max(int(limit), 0))


def first_page(rows: Sequence[tuple[str, T]], limit: int) -> Page[T]:
    """The first ``limit`` of ``(id, value)`` rows as a page; any row after them means more
    follow, from the last id of the page."""
    window = rows[:limit]
    has_more = len(rows) > limit
    return Page(
        data=[value for _, value in window],
        has_more=has_more,
        after=window[-1][0] if has_more and window else None,
    )


def created_ts(thread: ThreadMetadata) -> float:
    """The thread's creation time as a POSIX timestamp (the threads' sort key)."""
    return thread.created_at.timestamp()


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


_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_ts REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (thread_id, id)
);
CREATE INDEX IF NOT EXISTS items_by_thread ON items (thread_id, seq);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""


class SQLiteStore(Store[Any]):
    """A complete :class:`~chatkit.store.Store` in one SQLite file (stdlib ``sqlite3``).

    Rows hold the pydantic JSON of threads, items and attachments. Every call runs as one
    transaction in a worker thread under a lock, so concurrent awaits never interleave.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False)
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock, self._conn:
                return work(self._conn)

        return await asyncio.to_thread(locked)

    @staticmethod
    def _require_thread(conn: sqlite3.Connection, thread_id: str) -> None:
        if conn.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
            raise NotFoundError(f"thread {thread_id!r} not found")

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        def work(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT data FROM threads WHERE id = ?", (thread_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"thread {thread_id!r} not found")
            return row[0]

        return ThreadMetadata.model_validate_json(await self._run(work))

    async def save_thread(self, thread: ThreadMetadata, context: Any) -> None:
        meta = thread_metadata(thread)
        data = meta.model_dump_json()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO threads (id, created_ts, data) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET created_ts = excluded.created_ts, "
                "data = excluded.data",
                (meta.id, created_ts(meta), data),
            )

        await self._run(work)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> Page[ThreadItem]:
        direction = "ASC" if check_order(order) == "asc" else "DESC"
        compare = ">" if direction == "ASC" else "<"
        limit = max(int(limit), 0)

        def work(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            self._require_thread(conn, thread_id)
            cursor = None
            if after is not None:
                row = conn.execute(
                    "SELECT seq FROM items WHERE thread_id = ? AND id = ?", (thread_id, after)
                ).fetchone()
                cursor = row[0] if row else None
            if cursor is None:
                sql = f"SELECT id, data FROM items WHERE thread_id = ? ORDER BY seq {direction}"
                params: tuple[Any, ...] = (thread_id,)
            else:
                sql = (
                    f"SELECT id, data FROM items WHERE thread_id = ? AND seq {compare} ? "
                    f"ORDER BY seq {direction}"
                )
                params = (thread_id, cursor)
            return conn.execute(sql + " LIMIT ?", (*params, limit + 1)).fetchall()

        rows = await self._run(work)
        return first_page([(key, _ITEM.validate_json(data)) for key, data in rows], limit)

    async def save_attachment(self, attachment: Attachment, context: Any) -> None:
        data = attachment.model_dump_json()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO attachments (id, data) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (attachment.id, data),
            )

        await self._run(work)

    async def load_attachment(self, attachment_id: str, context: Any) -> Attachment:
        def work(conn: sqlite3.Connection) -> str:
            row = conn.execute(
                "SELECT data FROM attachments WHERE id = ?", (attachment_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"attachment {attachment_id!r} not found")
            return row[0]

        return _ATTACHMENT.validate_json(await self._run(work))

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))
        )

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        direction = "ASC" if check_order(order) == "asc" else "DESC"
        compare = ">" if direction == "ASC" else "<"
        limit = max(int(limit), 0)

        def work(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            cursor = None
            if after is not None:
                cursor = conn.execute(
                    "SELECT created_ts, seq FROM threads WHERE id = ?", (after,)
                ).fetchone()
            order_by = f"ORDER BY created_ts {direction}, seq {direction} LIMIT ?"
            if cursor is None:
                return conn.execute(
                    f"SELECT id, data FROM threads {order_by}", (limit + 1,)
                ).fetchall()
            return conn.execute(
                f"SELECT id, data FROM threads WHERE (created_ts, seq) {compare} (?, ?) {order_by}",
                (cursor[0], cursor[1], limit + 1),
            ).fetchall()

        rows = await self._run(work)
        parsed = [(key, ThreadMetadata.model_validate_json(data)) for key, data in rows]
        return first_page(parsed, limit)

    async def _upsert_item(self, thread_id: str, item: ThreadItem) -> None:
        data = item.model_dump_json()

        def work(conn: sqlite3.Connection) -> None:
            self._require_thread(conn, thread_id)
            conn.execute(
                "INSERT INTO items (thread_id, id, data) VALUES (?, ?, ?) "
                "ON CONFLICT (thread_id, id) DO UPDATE SET data = excluded.data",
                (thread_id, item.id, data),
            )

        await self._run(work)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._upsert_item(thread_id, item)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self._upsert_item(thread_id, item)

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ThreadItem:
        def work(conn: sqlite3.Connection) -> str:
            self._require_thread(conn, thread_id)
            row = conn.execute(
                "SELECT data FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"item {item_id!r} not found in thread {thread_id!r}")
            return row[0]

        return _ITEM.validate_json(await self._run(work))

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM items WHERE thread_id = ?", (thread_id,))
            conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

        await self._run(work)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        await self._run(
            lambda conn: conn.execute(
                "DELETE FROM items WHERE thread_id = ? AND id = ?", (thread_id, item_id)
            )
        )
