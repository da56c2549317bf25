"""The SSE stage: response bytes to the messages a client dispatches, and their JSON payloads.

Three opinions on the same bytes: :class:`MessageParser` follows ``@microsoft/fetch-event-source``
(the parser ChatKit's host script uses: what ChatKit's UI really gets), :class:`FrameParser`
follows WHATWG ``EventSource`` (a browser's own parser, with the byte-level detail the framing
checks read), and :func:`crosscheck_httpx_sse` runs ``httpx-sse``. :func:`crosscheck_dispatchers`
lists where the three disagree. :func:`parse_browser_json` reads a payload as the browser's
``JSON.parse`` does; :func:`dumps_strict` writes JSON every parser accepts.
"""

from chatkit_lab.sse._crosscheck import COLUMNS, CrosscheckResult, crosscheck_httpx_sse
from chatkit_lab.sse._dispatch import (
    DEFAULT_RETRY_MS,
    Message,
    MessageParser,
    dispatch_bytes,
    dispatch_messages,
    js_parse_int,
    run_message_parser,
)
from chatkit_lab.sse._divergence import (
    DIVERGENCE_COLUMNS,
    DispatchCrosscheck,
    crosscheck_dispatchers,
    whatwg_differences,
)
from chatkit_lab.sse._events import (
    Event,
    decode_event,
    decode_events,
    decode_message,
    decode_messages,
)
from chatkit_lab.sse._frames import BOM, Frame, FrameParser, parse_bytes, parse_frames
from chatkit_lab.sse._json import (
    MAX_SAFE_INTEGER,
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
    "COLUMNS",
    "DEFAULT_RETRY_MS",
    "DIVERGENCE_COLUMNS",
    "MAX_SAFE_INTEGER",
    "BrowserJson",
    "CrosscheckResult",
    "DispatchCrosscheck",
    "Event",
    "Frame",
    "FrameParser",
    "JsonIssue",
    "Message",
    "MessageParser",
    "browser_json_body",
    "crosscheck_dispatchers",
    "crosscheck_httpx_sse",
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
]
