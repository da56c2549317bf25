"""The SSE stage: response bytes to the messages a client dispatches, and their JSON payloads.

:class:`MessageParser` follows ``@microsoft/fetch-event-source``, the parser ChatKit's host script
uses: what ChatKit's UI really gets, and what the kit judges. :class:`FrameParser` cuts the same
bytes as a browser's ``EventSource`` (WHATWG) for the byte-level view a capture keeps
(:attr:`chatkit_lab.Capture.frames`); :func:`whatwg_differences` states where it dispatches
otherwise, for the framing checks' wording. :func:`parse_browser_json` reads a payload as the
browser's ``JSON.parse`` does; :func:`dumps_strict` writes JSON every parser accepts.
"""

from chatkit_lab.sse._dispatch import (
    DEFAULT_RETRY_MS,
    MAX_SAFE_INTEGER,
    Message,
    MessageParser,
    dispatch_bytes,
    dispatch_messages,
    js_parse_int,
    run_message_parser,
)
from chatkit_lab.sse._events import (
    Event,
    decode_event,
    decode_events,
    decode_message,
    decode_messages,
)
from chatkit_lab.sse._frames import (
    BOM,
    Frame,
    FrameParser,
    parse_bytes,
    parse_frames,
    whatwg_differences,
    whatwg_opinion,
)
from chatkit_lab.sse._json import (
    BrowserJson,
    JsonIssue,
    browser_json_body,
    dumps_strict,
    may_differ,
    parse_browser_json,
    strict_json,
)

__all__ = [
    "BOM",
    "DEFAULT_RETRY_MS",
    "MAX_SAFE_INTEGER",
    "BrowserJson",
    "Event",
    "Frame",
    "FrameParser",
    "JsonIssue",
    "Message",
    "MessageParser",
    "browser_json_body",
    "decode_event",
    "decode_events",
    "decode_message",
    "decode_messages",
    "dispatch_bytes",
    "dispatch_messages",
    "dumps_strict",
    "js_parse_int",
    "may_differ",
    "parse_browser_json",
    "parse_bytes",
    "parse_frames",
    "run_message_parser",
    "strict_json",
    "whatwg_differences",
    "whatwg_opinion",
]
