"""Decoding: is every dispatched event's data one JSON object, as the browser's JSON.parse reads it?

Each check reads one :class:`~chatkit_lab.checks.StreamContext` (its decoded events). Payloads
are judged as ``JSON.parse`` judges them (:func:`chatkit_lab.sse.parse_browser_json`), not as
Python's :mod:`json` does.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import StreamContext
from chatkit_lab.checks._model import Finding, Found, check, checks_of, run_checks
from chatkit_lab.sse import Event, JsonIssue

__all__ = ["check_decoding"]

_DONE_HINT = " (`[DONE]` is an OpenAI Chat Completions/Assistants terminator; ChatKit has none)"
SHOWN = 20
"""Events a check names one by one; the rest are folded into one more finding."""


@check(
    code="decoding.not_json",
    layer="decoding",
    severity="error",
    description="Every dispatched SSE event's data is parsed as JSON, as the browser's JSON.parse "
    "parses it: NaN, Infinity and -Infinity (which Python's json accepts) are not JSON. A payload "
    "nested deeper than Python can decode (V8's JSON.parse accepts any depth) is reported here "
    "too: the kit cannot judge it.",
    expectation="Each event's data is one JSON object (the SDK writes `data: <compact JSON>` per "
    "event).",
    fix="Write each event as `data: ` + json.dumps(event, allow_nan=False) + a blank line; drop "
    "sentinels such as `[DONE]` (a ChatKit stream simply ends when the response ends), never "
    "split one JSON value over several events, and send non-finite numbers as strings or null.",
)
def not_json(stream: StreamContext) -> Iterator[Found]:
    for event in stream.undecodable:
        if event.payload is None:
            error = event.decode_error or ""
            if error.startswith("not JSON: "):
                hint = _DONE_HINT if event.data.strip() == "[DONE]" else ""
                said = f"is not JSON: {error.removeprefix('not JSON: ')}{hint}"
            else:
                said = f"could not be decoded: {error}"
            yield Found(
                f"event #{event.index} {said}",
                stream.evidence(event, error=event.decode_error),
                at=(event.index,),
            )


@check(
    code="decoding.not_object",
    layer="decoding",
    severity="error",
    description="Every decoded event is a JSON object.",
    expectation="Each event's data is a JSON object with a string `type` field.",
    fix='Send one JSON object per event, e.g. {"type": "thread.item.done", "item": {...}}, '
    "not a bare string, number or array.",
)
def not_object(stream: StreamContext) -> Iterator[Found]:
    for event in stream.undecodable:
        if event.payload is not None:
            yield Found(
                f"event #{event.index} is {event.decode_error}",
                stream.evidence(event, error=event.decode_error),
                at=(event.index,),
            )


def _with_issues(stream: StreamContext, kind: str) -> list[tuple[Event, list[JsonIssue]]]:
    found = []
    for event in stream.events:
        if event.json_issues:
            issues = [issue for issue in event.json_issues if issue.kind == kind]
            if issues:
                found.append((event, issues))
    return found


def _report(
    stream: StreamContext, found: list[tuple[Event, list[JsonIssue]]], what: str
) -> Iterator[Found]:
    for event, issues in found[:SHOWN]:
        shown = "; ".join(issue.describe() for issue in issues[:3])
        more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
        yield Found(
            f"event #{event.index}: {shown}{more}",
            stream.evidence(event, issues=[issue.to_dict() for issue in issues[:3]]),
            at=(event.index,),
        )
    rest = found[SHOWN:]
    if rest:
        first = rest[0][0]
        yield Found(
            f"{len(rest)} more event(s) hold {what}",
            stream.evidence(first, events=[event.index for event, _ in rest[:5]]),
            at=(first.index,),
        )


@check(
    code="decoding.number_changed",
    layer="decoding",
    severity="warning",
    description="A number in an event reads differently in the browser: JSON.parse makes every "
    "number a double, so 1e400 (or any number past 1.8e308, such as a 5,000-digit integer) is "
    "Infinity and an integer past 2**53 loses precision (9007199254740993 is 9007199254740992).",
    expectation="Numbers fit a double exactly: integers within ±(2**53 - 1), floats within range.",
    fix="Send ids and large integers as strings (ChatKit's ids are strings); keep numbers within "
    "a double's range.",
)
def number_changed(stream: StreamContext) -> Iterator[Found]:
    found = _with_issues(stream, "number")
    yield from _report(stream, found, "numbers the browser reads otherwise")


@check(
    code="decoding.lone_surrogate",
    layer="decoding",
    severity="warning",
    description="A string in an event holds an escaped lone UTF-16 surrogate (such as "
    '"\\ud800"): JSON.parse keeps it, but it is not a character and cannot be encoded as '
    "UTF-8 (the UI shows a replacement glyph; a server given it back may reject it). The kit "
    "replaces it with U+FFFD in what later stages read; the raw data is kept.",
    expectation="Strings hold whole characters: surrogates only in pairs (\\ud83d\\ude00).",
    fix="Do not cut strings inside a surrogate pair (slice text by code points, not UTF-16 "
    "units) and serialize with json.dumps of real str values.",
)
def lone_surrogate(stream: StreamContext) -> Iterator[Found]:
    yield from _report(stream, _with_issues(stream, "surrogate"), "lone surrogates")


def check_decoding(events: list[Event], capture: Capture | str | None = None) -> list[Finding]:
    """Findings for events whose data is not a JSON object, or that the browser reads otherwise."""
    return run_checks(checks_of(__name__), StreamContext(events, capture=capture)).findings
