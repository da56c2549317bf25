"""What ChatKit.js's host script does with each reply: its network layer, as fact.

The UI iframe is closed, but every request it makes is performed by the host script the page
loads (``chatkit.js``), which is public in minified form. What this module encodes was read from
that script (see the protocol notes, "The client's network layer"); it is *fact* about the
network layer, unlike :mod:`chatkit_lab.client._model`, which *models* what the iframe renders.

- A non-streaming reply that is not ``ok`` becomes an ``HttpError`` whose message is the JSON
  body's ``message`` (or the status text); an ``ok`` reply whose body does not parse as JSON
  becomes ``{}`` with no error anywhere.
- A streaming reply passes its open check only when ``ok`` and its ``content-type`` starts with
  ``text/event-stream`` (a case-sensitive prefix test). Otherwise a 4xx is fatal at once and
  anything else is retried, at most :data:`MAX_STREAM_RETRIES` times, the n-th retry after
  ``min(10 s, 1 s * 2**n)`` scaled by a random factor in [0.5, 1). Each retry re-sends the same
  request body. An error while the body is read is not retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from chatkit_lab.sse import browser_json_body

SOURCE = "ChatKit.js's host script"
"""How outputs name where these facts come from (versions on the CDN change)."""

STREAM_CONTENT_TYPE = "text/event-stream"
MAX_STREAM_RETRIES = 5
"""Retries after the first attempt: a failing stream is sent at most six times in all."""
_MAX_DELAY_S = 10.0
_BASE_DELAY_S = 1.0

OpenVerdict = Literal["open", "fatal", "retry"]


def retry_delay_range(retry: int) -> tuple[float, float]:
    """The bounds, in seconds, of the host script's wait before retry number ``retry`` (1..5)."""
    if not 1 <= retry <= MAX_STREAM_RETRIES:
        raise ValueError(f"retry must be 1..{MAX_STREAM_RETRIES}, not {retry}")
    delay = min(_MAX_DELAY_S, _BASE_DELAY_S * 2**retry)
    return (delay * 0.5, delay)


def status_text(status: int | None) -> str:
    """The reason phrase a browser shows as ``statusText`` (HTTP/1.1 reason, empty if unknown).

    Over HTTP/2 browsers report an empty status text; the kit's captures are HTTP/1.1.
    """
    if status is None:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass(frozen=True)
class StreamOpen:
    """The host script's open check on a streaming reply."""

    verdict: OpenVerdict
    """``open`` (the stream is read), ``fatal`` (the UI gets an error) or ``retry``."""
    reason: str
    ui_error: str | None = None
    """The error message the UI gets when the open check fails (``Streaming failed: ...``)."""


def stream_open(status: int | None, content_type: str | None) -> StreamOpen:
    """Judge a streaming reply's head as the host script does.

    ``content_type`` is the header value as a browser's ``Headers.get`` returns it (several
    values joined with ``", "``); ``None`` when absent. ``status`` ``None`` means no response
    at all (a network error), which the host script retries like a failed open.
    """
    if status is None:
        return StreamOpen("retry", "no response (network error): retried")
    ok = 200 <= status <= 299
    value = (content_type or "").strip()
    if ok and value.startswith(STREAM_CONTENT_TYPE):
        return StreamOpen("open", f"HTTP {status} {value}")
    error = f"Streaming failed: {status_text(status)}"
    shown = value or "no content-type"
    if 400 <= status <= 499:
        return StreamOpen("fatal", f"HTTP {status} is a client error: not retried", error)
    if ok:
        why = (
            f"HTTP {status} with {shown!r}, which does not start with {STREAM_CONTENT_TYPE!r} "
            "(the test is case-sensitive)"
        )
    else:
        why = f"HTTP {status}"
    return StreamOpen("retry", f"{why}: the open check fails and the request is re-sent", error)


@dataclass(frozen=True)
class JsonReply:
    """What the UI receives for a non-streaming request."""

    ok: bool
    """``True`` when the UI gets a value, ``False`` when it gets an ``HttpError``."""
    value: Any = field(default=None, repr=False)
    """The value the UI gets (``{}`` when the body did not parse)."""
    parsed: bool = True
    """``False`` when the body was not JSON and the host script substituted ``{}``."""
    error: str | None = None
    """The ``HttpError`` message the UI gets when the reply is not ``ok``."""
    status: int | None = None


def parse_json_body(body: bytes) -> tuple[bool, Any]:
    """``Response.json()`` as a browser does it: UTF-8 (a BOM dropped), ``JSON.parse``'s rules.

    Returns ``(parsed, value)``. ``NaN`` and ``Infinity`` are rejected, and numbers out of
    double range become infinities, as in the browser (:func:`chatkit_lab.sse.browser_json_body`).
    """
    result = browser_json_body(body)
    if result.error is not None:
        return False, None
    return True, result.value


def json_reply(status: int | None, body: bytes) -> JsonReply:
    """Judge a non-streaming reply as the host script does."""
    if status is None:
        return JsonReply(False, error="Failed to fetch (no response)", status=None)
    if not 200 <= status <= 299:
        parsed, value = parse_json_body(body)
        message = value.get("message") if parsed and isinstance(value, dict) else None
        text = str(message) if message not in (None, "", 0, False) else status_text(status)
        return JsonReply(False, error=text, status=status)
    parsed, value = parse_json_body(body)
    if not parsed:
        return JsonReply(True, {}, parsed=False, status=status)
    return JsonReply(True, value, status=status)


__all__ = [
    "MAX_STREAM_RETRIES",
    "SOURCE",
    "JsonReply",
    "StreamOpen",
    "json_reply",
    "parse_json_body",
    "retry_delay_range",
    "status_text",
    "stream_open",
]
