"""``errors``: what the client shows for an error it may retry, one it may not, and a notice.

A ChatKit server reports a failed turn with an ``error`` event (``code``, optional ``message``,
``allow_retry``) and tells the user things with ``notice`` (``level``, ``message``) and
``progress_update`` (``text``) events; the SDK sends them for ``CustomStreamError`` /
``StreamError`` raised in ``respond`` and for events a tool streams. The kit asks for each in
plain words and records what arrived. What the closed UI draws for them is modelled: an error
message with a Retry button when ``allow_retry`` is true and without one otherwise, a notice
banner, a transient progress line. A backend that never sends them when asked is skipped (it
may only send errors when something really fails), which is not a failure.

Only what a real failure needs is judged: an error the user was told they may retry must say
``allow_retry: true`` (else the Retry button is missing); an error marked retryable when the kit
asked for a final one is not a fault (a real failure often is retryable, and the user loses
nothing by a Retry button). A backend that turns the failure into a normal reply quoting the
exception is graded for what the user sees: a reply that reads like an error, with no Retry
button (a warning).

A ChatKit backend rarely sends an ``error`` event because a user asked for one; it sends one
when its model fails. To judge that, the kit serves (:class:`FailingUpstream`), on an address the
user gives (``--errors-upstream http://127.0.0.1:8999``), an API that fails every request the way
a model provider's outage does: HTTP 500 with the OpenAI error body
(``{"error": {"message": ..., "type": "server_error"}}``). The user starts the backend with its
model's base URL there (``OPENAI_BASE_URL=http://127.0.0.1:8999/v1`` for the OpenAI SDKs, the
Agents SDK included), and the scenario sends one message instead: whatever the backend streams
is its answer to a real failure. The reply carries ``x-should-retry: false``, which the OpenAI
SDKs honour, so the backend's client gives up at once instead of retrying for seconds.

Every request the upstream gets is counted (method and path only: the body may hold the user's
prompt and the headers an API key), so the kit knows whether the backend called it at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from chatkit_lab.capture import Capture
from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.errors import TargetError
from chatkit_lab.scenarios._base import (
    CannotGoOn,
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    done_items,
    item_text,
)
from chatkit_lab.sources import LoopbackServer

UPSTREAM_ERROR = {
    "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
"""What the failing upstream answers, as the OpenAI API words an outage."""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_CALLS = 200
"""Requests recorded, at most (the count goes on)."""
MAX_BODY = 1 << 20
"""Bytes of a request body read before answering, at most."""


def parse_upstream(url: str) -> tuple[str, int]:
    """The host and port to serve the failing upstream on, from ``url`` (``http://`` on this
    machine, with a port); a :class:`TargetError` naming what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"bad --errors-upstream {url!r}: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme != "http" or host not in LOCAL_HOSTS or port is None or port == 0:
        raise TargetError(
            f"bad --errors-upstream {url!r}: give an http URL on this machine with a port, "
            "such as http://127.0.0.1:8999 (the kit serves the failing API there)"
        )
    return ("127.0.0.1" if host == "localhost" else host), port


@dataclass
class FailingUpstream:
    """Serve the failing API on ``url`` while the ``with`` block runs; count what it got."""

    url: str
    calls: int = 0
    seen: list[str] = field(default_factory=list)
    """``METHOD /path`` of the first :data:`MAX_CALLS` requests."""
    _server: LoopbackServer | None = None

    async def answer(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        read = 0
        while read <= MAX_BODY:  # drain the request, bounded
            message = await receive()
            read += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        self.calls += 1
        if len(self.seen) < MAX_CALLS:
            self.seen.append(f"{scope['method']} {scope['path']}")
        body = json.dumps(UPSTREAM_ERROR).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-should-retry", b"false"),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def __enter__(self) -> FailingUpstream:
        host, port = parse_upstream(self.url)
        answer = self.answer

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await answer(scope, receive, send)  # a plain function: uvicorn's ASGI 3 check

        self._server = LoopbackServer(app, host, port).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


EXCEPTION_TEXT = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|"
    r"\berror:",
    re.IGNORECASE,
)
"""What an exception quoted in a reply looks like."""

ASKS: tuple[tuple[str, str, bool | None], ...] = (
    ("retryable", "error", True),
    ("final", "error", False),
    ("notice", "notice", None),
)
"""Prompt role, the event it asks for, and the ``allow_retry`` it asks for (errors only)."""


MAX_MET = 20
"""Error events met in other scenarios that the errors scenario judges, at most."""


def shown_error(payload: dict[str, Any]) -> str:
    """What the UI shows for one ``error`` event (modelled)."""
    retry = payload.get("allow_retry")
    return "an error message" + (" with a Retry button" if retry is True else ", no retry")


def shown(capture: Capture) -> list[dict[str, Any]]:
    """The error, notice and progress events of a stream, with what the UI shows (modelled)."""
    out: list[dict[str, Any]] = []
    for event in capture.events:
        payload = event.payload
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if kind == "error":
            ui = shown_error(payload)
        elif kind == "notice":
            ui = f"a {payload.get('level', 'info')} notice: {payload.get('message')!r}"
        elif kind == "progress_update":
            ui = f"a progress line: {payload.get('text')!r}"
        else:
            continue
        out.append({"event": event.index, "type": kind, "payload": payload, "ui": ui})
    return out


async def play(session: Session) -> None:
    if session.errors_upstream is not None:
        await play_upstream(session, session.errors_upstream)
        judge_met(session)
        return
    first, *rest = ASKS
    create = await session.create_thread(session.prompt(first[0]))
    thread_id = session.require_thread(create)
    steps = [(first, create)]
    for ask in rest:
        steps.append((ask, await session.say(thread_id, session.prompt(ask[0]), f"ask: {ask[0]}")))
    got = [record(role, step, kind, retry) for (role, kind, retry), step in steps]
    session.facts["asks"] = got
    quoted = any(
        ask["asked"] == "error" and any(EXCEPTION_TEXT.search(r) for r in ask["replies"])
        for ask in got
    )
    met = judge_met(session)
    if not any(ask["arrived"] for ask in got) and not quoted and not met:
        session.not_offered(
            "no reply carried an error or notice event when asked for one in plain words: the "
            "backend sends them only when something really fails (give other words with "
            "--prompt errors.retryable=...)",
            create,
        )


def judge_met(session: Session) -> list[dict[str, Any]]:
    """The error events other scenarios met (real failures), recorded for the checks."""
    met = session.met_errors[:MAX_MET]
    if met:
        session.facts["met"] = [
            {**m, "ui": shown_error(m["payload"])} for m in met if isinstance(m, dict)
        ]
        session.life.notes.append(
            f"{len(met)} error event(s) met in other scenarios were judged too "
            f"({', '.join(sorted({str(m.get('scenario')) for m in met}))})"
        )
    return met


def record(role: str, step: Any, kind: str = "error", retry: bool | None = None) -> dict[str, Any]:
    """What one message's reply showed: its error, notice and progress events and its replies."""
    events = shown(step.seen_by_chatkit)
    return {
        "role": role,
        "asked": kind,
        "allow_retry": retry,
        "capture": step.capture.name,
        "status": step.capture.status,
        "events": events,
        "arrived": any(e["type"] == kind for e in events),
        "replies": [
            item_text(i)
            for i in done_items(step.seen_by_chatkit)
            if i.get("type") == "assistant_message"
        ],
    }


async def play_upstream(session: Session, url: str) -> None:
    """The backend's model fails for real: the kit serves a failing upstream on ``url`` (the
    backend was started with its model's base URL there) and sends one message."""
    with FailingUpstream(url) as upstream:
        step = await session.create_thread(session.prompt("upstream"))
    got = record("upstream", step)
    got.update(upstream=url, calls=upstream.calls, seen=upstream.seen[:5])
    session.facts["asks"] = [got]
    session.facts["upstream"] = got
    if upstream.calls == 0:
        raise CannotGoOn(
            f"the backend never called the failing upstream at {url}: start it with its model's "
            f"base URL there (for the OpenAI SDKs, OPENAI_BASE_URL={url.rstrip('/')}/v1), then "
            "run the errors scenario again",
            evidence=step.capture.name,
        )
    session.life.notes.append(
        f"the failing upstream at {url} answered {upstream.calls} request(s) of the backend "
        "with HTTP 500 (a model outage): the reply is the backend's answer to a real failure"
    )


def never_retryable(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:errors``: every ``error`` event says ``allow_retry: false``.

    The bug: the backend builds its error events by hand in one ``except`` block,
    ``{"type": "error", "code": "custom", "message": str(exc), "allow_retry": False}``, for
    every failure, instead of raising ``CustomStreamError(message, allow_retry=...)`` with the
    flag the failure needs. What the user sees: a failure that a second try would fix (a
    timeout, a rate limit) shows an error with no Retry button; they have to type the message
    again.
    """
    if payload.get("type") == "error" and payload.get("allow_retry") is not False:
        return {**payload, "allow_retry": False}
    return payload


SCENARIO = Scenario(
    name="errors",
    title="Errors and notices",
    description="The client asks for an error it may retry, one it may not, and a notice, and "
    "records what the UI shows for each (modelled): the error's allow_retry decides the Retry "
    "button.",
    requests=("threads.create", "threads.add_user_message"),
    play=play,
    checks=__name__,
    prompts={
        "retryable": "Show me an error I can retry.",
        "final": "Show me an error I cannot retry.",
        "notice": "Show me a notice.",
        "upstream": "Hello! What can you do?",
    },
    intended=("ordering.error_event",),
    replies={
        "retryable": Reply(
            "error-retry",
            error="Something went wrong on purpose. Try again: this error allows a retry.",
            allow_retry=True,
        ),
        "final": Reply(
            "error-final",
            error="Something went wrong on purpose, and this error does not allow a retry.",
        ),
        "notice": Reply(
            "notice",
            notice=("Heads up", "This is an informational notice from the reference backend."),
        ),
    },
    faulty=Fault(
        "the reference backend sending every error event with allow_retry: false, so the UI "
        "offers no Retry for a retryable failure",
        events=never_retryable,
    ),
)


# -- the checks ----------------------------------------------------------------------------


@check(
    code="rendering.error_retry_flag",
    layer="rendering",
    severity="error",
    description="An error the user may retry carries allow_retry: true, and a final one false.",
    expectation="The error event for a retryable failure says allow_retry: true (the UI then "
    "offers Retry; modelled), and a final one says false.",
    fix="Raise CustomStreamError(message, allow_retry=...) (or StreamError) from respond with "
    "the flag the failure needs; ChatKitServer turns it into the error event.",
)
def retry_flag(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    asks = ctx.facts.get("asks")
    if not isinstance(asks, list):
        yield Skip("nothing was asked")
        return
    for ask in asks:
        if ask["asked"] != "error" or not ask["arrived"] or ask["allow_retry"] is not True:
            continue  # a retryable error where a final one was asked for hides nothing
        for event in (e for e in ask["events"] if e["type"] == "error"):
            flag = event["payload"].get("allow_retry")
            if flag is not True:
                yield Found(
                    f"asked for an error the user may retry; the error event says "
                    f"allow_retry={flag!r}, so the UI shows {event['ui']} (modelled): the user "
                    "cannot try again",
                    Evidence(capture=ask["capture"], event_index=event["event"]),
                )


@check(
    code="rendering.error_as_reply",
    layer="rendering",
    severity="warning",
    description="A failure reaches the user as an error, not as a normal reply quoting it.",
    expectation="When the turn fails, the stream carries an error event (the UI shows an error, "
    "with Retry when allow_retry is true; modelled), not an assistant message whose text is "
    "the exception.",
    fix="Let the failure reach ChatKitServer (raise CustomStreamError or StreamError from "
    "respond, or let the model's exception propagate) instead of catching it and streaming its "
    "text as the reply.",
)
def error_as_reply(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    asks = ctx.facts.get("asks")
    if not isinstance(asks, list):
        yield Skip("nothing was asked")
        return
    for ask in asks:
        if ask["asked"] != "error" or ask["arrived"]:
            continue
        for reply in ask.get("replies", []):
            match = EXCEPTION_TEXT.search(reply)
            if match is None:
                continue
            shown_text = " ".join(reply.split())[:160]
            yield Found(
                f"the failure reached the user as a normal reply quoting it ({shown_text!r}): "
                "the UI shows it as the assistant's answer, with no error styling and no Retry "
                "button (modelled)",
                Evidence(capture=ask["capture"], detail={"matched": match.group(0)}),
            )
            break


@check(
    code="rendering.error_without_words",
    layer="rendering",
    severity="warning",
    description="An error or notice event tells the user something.",
    expectation="A notice has a message; an error with code 'custom' has a message (other codes "
    "have the UI's own wording).",
    fix="Give CustomStreamError and NoticeEvent a message the user can act on.",
)
def without_words(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    asks = ctx.facts.get("asks")
    if not isinstance(asks, list):
        yield Skip("nothing was asked")
        return
    for met in ctx.facts.get("met", []):
        payload = met.get("payload") or {}
        if payload.get("code") == "custom" and not str(payload.get("message") or ""):
            yield Found(
                f"an error event met in the {met.get('scenario')} scenario has no message: the "
                "UI shows it with no words",
                Evidence(capture=met.get("capture"), event_index=met.get("event")),
            )
    for ask in asks:
        for event in ask["events"]:
            payload = event["payload"]
            custom = event["type"] == "error" and payload.get("code") == "custom"
            if (custom or event["type"] == "notice") and not str(payload.get("message") or ""):
                yield Found(
                    f"a {event['type']} event with no message: the UI shows it with no words",
                    Evidence(capture=ask["capture"], event_index=event["event"]),
                )


@check(
    code="rendering.failure_unseen",
    layer="rendering",
    severity="error",
    description="A real model failure reaches the user: an error, or a reply that says so.",
    expectation="When the backend's model fails (the kit's failing upstream, --errors-upstream), "
    "the stream carries an error event (the UI shows an error, with Retry when allow_retry is "
    "true; modelled) or at least a reply; either allow_retry is fine for a real failure.",
    fix="Let the model's exception reach ChatKitServer (it sends an error event with "
    "allow_retry: true), or raise CustomStreamError with a message, instead of catching it and "
    "ending the stream with nothing.",
)
def failure_unseen(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    got = ctx.facts.get("upstream")
    if not isinstance(got, dict):
        yield Skip("no failing upstream was given (--errors-upstream)")
        return
    if not got.get("calls"):
        yield Skip("the backend never called the failing upstream")
        return
    status = got.get("status")
    if isinstance(status, int) and status >= 400:
        yield Skip(f"the backend answered HTTP {status}: request.http_error judges it")
        return
    if got["arrived"] or got["replies"]:
        return
    shown_events = ", ".join(e["type"] for e in got["events"]) or "none"
    yield Found(
        f"the model failed ({got['calls']} request(s) to the failing upstream answered 500) and "
        f"the stream carried no error event and no reply (error, notice or progress events: "
        f"{shown_events}): the loading indicator stops and the user sees nothing (modelled), "
        "with no Retry",
        Evidence(capture=got.get("capture")),
    )
