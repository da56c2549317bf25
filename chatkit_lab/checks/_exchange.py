"""Per-exchange checks for the three lowest layers: request, transport and framing.

Each function takes one :class:`~chatkit_lab.Capture` (and what the client expected of it) and
returns findings. The layers above (decoding, schema, ordering, rendering) live in the event
analysis; persistence lives in the store diff.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import chatkit.types as chatkit_types

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._model import Evidence, Finding, finding, register_check
from chatkit_lab.redact._engine import redact_text


def _request_types(union: Any) -> frozenset[str]:
    """The ``type`` literals of a union of the SDK's request models."""
    return frozenset(
        member.model_fields["type"].default for member in typing.get_args(union)
    )


STREAMING_TYPES: frozenset[str] = _request_types(chatkit_types.StreamingReq)
"""ChatKit request types whose reply is ``text/event-stream`` (from the SDK's ``StreamingReq``)."""

NON_STREAMING_TYPES: frozenset[str] = _request_types(chatkit_types.NonStreamingReq)
"""ChatKit request types whose reply is JSON (from the SDK's ``NonStreamingReq``)."""

KNOWN_TYPES = STREAMING_TYPES | NON_STREAMING_TYPES

# -- request ---------------------------------------------------------------------------------

register_check(
    "request.http_error",
    "request",
    "The backend answers a ChatKit request with an HTTP error status.",
    "Every ChatKit request gets a 2xx reply.",
    "Make the endpoint accept ChatKit's envelope {type, params, metadata} at the URL the client "
    "is configured with, with the headers the client sends (auth, CORS).",
)
register_check(
    "request.redirect",
    "request",
    "The backend answers with a redirect.",
    "The ChatKit endpoint answers directly (no 3xx).",
    "Point api.url at the final URL; a redirected POST may lose its body or its credentials.",
)
register_check(
    "request.rewritten",
    "request",
    "A client transform (custom fetch) replaced the ChatKit request body with another shape.",
    "A custom fetch only adds headers or credentials; the body stays ChatKit's envelope.",
    "Let the custom fetch add the Authorization header and nothing else, and serve the ChatKit "
    "protocol on the backend (ChatKitServer.process) instead of translating requests.",
)
register_check(
    "request.not_chatkit",
    "request",
    "A request that got a chat stream back is not a ChatKit envelope {type, params}.",
    "What ChatKit sends reaches the backend unchanged: {type, params, metadata}.",
    "If a custom fetch rewrites ChatKit's body, make it add headers only; serve the ChatKit "
    "protocol on the backend (ChatKitServer.process) instead of a bespoke chat API.",
    severity="warning",
)
register_check(
    "request.answered_locally",
    "request",
    "A client transform answered a ChatKit request itself; the backend never saw it.",
    "Requests reach the backend (answering locally is safe only for types the UI does not use).",
    "Remove the local interception and let the backend answer it from its store.",
    severity="warning",
)

# -- transport -------------------------------------------------------------------------------

register_check(
    "transport.no_response",
    "transport",
    "No HTTP response arrived (connection refused, DNS or TLS failure).",
    "The endpoint accepts the connection and sends a response head.",
    "Check the URL, that the server listens there, and TLS settings.",
)
register_check(
    "transport.incomplete",
    "transport",
    "The exchange did not end normally (timeout, reset, size limit or error mid-stream).",
    "The response ends cleanly when the server is done.",
    "Make the stream end when the turn is done (return from the generator); check proxies "
    "and timeouts between client and server.",
)
register_check(
    "transport.expected_stream_got_json",
    "transport",
    "A streaming request type got a non-stream (JSON or other) reply.",
    "Streaming request types are answered with text/event-stream.",
    "Return StreamingResponse(result, media_type='text/event-stream') for StreamingResult.",
)
register_check(
    "transport.expected_json_got_stream",
    "transport",
    "A non-streaming request type got an event stream where JSON was expected.",
    "threads.get_by_id, items.list, threads.list ... are answered with application/json.",
    "Route non-streaming request types to JSON replies (NonStreamingResult.json) instead of "
    "sending every request to the chat stream.",
)
register_check(
    "transport.expected_json_got_other",
    "transport",
    "A non-streaming request type got a reply that is not JSON (empty, HTML or plain text).",
    "threads.get_by_id, items.list, threads.list ... are answered with a JSON body.",
    "Answer non-streaming request types with NonStreamingResult.json as application/json; an "
    "HTML page with status 200 usually means the request reached a frontend route or a login "
    "page instead of the ChatKit endpoint.",
)
register_check(
    "transport.content_type",
    "transport",
    "The Content-Type header does not match the body.",
    "Event streams are text/event-stream; JSON replies are application/json.",
    "Set media_type='text/event-stream' on streaming replies and application/json on the rest.",
    severity="warning",
)
register_check(
    "transport.compressed_stream",
    "transport",
    "The event stream is compressed (Content-Encoding).",
    "Event streams are sent uncompressed so each event can be flushed as it is produced.",
    "Exclude text/event-stream from gzip/brotli middleware or proxies.",
    severity="warning",
)
register_check(
    "transport.buffered",
    "transport",
    "The whole stream arrived at once at the end: something held it back.",
    "Events arrive as the server produces them, spread over the turn.",
    "Disable buffering for text/event-stream on every hop (Next.js rewrites, nginx "
    "proxy_buffering off / X-Accel-Buffering: no, compression middleware).",
    severity="warning",
)

# -- framing ---------------------------------------------------------------------------------

register_check(
    "framing.no_events",
    "framing",
    "The event stream holds no frame a browser would dispatch.",
    "Each event is a 'data: <json>' line followed by an empty line.",
    "Write each event as b'data: ' + json + b'\\n\\n'.",
)
register_check(
    "framing.truncated_frame",
    "framing",
    "The stream ended in the middle of a frame: a browser discards that event.",
    "Every frame, including the last, ends with an empty line.",
    "Terminate every event with a blank line ('\\n\\n'), the last one too.",
)
register_check(
    "framing.undispatched_frame",
    "framing",
    "A frame carries fields but no data line, so a browser dispatches nothing for it.",
    "Frames that carry an event have at least one data: line.",
    "Put the payload in a data: field; event:/id: alone dispatch nothing.",
    severity="warning",
)
register_check(
    "framing.invalid_utf8",
    "framing",
    "The stream holds bytes that are not UTF-8; a browser replaces them with U+FFFD.",
    "Event streams are UTF-8.",
    "Encode the payload as UTF-8 (json.dumps(...).encode('utf-8')).",
    severity="warning",
)


def reply_kind(capture: Capture) -> str:
    """The reply's kind by type and body: ``stream``, ``json``, ``html``, ``empty``, ``other``."""
    content_type = capture.content_type
    body = capture.body
    if content_type == "text/event-stream":
        return "stream"
    stripped = body.lstrip()
    if not stripped:
        return "stream" if content_type == "text/event-stream" else "empty"
    if content_type.endswith("json") or stripped[:1] in (b"{", b"["):
        try:
            json.loads(body)
            return "json"
        except (ValueError, UnicodeDecodeError):
            pass
    if stripped[:5].lower() in (b"data:", b"event") or stripped[:1] == b":":
        return "stream"
    if content_type == "text/html" or stripped[:1] == b"<":
        return "html"
    return "other"


def _excerpt(data: bytes | str, limit: int = 240) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_request(capture: Capture, client_body: bytes | None = None) -> list[Finding]:
    """Request-layer findings for one exchange.

    ``client_body`` is what ChatKit would have sent before a transform; when given and the wire
    body is no longer a ChatKit envelope, the rewrite is reported.
    """
    found: list[Finding] = []
    name = capture.name
    if capture.meta.get("answered_locally"):
        found.append(
            finding(
                "request.answered_locally",
                f"{capture.meta.get('client_type', 'a request')} was answered by the custom "
                "fetch; the backend never saw it",
                Evidence(capture=name, excerpt=_excerpt(capture.body)),
            )
        )
        return found
    if client_body is not None:
        try:
            client_payload: Any = json.loads(client_body)
        except ValueError:
            client_payload = None
        client_type = client_payload.get("type") if isinstance(client_payload, dict) else None
        wire_type = capture.request_type
        if client_type in KNOWN_TYPES and wire_type != client_type:
            found.append(
                finding(
                    "request.rewritten",
                    f"the custom fetch turned ChatKit's {client_type} into "
                    f"{capture.request.method} {_path(capture.request.url)} with a "
                    "non-ChatKit body",
                    Evidence(
                        capture=name,
                        excerpt=_excerpt(capture.request.body),
                        detail={"client_sent": client_type, "wire_type": wire_type or "none"},
                    ),
                )
            )
    elif (
        capture.request.method == "POST"
        and capture.request_type is None
        and capture.request.body
        and capture.is_event_stream
    ):
        found.append(
            finding(
                "request.not_chatkit",
                f"{capture.request.method} {_path(capture.request.url)} sent "
                f"{_body_keys(capture.request.body)}, not a ChatKit envelope",
                Evidence(capture=name, excerpt=_excerpt(capture.request.body)),
            )
        )
    status = capture.status
    hops = capture.meta.get("redirects")
    if isinstance(hops, list) and hops:
        found.append(_followed_redirects(capture, hops))
    if status is not None and 300 <= status < 400:
        found.append(
            finding(
                "request.redirect",
                f"HTTP {status} redirect to {capture.header('location') or '?'}",
                Evidence(capture=name, detail={"status": status}),
            )
        )
    elif status is not None and status >= 400:
        found.append(
            finding(
                "request.http_error",
                f"HTTP {status} for {capture.request_type or capture.request.method} "
                f"{_path(capture.request.url)}",
                Evidence(
                    capture=name,
                    excerpt=_excerpt(capture.body),
                    detail={"status": status, "content_type": capture.content_type or "none"},
                ),
            )
        )
    return found


def _body_keys(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "a non-JSON body"
    if isinstance(payload, dict):
        return "{" + ", ".join(str(key) for key in payload) + "}"
    return f"a JSON {type(payload).__name__}"


def _followed_redirects(capture: Capture, hops: list[Any]) -> Finding:
    """A warning for redirects the transport followed, saying what each hop lost."""
    first = hops[0] if isinstance(hops[0], dict) else {}
    steps = " -> ".join(
        f"{hop.get('status')} {hop.get('location')}" for hop in hops if isinstance(hop, dict)
    )
    lost = [note for note in capture.notes if "credentials not forwarded" in note]
    if any(hop.get("status") in (301, 302, 303) for hop in hops if isinstance(hop, dict)):
        lost.append(f"the request arrived as {capture.request.method} without its body")
    tail = f"; {'; '.join(lost)}" if lost else ""
    return finding(
        "request.redirect",
        f"HTTP {first.get('status')} redirect followed ({steps}){tail}",
        Evidence(capture=capture.name, detail={"redirects": len(hops)}),
        severity="warning",
    )


def _asked_for_json(capture: Capture) -> bool:
    """Whether the client sent a ChatKit request type whose reply is JSON."""
    asked = capture.meta.get("client_type") or capture.request_type
    return asked in NON_STREAMING_TYPES


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return parts.path or "/"


def check_transport(capture: Capture, expects: str | None) -> tuple[list[Finding], list[str]]:
    """Transport-layer findings, and the codes of checks skipped (with reasons) for this capture.

    ``expects`` is ``stream``, ``json`` or ``None`` (unknown).
    """
    found: list[Finding] = []
    skipped: list[str] = []
    name = capture.name
    if capture.meta.get("har", {}).get("body_missing"):
        skipped.append(
            "transport: the HAR file did not save this response body; nothing above the "
            "response head can be checked"
        )
        return found, skipped
    if capture.status is None:
        found.append(
            finding(
                "transport.no_response",
                capture.ending.message or "no response head arrived",
                Evidence(capture=name, detail={"url": capture.request.url}),
            )
        )
        return found, skipped
    if capture.ending.state != "complete":
        found.append(
            finding(
                "transport.incomplete",
                f"exchange ended by {capture.ending.state}: {capture.ending.message}",
                Evidence(
                    capture=name,
                    byte_range=(0, capture.size),
                    detail={
                        "ended": capture.ending.state,
                        "chunks_kept": len(capture.chunks),
                        "bytes_kept": capture.size,
                    },
                ),
            )
        )
    if capture.status >= 300:
        return found, skipped
    kind = reply_kind(capture)
    content_type = capture.content_type or "none"
    if expects == "stream" and kind != "stream":
        found.append(
            finding(
                "transport.expected_stream_got_json",
                f"{capture.request_type or 'streaming request'} got {_a(kind)} reply "
                f"(Content-Type {content_type})",
                Evidence(capture=name, excerpt=_excerpt(capture.body)),
            )
        )
    elif expects == "json" and kind == "stream":
        found.append(
            finding(
                "transport.expected_json_got_stream",
                f"{capture.meta.get('client_type') or capture.request_type or 'request'} "
                "expected JSON but got an event stream",
                Evidence(
                    capture=name,
                    excerpt=_excerpt(capture.body),
                    detail={"content_type": content_type},
                ),
            )
        )
    elif expects == "json" and kind != "json" and _asked_for_json(capture):
        found.append(
            finding(
                "transport.expected_json_got_other",
                f"{capture.meta.get('client_type') or capture.request_type or 'request'} "
                f"expected JSON but got {_a(kind)} reply (Content-Type {content_type})",
                Evidence(
                    capture=name,
                    excerpt=_excerpt(capture.body),
                    detail={"content_type": content_type, "bytes": capture.size},
                ),
            )
        )
    elif kind == "stream" and capture.content_type != "text/event-stream":
        found.append(
            finding(
                "transport.content_type",
                f"event-stream body sent with Content-Type {content_type}",
                Evidence(capture=name, detail={"content_type": content_type}),
            )
        )
    elif kind == "json" and not capture.content_type.endswith("json"):
        found.append(
            finding(
                "transport.content_type",
                f"JSON body sent with Content-Type {content_type}",
                Evidence(capture=name, detail={"content_type": content_type}),
            )
        )
    if kind == "stream":
        encoding = (capture.header("content-encoding") or "").strip().lower()
        if encoding and encoding != "identity":
            found.append(
                finding(
                    "transport.compressed_stream",
                    f"event stream sent with Content-Encoding {encoding}",
                    Evidence(capture=name, detail={"content_encoding": encoding}),
                )
            )
        if not capture.timing:
            skipped.append("transport.buffered: the source kept no per-chunk timing")
        else:
            buffered = buffering_evidence(capture)
            if buffered is not None:
                found.append(
                    finding(
                        "transport.buffered",
                        f"all {buffered['events']} events arrived within "
                        f"{buffered['spread_ms']:.1f} ms at the end of a "
                        f"{buffered['duration_ms']:.0f} ms exchange",
                        Evidence(capture=name, detail=buffered),
                    )
                )
    return found, skipped


def buffering_evidence(
    capture: Capture, min_events: int = 3, min_duration_ms: float = 100.0
) -> dict[str, Any] | None:
    """Timing evidence that a stream was held back until its end, or ``None``.

    Held back means: at least ``min_events`` events, the exchange took at least
    ``min_duration_ms`` from request to last byte, and every event arrived in the last tenth
    of that time (the first event came no earlier than 90 % of the way through).
    """
    events = capture.events
    if len(events) < min_events or not capture.chunks:
        return None
    end_ns = capture.chunks[-1].offset_ns
    duration_ms = end_ns / 1e6
    if duration_ms < min_duration_ms:
        return None
    first_ns = events[0].arrived_ns
    last_ns = events[-1].arrived_ns
    if first_ns < 0.9 * end_ns:
        return None
    head_ms = (capture.headers_ns or 0) / 1e6
    return {
        "events": len(events),
        "first_event_ms": round(first_ns / 1e6, 1),
        "last_event_ms": round(last_ns / 1e6, 1),
        "spread_ms": round((last_ns - first_ns) / 1e6, 1),
        "duration_ms": round(duration_ms, 1),
        "headers_ms": round(head_ms, 1),
        "chunks": len(capture.chunks),
    }


def check_framing(capture: Capture) -> list[Finding]:
    """Framing-layer findings for an event-stream reply."""
    found: list[Finding] = []
    name = capture.name
    frames = capture.frames
    if not any(frame.dispatched for frame in frames):
        encoding = (capture.header("content-encoding") or "").strip().lower()
        why = (
            f" (the body is {encoding}-compressed: the stream's bytes are not SSE text until "
            "decompressed)"
            if encoding and encoding != "identity"
            else ""
        )
        found.append(
            finding(
                "framing.no_events",
                f"{len(frames)} frame(s) in {capture.size} bytes, none dispatchable{why}",
                Evidence(
                    capture=name, byte_range=(0, capture.size), excerpt=_excerpt(capture.body)
                ),
            )
        )
    for frame in frames:
        if not frame.complete and frame.data:
            found.append(
                finding(
                    "framing.truncated_frame",
                    f"the final frame (bytes {frame.start}..{frame.end}) never got its empty "
                    "line; its event is lost",
                    Evidence(
                        capture=name,
                        frame_index=frame.index,
                        byte_range=frame.byte_range,
                        excerpt=_excerpt(frame.data),
                    ),
                )
            )
        elif frame.complete and not frame.dispatched and frame.fields:
            names = ",".join(sorted({field for field, _ in frame.fields}))
            if names != "retry":
                found.append(
                    finding(
                        "framing.undispatched_frame",
                        f"frame {frame.index} has fields ({names}) but no data line",
                        Evidence(
                            capture=name, frame_index=frame.index, byte_range=frame.byte_range
                        ),
                    )
                )
    bad_utf8 = [f for f in frames if any("invalid UTF-8" in note for note in f.notes)]
    if bad_utf8:
        found.append(
            finding(
                "framing.invalid_utf8",
                f"{len(bad_utf8)} frame(s) hold bytes that are not UTF-8",
                Evidence(
                    capture=name,
                    frame_index=bad_utf8[0].index,
                    byte_range=bad_utf8[0].byte_range,
                ),
            )
        )
    return found
