"""``history``: the thread list a user pages through, renames in, deletes from, and feedback.

With history enabled the ChatKit UI lists threads newest first (``threads.list`` with ``limit``
and ``after``), renames one (``threads.update``; the list shows the new title), deletes one
(``threads.delete``; gone from the list, and a load of it fails) and sends thumbs up or down
on a reply (``items.feedback``; the protocol offers no way to read feedback back, so the kit
says it was accepted, never that it was stored). The kit creates three threads of its own and
judges only those (a real backend has others).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Found, Skip, check
from chatkit_lab.client import answers_not_found
from chatkit_lab.scenarios._base import (
    Fault,
    Scenario,
    ScenarioContext,
    Session,
    StoppedAnswering,
    items_of,
    stopped_answering,
)

THREADS = 3
PAGE = 2
MAX_PAGES = 20
TITLE = "Renamed by chatkit-lab"


async def _list(session: Session, name: str, limit: int = 20) -> tuple[list[dict[str, Any]], Any]:
    """Walk ``threads.list`` newest first, ``limit`` per page, as the UI's infinite scroll
    does: until a page says there is no more (``has_more`` false), at most ``MAX_PAGES``; a
    page that says there is more but gives nothing new to ask from (no threads, no new
    ``after``, the same threads again) ends it, and is recorded as ``never_ends``."""
    seen: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    previous: list[str] | None = None
    for number in range(1, MAX_PAGES + 1):
        params: dict[str, Any] = {"limit": limit, "order": "desc"}
        if after is not None:
            params["after"] = after
        step = await session.send(f"{name} page {number}", "threads.list", params)
        page = step.ui_value
        data = items_of(page)
        if data is None:
            if number == 1:
                if step.capture.status is not None and step.capture.status >= 400:
                    session.refused(step, "the backend keeps no thread history")
                session.not_offered(
                    "threads.list gives no ChatKit page (a {data, has_more, after} object), so "
                    "the UI has no history to show: turn history off in the ChatKit options, or "
                    "serve threads.list",
                    step,
                )
            break
        ids = [str(t.get("id")) for t in data]
        record = {"size": len(data), "has_more": page.get("has_more"), "capture": step.capture.name}
        pages.append(record)
        seen.extend(data)
        if not page.get("has_more"):
            break
        next_after = page.get("after")
        stuck = None
        if not data:
            stuck = "an empty page"
        elif ids == previous:
            stuck = "the same threads as the page before"
        elif not isinstance(next_after, str) or next_after == after:
            stuck = "no new after cursor"
        if stuck is not None:
            record["never_ends"] = stuck
            break
        previous = ids
        after = next_after
    return seen, pages


async def play(session: Session) -> None:
    threads: list[str] = []
    for number in range(1, THREADS + 1):
        create = await session.create_thread(
            session.prompt("message").replace("{n}", str(number)),
            f"send: threads.create ({number} of {THREADS})",
        )
        threads.append(session.require_thread(create))
    listed, pages = await _list(session, "list", PAGE)
    session.facts.update(created=threads, listed=listed, pages=pages)

    renamed, deleted, rated = threads[0], threads[-1], threads[1]
    update = await session.send(
        "rename: threads.update", "threads.update", {"thread_id": renamed, "title": TITLE}
    )
    session.facts["rename_ok"] = bool(update.ui_value is not None)
    session.facts["renamed"] = renamed
    items = await session.load(rated, "load")
    reply = next((i for i in items if i.get("type") == "assistant_message"), None)
    if reply is not None:
        feedback = await session.send(
            "feedback: items.feedback",
            "items.feedback",
            {"thread_id": rated, "item_ids": [reply.get("id")], "kind": "positive"},
        )
        session.facts["feedback_accepted"] = feedback.ui_value is not None
    delete = await session.send("delete: threads.delete", "threads.delete", {"thread_id": deleted})
    session.facts["deleted"] = deleted
    session.facts["delete_ok"] = delete.ui_value is not None
    after, _ = await _list(session, "list after rename and delete")
    session.facts["listed_after"] = after
    check_load = await session.runner.own_request(
        session.life,
        "check: threads.get_by_id of the deleted thread",
        {"type": "threads.get_by_id", "params": {"thread_id": deleted}, "metadata": {}},
    )
    if stopped_answering(check_load.capture):
        raise StoppedAnswering(
            "the backend stopped answering: a load of the thread it had just deleted got no "
            f"response ({check_load.capture.ending.message or 'no response head'}); the request "
            "before it was threads.delete",
            evidence=check_load.capture.name,
            after="delete: threads.delete",
        )
    value = check_load.ui_value
    loads = isinstance(value, dict) and str(value.get("id")) == deleted
    session.facts["deleted_still_loads"] = loads
    session.facts["deleted_check_capture"] = check_load.capture.name
    gone = answers_not_found(check_load.capture.status, check_load.capture.body)
    if session.facts["delete_ok"] and not loads and gone and not _listed(after, deleted):
        session.life.deleted_threads.append(deleted)
        session.life.notes.append(
            f"deleted thread {deleted!r} (the history scenario's delete; a load confirmed it gone)"
        )


def _listed(threads: list[dict[str, Any]], thread_id: str) -> dict[str, Any] | None:
    return next((t for t in threads if str(t.get("id")) == thread_id), None)


SCENARIO = Scenario(
    name="history",
    title="Page, rename, delete, feedback",
    description="The client creates three threads, pages through threads.list two at a time "
    "(newest first), renames one, gives feedback on a reply, deletes one, and lists again: "
    "every thread once and in order, the new title shown, the deleted thread gone.",
    requests=(
        "threads.create",
        "threads.list",
        "threads.update",
        "items.feedback",
        "threads.delete",
        "threads.get_by_id",
        "items.list",
    ),
    play=play,
    checks=__name__,
    prompts={"message": "This is history thread {n}. Reply briefly."},
    # The bug: ``async def delete_thread(...): pass`` (or a delete that marks a row nobody
    # reads); ChatKitServer answers threads.delete with {} whatever the store did. What the user
    # sees: the thread disappears from the history list, comes back on the next refresh, and
    # still opens.
    faulty=Fault(
        "the reference backend on a store whose delete_thread does nothing: a deleted thread is "
        "still listed and still loads",
        skips=("delete_thread",),
    ),
)


# -- the checks ----------------------------------------------------------------------------


@check(
    code="persistence.history_paging",
    layer="persistence",
    severity="error",
    description="Paging threads.list newest first shows every thread once, in order.",
    expectation="threads.list with limit and after returns at most limit threads per page, each "
    "thread on exactly one page, newest first, has_more until the last page.",
    fix="Implement Store.load_threads with after (the last id of the previous page), limit and "
    "order, and set has_more and after on the Page.",
)
def paging(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    created = ctx.facts.get("created")
    listed = ctx.facts.get("listed")
    if not isinstance(created, list) or not isinstance(listed, list):
        yield Skip("the threads were never listed")
        return
    pages = ctx.facts.get("pages", [])
    first = pages[0]["capture"] if pages else None
    ids = [str(t.get("id")) for t in listed]
    for page in pages:
        if page["size"] > PAGE:
            yield Found(
                f"a threads.list page asked for limit {PAGE} returned {page['size']} threads",
                ctx.evidence(page["capture"], limit=PAGE, got=page["size"]),
            )
            break
    for thread in created:
        count = ids.count(thread)
        if count != 1:
            where = "on no page" if count == 0 else f"on {count} pages"
            yield Found(
                f"thread {thread!r} created by the kit is {where} of threads.list "
                f"({len(pages)} page(s) of {PAGE})",
                ctx.evidence(first, thread=thread, listed=ids[:20]),
            )
    positions = [ids.index(t) for t in created if t in ids]
    if len(positions) == len(created) and positions != sorted(positions, reverse=True):
        yield Found(
            "threads.list (order desc) does not list the kit's threads newest first: "
            f"positions {positions} for threads created in that order",
            ctx.evidence(first, positions=positions),
        )


@check(
    code="persistence.rename_not_shown",
    layer="persistence",
    severity="error",
    description="After threads.update renames a thread, the next threads.list shows the title.",
    expectation="The thread's title in threads.list is the one threads.update set.",
    fix="In threads.update save the new title (ChatKitServer saves it with store.save_thread; "
    "make sure save_thread persists title).",
)
def rename_not_shown(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    after = ctx.facts.get("listed_after")
    renamed = ctx.facts.get("renamed")
    if not isinstance(after, list) or not isinstance(renamed, str):
        yield Skip("the rename never ran")
        return
    thread = _listed(after, renamed)
    if thread is None:
        yield Found(
            f"thread {renamed!r} was renamed and is no longer in threads.list",
            ctx.evidence(None, thread=renamed),
        )
    elif thread.get("title") != TITLE:
        yield Found(
            f"thread {renamed!r} was renamed to {TITLE!r}; threads.list shows "
            f"{thread.get('title')!r}",
            ctx.evidence(None, thread=renamed, title=thread.get("title")),
        )


@check(
    code="persistence.deleted_thread_remains",
    layer="persistence",
    severity="error",
    description="After threads.delete, the thread is gone from threads.list and cannot be loaded.",
    expectation="threads.delete removes the thread: the next threads.list omits it and "
    "threads.get_by_id of it fails.",
    fix="Implement Store.delete_thread (the thread and its items); ChatKitServer calls it for "
    "threads.delete and answers {} whatever the store did.",
)
def deleted_remains(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    deleted = ctx.facts.get("deleted")
    after = ctx.facts.get("listed_after")
    if not isinstance(deleted, str) or not isinstance(after, list):
        yield Skip("the delete never ran")
        return
    places = []
    if _listed(after, deleted) is not None:
        places.append("is still in threads.list")
    if ctx.facts.get("deleted_still_loads"):
        places.append("still loads with threads.get_by_id")
    if places:
        yield Found(
            f"threads.delete of {deleted!r} answered "
            f"{'ok' if ctx.facts.get('delete_ok') else 'with an error'}, but the thread "
            + " and ".join(places),
            ctx.evidence(ctx.facts.get("deleted_check_capture"), thread=deleted),
        )


@check(
    code="persistence.history_never_ends",
    layer="persistence",
    severity="error",
    description="The last page of threads.list says there is no more.",
    expectation="Paging threads.list with after ends: the last page has has_more false; a page "
    "that says has_more true gives threads and an after cursor to go on from.",
    fix="Set Page.has_more only when threads remain after this page, and Page.after to the "
    "last thread id of the page (the SDK's stores do both in load_threads).",
)
def history_never_ends(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    pages = ctx.facts.get("pages")
    if not isinstance(pages, list) or not pages:
        yield Skip("the threads were never listed")
        return
    for page in pages:
        stuck = page.get("never_ends")
        if stuck:
            yield Found(
                f"a threads.list page says has_more: true but gives {stuck}: the history's "
                "infinite scroll asks for the next page forever (a spinner at the bottom of the "
                "list)",
                ctx.evidence(page["capture"], has_more=True, size=page["size"]),
            )
            return
