"""Persistence: what was streamed against what the reloads return.

After a stream, what the client shows is whatever ``threads.get_by_id`` (and ``items.list`` for
older pages) returns. Items there must keep the ids, order and text that were streamed; otherwise
the UI replaces, duplicates or drops them, which users see as "messages vanish after the stream".
Each load point's replies and their match with the streamed items are gathered once
(:mod:`chatkit_lab.checks._reload`); the checks below read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import LifecycleContext, reply_kind
from chatkit_lab.checks._model import Evidence, Found, check, checks_of, excerpt, run_checks
from chatkit_lab.checks._reload import (
    ItemView,
    Reload,
    Reply,
    item_text,
    load_fates,
    load_point,
    paging_problems,
    streamed_items,
)
from chatkit_lab.client import Lifecycle, Step, StreamOpen

__all__ = ["ItemView", "Reload", "diff_lifecycle", "diff_reload", "item_text", "streamed_items"]


def _before_items(n: int) -> tuple[int, ...]:
    return (n, -1)


def _after_items(n: int, reload: Reload) -> tuple[int, ...]:
    return (n, len(reload.streamed))


def _bad_reply(
    reload: Reload, what: str, reply: Reply, at: tuple[int, ...], **detail: Any
) -> Found:
    """A load reply that is not the ChatKit reply it should be: its problem, the body quoted."""
    capture = reply.capture
    return Found(
        f"{reload.name}: {what} returned {reply.problem}",
        Evidence(capture=capture.name, excerpt=excerpt(capture.body), detail=detail),
        at=at,
    )


@check(
    code="persistence.reload_failed",
    layer="persistence",
    severity="error",
    description="Loading the thread after a stream does not give a ChatKit Thread.",
    expectation="threads.get_by_id answers JSON that validates as chatkit.types.Thread.",
    fix="Answer threads.get_by_id from the store with the thread and its items "
    "(ChatKitServer does this when the store implements load_thread/load_thread_items).",
)
def reload_failed(life: LifecycleContext) -> Iterator[Found]:
    for n, reload in enumerate(life.reloads):
        got = reload.got
        if got is not None and got.problem:
            yield _bad_reply(
                reload,
                "threads.get_by_id",
                got,
                _before_items(n),
                streamed_items=len(reload.streamed),
            )


@check(
    code="persistence.duplicate_item",
    layer="persistence",
    severity="error",
    description="The same item id appears more than once on reload.",
    expectation="Each item id appears once.",
    fix="Upsert items by id instead of inserting a new row for every save.",
)
def duplicate_item(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, _ in load_fates(life.reloads):
        assert reload.comparison is not None
        for item_id, count in reload.comparison.duplicates:
            yield Found(
                f"{reload.name}: item {item_id} appears {count} times",
                Evidence(capture=capture, detail={"item_id": item_id, "count": count}),
                at=_before_items(n),
            )


@check(
    code="persistence.changed_id",
    layer="persistence",
    severity="error",
    description="An item comes back on reload under a different id than it was streamed with.",
    expectation="Reloaded items keep the ids that were streamed (ids are the client's keys).",
    fix="Save items under the id sent in the stream; do not mint new ids when persisting.",
)
def changed_id(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, fates in load_fates(life.reloads):
        for position, view, twin, fate in fates:
            if fate == "renamed" and twin is not None:
                yield Found(
                    f"{reload.name}: {view.type} streamed as {view.id} comes back as {twin.id}",
                    Evidence(
                        capture=capture,
                        detail={"streamed_id": view.id, "reload_id": twin.id},
                        excerpt=view.text[:120],
                    ),
                    at=(n, position),
                )


@check(
    code="persistence.missing_item",
    layer="persistence",
    severity="error",
    description="An item that was streamed as done is missing when the thread is reloaded.",
    expectation="Every thread.item.done item is saved and comes back on reload.",
    fix="Persist each item when it is done (Store.add_thread_item) and return it from "
    "load_thread_items.",
)
def missing_item(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, fates in load_fates(life.reloads):
        assert reload.thread_items is not None
        for position, view, _, fate in fates:
            if fate == "missing":
                yield Found(
                    f"{reload.name}: {view.type} {view.id} was streamed but is not in the reload",
                    Evidence(
                        capture=capture,
                        detail={"item_id": view.id, "reloaded_items": len(reload.thread_items)},
                        excerpt=view.text[:120],
                    ),
                    at=(n, position),
                )


@check(
    code="persistence.changed_text",
    layer="persistence",
    severity="error",
    description="An item comes back on reload with different text than was streamed.",
    expectation="Reloaded items carry the same content that was streamed.",
    fix="Persist the final item from thread.item.done, not a partial or rebuilt copy.",
)
def changed_text(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, fates in load_fates(life.reloads):
        for position, view, back, fate in fates:
            if fate != "kept" or back is None:
                continue
            if back.text != view.text or back.type != view.type:
                yield Found(
                    f"{reload.name}: {view.id} streamed {view.text[:40]!r}, reload has "
                    f"{back.text[:40]!r}",
                    Evidence(
                        capture=capture,
                        detail={"item_id": view.id, "streamed_type": view.type, "type": back.type},
                    ),
                    at=(n, position),
                )


@check(
    code="persistence.changed_order",
    layer="persistence",
    severity="error",
    description="Reloaded items are in a different order than they were streamed.",
    expectation="threads.get_by_id returns items oldest first, in stream order.",
    fix="Order load_thread_items by creation (respect the order argument: asc = oldest first).",
)
def changed_order(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, _ in load_fates(life.reloads):
        assert reload.comparison is not None and reload.thread_items is not None
        matched = reload.comparison.matched
        positions = [back.position for _, back in matched]
        if positions != sorted(positions):
            yield Found(
                f"{reload.name}: reload order differs from stream order",
                Evidence(
                    capture=capture,
                    detail={
                        "streamed": [view.id for view, _ in matched],
                        "reloaded": [view.id for view in reload.thread_items],
                    },
                ),
                at=_after_items(n, reload),
            )


@check(
    code="persistence.extra_item",
    layer="persistence",
    severity="warning",
    description="The reload holds an item that was never streamed.",
    expectation="Reloaded items are the ones the client saw streamed.",
    fix="Stream every item the store saves (or hide server-only items from clients).",
)
def extra_item(life: LifecycleContext) -> Iterator[Found]:
    for n, reload, capture, _ in load_fates(life.reloads):
        assert reload.comparison is not None
        for view in reload.comparison.extra:
            yield Found(
                f"{reload.name}: {view.type} {view.id} is in the reload but was never streamed",
                Evidence(capture=capture, detail={"item_id": view.id}, excerpt=view.text[:120]),
                at=_after_items(n, reload),
            )


@check(
    code="persistence.items_list_failed",
    layer="persistence",
    severity="error",
    description="items.list does not give a ChatKit Page of items.",
    expectation="items.list answers JSON that validates as Page[ThreadItem].",
    fix="Answer items.list from the store's load_thread_items with data/has_more/after.",
)
def items_list_failed(life: LifecycleContext) -> Iterator[Found]:
    for n, reload in enumerate(life.reloads):
        listed = reload.listed
        if listed is not None and listed.problem:
            yield _bad_reply(reload, "items.list", listed, _after_items(n, reload))


@check(
    code="persistence.items_list_differs",
    layer="persistence",
    severity="error",
    description="items.list (oldest first, all items) disagrees with the items "
    "threads.get_by_id returned.",
    expectation="Both replies come from the same store and list the same items in the same order.",
    fix="Serve threads.get_by_id and items.list from the same load_thread_items, honouring order.",
)
def items_list_differs(life: LifecycleContext) -> Iterator[Found]:
    for n, reload in enumerate(life.reloads):
        if reload.listed_items is None or reload.thread_items is None or reload.got is None:
            continue
        payload = reload.got.payload
        thread_page = payload.get("items", {}) if isinstance(payload, dict) else {}
        listed_ids = [view.id for view in reload.listed_items]
        thread_ids = [view.id for view in reload.thread_items]
        if not thread_page.get("has_more") and listed_ids != thread_ids:
            assert reload.listed is not None
            yield Found(
                f"{reload.name}: items.list gives {len(listed_ids)} items, threads.get_by_id "
                f"{len(thread_ids)}, or in another order",
                Evidence(
                    capture=reload.listed.capture.name,
                    detail={"items_list": listed_ids, "get_by_id": thread_ids},
                ),
                at=_after_items(n, reload),
            )


@check(
    code="persistence.pagination",
    layer="persistence",
    severity="error",
    description="Paging through items.list with `after` repeats, skips or never ends.",
    expectation="Pages follow each other: no id twice, none skipped, has_more false on the last "
    "page.",
    fix="Implement load_thread_items pagination: items strictly after the `after` id, in order, "
    "has_more true only when more remain.",
)
def pagination(life: LifecycleContext) -> Iterator[Found]:
    for n, reload in enumerate(life.reloads):
        if not reload.pages:
            continue
        bad = reload.pages[-1]
        if bad.problem:
            yield _bad_reply(reload, bad.step.name, bad, _after_items(n, reload))
            continue
        problems = paging_problems(reload)
        if problems:
            ids = [view.id for view in reload.paged_items or []]
            yield Found(
                f"{reload.name}: paging items.list: " + "; ".join(problems),
                Evidence(
                    capture=reload.pages[0].capture.name,
                    detail={
                        "paged": ids,
                        "full": [view.id for view in reload.listed_items or []],
                        "pages": len(reload.pages),
                    },
                ),
                at=_after_items(n, reload),
            )


@check(
    code="persistence.no_thread_id",
    layer="persistence",
    severity="error",
    description="The threads.create stream gave the client no thread id, so there is no thread "
    "to reload.",
    expectation="threads.create streams a valid thread.created first; its thread.id is what the "
    "client loads (threads.get_by_id) and sends the next message to.",
    fix="Send thread.created with a full ChatKit Thread (id, created_at, status, items) as the "
    "first event of threads.create (ChatKitServer does this).",
)
def no_thread_id(life: LifecycleContext) -> Iterator[Found]:
    lifecycle = life.lifecycle
    if lifecycle is None or life.reloads or lifecycle.thread_id is not None:
        return
    create = lifecycle.step("send: threads.create")
    if create is None or create.answered_locally:
        return
    capture = create.capture
    if capture.status is None or capture.status >= 300 or reply_kind(capture) != "stream":
        return
    network = create.network
    if isinstance(network, StreamOpen) and network.verdict != "open":
        return  # ChatKit never read the stream (its open check refused it): nothing to adopt
    yield Found(
        f"the threads.create stream ({len(capture.events)} events) has no valid thread.created "
        "and no thread id in any payload: the client has no thread to load, so nothing "
        "survives a reload",
        Evidence(capture=capture.name, detail={"events": len(capture.events)}),
    )


@check(
    code="persistence.retry_duplicated",
    layer="persistence",
    severity="error",
    description="Retried sends left the same user message in the store more than once.",
    expectation="A send that fails is not saved, or is answered with a stream: ChatKit's host "
    "script re-sends a failed stream open up to five times with the same body.",
    fix="Answer threads.create / threads.add_user_message with a 200 text/event-stream even when "
    "the turn fails (stream an error event instead of an HTTP error), or make the save "
    "idempotent for a repeated request.",
)
def retry_duplicated(life: LifecycleContext) -> Iterator[Found]:
    lifecycle = life.lifecycle
    audit = lifecycle.store_audit if lifecycle is not None else {}
    saved = sum(audit.get("user_messages", {}).values())
    threads = audit.get("new_threads", [])
    if saved > 1 or len(threads) > 1:
        yield Found(
            f"ChatKit sent the message {audit.get('attempts', '?')} times (the host script's "
            f"retries); the target saved it {saved} times in {len(threads)} new thread(s)",
            Evidence(
                detail={
                    "attempts": audit.get("attempts"),
                    "saved": saved,
                    "new_threads": list(threads)[:10],
                }
            ),
            at=(1 << 30,),
        )


@check(
    code="persistence.cleanup_not_confirmed",
    layer="persistence",
    severity="warning",
    description="A thread this session created could not be deleted, or a load shows it is "
    "still there.",
    expectation="threads.delete removes the thread: a threads.get_by_id after it fails.",
    fix="Implement threads.delete (ChatKitServer calls store.delete_thread); meanwhile delete "
    "the listed threads by hand.",
)
def cleanup_not_confirmed(life: LifecycleContext) -> Iterator[Found]:
    lifecycle = life.lifecycle
    if lifecycle is None or not any(s.capture.cleanup for s in lifecycle.steps):
        return
    created = dict.fromkeys(lifecycle.created_threads)
    left = [thread for thread in created if thread not in lifecycle.deleted_threads]
    if left:
        yield Found(
            f"{len(left)} thread(s) this session created are not confirmed deleted: "
            + ", ".join(repr(t) for t in left[:5]),
            Evidence(detail={"threads": left[:10]}),
            at=(1 << 30,),
        )


# -- the diff, load point by load point ------------------------------------------------------


def diff_reload(
    name: str,
    streamed: list[ItemView],
    get_step: Step | None,
    list_step: Step | None,
    page_steps: list[Step],
) -> Reload:
    """Compare the streamed items with one load point's replies (findings in ``.findings``)."""
    reload = load_point(name, streamed, get_step, list_step, page_steps)
    reload.findings = run_checks(checks_of(__name__), LifecycleContext(None, [reload])).findings
    return reload


def diff_lifecycle(life: Lifecycle) -> list[Reload]:
    """Every load point of a lifecycle, each diffed against what had been streamed by then."""
    reloads: list[Reload] = []
    for prefix in ("load", "reload"):
        # streams sent before this load point
        cut = next((i for i, s in enumerate(life.steps) if s.name.startswith(f"{prefix}:")), None)
        if cut is None:
            continue
        streams: list[Capture] = [s.capture for s in life.steps[:cut] if s.expects == "stream"]
        get_step = life.step(f"{prefix}: threads.get_by_id")
        list_step = life.step(f"{prefix}: items.list")
        pages = [s for s in life.steps if s.name.startswith(f"{prefix}: items.list page")]
        reloads.append(diff_reload(prefix, streamed_items(streams), get_step, list_step, pages))
    return reloads


@check(
    code="persistence.load_other_thread",
    layer="persistence",
    severity="error",
    description="threads.get_by_id answered with a thread other than the one asked for.",
    expectation="threads.get_by_id answers the thread whose id it was asked for.",
    fix="Load the thread by the request's thread_id (not the user's latest one); keep its id.",
)
def load_other_thread(life: LifecycleContext) -> Iterator[Found]:
    for reload in (r for r in life.reloads if r.got is not None):
        capture = reload.got.capture  # type: ignore[union-attr]
        request = capture.request.json
        params = request.get("params") if isinstance(request, dict) else None
        asked = params.get("thread_id") if isinstance(params, dict) else None
        asked = asked if isinstance(asked, str) else life.lifecycle and life.lifecycle.thread_id
        body = capture.json_body()
        answered = body.get("id") if isinstance(body, dict) else None
        if isinstance(asked, str) and isinstance(answered, str) and answered != asked:
            said = f"asked for thread {asked[:80]!r}, answered thread {answered[:80]!r}"
            yield Found(f"{reload.name}: {said}", Evidence(capture=capture.name))
