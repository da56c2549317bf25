"""A complete ChatKit store in one SQLite file (stdlib ``sqlite3``)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter

from ._paging import check_order, created_ts, thread_metadata

__all__ = ["SQLiteStore"]

T = TypeVar("T")

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
        window = rows[:limit]
        has_more = len(rows) > limit
        return Page(
            data=[_ITEM.validate_json(data) for _, data in window],
            has_more=has_more,
            after=window[-1][0] if has_more and window else None,
        )

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
        window = rows[:limit]
        has_more = len(rows) > limit
        return Page(
            data=[ThreadMetadata.model_validate_json(data) for _, data in window],
            has_more=has_more,
            after=window[-1][0] if has_more and window else None,
        )

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
