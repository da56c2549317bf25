"""Event-level analysis of one stream: decoding, schema, dialect, ordering, client model, rendering.

:func:`analyze_events` runs every event-level check over decoded events and keeps what the
checks saw (per-event schema verdicts, dialects, the modelled client state after each event) so a
notebook can show the evidence next to the findings. To keep a long stream's analysis small it
keeps the verdicts but not the SDK models behind them, and the final client state but not the
one after every event: those are replayed when first asked for. The client model is modelled
from the openai-chatkit server SDK's semantics, not from ChatKit.js source.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._model import LAYERS, Finding, findings_table
from chatkit_lab.checks.dialect import (
    DialectVerdict,
    check_dialect,
    classify_events,
    dialect_counts,
)
from chatkit_lab.checks.ordering import OrderingMachine
from chatkit_lab.checks.schema import SchemaResult, _validate_event, check_decoding, check_schema
from chatkit_lab.client._model import MODEL_NOTE, ClientModel, ClientState, check_rendering
from chatkit_lab.sse._events import Event

__all__ = ["EventAnalysis", "analyze_capture", "analyze_events"]

TABLE_COLUMNS = [
    "index",
    "time_ms",
    "type",
    "dialect",
    "valid",
    "errors",
    "should_be",
    "item_id",
    "ui_items_after",
    "sse_event",
]


@dataclass
class EventAnalysis:
    """Everything the event-level checks found in one stream, with the evidence they used."""

    events: list[Event]
    request_type: str | None = None
    capture: str | None = None
    timing: bool = True
    results: list[SchemaResult] = field(default_factory=list)
    """The SDK's validation verdict per event."""
    verdicts: list[DialectVerdict] = field(default_factory=list)
    """The dialect (and ChatKit equivalent) per event."""
    states: list[ClientState] = field(default_factory=list)
    """The modelled client state after each event.

    An analysis made by :func:`analyze_events` keeps only the final state and a few numbers per
    event; the states after every event are replayed the first time they are read.
    """
    findings: list[Finding] = field(default_factory=list)
    # ``states`` is stored in ``_states`` by the property installed below the class; an analysis
    # made by ``analyze_events`` leaves ``_states`` ``None`` and keeps ``_final`` (the state after
    # the last event) and ``_ui_items`` (visible items after each event) instead.

    @property
    def final(self) -> ClientState:
        """The modelled client state after the last event."""
        final = self._final
        if final is not None:
            return final
        states = self.states
        return states[-1] if states else ClientState()

    @property
    def renders_nothing(self) -> bool:
        return self.final.renders_nothing

    @property
    def dialects(self) -> dict[str, int]:
        """Event count per dialect (only dialects present)."""
        return dialect_counts(self.verdicts)

    @property
    def codes(self) -> list[str]:
        """The finding codes, in order (handy in tests and notebooks)."""
        return [f.code for f in self.findings]

    def table(self) -> pd.DataFrame:
        """One row per event: when, what, which dialect, valid or why not, what it should be."""
        rows = []
        ui_items = self._ui_items
        if ui_items is None:
            ui_items = [len(state.visible_items) for state in self.states]
        for event, result, verdict, shown in zip(
            self.events, self.results, self.verdicts, ui_items, strict=True
        ):
            rows.append(
                {
                    "index": event.index,
                    "time_ms": event.arrived_ns / 1e6 if self.timing else None,
                    "type": event.type,
                    "dialect": verdict.dialect,
                    "valid": result.ok,
                    "errors": "; ".join(result.messages),
                    "should_be": verdict.should_be,
                    "item_id": _item_id(event.payload),
                    "ui_items_after": shown,
                    "sse_event": event.sse_event,
                }
            )
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def findings_table(self) -> pd.DataFrame:
        return findings_table(self.findings)

    def summary(self) -> str:
        """A few lines: dialects, findings by layer, and what the client would show."""
        counts = ", ".join(f"{k}: {v}" for k, v in self.dialects.items()) or "no events"
        by_layer: dict[str, int] = {}
        for item in self.findings:
            by_layer[item.layer] = by_layer.get(item.layer, 0) + 1
        layers = (
            ", ".join(f"{layer} {by_layer[layer]}" for layer in LAYERS if layer in by_layer)
            or "none"
        )
        return (
            f"{len(self.events)} events ({counts}); findings: {layers}; "
            f"client model: {self.final.message}"
        )

    def __repr__(self) -> str:
        return f"<EventAnalysis {self.summary()}>"

    def _repr_html_(self) -> str:
        import html

        parts = [f"<p>{html.escape(self.summary())}</p>"]
        if self.findings:
            parts.append(self.findings_table().to_html(index=False))
        parts.append(self.final.to_html())
        parts.append(f"<p style='font-size:10px;color:#999'>Client {html.escape(MODEL_NOTE)}.</p>")
        return "".join(parts)


def _get_states(self: EventAnalysis) -> list[ClientState]:
    states = self._states
    if states is None:
        # Replay the events through a fresh client model: the same states, event for event, as
        # the analysis went through; the last one is the analysis's own final state.
        states = ClientModel().replay(self.events)
        if states and self._final is not None:
            states[-1] = self._final
        self._states = states
    return states


def _set_states(self: EventAnalysis, value: list[ClientState]) -> None:
    self._states = value
    self._final = None
    self._ui_items = None


# The dataclass machinery has already generated __init__/__eq__ (which read and write the
# attribute by name), so the property slots in without changing what they do.
EventAnalysis.states = property(_get_states, _set_states)  # type: ignore[assignment,method-assign]


def _item_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    item = payload.get("item")
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return item["id"]
    for key in ("item_id", "id"):
        if isinstance(payload.get(key), str):
            return payload[key]
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a stream's per-event objects are built.

    Analysis allocates several container objects per event and frees none of them, so a long
    stream makes the collector run full collections over an ever larger heap without finding
    anything: on a 100,000-event stream that was more than half the analysis time. Nothing built
    here forms reference cycles; the collector is switched back on (if it was on) on the way
    out, and catches up then.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyze_events(
    events: Sequence[Event],
    request_type: str | None = None,
    capture: Capture | str | None = None,
    *,
    timing: bool = True,
) -> EventAnalysis:
    """Run the decoding, schema, dialect, ordering, client-model and rendering checks.

    ``request_type`` is the ChatKit request that produced the stream (``threads.create``, ...);
    ``None`` skips the checks that depend on it. ``capture`` (a :class:`Capture` or a name) only
    labels the evidence.
    """
    with _gc_paused():
        return _analyze_events(list(events), request_type, capture, timing=timing)


def _analyze_events(
    events: list[Event],
    request_type: str | None,
    capture: Capture | str | None,
    *,
    timing: bool,
) -> EventAnalysis:
    name = capture.name if isinstance(capture, Capture) else capture
    # One pass: each event's SDK model goes to the client model and the ordering machine and is
    # dropped; only the verdicts are kept (a model is several times the size of its JSON).
    model = ClientModel()
    machine = OrderingMachine(request_type=request_type, capture=name)
    results: list[SchemaResult] = []
    ui_items: list[int] = []
    parsed: Any = None
    validate = _validate_event
    apply = model._step
    step = machine._step
    keep_result = results.append
    keep_shown = ui_items.append
    for event in events:
        result, parsed = validate(event)
        apply(event, parsed)
        step(event, result, parsed)
        keep_result(result)
        keep_shown(model._visible)
    parsed = None  # the last event's model goes too
    final = model._state  # the model is dropped here: its state is the final snapshot
    verdicts = classify_events(events, results)
    analysis = EventAnalysis(
        events=events,
        request_type=request_type,
        capture=name,
        timing=timing,
        results=results,
        verdicts=verdicts,
    )
    analysis._states = None
    analysis._final = final
    analysis._ui_items = ui_items
    findings: list[Finding] = []
    findings += check_decoding(events, name)
    findings += check_dialect(events, verdicts, name)
    findings += check_schema(events, results, verdicts, name)
    findings += machine.finish(events)
    findings += check_rendering(final, request_type, name)
    analysis.findings = findings
    return analysis


def analyze_capture(capture: Capture) -> EventAnalysis:
    """:func:`analyze_events` over a capture's events, request type and timing."""
    with _gc_paused():
        events = capture.events  # framing and decoding, under the same pause
        return _analyze_events(list(events), capture.request_type, capture, timing=capture.timing)
