"""One load point: what was streamed before it, what the reloads returned, and how they compare.

After a stream, what the client shows is whatever ``threads.get_by_id`` (and ``items.list`` for
older pages) returns. :func:`load_point` gathers the replies and validates them as ChatKit
replies; :attr:`Reload.comparison` matches the reloaded items with the streamed ones. The
persistence checks (:mod:`chatkit_lab.checks.persistence`) judge what these found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from chatkit_lab.capture import Capture
from chatkit_lab.client import Step, item_text

if TYPE_CHECKING:
    from chatkit_lab.checks._model import Finding

__all__ = ["Comparison", "ItemView", "Reload", "Reply", "item_text", "load_point", "streamed_items"]

_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(kind: str) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        from chatkit.types import Page, Thread, ThreadItem

        adapter = TypeAdapter(Thread) if kind == "thread" else TypeAdapter(Page[ThreadItem])
        _ADAPTERS[kind] = adapter
    return adapter


@dataclass
class ItemView:
    """An item reduced to what the diff compares: id, type, visible text."""

    id: str
    type: str
    text: str
    position: int


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
class Reply:
    """One reload request's reply: its step, the JSON it carried and what is wrong with it."""

    step: Step
    payload: Any = None
    problem: str | None = None
    """Why it is not the ChatKit reply it should be (``None`` when it is)."""

    @property
    def capture(self) -> Capture:
        return self.step.capture


def _validate(step: Step, kind: str) -> Reply:
    capture = step.capture
    if capture.status is None:
        return Reply(step, None, f"no response ({capture.ending.message})")
    if capture.status >= 400:
        return Reply(step, None, f"HTTP {capture.status}")
    payload = capture.json_body()
    if payload is None:
        decoded = capture.json_result()  # why, as the browser's JSON.parse judges it
        if decoded.error_kind == "depth":
            return Reply(step, None, f"JSON the kit cannot decode: {decoded.error}")
        if decoded.error_kind == "constant":
            rejected = f"JSON the browser rejects (ChatKit gets {{}}): {decoded.error}"
            return Reply(step, None, rejected)
        what = "an event stream" if capture.is_event_stream else "a non-JSON body"
        return Reply(step, None, f"{what} (Content-Type {capture.content_type or 'none'})")
    if kind == "page" and (not isinstance(payload, dict) or "data" not in payload):
        # Every field of chatkit.types.Page has a default, so {} or {"items": [...]} would
        # validate as an empty page; ChatKit's server always sends `data`.
        return Reply(step, payload, "JSON that is not a ChatKit reply (data: Field required)")
    try:
        _adapter(kind).validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return Reply(
            step, payload, f"JSON that is not a ChatKit reply ({where}: {first.get('msg')})"
        )
    return Reply(step, payload, None)


@dataclass
class Comparison:
    """The reloaded items matched with the streamed ones."""

    duplicates: list[tuple[str, int]] = field(default_factory=list)
    """Reloaded ids that appear more than once, with their count."""
    fates: list[tuple[int, ItemView, ItemView | None, str]] = field(default_factory=list)
    """Per streamed item (position, streamed, reloaded twin, fate): ``kept``, ``renamed`` (the
    same type and text under another id) or ``missing``."""
    matched: list[tuple[ItemView, ItemView]] = field(default_factory=list)
    """Streamed items and what came back for them, in stream order."""
    extra: list[ItemView] = field(default_factory=list)
    """Reloaded items that were never streamed (and are no renamed twin)."""


def compare(streamed: list[ItemView], reloaded: list[ItemView]) -> Comparison:
    """Match reloaded items with streamed ones by id, else by type and text (a changed id)."""
    out = Comparison()
    counts: dict[str, int] = {}
    for view in reloaded:
        counts[view.id] = counts.get(view.id, 0) + 1
    out.duplicates = [(item_id, count) for item_id, count in counts.items() if count > 1]
    by_id: dict[str, ItemView] = {}
    for view in reloaded:
        by_id.setdefault(view.id, view)
    streamed_ids = {view.id for view in streamed}
    renamed: set[str] = set()
    for position, view in enumerate(streamed):
        back = by_id.get(view.id)
        if back is not None:
            out.fates.append((position, view, back, "kept"))
            out.matched.append((view, back))
            continue
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
        if twin is None:
            out.fates.append((position, view, None, "missing"))
            continue
        renamed.add(twin.id)
        out.fates.append((position, view, twin, "renamed"))
        out.matched.append((view, twin))
    out.extra = [v for v in reloaded if v.id not in streamed_ids and v.id not in renamed]
    return out


@dataclass
class Reload:
    """One load point (after the first turn, after the second) and its diff."""

    name: str
    streamed: list[ItemView]
    thread_items: list[ItemView] | None = None
    listed_items: list[ItemView] | None = None
    paged_items: list[ItemView] | None = None
    findings: list[Finding] = field(default_factory=list)
    got: Reply | None = None
    """The ``threads.get_by_id`` reply."""
    listed: Reply | None = None
    """The ``items.list`` reply (only asked when the thread loaded)."""
    pages: list[Reply] = field(default_factory=list)
    """The ``items.list`` pages walked with ``after``, up to the first bad one."""

    @cached_property
    def comparison(self) -> Comparison | None:
        """The streamed items matched with ``threads.get_by_id``'s (``None`` if it failed)."""
        if self.thread_items is None:
            return None
        return compare(self.streamed, self.thread_items)


def load_point(
    name: str,
    streamed: list[ItemView],
    get_step: Step | None,
    list_step: Step | None,
    page_steps: list[Step],
) -> Reload:
    """Gather and validate one load point's replies (the findings are the checks' to add)."""
    reload = Reload(name, streamed)
    if get_step is not None:
        reload.got = _validate(get_step, "thread")
        if reload.got.problem is None:
            reload.thread_items = _views(reload.got.payload.get("items", {}).get("data", []))
    if list_step is not None and reload.thread_items is not None:
        reload.listed = _validate(list_step, "page")
        if reload.listed.problem is None:
            reload.listed_items = _views(reload.listed.payload.get("data", []))
    if page_steps and reload.listed_items is not None:
        paged: list[ItemView] = []
        for step in page_steps:
            page = _validate(step, "page")
            reload.pages.append(page)
            if page.problem is not None:
                break
            paged.extend(_views(page.payload.get("data", [])))
        else:
            reload.paged_items = [ItemView(v.id, v.type, v.text, n) for n, v in enumerate(paged)]
    return reload


def paging_problems(reload: Reload) -> list[str]:
    ids = [view.id for view in reload.paged_items or []]
    expected = [view.id for view in reload.listed_items or []]
    problems = []
    if len(ids) != len(set(ids)):
        problems.append("an id appears on more than one page")
    if ids != expected and not problems:
        if sorted(ids) == sorted(expected):
            problems.append("pages give the same items as the full list in a different order")
        else:
            problems.append(f"pages give {len(ids)} items, the full list {len(expected)}")
    last = reload.pages[-1].payload
    if isinstance(last, dict) and last.get("has_more"):
        # The walk stops early when a page gives no usable or no new `after` cursor.
        problems.append(
            f"has_more never became false (still true after {len(reload.pages)} page(s))"
        )
    return problems


def load_fates(
    reloads: list[Reload],
) -> Iterator[tuple[int, Reload, str, list[tuple[int, ItemView, ItemView | None, str]]]]:
    """Each load point whose thread loaded: its index, itself, the capture and the item fates."""
    for n, reload in enumerate(reloads):
        comparison = reload.comparison
        if comparison is not None and reload.got is not None:
            yield n, reload, reload.got.capture.name, comparison.fates
