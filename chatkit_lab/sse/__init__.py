"""The SSE stage: response bytes to the messages ChatKit's client dispatches, and their JSON.

One parser decides: :class:`MessageParser` follows ``@microsoft/fetch-event-source``, the parser
ChatKit's host script uses, so what it dispatches is what ChatKit's UI really gets. Each message
keeps its byte range, the chunk that dispatched it and its arrival time, and notes where the
rules ignored or changed something (where a browser's ``EventSource`` would read the block
otherwise, the note says so). :func:`decode_messages` reads each message's payload as JSON;
:func:`parse_browser_json` reads a payload as the browser's ``JSON.parse`` does;
:func:`dumps_strict` writes JSON every parser accepts.
"""

from chatkit_lab.sse._dispatch import (
    BOM,
    DEFAULT_RETRY_MS,
    MAX_SAFE_INTEGER,
    Message,
    MessageParser,
    dispatch_bytes,
    dispatch_messages,
    has_data_line,
    js_parse_int,
    run_message_parser,
)
from chatkit_lab.sse._events import Event, decode_message, decode_messages
from chatkit_lab.sse._json import (
    BrowserJson,
    JsonIssue,
    browser_json_body,
    dumps_strict,
    json_kind,
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
    "JsonIssue",
    "Message",
    "MessageParser",
    "browser_json_body",
    "decode_message",
    "decode_messages",
    "dispatch_bytes",
    "dispatch_messages",
    "dumps_strict",
    "has_data_line",
    "js_parse_int",
    "json_kind",
    "may_differ",
    "parse_browser_json",
    "run_message_parser",
    "strict_json",
]
