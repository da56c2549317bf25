"""The lifecycle runner: play the part of a ChatKit client against a backend.

The sequence follows what the client does (protocol notes): ``threads.list`` on mount,
``threads.create`` with a message, the thread load (``threads.get_by_id``, then ``items.list``),
a second turn with ``threads.add_user_message``, and a reload. Every request goes through the
client's fetch (a Python transform or the user's own JavaScript), and every reply is judged the
way ChatKit's host script judges it (fact: :mod:`chatkit_lab.client._network`): a stream whose
open check fails is re-sent as the host script re-sends it, and a JSON reply that does not parse
reaches the UI as ``{}``. Calls the fetch makes to the ChatKit control are acted on
(``setThreadId`` makes the UI load that thread).

Requests the kit makes for itself (the store audit after retries, cleanup and its check) go
straight to the target with the headers the user gave, never through the user's fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.client._cookies import CookieSender
from chatkit_lab.client._fetch import (
    ClientFetch,
    ClientRequest,
    FetchOutcome,
    Transform,
    TransformFetch,
    identity,
    local_capture,
    mark_outcome,
)
from chatkit_lab.client._network import (
    MAX_STREAM_RETRIES,
    SOURCE,
    json_reply,
    retry_delay_range,
    stream_open,
)
from chatkit_lab.client._steps import (
    Lifecycle,
    Step,
    adopt_thread_id,
    envelope,
    user_input,
)
from chatkit_lab.sources import DEFAULT_LIMITS, Limits, StopReading

__all__ = [
    "Lifecycle",
    "LifecycleRunner",
    "Sender",
    "Step",
    "adopt_thread_id",
    "answers_not_found",
    "envelope",
    "local_capture",
    "user_input",
]


class Sender(Protocol):
    """What the runner needs of a transport."""

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture: ...


def content_type_as_fetch_sees_it(capture: Capture) -> str | None:
    """``Headers.get('content-type')``: every value, joined with ``", "``; ``None`` if absent."""
    values = [value for key, value in capture.response_headers if key.lower() == "content-type"]
    return ", ".join(values) if values else None


def _failed_capture(request: ClientRequest, error: str, label: str, target: str) -> Capture:
    """A capture standing for a request the custom fetch threw on before any reply."""
    return Capture(
        request=RequestRecord(
            request.method, request.url, list(request.headers.items()), request.body
        ),
        label=label,
        target=target,
        transport="fetch",
        timing=False,
        ending=Ending("error", f"the custom fetch threw: {error}", 0),
    )


class LifecycleRunner:
    """Runs the client lifecycle against one endpoint through one client fetch."""

    def __init__(
        self,
        sender: Sender,
        url: str,
        *,
        transform: Transform = identity,
        fetch: ClientFetch | None = None,
        headers: dict[str, str] | None = None,
        target: str = "",
        limits: Limits | None = None,
        delete_created: bool = False,
        retry_scale: float = 0.001,
        retry_budget_s: float = 60.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.delete_created = delete_created
        self.sender = sender if isinstance(sender, CookieSender) else CookieSender(sender, url)
        """The transport, keeping the cookies a browser keeps for the API's origin."""
        self.url = url
        self.transform = transform
        self.fetch: ClientFetch = fetch or TransformFetch(transform)
        self.headers = dict(headers or {})
        self.target = target or url
        self.limits = limits
        self.retry_scale = retry_scale
        """Factor applied to the host script's retry waits (they are recorded unscaled)."""
        self.retry_budget_s = retry_budget_s
        """Wall-clock bound on all retries of one session."""
        self._retry_deadline = 0.0
        self.progress = progress
        """Called with one line per finished step (the command line prints it on stderr)."""

    def _tell(self, step: Step) -> None:
        if self.progress is None:
            return
        capture = step.capture
        shown = (
            "answered by the fetch"
            if step.answered_locally
            else f"{capture.status or 'no response'} {capture.content_type or ''}".rstrip()
        )
        events = f", {len(capture.events)} events" if capture.is_event_stream else ""
        self.progress(f"{step.name}: {shown}{events}")

    # -- one request ---------------------------------------------------------------------------

    def limits_with(self, stop: StopReading | None) -> Limits | None:
        """The runner's limits, with ``stop`` (the stop button) when given."""
        if stop is None:
            return self.limits
        base = self.limits or getattr(self.sender, "limits", None) or DEFAULT_LIMITS
        return replace(base, stop=stop)

    async def exchange(
        self,
        name: str,
        payload: dict[str, Any],
        expects: str,
        *,
        stop: StopReading | None = None,
    ) -> Step:
        """Send one ChatKit request through the fetch once; record it as a step.

        ``stop`` makes the client stop reading the reply once it is reached, as ChatKit's stop
        button aborts a streaming request (the capture then ends ``stopped``).
        """
        client_request = ClientRequest.chatkit(self.url, payload, self.headers)
        limits = self.limits_with(stop)

        async def send(request: ClientRequest) -> Capture:
            capture = await self.sender.send_request(request, label=name, limits=limits)
            capture.target = capture.target or self.target
            capture.client_type = capture.client_type or payload["type"]
            if request.body != client_request.body:
                capture.meta["client_body"] = client_request.body.decode("utf-8", "replace")
            return capture

        # a fetch that runs elsewhere (Node) takes its time limits from the wire's
        send.limits = limits  # type: ignore[attr-defined]
        outcome = await self.fetch(client_request, send)
        step = self._step(name, payload["type"], expects, client_request, outcome)
        mark_outcome(step.capture, step.handed_back, outcome.console)
        return step

    def _step(
        self,
        name: str,
        kind: str,
        expects: str,
        client_request: ClientRequest,
        outcome: FetchOutcome,
    ) -> Step:
        wire = outcome.wire
        if outcome.handed_back is None:
            error = outcome.error or "the custom fetch returned nothing"
            capture = wire[0] if wire else _failed_capture(client_request, error, name, self.target)
            step = Step(name, kind, expects, client_request, capture, wire=list(wire))
            step.answered_locally = not wire  # nothing on the wire: the fetch's fault alone
            step.fetch_error = error
            capture.fetch_error = error
            capture.client_type = capture.client_type or kind
            step.wire_request = outcome.wire_requests[0] if outcome.wire_requests else None
            step.controls = list(outcome.controls)
            return step
        reply = outcome.handed_back
        reply.label = reply.label or name
        reply.target = reply.target or self.target
        local = outcome.built_by_fetch and not wire
        capture = reply if local else wire[0] if wire else reply
        step = Step(name, kind, expects, client_request, capture, wire=list(wire))
        step.wire_request = outcome.wire_requests[0] if outcome.wire_requests else None
        step.answered_locally = local
        step.handed_back = None if reply is capture else reply
        step.controls = list(outcome.controls)
        step.fetch_error = outcome.error
        if expects == "stream":
            step.network = stream_open(reply.status, content_type_as_fetch_sees_it(reply))
        else:
            step.network = json_reply(reply.status, reply.body)
        return step

    async def request(
        self,
        life: Lifecycle,
        name: str,
        payload: dict[str, Any],
        expects: str,
        *,
        stop: StopReading | None = None,
    ) -> Step:
        """One ChatKit request as the host script makes it: failed stream opens re-sent.

        Every attempt is a step of ``life``; the last one is returned. A 4xx open is fatal, an
        error while reading is not retried, and anything else is re-sent up to five times, the
        waits compressed by ``retry_scale`` and all retries bounded by ``retry_budget_s``.
        """
        step = await self.exchange(name, payload, expects, stop=stop)
        life.steps.append(step)
        self._tell(step)
        attempt = 0
        while (
            expects == "stream"
            and step.network is not None
            and step.network.verdict == "retry"
            and step.fetch_error is None
            and not _kit_gave_up(step)
            and attempt < MAX_STREAM_RETRIES
        ):
            if not self._retry_deadline:
                self._retry_deadline = time.monotonic() + self.retry_budget_s
            if time.monotonic() >= self._retry_deadline:
                life.notes.append(
                    f"{name}: retries stopped after {self.retry_budget_s:g} s (the kit's bound); "
                    f"{SOURCE} would have gone on to {MAX_STREAM_RETRIES} retries"
                )
                break
            attempt += 1
            wait = retry_delay_range(attempt)
            await asyncio.sleep(wait[1] * self.retry_scale)
            step = await self.exchange(f"{name} (retry {attempt})", payload, expects, stop=stop)
            step.attempt = attempt
            step.retry_wait_s = wait
            step.capture.attempt = attempt
            step.capture.retry_wait_s = wait
            life.steps.append(step)
            self._tell(step)
        if _kit_gave_up(step) and expects == "stream" and step.capture.status is None:
            life.notes.append(
                f"{name}: no response within the kit's time limit; a browser would still be "
                "waiting, so no retry is modelled"
            )
        if attempt:
            life.notes.append(
                f"{name}: {SOURCE} re-sent the same request {attempt} time(s) because its open "
                f"check failed ({step.network.reason if step.network else 'no reply'})"
            )
        return step

    async def own_request(self, life: Lifecycle, name: str, payload: dict[str, Any]) -> Step:
        """A request the kit makes for itself: straight to the target, never through a fetch."""
        step = await self._direct(name, payload, f"kit: {name}")
        life.kit_steps.append(step)
        return step

    async def _direct(
        self, name: str, payload: dict[str, Any], label: str, *, cleanup: bool = False
    ) -> Step:
        """Send ``payload`` straight to the target with the user's headers (no fetch): the kit's
        own request (a ``cleanup`` when it deletes a thread the run created)."""
        request = ClientRequest.chatkit(self.url, payload, self.headers)
        capture = await self.sender.send_request(request, label=label, limits=self.limits)
        capture.target = capture.target or self.target
        capture.kit = True
        capture.cleanup = cleanup
        step = Step(name, payload["type"], "json", request, capture, request, wire=[capture])
        step.network = json_reply(capture.status, capture.body)
        return step

    # -- requests the kit makes for itself, never through the user's fetch ----------------------
    #
    # The store audit after retried sends and the cleanup of threads a session created go
    # straight to the target with the headers the user gave, so a custom fetch that rewrites
    # requests cannot turn them into chat turns, and "deleted" is said only once a
    # ``threads.get_by_id`` shows the thread gone.

    async def audit_store(self, life: Lifecycle, mount: Step, message: str) -> None:
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
        after_step = await self.own_request(
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
            load = await self.own_request(
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

    async def delete_thread(self, life: Lifecycle, thread_id: str) -> None:
        """Delete a thread this session created, and say so only once a load shows it gone."""
        step = await self._direct(
            "cleanup: threads.delete",
            envelope("threads.delete", {"thread_id": thread_id}),
            "cleanup: threads.delete",
            cleanup=True,
        )
        capture = step.capture
        life.steps.append(step)
        check = await self.own_request(
            life,
            "cleanup check: threads.get_by_id",
            envelope("threads.get_by_id", {"thread_id": thread_id}),
        )
        still_there = _is_thread(check.reply_json, thread_id) and (check.capture.status or 0) < 300
        gone = answers_not_found(check.capture.status, check.capture.body)
        if capture.status is not None and capture.status < 300 and gone:
            life.deleted_threads.append(thread_id)
            life.notes.append(
                f"deleted thread {thread_id!r} created by this session "
                "(a load confirmed it is gone)"
            )
        elif capture.status is not None and capture.status < 300 and not still_there:
            answered = (
                f"HTTP {check.capture.status}"
                if check.capture.status is not None
                else "no response"
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

    # -- the session ---------------------------------------------------------------------------

    async def run(
        self,
        message: str = "Hello! What can you do?",
        second_message: str = "Thanks. One more thing?",
        *,
        page_size: int = 2,
    ) -> Lifecycle:
        """The whole session: mount, first send, load, second send, reload."""
        started = time.monotonic()
        self._retry_deadline = 0.0
        life = Lifecycle(self.target)
        mount = await self.request(
            life,
            "mount: threads.list",
            envelope("threads.list", {"limit": 9999, "order": "desc"}),
            "json",
        )
        create = await self.request(
            life,
            "send: threads.create",
            envelope("threads.create", {"input": user_input(message)}),
            "stream",
        )
        thread_id, adopted = adopt_thread_id(create.seen_by_chatkit)
        if create.network is not None and create.network.verdict != "open":
            thread_id, adopted = None, False
        set_by_fetch = self._thread_from_controls(life)
        if set_by_fetch is not None:
            thread_id, adopted = set_by_fetch, False
            life.thread_id_set_by_fetch = True
            life.notes.append(
                f"the custom fetch called setThreadId({set_by_fetch!r}) during the stream: "
                "ChatKit then loads that thread (threads.get_by_id)"
            )
        life.thread_id, life.thread_id_adopted = thread_id, adopted
        if thread_id is not None:
            life.created_threads.append(thread_id)
        try:
            if life.retries:
                await self.audit_store(life, mount, message)
            await self._conversation(life, thread_id, adopted, second_message, page_size)
        finally:
            await self.clean_up(life)
        life.notes.append(f"lifecycle took {time.monotonic() - started:.2f} s")
        return life

    async def clean_up(self, life: Lifecycle) -> None:
        """Delete the threads ``life`` created, when the runner deletes what it creates (each
        deletion is said only once a load shows the thread gone)."""
        if not self.delete_created:
            return
        for created in list(dict.fromkeys(life.created_threads)):
            if created not in life.deleted_threads:
                await self.delete_thread(life, created)

    @staticmethod
    def _thread_from_controls(life: Lifecycle) -> str | None:
        for step in reversed(life.steps):
            for call in reversed(step.controls):
                if call.command == "setThreadId" and call.args:
                    value = call.args[0]
                    if isinstance(value, str | int) and not isinstance(value, bool):
                        return str(value)
        return None

    async def _conversation(
        self,
        life: Lifecycle,
        thread_id: str | None,
        adopted: bool,
        second_message: str,
        page_size: int,
    ) -> None:
        if thread_id is None:
            life.notes.append(
                "no thread id could be found in the threads.create reply: the client cannot "
                "load the thread or send a second message"
            )
            return
        if not adopted and not life.thread_id_set_by_fetch:
            life.notes.append(
                f"the reply had no valid thread.created; the runner goes on with thread id "
                f"{thread_id!r} found in the payloads, which the real client would not adopt"
            )
        await self.load(life, thread_id, "load", page_size)
        await self.request(
            life,
            "send: threads.add_user_message",
            envelope(
                "threads.add_user_message",
                {"thread_id": thread_id, "input": user_input(second_message)},
            ),
            "stream",
        )
        await self.load(life, thread_id, "reload", page_size)

    async def load(self, life: Lifecycle, thread_id: str, prefix: str, page_size: int = 2) -> None:
        """Load a thread as the client does: ``threads.get_by_id``, ``items.list``, then the
        items page by page (steps named ``"<prefix>: ..."``)."""
        await self.request(
            life,
            f"{prefix}: threads.get_by_id",
            envelope("threads.get_by_id", {"thread_id": thread_id}),
            "json",
        )
        await self.request(
            life,
            f"{prefix}: items.list",
            envelope("items.list", {"thread_id": thread_id, "limit": 100, "order": "asc"}),
            "json",
        )
        # Walk the items page by page, as the client does for older history.
        after: str | None = None
        for page in range(1, 51):
            params: dict[str, Any] = {"thread_id": thread_id, "limit": page_size, "order": "asc"}
            if after is not None:
                params["after"] = after
            step = await self.request(
                life, f"{prefix}: items.list page {page}", envelope("items.list", params), "json"
            )
            step.capture.meta["pagination_walk"] = prefix
            reply = step.reply_json
            if not isinstance(reply, dict) or not reply.get("has_more"):
                break
            data = reply.get("data")
            next_after = reply.get("after")
            if not next_after and isinstance(data, list) and data and isinstance(data[-1], dict):
                next_after = data[-1].get("id")
            if not isinstance(next_after, str) or next_after == after:
                break
            after = next_after


def _kit_gave_up(step: Step) -> bool:
    """Whether the kit's own time limit ended the exchange: the network never failed, so the host
    script would have nothing to retry (a browser has no such limit and would still wait)."""
    return step.capture.ending.state == "timeout"


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
