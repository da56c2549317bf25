"""``retry``: the user asks for another answer to their last message.

ChatKit's retry sends ``threads.retry_after_item`` with the id of the user message. What a
conforming server does is the SDK's: it deletes every item after that message, streams a new
reply to it, and saves that. So after a reload the old reply is gone, the new one is there, and
what was kept (the user message and everything before it) has the same ids. On screen the
client drops the old reply as the retry starts (modelled; the closed UI does the drop).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Found, Skip, check
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    done_items,
    item_text,
    reload_thread,
)

RELOAD = "reload after retry"


async def play(session: Session) -> None:
    create = await session.create_thread(session.prompt("ask"))
    thread_id = session.require_thread(create)
    streamed = done_items(create.seen_by_chatkit)
    user = next((item for item in streamed if item.get("type") == "user_message"), None)
    if user is None or not isinstance(user.get("id"), str):
        session.not_offered(
            "the reply never finished the user's message (no thread.item.done with a "
            "user_message), so the client has no id to retry after (the messages scenario "
            "names why)",
            create,
        )
    before = await session.load(thread_id, "load")
    retry = await session.send(
        "retry: threads.retry_after_item",
        "threads.retry_after_item",
        {"thread_id": thread_id, "item_id": user["id"]},
        "stream",
    )
    kept_upto = next(
        (n for n, item in enumerate(before) if item.get("id") == user["id"]), len(before) - 1
    )
    session.facts.update(
        user_id=user["id"],
        old_reply=[item for item in streamed if item.get("type") != "user_message"],
        new_reply=[item for item in done_items(retry.seen_by_chatkit)],
        kept=before[: kept_upto + 1],
    )
    await reload_thread(session, thread_id, RELOAD)


SCENARIO = Scenario(
    name="retry",
    title="Retry an answer",
    description="The client sends a message, then asks for another answer with "
    "threads.retry_after_item on that message, and reloads: the old reply must be gone, the new "
    "one there, and the kept items unchanged.",
    requests=("threads.create", "threads.get_by_id", "items.list", "threads.retry_after_item"),
    play=play,
    checks=__name__,
    prompts={"ask": "Give me a fun fact about octopuses."},
    judged_loads=(RELOAD,),
    replies={
        "ask": Reply(
            "retry",
            "Here is a fun fact: an octopus has three hearts and blue blood. (answer {answer})",
        )
    },
    # The bug: a custom store written for the calls the first demo made (save and load), never
    # given a delete, or given ``async def delete_thread_item(...): pass`` to satisfy the
    # abstract base class. ChatKitServer calls it for threads.retry_after_item, for each item
    # after the retried message, and answers as if it worked. What the user sees: Retry streams
    # a new answer, and after a reload the old answer is back, next to the new one.
    faulty=Fault(
        "the reference backend on a store whose delete_thread_item does nothing: a retried "
        "answer comes back on reload",
        skips=("delete_thread_item",),
    ),
)


# -- the checks ----------------------------------------------------------------------------


def _ready(ctx: ScenarioContext) -> bool:
    return "reload" in ctx.facts


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(item.get("id")) for item in items]


@check(
    code="persistence.retry_kept_old_reply",
    layer="persistence",
    severity="error",
    description="After a retry, the reload no longer shows the reply that was retried.",
    expectation="threads.retry_after_item deletes every item after the user message before "
    "streaming the new reply (ChatKitServer does), so the old reply is not on the reload.",
    fix="On threads.retry_after_item delete the items after the given user message from the "
    "store (ChatKitServer calls store.delete_thread_item for each; make sure your Store "
    "implements it).",
)
def kept_old_reply(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if not _ready(ctx):
        yield Skip("the retry never ran")
        return
    reloaded = set(_ids(ctx.facts["reload"]))
    for item in ctx.facts["old_reply"]:
        if str(item.get("id")) in reloaded:
            yield Found(
                f"{item.get('type')} {item.get('id')!r} ({item_text(item)[:60]!r}) was retried "
                "away but is still on the reload: the user sees the old answer next to the new",
                ctx.evidence(item_id=item.get("id")),
            )


@check(
    code="persistence.retry_reply_missing",
    layer="persistence",
    severity="error",
    description="After a retry, the reload shows the new reply.",
    expectation="Every item the retry stream finished (thread.item.done) is on the reload.",
    fix="Save the retried reply's items as they finish (ChatKitServer does on thread.item.done).",
)
def reply_missing(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if not _ready(ctx):
        yield Skip("the retry never ran")
        return
    reloaded = set(_ids(ctx.facts["reload"]))
    for item in ctx.facts["new_reply"]:
        if str(item.get("id")) not in reloaded:
            yield Found(
                f"the retry streamed {item.get('type')} {item.get('id')!r} but the reload does "
                "not have it: after a reload the new answer is gone",
                ctx.evidence(item_id=item.get("id"), reloaded=sorted(reloaded)),
            )


@check(
    code="persistence.retry_changed_kept",
    layer="persistence",
    severity="error",
    description="A retry keeps the user message and everything before it, with the same ids.",
    expectation="The items up to the retried user message are on the reload with the ids they "
    "had before the retry.",
    fix="Delete only the items after the retried message; never re-create the kept ones.",
)
def changed_kept(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if not _ready(ctx):
        yield Skip("the retry never ran")
        return
    reloaded = set(_ids(ctx.facts["reload"]))
    for item in ctx.facts["kept"]:
        if str(item.get("id")) not in reloaded:
            yield Found(
                f"{item.get('type')} {item.get('id')!r} came before the retried message but is "
                "not on the reload (deleted, or saved again under another id)",
                ctx.evidence(item_id=item.get("id")),
            )
