"""Schema: is each event a ChatKit ``ThreadStreamEvent``, and does the stream speak ChatKit at all?

The judge is the openai-chatkit SDK's own pydantic model, applied once per event in the stream's
shared pass (:mod:`chatkit_lab.client.protocol`); the dialect of each event (which protocol it
speaks, and what it should have been, :mod:`chatkit_lab.checks.dialect`) is classified from
those verdicts. Each check reads one :class:`~chatkit_lab.checks.StreamContext`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import StreamContext
from chatkit_lab.checks._model import Evidence, Finding, Found, check, excerpt, run_checks
from chatkit_lab.checks.dialect import DialectVerdict, dialect_counts
from chatkit_lab.client.protocol import SchemaResult
from chatkit_lab.sse import Event

__all__ = ["check_dialect", "check_schema"]

_SDK_FIX = (
    "Emit ChatKit events exactly as chatkit.types.ThreadStreamEvent defines them (serialize "
    "the SDK's models with model_dump_json(by_alias=True, exclude_none=True)); the easiest way "
    "is to serve ChatKitServer from openai-chatkit and yield its event models."
)

_FOREIGN_NOUNS = {
    "assistants": "Assistants API event",
    "responses": "Responses API event",
    "invented": "invented event name",
}


@check(
    code="schema.foreign_protocol",
    layer="schema",
    severity="error",
    description="The stream speaks ChatKit, not a neighbouring OpenAI protocol or invented "
    "event names.",
    expectation="Every event is a ChatKit ThreadStreamEvent; Assistants API (thread.message.*, "
    "thread.run.*) and Responses API (response.*, conversation.item.*) events are ignored by "
    "ChatKit.",
    fix="Emit ChatKit events: thread.item.added/updated/done with ThreadItem payloads; the "
    "easiest way is to serve ChatKitServer from openai-chatkit (its respond() can wrap an Agents "
    "SDK run with chatkit.agents.stream_agent_response).",
)
def foreign_protocol(stream: StreamContext) -> Iterator[Found]:
    """One summary finding when the stream speaks a foreign protocol (per-event detail aside)."""
    verdicts = stream.verdicts
    foreign = [v for v in verdicts if v.dialect in _FOREIGN_NOUNS]
    if not foreign:
        return
    counts = Counter(v.dialect for v in foreign)
    parts = [
        f"{count} {_FOREIGN_NOUNS[dialect]}{'s' if count != 1 else ''}"
        for dialect, count in counts.most_common()
    ]
    valid = sum(1 for v in verdicts if v.dialect == "chatkit")
    mapping: dict[str, str] = {}
    for verdict in foreign:
        if verdict.name and verdict.should_be and verdict.name not in mapping:
            mapping[verdict.name] = verdict.should_be
    events = stream.events
    first = events[foreign[0].index] if foreign[0].index < len(events) else None
    evidence = Evidence(
        capture=stream.name,
        event_index=first.index if first else None,
        frame_index=first.frame_index if first else None,
        byte_range=first.byte_range if first else None,
        excerpt=excerpt(first.data) if first else None,
        detail={
            "events": len(verdicts),
            "valid_chatkit": valid,
            "dialects": dialect_counts(verdicts),
            "should_be": mapping,
        },
    )
    only = (
        f"only {valid} valid ChatKit event{'s' if valid != 1 else ''}"
        if valid
        else "not one valid ChatKit event"
    )
    yield Found(
        f"{len(foreign)} of {len(verdicts)} events are not ChatKit ({', '.join(parts)}); "
        f"{only}: ChatKit ignores the rest",
        evidence,
    )


@check(
    code="schema.missing_type",
    layer="schema",
    severity="error",
    description="Every event object carries the string `type` field ChatKit dispatches on.",
    expectation="A `type` naming a ChatKit event (thread.created, thread.item.added, ...); the "
    "SSE `event:` line does not replace it.",
    fix="Put the event name in the JSON payload's `type` field: ChatKit ignores the SSE `event:` "
    "line. " + _SDK_FIX,
)
def missing_type(stream: StreamContext) -> Iterator[Found]:
    for event, result, verdict in stream.invalid:
        if result.type is not None:
            continue
        foreign, suggestion, extra = _dialect_words(verdict)
        name = ""
        if event.sse_event != "message":
            name = f" (only the SSE `event:` line says {event.sse_event!r})"
        yield Found(
            f"event #{event.index} has no JSON `type` field{name}{foreign}: ChatKit ignores it"
            f"{suggestion}",
            stream.evidence(event, sse_event=event.sse_event, errors=_errors(result), **extra),
            at=(event.index,),
        )


@check(
    code="schema.unknown_type",
    layer="schema",
    severity="error",
    description="Every event's `type` is one of ChatKit's ThreadStreamEvent types.",
    expectation="One of: thread.created, thread.updated, thread.item.added, thread.item.updated, "
    "thread.item.done, thread.item.removed, thread.item.replaced, stream_options, "
    "progress_update, client_effect, error, notice.",
    fix="Emit ChatKit events: thread.item.added/updated/done with ThreadItem payloads; the "
    "easiest way is to serve ChatKitServer from openai-chatkit.",
)
def unknown_type(stream: StreamContext) -> Iterator[Found]:
    for event, result, verdict in stream.invalid:
        if result.type is None or result.known_type:
            continue
        foreign, suggestion, extra = _dialect_words(verdict)
        yield Found(
            f"event #{event.index}: unknown event `type` {result.type!r}{foreign}: ChatKit "
            f"ignores it{suggestion}",
            stream.evidence(event, type=result.type, errors=_errors(result), **extra),
            at=(event.index,),
        )


@check(
    code="schema.invalid_event",
    layer="schema",
    severity="error",
    description="Every ChatKit event's fields validate against the SDK's ThreadStreamEvent model.",
    expectation="Required fields present with the SDK's types and literal values (items carry "
    "id, thread_id, ISO 8601 created_at; assistant content parts are `output_text`).",
    fix=_SDK_FIX,
)
def invalid_event(stream: StreamContext) -> Iterator[Found]:
    for event, result, verdict in stream.invalid:
        if result.type is None or not result.known_type:
            continue
        _, _, extra = _dialect_words(verdict)
        listed = "; ".join(result.messages[:4])
        more = f" (+{len(result.errors) - 4} more)" if len(result.errors) > 4 else ""
        yield Found(
            f"event #{event.index} ({result.type}) does not validate as a ChatKit event: "
            f"{listed}{more}",
            stream.evidence(event, type=result.type, errors=_errors(result), **extra),
            at=(event.index,),
        )


def _errors(result: SchemaResult) -> list[dict[str, Any]]:
    return [error.to_dict() for error in result.errors]


def _dialect_words(verdict: DialectVerdict) -> tuple[str, str, dict[str, Any]]:
    """(the foreign-protocol label, the suggestion, the evidence details) for one event."""
    extra: dict[str, Any] = {"dialect": verdict.dialect}
    if verdict.should_be:
        extra["should_be"] = verdict.should_be
    if verdict.advice:
        extra["advice"] = verdict.advice
    foreign = f" ({verdict.label})" if verdict.dialect in _FOREIGN_NOUNS else ""
    suggestion = ""
    if verdict.should_be == "nothing":
        suggestion = "; drop it (ChatKit has no equivalent)"
    elif verdict.should_be:
        suggestion = f"; send {verdict.should_be} instead"
    return foreign, suggestion, extra


def check_schema(
    events: list[Event],
    results: list[SchemaResult] | None = None,
    verdicts: list[DialectVerdict] | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """One finding per decodable event that is not a valid ChatKit event.

    ``results`` and ``verdicts`` are accepted for compatibility: the stream's shared pass
    validates and classifies every event itself.
    """
    stream = StreamContext(events, capture=capture)
    return run_checks((missing_type, unknown_type, invalid_event), stream).findings


def check_dialect(
    events: list[Event],
    verdicts: list[DialectVerdict] | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """The ``schema.foreign_protocol`` finding for a stream that speaks a foreign protocol
    (``verdicts`` is accepted for compatibility: the stream classifies its events itself)."""
    stream = StreamContext(events, capture=capture)
    return run_checks((foreign_protocol,), stream).findings
