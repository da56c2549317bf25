"""Event-level analysis of one stream: the decoding, schema, ordering and rendering layers.

:func:`analyze_events` runs those layers' checks over one :class:`StreamContext` and keeps what
the checks saw (per-event schema verdicts, dialects, the modelled client state after each event)
so a notebook can show the evidence next to the findings. To keep a long stream's analysis small
it keeps the verdicts but not the SDK models behind them, and the final client state but not the
one after every event: those are replayed when first asked for. The client model is modelled
from the openai-chatkit server SDK's semantics, not from ChatKit.js source.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import StreamContext
from chatkit_lab.checks._model import LAYERS, Finding, Skipped
from chatkit_lab.checks.dialect import DialectVerdict, dialect_counts
from chatkit_lab.checks.registry import run_layer
from chatkit_lab.client import MODEL_NOTE, ClientModel, ClientState
from chatkit_lab.client.protocol import SchemaResult
from chatkit_lab.sse import Event

__all__ = ["STREAM_LAYERS", "EventAnalysis", "analyze_capture", "analyze_events"]

STREAM_LAYERS: tuple[str, ...] = ("decoding", "schema", "ordering", "rendering")
"""The layers whose checks read a stream's events."""


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
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    """The event-level checks that could not judge this stream, each with the reason."""
    final_state: ClientState | None = field(default=None, repr=False)
    """The modelled client state after the last event (``None``: replayed when asked for)."""
    ui_items: list[int] | None = field(default=None, repr=False)
    """Visible items after each event (``None``: counted from :attr:`states`)."""
    _states: list[ClientState] | None = field(default=None, init=False, repr=False, compare=False)
    redact: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    """What every display method passes its text through: whoever builds the analysis for
    showing (the diagnosis, with its run's redactor) sets it; checks never redact."""

    def _shown(self, text: str) -> str:
        return self.redaction()(text)

    def redaction(self) -> Callable[[str], str]:
        """:attr:`redact`, else the current redactor taught this stream's split secrets.

        Display is an exit, so it redacts what it shows; the stream's events are read as one
        text first, so a token sent in two deltas is hidden in each excerpt that holds a piece.
        """
        if self.redact is not None:
            return self.redact
        from chatkit_lab.redact import current_redactor

        joined = "\n".join(event.data for event in self.events if isinstance(event.data, str))
        return current_redactor().learned(joined).redact_text

    @property
    def states(self) -> list[ClientState]:
        """The modelled client state after each event.

        An analysis keeps only the final state and a few numbers per event; the states after
        every event are replayed (through a fresh client model) the first time they are read.
        """
        states = self._states
        if states is None:
            states = ClientModel().replay(self.events)
            if states and self.final_state is not None:
                states[-1] = self.final_state
            self._states = states
        return states

    @states.setter
    def states(self, value: list[ClientState]) -> None:
        self._states = value
        self.final_state = None
        self.ui_items = None

    @property
    def final(self) -> ClientState:
        """The modelled client state after the last event."""
        if self.final_state is not None:
            return self.final_state
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
        return self._shown(
            f"{len(self.events)} events ({counts}); findings: {layers}; "
            f"client model: {self.final.message}"
        )

    def __repr__(self) -> str:
        return f"<EventAnalysis {self.summary()}>"

    def _repr_html_(self) -> str:
        import html

        parts = [f"<p>{html.escape(self.summary())}</p>"]
        if self.findings:
            parts.append(self._findings_html())
        parts.append(self._shown(self.final.to_html()))
        parts.append(f"<p style='font-size:10px;color:#999'>Client {html.escape(MODEL_NOTE)}.</p>")
        return "".join(parts)

    def _findings_html(self) -> str:
        """The findings as an HTML table, in layer order, every text cell redacted and escaped."""
        import html

        shown = self.redaction()
        rows = [("layer", "code", "severity", "summary", "evidence", "fix")]
        for f in sorted(self.findings, key=lambda f: LAYERS.index(f.layer)):
            evidence = shown(f.evidence.describe(shown))
            rows.append((f.layer, f.code, f.severity, shown(f.summary), evidence, f.fix))
        cells = [
            "".join(f"<{tag}>{html.escape(str(cell))}</{tag}>" for cell in row)
            for tag, row in zip(["th"] + ["td"] * len(rows), rows, strict=False)
        ]
        return "<table>" + "".join(f"<tr>{row}</tr>" for row in cells) + "</table>"


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
    """Run the decoding, schema, ordering and rendering checks over one stream's events.

    ``request_type`` is the ChatKit request that produced the stream (``threads.create``, ...);
    ``None`` skips the checks that depend on it. ``capture`` (a :class:`Capture` or a name) only
    labels the evidence.
    """
    with _gc_paused():
        return analyze_stream(StreamContext(list(events), request_type, capture, timing=timing))


def analyze_capture(capture: Capture) -> EventAnalysis:
    """:func:`analyze_events` over a capture's events, request type and timing."""
    with _gc_paused():
        # framing and decoding happen here, under the same pause
        return analyze_stream(StreamContext.of(capture))


def analyze_stream(stream: StreamContext) -> EventAnalysis:
    """Run the stream layers' checks over one context and keep what they read."""
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for layer in STREAM_LAYERS:
        outcome = run_layer(layer, stream)
        findings += outcome.findings
        skipped += outcome.skipped
    return EventAnalysis(
        events=stream.events,
        request_type=stream.request_type,
        capture=stream.name,
        timing=stream.timing,
        results=stream.results,
        verdicts=stream.verdicts,
        findings=findings,
        skipped=skipped,
        final_state=stream.final,
        ui_items=stream.ui_items,
    )
