"""Request: did ChatKit's request reach the backend as ChatKit sent it, and was it accepted?

Each check reads one :class:`~chatkit_lab.checks.ExchangeContext`: the capture, and (when a
client transform ran) the body ChatKit would have sent before it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import ExchangeContext
from chatkit_lab.checks._model import (
    Evidence,
    Finding,
    Found,
    check,
    checks_of,
    excerpt,
    run_checks,
)
from chatkit_lab.client import SEND_TYPES, SOURCE
from chatkit_lab.client.protocol import KNOWN_TYPES, NON_STREAMING_TYPES
from chatkit_lab.client.session import carries_turn

__all__ = ["body_message", "check_request"]


_MAX_BODY_SCAN = 64 * 1024
"""How much of an error body :func:`body_message` reads."""

REWRITE_FIX = (
    "Let whatever sits between ChatKit and the backend (a custom fetch, a proxy) add the "
    "Authorization header and nothing else, and serve the ChatKit protocol on the backend "
    "(ChatKitServer.process, or your SDK's equivalent) instead of translating requests."
)
"""The one fix for a rewritten request, whether the rewrite was seen in process or recorded."""


def _reached_backend(exchange: ExchangeContext) -> bool:
    return not exchange.capture.answered_locally


@check(
    code="request.answered_locally",
    layer="request",
    severity="warning",
    description="A client transform answered a ChatKit request itself; the backend never saw it.",
    expectation="Requests reach the backend (answering locally is safe only for types the UI "
    "does not use).",
    fix="Remove the local interception and let the backend answer it from its store.",
)
def answered_locally(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if not _reached_backend(exchange):
        yield Found(
            f"{capture.client_type or 'a request'} was answered by the custom fetch; "
            "the backend never saw it",
            Evidence(capture=capture.name, excerpt=excerpt(capture.body)),
        )


@check(
    code="request.rewritten",
    layer="request",
    severity="error",
    description="A client transform (custom fetch) replaced the ChatKit request body with "
    "another shape.",
    expectation="A custom fetch only adds headers or credentials; the body stays ChatKit's "
    "envelope.",
    fix=REWRITE_FIX,
)
def rewritten(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if not _reached_backend(exchange) or exchange.client_body is None:
        return
    try:
        client_payload: Any = json.loads(exchange.client_body)
    except (ValueError, RecursionError):
        client_payload = None
    client_type = client_payload.get("type") if isinstance(client_payload, dict) else None
    wire_type = capture.request_type
    if client_type in KNOWN_TYPES and wire_type != client_type:
        yield Found(
            f"the custom fetch turned ChatKit's {client_type} into {capture.request.method} "
            f"{_path(capture.request.url)} with a non-ChatKit body",
            Evidence(
                capture=capture.name,
                excerpt=excerpt(capture.request.body),
                detail={"client_sent": client_type, "wire_type": wire_type or "none"},
            ),
        )


@check(
    code="request.not_chatkit",
    layer="request",
    severity="error",
    description="A recorded request that got a chat stream back is not a ChatKit envelope "
    "{type, params}: something between ChatKit and the backend (a custom fetch, a proxy) "
    "rewrote it.",
    expectation="What ChatKit sends reaches the backend unchanged: {type, params, metadata}.",
    fix=REWRITE_FIX,
)
def not_chatkit(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if not _reached_backend(exchange) or exchange.client_body is not None:
        return  # with the client's body at hand, request.rewritten judges the rewrite
    request = capture.request
    if (
        request.method == "POST"
        and capture.request_type is None
        and request.body
        and capture.is_event_stream
    ):
        yield Found(
            f"{request.method} {_path(request.url)} sent {_body_keys(request.body)}, not a "
            "ChatKit envelope: ChatKit only sends {type, params, metadata}, so something between "
            "ChatKit and the backend (a custom fetch, a proxy) rewrote the request",
            Evidence(capture=capture.name, excerpt=excerpt(request.body)),
        )


@check(
    code="request.redirect",
    layer="request",
    severity="error",
    description="The backend answers with a redirect that is not followed, or that loses the "
    "request's credentials or body on the way.",
    expectation="The ChatKit endpoint answers directly (no 3xx).",
    fix="Point api.url at the final URL; a redirected POST may lose its body or its credentials.",
)
def redirect(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if not _reached_backend(exchange):
        return
    hops = capture.redirects
    lost = _lost_on_the_way(capture, hops)
    if hops and lost:
        yield Found(_followed(capture, hops, lost), _hops_evidence(capture, hops))
    status = capture.status
    if status is not None and 300 <= status < 400:
        yield Found(
            f"HTTP {status} redirect to {capture.header('location') or '?'}",
            Evidence(capture=capture.name, detail={"status": status}),
        )


@check(
    code="request.redirect_followed",
    layer="request",
    severity="warning",
    description="The request was redirected, and the redirect was followed without losing "
    "anything.",
    expectation="The ChatKit endpoint answers directly (no 3xx).",
    fix="Point api.url at the final URL: every redirect costs a round trip, and one to another "
    "origin drops the credentials.",
)
def redirect_followed(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    hops = capture.redirects
    if _reached_backend(exchange) and hops and not _lost_on_the_way(capture, hops):
        yield Found(_followed(capture, hops, []), _hops_evidence(capture, hops))


@check(
    code="request.http_error",
    layer="request",
    severity="error",
    description="The backend answers a ChatKit request with an HTTP error status.",
    expectation="Every ChatKit request gets a 2xx reply.",
    fix="Make the endpoint accept ChatKit's envelope {type, params, metadata} at the URL the "
    "client is configured with, with the headers the client sends (auth, CORS).",
)
def http_error(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    status = capture.status
    if _reached_backend(exchange) and status is not None and status >= 400:
        said = body_message(capture)
        yield Found(
            f"HTTP {status} for {capture.request_type or capture.request.method} "
            f"{_path(capture.request.url)}" + (f": the backend answered “{said}”" if said else ""),
            Evidence(
                capture=capture.name,
                excerpt=excerpt(capture.body),
                detail={"status": status, "content_type": capture.content_type or "none"},
            ),
        )


@check(
    code="request.load_ran_a_turn",
    layer="request",
    severity="error",
    description="A request that asks for no turn (a thread load, a list, a delete) made the "
    "target run a chat turn: it answered with an event stream that carries a new turn (a "
    "thread, an item, a foreign message), not only stream options or progress.",
    expectation="Only sends (threads.create, threads.add_user_message, ...) run a turn; thread "
    "loads and lists are answered from the store with JSON.",
    fix="Route every ChatKit request type to its own handler (ChatKitServer.process does): a "
    "backend (or a custom fetch in front of it) that turns every request into a chat message "
    "makes each thread load a new, paid agent turn that also stores an empty user message.",
)
def load_ran_a_turn(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    kind = capture.client_type
    if kind is None or kind in SEND_TYPES or capture.kit:
        return
    if not _reached_backend(exchange) or not carries_turn(capture):
        return
    ui = (
        f"; {SOURCE} handed the UI {{}} for it (the reply is not JSON)"
        if kind in NON_STREAMING_TYPES
        else ""
    )
    yield Found(
        f"ChatKit's {kind} became a chat turn on the target: it answered with an event stream "
        f"of {len(capture.events)} events{ui}",
        Evidence(
            capture=capture.name,
            excerpt=excerpt(capture.request.body),
            detail={"client_sent": kind, "events": len(capture.events), "ui_got": "{}"}
            if ui
            else {"client_sent": kind, "events": len(capture.events)},
        ),
    )


@check(
    code="request.fetch_threw",
    layer="request",
    severity="error",
    description="The custom fetch threw instead of returning a Response.",
    expectation="api.fetch resolves with a Response for every request ChatKit makes.",
    fix="Make the custom fetch return fetch(input, init) (adding headers) for every request "
    "type, and let errors surface as HTTP statuses instead of exceptions.",
)
def fetch_threw(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    error = capture.fetch_error
    if error:
        kind = capture.client_type or capture.request_type or "a request"
        yield Found(
            f"the custom fetch threw on {kind}: {error}",
            Evidence(capture=capture.name, detail={"client_sent": kind}),
        )


@check(
    code="request.fetch_body_failed",
    layer="request",
    severity="error",
    description="The Response the custom fetch handed to ChatKit broke off while ChatKit read "
    "it, though the reply on the wire arrived whole.",
    expectation="The body ChatKit reads from the fetch's Response ends as the wire's did.",
    fix="Hand ChatKit the wire response (or a tee branch of it) and do not cancel or error the "
    "stream it reads; a transform stream must pass every chunk and close when its source ends.",
)
def fetch_body_failed(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    error = capture.fetch_body_error
    if error is not None:
        got = capture.fetch_body_bytes
        kind = capture.client_type or capture.request_type or "a request"
        yield Found(
            f"the Response the fetch handed back for {kind} broke off after {got} of "
            f"{capture.size} bytes ({error[:200]}): ChatKit got a broken stream, the wire a "
            "whole one",
            Evidence(capture=capture.name, detail={"chatkit_got": got, "wire": capture.size}),
        )


@check(
    code="request.fetch_name_undefined",
    layer="request",
    severity="error",
    description="The custom fetch used a name it does not define (a ref, a setter or a value "
    "its React component gave it) and caught the ReferenceError itself.",
    expectation="Every name the fetch uses is defined in its file: taken out of a component, "
    "the closure's names (token refs, setThreadId, state setters) come from the fetch "
    "template's names block.",
    fix="Add the missing name to the names block of your fetch file (see the fetch guide: "
    "`const nameRef = useRef(...)` or `const [, setName] = useState(...)`); the error was "
    "swallowed by the fetch's own catch, so the request went on with the wrong body.",
)
def fetch_name_undefined(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    missing = capture.fetch_undefined
    if missing:
        names = ", ".join(str(name) for name in missing[:5])
        kind = capture.client_type or capture.request_type or "a request"
        yield Found(
            f"the fetch file does not define {names}: its own catch swallowed the "
            f"ReferenceError on {kind}",
            Evidence(capture=capture.name, detail={"undefined": [str(n) for n in missing[:5]]}),
        )


@check(
    code="request.resent_by_chatkit",
    layer="request",
    severity="warning",
    description="ChatKit's host script re-sent a streaming request because its open check "
    "failed (a non-4xx error, or a reply that is not text/event-stream).",
    expectation="A stream opens at the first try: 2xx and a content type that starts with "
    "text/event-stream (case-sensitive).",
    fix="Answer streaming request types with status 200 and Content-Type text/event-stream; "
    "anything else (a 500, JSON with 200) is re-sent up to five times with the same body, so "
    "the user's message is saved again on every retry.",
)
def resent_by_chatkit(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    attempt = capture.attempt
    if attempt > 0:
        kind = capture.client_type or capture.request_type or "the request"
        wait = capture.retry_wait_s
        waited = f", after ChatKit waits {wait[0]:g}-{wait[1]:g} s" if wait else ""
        yield Found(
            f"{SOURCE} re-sent {kind} (retry {attempt} of 5{waited})",
            Evidence(capture=capture.name, detail={"attempt": attempt, "status": capture.status}),
        )


def body_message(capture: Capture) -> str:
    """What the backend said in an error body: its JSON ``message``/``detail``/``error``, a
    traceback's last line, or its first line of text ('' when it said nothing readable)."""
    body = capture.body[:_MAX_BODY_SCAN]
    payload = capture.json_body() if body else None
    if isinstance(payload, dict):
        for key in ("message", "detail", "error"):
            value = payload.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                first = value[0]  # a validation error list: its first message and where
                where = first.get("loc")
                place = ".".join(str(p) for p in where) if isinstance(where, list) else ""
                value = f"{first.get('msg', 'invalid')} ({place})" if place else first.get("msg")
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    text = body.decode("utf-8", errors="replace")
    if "<html" in text[:500].lower():
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if text.lstrip().startswith("Traceback (most recent call last)"):
        return lines[-1][:200]
    first = lines[0]
    return first[:200]


def _lost_on_the_way(capture: Capture, hops: list[dict[str, Any]]) -> list[str]:
    """What the followed redirects lost: the credentials, the method and body."""
    if not hops:
        return []
    lost = [note for note in capture.notes if "credentials not forwarded" in note]
    if any(hop.get("status") in (301, 302, 303) for hop in hops):
        lost.append(f"the request arrived as {capture.request.method} without its body")
    return lost


def _followed(capture: Capture, hops: list[dict[str, Any]], lost: list[str]) -> str:
    first = hops[0]
    steps = " -> ".join(f"{hop.get('status')} {hop.get('location')}" for hop in hops)
    tail = f"; {'; '.join(lost)}" if lost else ""
    return f"HTTP {first.get('status')} redirect followed ({steps}){tail}"


def _hops_evidence(capture: Capture, hops: list[dict[str, Any]]) -> Evidence:
    return Evidence(capture=capture.name, detail={"redirects": len(hops)})


def _body_keys(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "a non-JSON body"
    if isinstance(payload, dict):
        return "{" + ", ".join(str(key) for key in payload) + "}"
    return f"a JSON {type(payload).__name__}"


def _path(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return parts.path or "/"


def check_request(capture: Capture, client_body: bytes | None = None) -> list[Finding]:
    """Request-layer findings for one exchange.

    ``client_body`` is what ChatKit would have sent before a transform; when given and the wire
    body is no longer a ChatKit envelope, the rewrite is reported.
    """
    context = ExchangeContext(capture, client_body=client_body)
    return run_checks(checks_of(__name__), context).findings
