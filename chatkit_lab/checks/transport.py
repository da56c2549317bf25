"""Transport: did a response arrive whole, of the kind the request type calls for, unbuffered?

Each check reads one :class:`~chatkit_lab.checks.ExchangeContext`: the capture and whether the
client expected a stream or JSON back. A compressed body is judged as the browser reads it:
the sources decode ``Content-Encoding`` (see :mod:`chatkit_lab.sources`), so a gzip'd JSON reply
is a JSON reply; a compressed event stream is still a warning (it holds events back), and a
body that is not what its ``Content-Encoding`` says is one finding of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import ExchangeContext
from chatkit_lab.checks._model import (
    STOPPED,
    Evidence,
    Finding,
    Found,
    Skip,
    Skipped,
    check,
    checks_of,
    excerpt,
    run_checks,
)
from chatkit_lab.client import SOURCE, stream_open
from chatkit_lab.client.protocol import NON_STREAMING_TYPES
from chatkit_lab.sources import encoding_info

__all__ = ["body_not_saved", "buffering_evidence", "check_transport"]


def _answered(exchange: ExchangeContext) -> bool:
    """A response head arrived with a 2xx (or 1xx) status and a body the browser could read."""
    status = exchange.capture.status
    return status is not None and status < 300 and _decoding_error(exchange.capture) is None


def _decoding_error(capture: Capture) -> str | None:
    """Why the body could not be decoded as its ``Content-Encoding`` says (``None``: it could)."""
    info = encoding_info(capture)
    error = info.get("error") if info is not None else None
    return error if isinstance(error, str) else None


def _wrong_reply(exchange: ExchangeContext) -> str | None:
    """The one reply-kind check that applies to this exchange, if any (they exclude each other)."""
    if not _answered(exchange):
        return None
    capture, expects, kind = exchange.capture, exchange.expects, exchange.kind
    if expects == "stream" and kind != "stream":
        return "transport.expected_stream_got_json"
    if expects == "json" and kind == "stream":
        return "transport.expected_json_got_stream"
    if expects == "json" and kind != "json" and _asked_for_json(capture):
        return "transport.expected_json_got_other"
    if expects == "stream" and kind == "stream" and _refused(capture):
        return "transport.stream_refused"
    if kind == "stream" and capture.content_type != "text/event-stream":
        return "transport.content_type"
    if kind == "json" and not capture.content_type.endswith("json"):
        return "transport.content_type"
    return None


def _refused(capture: Capture) -> bool:
    """Whether ChatKit's host script's open check refuses this event stream (fact)."""
    return stream_open(capture.status, capture.header("content-type")).verdict != "open"


def _asked_for_json(capture: Capture) -> bool:
    """Whether the client sent a ChatKit request type whose reply is JSON."""
    asked = capture.client_type or capture.request_type
    return asked in NON_STREAMING_TYPES


def _what_was_asked(capture: Capture) -> str:
    return capture.client_type or capture.request_type or "request"


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


@check(
    code="transport.no_response",
    layer="transport",
    severity="error",
    description="No HTTP response arrived (connection refused, DNS or TLS failure).",
    expectation="The endpoint accepts the connection and sends a response head.",
    fix="Check the URL, that the server listens there, and TLS settings.",
)
def no_response(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if capture.status is None:
        yield Found(
            capture.ending.message or "no response head arrived",
            Evidence(capture=capture.name, detail={"url": capture.request.url}),
        )


@check(
    code="transport.incomplete",
    layer="transport",
    severity="error",
    description="The exchange did not end normally (timeout, reset, size limit or error "
    "mid-stream).",
    expectation="The response ends cleanly when the server is done.",
    fix="Make the stream end when the turn is done (return from the generator); check proxies "
    "and timeouts between client and server.",
)
def incomplete(exchange: ExchangeContext) -> Iterator[Found | Skip]:
    capture = exchange.capture
    if capture.ending.state == "stopped":
        yield Skip(STOPPED)
        return
    if _decoding_error(capture) is not None:
        return  # the body ended where it stopped decoding: transport.undecodable_body says so
    if capture.status is not None and capture.ending.state != "complete":
        yield Found(
            f"exchange ended by {capture.ending.state}: {capture.ending.message}",
            Evidence(
                capture=capture.name,
                byte_range=(0, capture.size),
                detail={
                    "ended": capture.ending.state,
                    "chunks_kept": len(capture.chunks),
                    "bytes_kept": capture.size,
                },
            ),
        )


@check(
    code="transport.expected_stream_got_json",
    layer="transport",
    severity="error",
    description="A streaming request type got a non-stream (JSON or other) reply.",
    expectation="Streaming request types are answered with text/event-stream.",
    fix="Return StreamingResponse(result, media_type='text/event-stream') for StreamingResult.",
)
def expected_stream_got_json(exchange: ExchangeContext) -> Iterator[Found]:
    if _wrong_reply(exchange) == "transport.expected_stream_got_json":
        capture = exchange.capture
        yield Found(
            f"{capture.request_type or 'streaming request'} got {_a(exchange.kind)} reply "
            f"(Content-Type {capture.content_type or 'none'})",
            Evidence(capture=capture.name, excerpt=excerpt(capture.body)),
        )


@check(
    code="transport.stream_refused",
    layer="transport",
    severity="error",
    description="An event stream whose head fails ChatKit's open check: the host script "
    "never reads it, and re-sends the request.",
    expectation="A streaming reply is 2xx with a Content-Type that starts with "
    "text/event-stream, exactly (the host script's test is case-sensitive).",
    fix="Send the header as Content-Type: text/event-stream, in lower case "
    "(StreamingResponse(result, media_type='text/event-stream')); a proxy or framework that "
    "rewrites it must leave it as it is.",
)
def stream_refused(exchange: ExchangeContext) -> Iterator[Found]:
    if _wrong_reply(exchange) == "transport.stream_refused":
        capture = exchange.capture
        opened = stream_open(capture.status, capture.header("content-type"))
        yield Found(
            f"{_what_was_asked(capture)} got an event stream (Content-Type "
            f"{capture.header('content-type') or 'none'}) that {SOURCE} refuses at its open "
            f"check: {opened.reason}",
            Evidence(
                capture=capture.name,
                detail={"content_type": capture.header("content-type") or "none"},
            ),
        )


@check(
    code="transport.expected_json_got_stream",
    layer="transport",
    severity="error",
    description="A non-streaming request type got an event stream where JSON was expected.",
    expectation="threads.get_by_id, items.list, threads.list ... are answered with "
    "application/json.",
    fix="Route non-streaming request types to JSON replies (NonStreamingResult.json) instead of "
    "sending every request to the chat stream.",
)
def expected_json_got_stream(exchange: ExchangeContext) -> Iterator[Found]:
    if _wrong_reply(exchange) == "transport.expected_json_got_stream":
        capture = exchange.capture
        yield Found(
            f"{_what_was_asked(capture)} expected JSON but got an event stream",
            Evidence(
                capture=capture.name,
                excerpt=excerpt(capture.body),
                detail={"content_type": capture.content_type or "none"},
            ),
        )


@check(
    code="transport.expected_json_got_other",
    layer="transport",
    severity="error",
    description="A non-streaming request type got a reply that is not JSON (empty, HTML or "
    "plain text).",
    expectation="threads.get_by_id, items.list, threads.list ... are answered with a JSON body.",
    fix="Answer non-streaming request types with NonStreamingResult.json as application/json; "
    "an HTML page with status 200 usually means the request reached a frontend route or a login "
    "page instead of the ChatKit endpoint.",
)
def expected_json_got_other(exchange: ExchangeContext) -> Iterator[Found]:
    if _wrong_reply(exchange) == "transport.expected_json_got_other":
        capture = exchange.capture
        content_type = capture.content_type or "none"
        yield Found(
            f"{_what_was_asked(capture)} expected JSON but got {_a(exchange.kind)} reply "
            f"(Content-Type {content_type})",
            Evidence(
                capture=capture.name,
                excerpt=excerpt(capture.body),
                detail={"content_type": content_type, "bytes": capture.size},
            ),
        )


@check(
    code="transport.content_type",
    layer="transport",
    severity="warning",
    description="The Content-Type header does not match the body.",
    expectation="Event streams are text/event-stream; JSON replies are application/json.",
    fix="Set media_type='text/event-stream' on streaming replies and application/json on the rest.",
)
def content_type(exchange: ExchangeContext) -> Iterator[Found]:
    if _wrong_reply(exchange) == "transport.content_type":
        capture = exchange.capture
        what = "event-stream" if exchange.kind == "stream" else "JSON"
        sent = capture.content_type or "none"
        yield Found(
            f"{what} body sent with Content-Type {sent}",
            Evidence(capture=capture.name, detail={"content_type": sent}),
        )


@check(
    code="transport.compressed_stream",
    layer="transport",
    severity="warning",
    description="The event stream is compressed (Content-Encoding).",
    expectation="Event streams are sent uncompressed so each event can be flushed as it is "
    "produced.",
    fix="Exclude text/event-stream from gzip/brotli middleware or proxies.",
)
def compressed_stream(exchange: ExchangeContext) -> Iterator[Found]:
    if not _answered(exchange) or exchange.kind != "stream":
        return
    capture = exchange.capture
    encoding = (capture.header("content-encoding") or "").strip().lower()
    if encoding and encoding != "identity":
        yield Found(
            f"event stream sent with Content-Encoding {encoding}",
            Evidence(capture=capture.name, detail={"content_encoding": encoding}),
        )


@check(
    code="transport.undecodable_body",
    layer="transport",
    severity="error",
    description="The body is not what its Content-Encoding says (gzip that is not gzip data, a "
    "coding the kit cannot decode): a browser fails the request while reading the body.",
    expectation="A body sent with Content-Encoding is compressed that way; otherwise the header "
    "is left out.",
    fix="Compress the body the way Content-Encoding says, or drop the header (a proxy or "
    "middleware that sets it without compressing, or compresses twice, is the usual cause).",
)
def undecodable_body(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    error = _decoding_error(capture)
    if error is None or capture.status is None:
        return
    info = encoding_info(capture) or {}
    yield Found(
        f"the body cannot be decoded as Content-Encoding {info.get('coding') or '?'}: {error}",
        Evidence(
            capture=capture.name,
            byte_range=(0, capture.size),
            detail={
                "content_encoding": capture.header("content-encoding") or "",
                "raw_bytes": info.get("raw_bytes"),
                "decoded_bytes": capture.size,
            },
        ),
    )


@check(
    code="transport.buffered",
    layer="transport",
    severity="warning",
    description="The response head arrived, then nothing until the whole stream came at once "
    "at the end: something held the body back.",
    expectation="Events arrive as the server produces them, spread over the time after the "
    "response head (measured from the head, so a slow first byte with a fast body is fine; a "
    "hop that holds back the head as well cannot be told from a slow first byte).",
    fix="Disable buffering for text/event-stream on every hop (Next.js rewrites, nginx "
    "proxy_buffering off / X-Accel-Buffering: no, compression middleware).",
)
def buffered(exchange: ExchangeContext) -> Iterator[Found | Skip]:
    if not _answered(exchange) or exchange.kind != "stream":
        return
    capture = exchange.capture
    if not capture.timing:
        yield Skip("the source kept no per-chunk timing")
        return
    held = buffering_evidence(capture)
    if held is not None:
        yield Found(
            f"all {held['events']} events arrived within {held['spread_ms']:.1f} ms, "
            f"{held['duration_ms']:.0f} ms after the response head",
            Evidence(capture=capture.name, detail=held),
        )


def buffering_evidence(
    capture: Capture, min_events: int = 3, min_duration_ms: float = 100.0
) -> dict[str, Any] | None:
    """Timing evidence that a stream was held back until its end, or ``None``.

    Held back means: at least ``min_events`` events, at least ``min_duration_ms`` passed from
    the response head to the last byte, and every event arrived in the last tenth of that time
    (the first event came no earlier than 90 % of the way from the head to the end). Measured
    from the head: a slow first byte (head and body arriving late together) is not buffering.
    """
    events = capture.events
    if len(events) < min_events or not capture.chunks:
        return None
    head_ns = capture.headers_ns or 0
    end_ns = capture.chunks[-1].offset_ns
    duration_ms = (end_ns - head_ns) / 1e6
    if duration_ms < min_duration_ms:
        return None
    first_ns = events[0].arrived_ns
    last_ns = events[-1].arrived_ns
    if first_ns - head_ns < 0.9 * (end_ns - head_ns):
        return None
    head_ms = head_ns / 1e6
    return {
        "events": len(events),
        "first_event_ms": round(first_ns / 1e6, 1),
        "last_event_ms": round(last_ns / 1e6, 1),
        "spread_ms": round((last_ns - first_ns) / 1e6, 1),
        "duration_ms": round(duration_ms, 1),
        "headers_ms": round(head_ms, 1),
        "chunks": len(capture.chunks),
    }


def check_transport(capture: Capture, expects: str | None) -> tuple[list[Finding], list[Skipped]]:
    """Transport-layer findings, and the checks skipped (with reasons) for this capture.

    ``expects`` is ``stream``, ``json`` or ``None`` (unknown).
    """
    exchange = ExchangeContext(capture, expects)
    unsaved = body_not_saved(exchange)
    if unsaved is not None:
        return [], [unsaved]
    outcome = run_checks(checks_of(__name__), exchange)
    return outcome.findings, outcome.skipped


def body_not_saved(exchange: ExchangeContext) -> Skipped | None:
    """Why nothing above the response head can be judged: a HAR that kept no body (or ``None``)."""
    if not exchange.capture.body_missing:
        return None
    return Skipped(
        "transport",
        "the HAR file did not save this response body; nothing above the response head can be "
        "checked",
        exchange.name,
    )


@check(
    code="transport.json_not_utf8",
    layer="transport",
    severity="error",
    description="A JSON reply holds bytes that are not UTF-8.",
    expectation="JSON replies are UTF-8: the browser's response.json() decodes the body as "
    "UTF-8 before JSON.parse.",
    fix="Encode JSON replies as UTF-8 (json.dumps(...).encode('utf-8'), or let the framework "
    "serialise them); never write text in a legacy encoding such as Latin-1.",
)
def json_not_utf8(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    if exchange.kind == "stream" or not _answered(exchange):
        return
    if exchange.expects != "json" and not capture.content_type.endswith("json"):
        return
    body = capture.body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        parsed = capture.json_result().error is None
        what = capture.client_type or capture.request_type or "a request"
        got = (
            "reads them as U+FFFD, so ChatKit got changed text"
            if parsed
            else "then fails to parse the body, so ChatKit got {}"
        )
        yield Found(
            f"the reply to {what} holds bytes that are not UTF-8 (first at byte {exc.start}): "
            f"the browser's response.json() {got}",
            Evidence(
                capture=capture.name,
                byte_range=(exc.start, exc.end),
                excerpt=excerpt(body[max(exc.start - 40, 0) : exc.end + 40]),
                detail={"ui_got": "changed text" if parsed else "{}"},
            ),
        )


@check(
    code="transport.repeated_content_type",
    layer="transport",
    severity="warning",
    description="The reply carries more than one Content-Type header.",
    expectation="One Content-Type header: a browser joins repeated ones with ', ' (Headers.get), "
    "so the type ChatKit tests is the joined text.",
    fix="Set Content-Type once (a middleware or proxy often adds a second one): remove the "
    "duplicate where the reply is built or where it passes a proxy.",
)
def repeated_content_type(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    values = [v for k, v in capture.response_headers if k.lower() == "content-type"]
    if len(values) > 1:
        joined = ", ".join(values)
        yield Found(
            f"{len(values)} Content-Type headers; a browser reads them as {joined[:200]!r}",
            Evidence(capture=capture.name, detail={"content_type": values[:5]}),
        )
