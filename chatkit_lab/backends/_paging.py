"""What the stores share: thread metadata alone, and paging by cursor in either order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from chatkit.types import Page, ThreadMetadata

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
    limit = max(int(limit), 0)
    window = rows[start : start + limit]
    has_more = start + limit < len(rows)
    return Page(
        data=[value for _, value in window],
        has_more=has_more,
        after=window[-1][0] if has_more and window else None,
    )


def created_ts(thread: ThreadMetadata) -> float:
    """The thread's creation time as a POSIX timestamp (the threads' sort key)."""
    return thread.created_at.timestamp()
