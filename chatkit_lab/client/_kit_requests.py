"""Requests the kit makes for itself, never through the user's fetch: the store audit after
retried sends, and the cleanup of threads a session created (confirmed by a load).

These go straight to the target with the headers the user gave (``runner.own_request`` and the
runner's sender), so a custom fetch that rewrites requests cannot turn them into chat turns, and
"deleted" is said only once a ``threads.get_by_id`` shows the thread gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatkit_lab.client._network import json_reply
from chatkit_lab.client._steps import Lifecycle, Step, envelope
from chatkit_lab.client._transform import ClientRequest

if TYPE_CHECKING:
    from chatkit_lab.client._lifecycle import LifecycleRunner


async def audit_store(runner: LifecycleRunner, life: Lifecycle, mount: Step, message: str) -> None:
    """After retried sends: which threads and user messages did the retries leave behind?

    Only when the target answered the mount's ``threads.list`` itself with a ChatKit page
    (so a direct ``threads.list`` is safe to send and its result comparable).
    """
    before = _thread_ids(mount.reply_json) if not mount.answered_locally else None
    if before is None:
        life.notes.append(
            "the sends were retried, but the target does not answer threads.list with a "
            "ChatKit page, so the kit cannot list what the retries left in its store"
        )
        return
    after_step = await runner.own_request(
        life,
        "store audit: threads.list",
        envelope("threads.list", {"limit": 100, "order": "desc"}),
    )
    after = _thread_ids(after_step.reply_json)
    if after is None:
        life.notes.append("the store audit's threads.list failed: retries not audited")
        return
    new_threads = [thread for thread in after if thread not in before]
    messages: dict[str, int] = {}
    for thread in new_threads[:20]:
        load = await runner.own_request(
            life,
            "store audit: threads.get_by_id",
            envelope("threads.get_by_id", {"thread_id": thread}),
        )
        messages[thread] = _count_user_messages(load.reply_json, message)
    life.store_audit = {
        "threads_before": len(before),
        "new_threads": new_threads,
        "user_messages": messages,
        "attempts": 1
        + sum(1 for s in life.steps if s.attempt and s.client_type == "threads.create"),
    }
    for thread in new_threads:
        if thread not in life.created_threads:
            life.created_threads.append(thread)


async def delete_thread(runner: LifecycleRunner, life: Lifecycle, thread_id: str) -> None:
    """Delete a thread this session created, and say so only once a load shows it gone."""
    request = ClientRequest.chatkit(
        runner.url, envelope("threads.delete", {"thread_id": thread_id}), runner.headers
    )
    capture = await runner.sender.send_request(
        request, label="cleanup: threads.delete", limits=runner.limits
    )
    capture.target = capture.target or runner.target
    capture.meta["cleanup"] = True
    capture.meta["kit"] = True
    step = Step("cleanup: threads.delete", "threads.delete", "json", request, capture, request)
    step.wire = [capture]
    step.network = json_reply(capture.status, capture.body)
    life.steps.append(step)
    check = await runner.own_request(
        life,
        "cleanup check: threads.get_by_id",
        envelope("threads.get_by_id", {"thread_id": thread_id}),
    )
    still_there = _is_thread(check.reply_json, thread_id) and (check.capture.status or 0) < 300
    gone = answers_not_found(check.capture.status, check.capture.body)
    if capture.status is not None and capture.status < 300 and gone:
        life.deleted_threads.append(thread_id)
        life.notes.append(
            f"deleted thread {thread_id!r} created by this session (a load confirmed it is gone)"
        )
    elif capture.status is not None and capture.status < 300 and not still_there:
        answered = (
            f"HTTP {check.capture.status}" if check.capture.status is not None else "no response"
        )
        life.notes.append(
            f"threads.delete for thread {thread_id!r} answered {capture.status}, but the load "
            f"that checked it did not answer not-found cleanly ({answered}): not confirmed "
            "deleted (a backend should answer a load of a missing thread with 404)"
        )
    elif still_there:
        life.notes.append(
            f"threads.delete for thread {thread_id!r} answered {capture.status}, but a load "
            "still returns it: it was not deleted; delete it by hand"
        )
    else:
        life.notes.append(
            f"could not delete thread {thread_id!r} created by this session "
            f"(status {capture.status}): delete it by hand"
        )


NOT_FOUND_WORDS = ("not found", "notfound", "no such", "does not exist", "doesn't exist")


def answers_not_found(status: int | None, body: bytes) -> bool:
    """``True`` when a load answered not-found cleanly: a 404 or 410, or another 4xx whose body
    says not found (a crash, a 5xx, a reset, no answer or a thread in the reply is no proof that
    the thread is gone)."""
    if status in (404, 410):
        return True
    if status is None or not 400 <= status < 500:
        return False
    text = body[:2000].decode("utf-8", "replace").lower()
    return any(word in text for word in NOT_FOUND_WORDS)


def _thread_ids(reply: Any) -> list[str] | None:
    """The thread ids of a ChatKit ``threads.list`` page, or ``None`` when it is not one."""
    if not isinstance(reply, dict) or not isinstance(reply.get("data"), list):
        return None
    return [
        str(thread["id"])
        for thread in reply["data"]
        if isinstance(thread, dict) and isinstance(thread.get("id"), str | int)
    ]


def _is_thread(reply: Any, thread_id: str) -> bool:
    return isinstance(reply, dict) and str(reply.get("id")) == thread_id


def _count_user_messages(reply: Any, text: str) -> int:
    """How many user messages with ``text`` a ``threads.get_by_id`` reply holds."""
    items = reply.get("items") if isinstance(reply, dict) else None
    data = items.get("data") if isinstance(items, dict) else None
    if not isinstance(data, list):
        return 0
    count = 0
    for item in data:
        if not isinstance(item, dict) or item.get("type") != "user_message":
            continue
        parts = item.get("content") if isinstance(item.get("content"), list) else []
        said = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        count += said == text
    return count
