"""Framing: does the event stream cut into messages ChatKit's parser hands the UI, whole and UTF-8?

ChatKit's host script parses every stream with ``@microsoft/fetch-event-source`` (a fact read
from the host script; see the protocol notes), so these checks read the messages that parser
dispatches (:attr:`chatkit_lab.Capture.messages`, :mod:`chatkit_lab.sse`). A browser's own
``EventSource`` follows other rules (WHATWG): where ChatKit's parser applied a rule of its own to
the bytes, the layer says so (``framing.empty_message``, ``framing.parser_divergence``), with the
rule and the byte range. Each check reads one :class:`~chatkit_lab.checks.ExchangeContext`
whose reply is an event stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import ExchangeContext
from chatkit_lab.checks._model import (
    STOPPED,
    Evidence,
    Finding,
    Found,
    Skip,
    check,
    checks_of,
    excerpt,
    run_checks,
)
from chatkit_lab.sse import Message, has_data_line

__all__ = ["check_framing"]

PARSER = "ChatKit's parser (fetch-event-source)"
MODELLED = (
    "What ChatKit's UI does with a message whose data is empty is not known (the iframe is "
    "closed): the kit models it as ignored."
)
SHOWN = 10
"""Findings one check yields one by one; the rest of the same kind are folded into one more."""
EXAMPLES = 5
"""Byte ranges listed in a grouped finding's evidence."""


def _range(message: Message) -> str:
    return f"{message.start}..{message.end}"


def _grouped(messages: list[Message]) -> dict[str, object]:
    return {"count": len(messages), "bytes": [_range(m) for m in messages[:EXAMPLES]]}


@check(
    code="framing.no_events",
    layer="framing",
    severity="error",
    description="The event stream holds no message with data: ChatKit's parser "
    "(fetch-event-source) hands the UI nothing to decode.",
    expectation="Each event is a 'data: <json>' line followed by a blank line (comments, "
    "retry: and stray blank lines dispatch messages with empty data, which carry no event).",
    fix="Write each event as b'data: ' + json + b'\\n\\n'.",
)
def no_events(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    messages = capture.messages
    if any(message.data for message in messages):
        return
    encoding = (capture.header("content-encoding") or "").strip().lower()
    why = (
        f" (the body is {encoding}-compressed: the stream's bytes are not SSE text until "
        "decompressed)"
        if encoding and encoding != "identity"
        else ""
    )
    empty = f"{len(messages)} message(s), all with empty data," if messages else "no message"
    yield Found(
        f"{PARSER} dispatches {empty} for {capture.size} bytes: no event reaches the UI{why}",
        Evidence(
            capture=capture.name,
            byte_range=(0, capture.size),
            excerpt=excerpt(capture.body),
            detail={"messages": len(messages)},
        ),
    )


@check(
    code="framing.truncated_frame",
    layer="framing",
    severity="error",
    description="The stream ended inside a block: ChatKit's parser (fetch-event-source) never "
    "dispatches bytes after the last blank line, so that event is lost (a browser's "
    "EventSource discards it too).",
    expectation="Every event, including the last, ends with a blank line.",
    fix="Terminate every event with a blank line ('\\n\\n'), the last one too.",
)
def truncated_frame(exchange: ExchangeContext) -> Iterator[Found | Skip]:
    capture = exchange.capture
    if capture.ending.state == "stopped":
        yield Skip(STOPPED)
        return
    parser = capture.dispatch
    tail = parser.unterminated
    if parser.undispatched is None or tail is None or not tail.data:
        return
    start, end = parser.undispatched
    yield Found(
        f"the last block (bytes {start}..{end}) never got its blank line: {PARSER} never "
        "dispatches it, so its event is lost",
        Evidence(
            capture=capture.name,
            byte_range=(start, end),
            excerpt=excerpt(tail.data),
            detail={"why": "; ".join(parser.tail_notes)},
        ),
        at=(len(capture.messages),),
    )


@check(
    code="framing.undispatched_frame",
    layer="framing",
    severity="warning",
    description="A block carries event: or id: but no data: no payload reaches the UI. ChatKit's "
    "parser (fetch-event-source) dispatches it as a message with empty data; a browser's "
    "EventSource (WHATWG) dispatches nothing.",
    expectation="Blocks that carry an event have at least one non-empty data: line.",
    fix="Put the payload in a data: field; event:/id: alone carry no event.",
)
def undispatched_frame(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    found = [m for m in capture.messages if not m.data and (m.event or m.id)]
    for message in found[:SHOWN]:
        names = ",".join(
            name for name, value in (("event", message.event), ("id", message.id)) if value
        )
        yield Found(
            f"message {message.index} (bytes {_range(message)}) sets {names} but no data: "
            "ChatKit's UI gets a message with empty data, a browser's EventSource nothing",
            Evidence(
                capture=capture.name,
                byte_range=message.byte_range,
                detail={"message": message.index, "event": message.event, "id": message.id},
            ),
            at=(message.index,),
        )
    rest = found[SHOWN:]
    if rest:
        yield Found(
            f"{len(rest)} more block(s) set event:/id: without data",
            Evidence(capture=capture.name, byte_range=rest[0].byte_range, detail=_grouped(rest)),
            at=(rest[0].index,),
        )


@check(
    code="framing.invalid_utf8",
    layer="framing",
    severity="warning",
    description="The stream holds bytes that are not UTF-8; ChatKit's parser decodes each field "
    "with TextDecoder, which replaces them with U+FFFD.",
    expectation="Event streams are UTF-8.",
    fix="Encode the payload as UTF-8 (json.dumps(...).encode('utf-8')).",
)
def invalid_utf8(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    messages = capture.messages
    bad = [m for m in messages if m.notes and any("invalid UTF-8" in n for n in m.notes)]
    if bad:
        yield Found(
            f"{len(bad)} message(s) hold bytes that are not UTF-8 (replaced with U+FFFD)",
            Evidence(capture=capture.name, byte_range=bad[0].byte_range, detail=_grouped(bad)),
            at=(len(messages),),
        )


_EMPTY_CAUSES = {
    "retry": "block(s) that set only retry:",
    "blank": "stray blank line(s) (a blank line right after another)",
    "data": "data: line(s) with an empty value",
    "comment": "comment-only block(s) (such as ': ping', a keep-alive) or blocks of ignored lines",
}


@check(
    code="framing.empty_message",
    layer="framing",
    severity="info",
    description="ChatKit's parser (fetch-event-source) dispatches every blank line as a message, "
    "even with empty data, where a browser's EventSource (WHATWG) dispatches nothing: a blank "
    "line after a comment-only block (': ping'), after a retry:-only block, or right after "
    "another blank line reaches ChatKit's UI as a message with data ''. What the UI does with "
    "it is not known (modelled as ignored).",
    expectation="Keep-alive comments and retry: lines are valid SSE; with ChatKit each of their "
    "blocks is one more message with empty data. Nothing to fix unless the UI misbehaves.",
    fix="To send ChatKit nothing extra, put comments and retry: lines in the same block as an "
    "event's data: line (no blank line of their own).",
)
def empty_message(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    messages = capture.messages
    empty = [m for m in messages if not m.data and not m.event and not m.id]
    if not empty:
        return
    body = capture.body if any(m.end - m.start > 2 for m in empty) else b""
    groups: dict[str, list[Message]] = {}
    for message in empty:
        if message.retry is not None:
            cause = "retry"
        elif message.end - message.start <= 2:
            cause = "blank"
        elif has_data_line(body[message.start : message.end], stream_start=message.start == 0):
            cause = "data"  # WHATWG dispatches it too: an empty data: line
        else:
            cause = "comment"
        groups.setdefault(cause, []).append(message)
    for cause, group in groups.items():
        first = group[0]
        other = (
            "a browser's EventSource dispatches them as empty events too"
            if cause == "data"
            else "a browser's EventSource dispatches nothing for them"
        )
        yield Found(
            f"{len(group)} {_EMPTY_CAUSES[cause]} reach ChatKit's UI as messages with empty "
            f"data (first at bytes {_range(first)}); {other}. {MODELLED}",
            Evidence(capture=capture.name, byte_range=first.byte_range, detail=_grouped(group)),
            at=(first.index,),
        )


_VARIABLE = re.compile(r"'[^']*'…?|-?\d+(?:\.\d+)?|inf")


@check(
    code="framing.parser_divergence",
    layer="framing",
    severity="info",
    description="ChatKit's parser (fetch-event-source) applied a rule of its own to a block, "
    "where a browser's EventSource (WHATWG) follows another, so tests with other SSE clients may "
    "not show what ChatKit gets. Its rules: a line without a colon is ignored (WHATWG: a field "
    "with an empty value, so 'data' adds an empty data line); empty data: lines before the first "
    "non-empty one are dropped (WHATWG keeps them as leading newlines); a BOM at the start of any "
    "field name or value is dropped (WHATWG: only at the start of the stream); retry: is read "
    "with parseInt ('12abc' is 12, '-5' is -5; WHATWG: ASCII digits only); an id holding NUL is "
    "kept (WHATWG ignores it).",
    expectation="The SDK's framing (data: <json> and a blank line per event) reads the same "
    "under both; the kit judges what ChatKit's parser dispatches.",
    fix="Write each event as b'data: ' + json + b'\\n\\n' with 'field: value' lines only "
    "(a colon on every line, one data: line, digits-only retry:, no BOM inside the stream).",
)
def parser_divergence(exchange: ExchangeContext) -> Iterator[Found]:
    capture = exchange.capture
    groups: dict[str, tuple[str, list[Message]]] = {}
    for message in capture.messages:
        for note in message.notes:
            if "WHATWG" in note:
                groups.setdefault(_VARIABLE.sub("…", note), (note, []))[1].append(message)
    for note, group in groups.values():
        first = group[0]
        yield Found(
            f"{len(group)} message(s): {note}; ChatKit gets data {excerpt(first.data, 60)!r} "
            f"(first at bytes {_range(first)})",
            Evidence(
                capture=capture.name,
                byte_range=first.byte_range,
                excerpt=excerpt(first.data),
                detail=_grouped(group),
            ),
            at=(first.index,),
        )


def check_framing(capture: Capture) -> list[Finding]:
    """Framing-layer findings for an event-stream reply."""
    return run_checks(checks_of(__name__), ExchangeContext(capture, "stream")).findings
