"""One HAR entry to one :class:`Capture`: request, response head and body, what is wrong with it.

A HAR keeps no per-chunk arrival times, so every imported capture has its whole body in one
chunk and ``timing = False``: timing checks skip it. A damaged entry (no response body, bad
base64, missing fields) is imported as far as it goes; each defect is reported as a problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.sources._encoding import codings_of
from chatkit_lab.sources._har_read import json_kind

NO_TIMING_NOTE = "HAR keeps no per-chunk timing: timing checks are skipped"
MISSING_BODY_MESSAGE = (
    "response body not saved in the HAR (DevTools often drops event-stream bodies); "
    "re-export or use the recording proxy"
)
EMPTY_STREAM_MESSAGE = (
    "event-stream body is empty in the HAR: either the server sent nothing or DevTools did not "
    "save the stream; re-export or use the recording proxy to tell which"
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def chatkit_envelope_type(text: str) -> str | None:
    """The ``type`` of a ChatKit envelope ``{"type": ..., "params": {...}}``, else ``None``."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("params"), dict):
        kind = payload.get("type")
        return kind if isinstance(kind, str) else None
    return None


def entry_to_capture(
    entry: dict[str, Any], index: int, problems: list[str], *, creator: str = "", browser: str = ""
) -> Capture | None:
    """One HAR entry as a capture (``None`` when it has no usable request); what is wrong with it
    is appended to ``problems``."""
    capture = _entry_to_capture(entry, index, problems, creator, browser)
    if capture is not None:
        capture.id = _capture_id(capture, index)
    return capture


def _entry_to_capture(
    entry: dict[str, Any], index: int, problems: list[str], creator: str, browser: str
) -> Capture | None:
    request = entry.get("request")
    if not isinstance(request, dict):
        problems.append("entry has no 'request' object; skipped")
        return None
    method = request.get("method")
    url = request.get("url")
    if not isinstance(url, str) or not url:
        problems.append("request has no URL; skipped")
        return None
    if not isinstance(method, str) or not method:
        problems.append("request has no method; assumed GET")
        method = "GET"
    method = method.upper()
    headers, pseudo = _headers(request.get("headers"), "request", problems)
    body = _request_body(request, method, problems)
    record = RequestRecord(method=method, url=url, headers=headers, body=body)

    notes = [NO_TIMING_NOTE]
    har_meta: dict[str, Any] = {
        "entry": index,
        "startedDateTime": entry.get("startedDateTime"),
        "creator": creator,
        "browser": browser,
    }
    if pseudo:
        har_meta["request_pseudo_headers"] = [list(pair) for pair in pseudo]
    for key, meta_key in (
        ("_resourceType", "resource_type"),
        ("serverIPAddress", "server_ip"),
        ("time", "time_ms"),
        ("pageref", "pageref"),
    ):
        if entry.get(key) is not None:
            har_meta[meta_key] = entry[key]
    initiator = entry.get("_initiator")
    if isinstance(initiator, dict) and isinstance(initiator.get("type"), str):
        har_meta["initiator"] = initiator["type"]
    if isinstance(request.get("httpVersion"), str):
        har_meta["http_version"] = request["httpVersion"]

    capture = Capture(
        request=record,
        label=_label(record),
        target=_origin(url),
        transport="har",
        timing=False,
        id="",  # set from what was imported, once it all is (see _capture_id)
        started_at=_started(entry.get("startedDateTime"), problems),
        notes=notes,
        meta={"source": "har", "har": har_meta},
    )
    headers_ns, end_ns = _timings(entry.get("timings"))
    har_meta["timings"] = entry.get("timings") if isinstance(entry.get("timings"), dict) else None

    response = entry.get("response")
    if not isinstance(response, dict):
        problems.append("entry has no 'response' object; imported the request only")
        capture.ending = Ending("error", "the HAR holds no response for this request")
        return capture
    status = response.get("status")
    response_headers, response_pseudo = _headers(response.get("headers"), "response", problems)
    if response_pseudo:
        har_meta["response_pseudo_headers"] = [list(pair) for pair in response_pseudo]
    capture.response_headers = response_headers
    coding = capture.header("content-encoding")
    if codings_of(coding):
        # DevTools saves the body as the page read it: already decoded by the browser.
        body_size = response.get("bodySize")
        capture.meta["content_encoding"] = {
            "coding": coding,
            "decoded": True,
            "by": "browser",
            "raw_bytes": body_size if isinstance(body_size, int) and body_size >= 0 else None,
        }
    error = response.get("_error")
    if not isinstance(status, int) or isinstance(status, bool) or status <= 0:
        reason = error if isinstance(error, str) and error else "no error recorded"
        capture.status = None
        capture.ending = Ending(
            "error",
            f"no response in the HAR (status {status!r}: blocked, aborted or failed; {reason})",
        )
        notes.append(
            "the browser recorded no response: a CORS failure, an aborted request or "
            "a network error; the console tells which"
        )
        return capture
    capture.status = status
    capture.headers_ns = headers_ns
    no_body = status in (101, 204, 304) or method == "HEAD"
    data, missing = _response_body(response, capture.is_event_stream, no_body, problems)
    if data:
        capture.add_chunk(data, end_ns if end_ns is not None else (headers_ns or 0))
    if missing:
        notes.append(MISSING_BODY_MESSAGE)
        har_meta["body_missing"] = True
        capture.ending = Ending("error", MISSING_BODY_MESSAGE, at_ns=end_ns)
    else:
        capture.ending = Ending("complete", at_ns=end_ns)
    if isinstance(error, str) and error:
        notes.append(f"the browser recorded an error for this response: {error}")
    return capture


def _headers(
    raw: Any, which: str, problems: list[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    headers: list[tuple[str, str]] = []
    pseudo: list[tuple[str, str]] = []
    if raw is None:
        problems.append(f"{which} has no 'headers' list")
        return headers, pseudo
    if not isinstance(raw, list):
        problems.append(f"{which} 'headers' is {json_kind(raw)}, not a list; ignored")
        return headers, pseudo
    bad = 0
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            bad += 1
            continue
        name = item["name"]
        value = item.get("value")
        value = "" if value is None else value if isinstance(value, str) else str(value)
        (pseudo if name.startswith(":") else headers).append((name, value))
    if bad:
        problems.append(f"{bad} malformed {which} header(s) (no name) ignored")
    return headers, pseudo


def _request_body(request: dict[str, Any], method: str, problems: list[str]) -> bytes:
    post = request.get("postData")
    size = request.get("bodySize")
    if post is None:
        if method in _BODY_METHODS and not (isinstance(size, int) and size == 0):
            problems.append(
                f"request body not saved in the HAR ({method} without postData); "
                "the request type cannot be told"
            )
        return b""
    if not isinstance(post, dict):
        problems.append(f"request 'postData' is {json_kind(post)}, not an object; ignored")
        return b""
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            return _b64(text, "request body", problems)
        return _encode(text, "request body", problems)
    params = post.get("params")
    if isinstance(params, list) and params:
        pairs = [
            (str(p.get("name", "")), str(p.get("value", ""))) for p in params if isinstance(p, dict)
        ]
        problems.append(
            "request body rebuilt from postData.params (the HAR kept no raw text); "
            "it may differ from what was sent"
        )
        return urlencode(pairs).encode("ascii")
    if not (isinstance(size, int) and size == 0):
        problems.append("request body not saved in the HAR (postData has no text)")
    return b""


def _response_body(
    response: dict[str, Any], event_stream: bool, no_body: bool, problems: list[str]
) -> tuple[bytes, bool]:
    """The body bytes, and whether the body is missing from the HAR.

    ``no_body``: the response has no body by definition (HEAD, 101, 204, 304).
    """
    content = response.get("content")
    if not isinstance(content, dict):
        problems.append("response has no 'content' object")
        return b"", True
    text = content.get("text")
    size = content.get("size")
    known_size = isinstance(size, int) and not isinstance(size, bool) and size >= 0
    if not isinstance(text, str) or (text == "" and known_size and size > 0):
        if text is not None and not isinstance(text, str):
            problems.append(f"response content.text is {json_kind(text)}, not a string")
            return b"", True
        if not no_body and (event_stream or not known_size or size > 0):
            problems.append(MISSING_BODY_MESSAGE)
            return b"", True
        return b"", False
    if text == "" and event_stream:
        problems.append(EMPTY_STREAM_MESSAGE)
    encoding = content.get("encoding")
    if encoding == "base64":
        data = _b64(text, "response body", problems)
    elif encoding:
        problems.append(f"unknown content.encoding {encoding!r}; body read as plain text")
        data = _encode(text, "response body", problems)
    else:
        data = _encode(text, "response body", problems)
    if known_size and 0 < len(data) < size and not content.get("compression"):
        problems.append(
            f"response body holds {len(data)} bytes but content.size says {size}: "
            "the HAR may have cut it short"
        )
    return data, False


def _b64(text: str, what: str, problems: list[str]) -> bytes:
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        pass
    if _URLSAFE_B64.fullmatch(compact):
        try:
            return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            pass
    problems.append(f"{what} is marked base64 but is not valid base64; left empty")
    return b""


def _encode(text: str, what: str, problems: list[str]) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        data = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        problems.append(
            f"{what} holds invalid Unicode (lone surrogate escapes); those characters were "
            "replaced with '?'"
        )
        return text.encode("utf-8", errors="replace")
    problems.append(
        f"{what} is not valid UTF-8 in the HAR file; its raw bytes were kept as they are"
    )
    return data


def _timings(raw: Any) -> tuple[int | None, int | None]:
    """``(headers_ns, end_ns)`` from HAR timings, measured from when the request was sent."""
    if not isinstance(raw, dict):
        return None, None

    def ms(name: str) -> float | None:
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and 0 <= value < 1e12:
                return float(value)
        return None

    wait = ms("wait")
    receive = ms("receive")
    headers_ns = round(wait * 1e6) if wait is not None else None
    if headers_ns is None:
        return None, None
    end_ns = headers_ns + (round(receive * 1e6) if receive is not None else 0)
    return headers_ns, end_ns


def _started(value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not value:
        problems.append("entry has no startedDateTime")
        return ""
    try:
        return datetime.fromisoformat(value).isoformat(timespec="milliseconds")
    except ValueError:
        problems.append(f"startedDateTime {value!r} is not an ISO 8601 time; kept as text")
        return value


def _label(request: RequestRecord) -> str:
    kind = chatkit_envelope_type(request.body.decode("utf-8", errors="replace"))
    if kind:
        return kind
    path = urlsplit(request.url).path or "/"
    return f"{request.method} {path}"


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _capture_id(capture: Capture, index: int) -> str:
    """A stable id: re-importing the same HAR (as a file, text or object) gives the same ids.

    A digest of the entry's position and of what was imported from it (request, response head
    and body), computed without serialising the entry again: on a large HAR that cost more
    than reading it.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    request = capture.request
    head = [str(index), capture.started_at, request.method, request.url, str(capture.status)]
    for name, value in [*request.headers, ("", ""), *capture.response_headers]:
        head += (name, value)
    digest.update("\0".join(head).encode("utf-8", "surrogatepass"))
    digest.update(b"\0%d\0" % len(request.body))
    digest.update(request.body)
    for chunk in capture.chunks:
        digest.update(chunk.data)
    return "har" + digest.hexdigest()[:9]
