"""Persistence diff: what was streamed against what the reloads return.

After a stream, what the client shows is whatever ``threads.get_by_id`` (and ``items.list`` for
older pages) returns. Items there must keep the ids, order and text that were streamed; otherwise
the UI replaces, duplicates or drops them, which users see as "messages vanish after the stream".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._model import Evidence, Finding, finding, register_check
from chatkit_lab.client._lifecycle import Lifecycle, Step

register_check(
    "persistence.reload_failed",
    "persistence",
    "Loading the thread after a stream does not give a ChatKit Thread.",
    "threads.get_by_id answers JSON that validates as chatkit.types.Thread.",
    "Answer threads.get_by_id from the store with the thread and its items "
    "(ChatKitServer does this when the store implements load_thread/load_thread_items).",
)
register_check(
    "persistence.items_list_failed",
    "persistence",
    "items.list does not give a ChatKit Page of items.",
    "items.list answers JSON that validates as Page[ThreadItem].",
    "Answer items.list from the store's load_thread_items with data/has_more/after.",
)
register_check(
    "persistence.items_list_differs",
    "persistence",
    "items.list (oldest first, all items) disagrees with the items threads.get_by_id returned.",
    "Both replies come from the same store and list the same items in the same order.",
    "Serve threads.get_by_id and items.list from the same load_thread_items, honouring order.",
)
register_check(
    "persistence.missing_item",
    "persistence",
    "An item that was streamed as done is missing when the thread is reloaded.",
    "Every thread.item.done item is saved and comes back on reload.",
    "Persist each item when it is done (Store.add_thread_item) and return it from "
    "load_thread_items.",
)
register_check(
    "persistence.changed_id",
    "persistence",
    "An item comes back on reload under a different id than it was streamed with.",
    "Reloaded items keep the ids that were streamed (ids are the client's keys).",
    "Save items under the id sent in the stream; do not mint new ids when persisting.",
)
register_check(
    "persistence.changed_text",
    "persistence",
    "An item comes back on reload with different text than was streamed.",
    "Reloaded items carry the same content that was streamed.",
    "Persist the final item from thread.item.done, not a partial or rebuilt copy.",
)
register_check(
    "persistence.changed_order",
    "persistence",
    "Reloaded items are in a different order than they were streamed.",
    "threads.get_by_id returns items oldest first, in stream order.",
    "Order load_thread_items by creation (respect the order argument: asc = oldest first).",
)
register_check(
    "persistence.duplicate_item",
    "persistence",
    "The same item id appears more than once on reload.",
    "Each item id appears once.",
    "Upsert items by id instead of inserting a new row for every save.",
)
register_check(
    "persistence.extra_item",
    "persistence",
    "The reload holds an item that was never streamed.",
    "Reloaded items are the ones the client saw streamed.",
    "Stream every item the store saves (or hide server-only items from clients).",
    severity="warning",
)
register_check(
    "persistence.pagination",
    "persistence",
    "Paging through items.list with `after` repeats, skips or never ends.",
    "Pages follow each other: no id twice, none skipped, has_more false on the last page.",
    "Implement load_thread_items pagination: items strictly after the `after` id, in order, "
    "has_more true only when more remain.",
)

register_check(
    "persistence.no_thread_id",
    "persistence",
    "The threads.create stream gave the client no thread id, so there is no thread to reload.",
    "threads.create streams a valid thread.created first; its thread.id is what the client "
    "loads (threads.get_by_id) and sends the next message to.",
    "Send thread.created with a full ChatKit Thread (id, created_at, status, items) as the "
    "first event of threads.create (ChatKitServer does this).",
)

_THREAD = None
_PAGE = None


def _thread_adapter() -> TypeAdapter[Any]:
    global _THREAD
    if _THREAD is None:
        from chatkit.types import Thread

        _THREAD = TypeAdapter(Thread)
    return _THREAD


def _page_adapter() -> TypeAdapter[Any]:
    global _PAGE
    if _PAGE is None:
        from chatkit.types import Page, ThreadItem

        _PAGE = TypeAdapter(Page[ThreadItem])
    return _PAGE


@dataclass
class ItemView:
    """An item reduced to what the diff compares: id, type, visible text."""

    id: str
    type: str
    text: str
    position: int


def item_text(item: dict[str, Any]) -> str:
    """The visible text of a thread item payload (message content parts joined)."""
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def streamed_items(captures: list[Capture]) -> list[ItemView]:
    """Items the client received as done, in stream order, across the given streams."""
    items: dict[str, dict[str, Any]] = {}
    for capture in captures:
        for event in capture.events:
            payload = event.payload
            if not isinstance(payload, dict):
                continue
            kind = payload.get("type")
            item = payload.get("item")
            if kind in ("thread.item.done", "thread.item.replaced") and isinstance(item, dict):
                item_id = item.get("id")
                if isinstance(item_id, str):
                    items[item_id] = item
            elif kind == "thread.item.removed":
                items.pop(str(payload.get("item_id")), None)
    return [
        ItemView(item_id, str(item.get("type")), item_text(item), n)
        for n, (item_id, item) in enumerate(items.items())
    ]


def _views(data: list[Any]) -> list[ItemView]:
    return [
        ItemView(str(item.get("id")), str(item.get("type")), item_text(item), n)
        for n, item in enumerate(data)
        if isinstance(item, dict)
    ]


@dataclass
class Reload:
    """One load point (after the first turn, after the second) and its diff."""

    name: str
    streamed: list[ItemView]
    thread_items: list[ItemView] | None = None
    listed_items: list[ItemView] | None = None
    paged_items: list[ItemView] | None = None
    findings: list[Finding] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Streamed items beside what the reload returned, row by row."""
        reloaded = {view.id: view for view in self.thread_items or []}
        rows = []
        for view in self.streamed:
            back = reloaded.get(view.id)
            rows.append(
                {
                    "streamed_id": view.id,
                    "type": view.type,
                    "streamed_text": view.text[:60],
                    "reload_position": back.position if back else None,
                    "reload_text": back.text[:60] if back else None,
                    "same": bool(back and back.text == view.text and back.type == view.type),
                }
            )
        streamed_ids = {view.id for view in self.streamed}
        for view in self.thread_items or []:
            if view.id not in streamed_ids:
                rows.append(
                    {
                        "streamed_id": None,
                        "type": view.type,
                        "streamed_text": None,
                        "reload_position": view.position,
                        "reload_text": view.text[:60],
                        "same": False,
                        "reload_id": view.id,
                    }
                )
        return pd.DataFrame(rows)


def _validate(step: Step, adapter: TypeAdapter[Any]) -> tuple[Any, str | None]:
    capture = step.capture
    if capture.status is None:
        return None, f"no response ({capture.ending.message})"
    if capture.status >= 400:
        return None, f"HTTP {capture.status}"
    payload = capture.json_body()
    if payload is None:
        kind = "an event stream" if capture.is_event_stream else "a non-JSON body"
        return None, f"{kind} (Content-Type {capture.content_type or 'none'})"
    if adapter is _PAGE and (not isinstance(payload, dict) or "data" not in payload):
        # Every field of chatkit.types.Page has a default, so {} or {"items": [...]} would
        # validate as an empty page; ChatKit's server always sends `data`.
        return payload, "JSON that is not a ChatKit reply (data: Field required)"
    try:
        adapter.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return payload, f"JSON that is not a ChatKit reply ({where}: {first.get('msg')})"
    return payload, None


def diff_reload(
    name: str,
    streamed: list[ItemView],
    get_step: Step | None,
    list_step: Step | None,
    page_steps: list[Step],
) -> Reload:
    """Compare the streamed items with one load point's replies."""
    reload = Reload(name, streamed)
    found = reload.findings
    get_payload: Any = None
    if get_step is not None:
        payload, problem = _validate(get_step, _thread_adapter())
        get_payload = payload
        if problem:
            found.append(
                finding(
                    "persistence.reload_failed",
                    f"{name}: threads.get_by_id returned {problem}",
                    Evidence(
                        capture=get_step.capture.name,
                        excerpt=_excerpt(get_step.capture.body),
                        detail={"streamed_items": len(streamed)},
                    ),
                )
            )
        else:
            items = payload.get("items", {}).get("data", [])
            reload.thread_items = _views(items)
            found.extend(_compare(name, streamed, reload.thread_items, get_step.capture.name))
    if list_step is not None and reload.thread_items is not None:
        payload, problem = _validate(list_step, _page_adapter())
        if problem:
            found.append(
                finding(
                    "persistence.items_list_failed",
                    f"{name}: items.list returned {problem}",
                    Evidence(
                        capture=list_step.capture.name, excerpt=_excerpt(list_step.capture.body)
                    ),
                )
            )
        else:
            reload.listed_items = _views(payload.get("data", []))
            thread_page = get_payload.get("items", {}) if isinstance(get_payload, dict) else {}
            listed_ids = [view.id for view in reload.listed_items]
            thread_ids = [view.id for view in reload.thread_items]
            if not thread_page.get("has_more") and listed_ids != thread_ids:
                found.append(
                    finding(
                        "persistence.items_list_differs",
                        f"{name}: items.list gives {len(listed_ids)} items, threads.get_by_id "
                        f"{len(thread_ids)}, or in another order",
                        Evidence(
                            capture=list_step.capture.name,
                            detail={"items_list": listed_ids, "get_by_id": thread_ids},
                        ),
                    )
                )
    if page_steps and reload.listed_items is not None:
        found.extend(_check_pages(name, reload, page_steps))
    return reload


def _excerpt(body: bytes, limit: int = 240) -> str:
    from chatkit_lab.redact._engine import redact_text

    text = redact_text(body.decode("utf-8", errors="replace"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compare(
    name: str, streamed: list[ItemView], reloaded: list[ItemView], capture: str
) -> list[Finding]:
    found: list[Finding] = []
    counts: dict[str, int] = {}
    for view in reloaded:
        counts[view.id] = counts.get(view.id, 0) + 1
    for item_id, count in counts.items():
        if count > 1:
            found.append(
                finding(
                    "persistence.duplicate_item",
                    f"{name}: item {item_id} appears {count} times",
                    Evidence(capture=capture, detail={"item_id": item_id, "count": count}),
                )
            )
    by_id = {}
    for view in reloaded:
        by_id.setdefault(view.id, view)
    streamed_ids = {view.id for view in streamed}
    matched_positions: list[tuple[ItemView, ItemView]] = []
    renamed: set[str] = set()
    for view in streamed:
        back = by_id.get(view.id)
        if back is None:
            twin = next(
                (
                    r
                    for r in reloaded
                    if r.id not in streamed_ids
                    and r.id not in renamed
                    and r.type == view.type
                    and r.text == view.text
                ),
                None,
            )
            if twin is not None:
                renamed.add(twin.id)
                matched_positions.append((view, twin))
                found.append(
                    finding(
                        "persistence.changed_id",
                        f"{name}: {view.type} streamed as {view.id} comes back as {twin.id}",
                        Evidence(
                            capture=capture,
                            detail={"streamed_id": view.id, "reload_id": twin.id},
                            excerpt=view.text[:120],
                        ),
                    )
                )
            else:
                found.append(
                    finding(
                        "persistence.missing_item",
                        f"{name}: {view.type} {view.id} was streamed but is not in the reload",
                        Evidence(
                            capture=capture,
                            detail={"item_id": view.id, "reloaded_items": len(reloaded)},
                            excerpt=view.text[:120],
                        ),
                    )
                )
            continue
        matched_positions.append((view, back))
        if back.text != view.text or back.type != view.type:
            found.append(
                finding(
                    "persistence.changed_text",
                    f"{name}: {view.id} streamed {view.text[:40]!r}, reload has {back.text[:40]!r}",
                    Evidence(
                        capture=capture,
                        detail={"item_id": view.id, "streamed_type": view.type, "type": back.type},
                    ),
                )
            )
    positions = [back.position for _, back in matched_positions]
    if positions != sorted(positions):
        found.append(
            finding(
                "persistence.changed_order",
                f"{name}: reload order differs from stream order",
                Evidence(
                    capture=capture,
                    detail={
                        "streamed": [view.id for view, _ in matched_positions],
                        "reloaded": [view.id for view in reloaded],
                    },
                ),
            )
        )
    for view in reloaded:
        if view.id not in streamed_ids and view.id not in renamed:
            found.append(
                finding(
                    "persistence.extra_item",
                    f"{name}: {view.type} {view.id} is in the reload but was never streamed",
                    Evidence(capture=capture, detail={"item_id": view.id}, excerpt=view.text[:120]),
                )
            )
    return found


def _check_pages(name: str, reload: Reload, page_steps: list[Step]) -> list[Finding]:
    found: list[Finding] = []
    paged: list[ItemView] = []
    for step in page_steps:
        payload, problem = _validate(step, _page_adapter())
        if problem:
            found.append(
                finding(
                    "persistence.pagination",
                    f"{name}: {step.name} returned {problem}",
                    Evidence(capture=step.capture.name, excerpt=_excerpt(step.capture.body)),
                )
            )
            return found
        paged.extend(_views(payload.get("data", [])))
    last = page_steps[-1].reply_json
    reload.paged_items = [ItemView(v.id, v.type, v.text, n) for n, v in enumerate(paged)]
    ids = [view.id for view in paged]
    expected = [view.id for view in reload.listed_items or []]
    problems = []
    if len(ids) != len(set(ids)):
        problems.append("an id appears on more than one page")
    if ids != expected and not problems:
        if sorted(ids) == sorted(expected):
            problems.append("pages give the same items as the full list in a different order")
        else:
            problems.append(f"pages give {len(ids)} items, the full list {len(expected)}")
    if isinstance(last, dict) and last.get("has_more"):
        # The walk stops early when a page gives no usable or no new `after` cursor.
        problems.append(f"has_more never became false (still true after {len(page_steps)} page(s))")
    if problems:
        found.append(
            finding(
                "persistence.pagination",
                f"{name}: paging items.list: " + "; ".join(problems),
                Evidence(
                    capture=page_steps[0].capture.name,
                    detail={"paged": ids, "full": expected, "pages": len(page_steps)},
                ),
            )
        )
    return found


def diff_lifecycle(life: Lifecycle) -> list[Reload]:
    """Every load point of a lifecycle, each diffed against what had been streamed by then."""
    reloads: list[Reload] = []
    streams: list[Capture] = []
    for prefix in ("load", "reload"):
        # streams sent before this load point
        cut = next((i for i, s in enumerate(life.steps) if s.name.startswith(f"{prefix}:")), None)
        if cut is None:
            continue
        streams = [s.capture for s in life.steps[:cut] if s.expects == "stream"]
        get_step = life.step(f"{prefix}: threads.get_by_id")
        list_step = life.step(f"{prefix}: items.list")
        pages = [s for s in life.steps if s.name.startswith(f"{prefix}: items.list page")]
        reloads.append(diff_reload(prefix, streamed_items(streams), get_step, list_step, pages))
    return reloads
