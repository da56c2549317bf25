"""What the checks look at: one context type per kind of layer.

* :class:`ExchangeContext`: one capture and what the client expected of it (request, transport,
  framing);
* :class:`StreamContext`: one stream's decoded events and the analysis every event-level check
  shares (decoding, schema, ordering, rendering). The expensive part (schema validation of every
  event, the ordering state machine, the client model) is one pass over the events, run the first
  time a check asks for any of it; each check then reads its own verdicts from it;
* :class:`LifecycleContext`: a lifecycle and the diff of each load point (persistence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks._model import Evidence, excerpt
from chatkit_lab.checks._ordering_machine import OrderingMachine
from chatkit_lab.checks._reload import Reload
from chatkit_lab.checks.dialect import DialectVerdict, classify_events
from chatkit_lab.client import ClientModel, ClientState, Lifecycle
from chatkit_lab.client.protocol import SchemaResult, parse_event
from chatkit_lab.sse import Event

__all__ = [
    "ExchangeContext",
    "LifecycleContext",
    "StreamContext",
    "earlier_items",
    "reply_kind",
]


def reply_kind(capture: Capture) -> str:
    """The reply's kind by type and body: ``stream``, ``json``, ``html``, ``empty``, ``other``."""
    content_type = capture.content_type
    body = capture.body
    if content_type == "text/event-stream":
        return "stream"
    stripped = body.lstrip()
    if not stripped:
        return "empty"
    if content_type.endswith("json") or stripped[:1] in (b"{", b"["):
        # as the browser reads it; never raises (too deep for Python, or NaN, is still JSON-shaped)
        if capture.json_result().error_kind != "syntax":
            return "json"
    if stripped[:5].lower() in (b"data:", b"event") or stripped[:1] == b":":
        return "stream"
    if content_type == "text/html" or stripped[:1] == b"<":
        return "html"
    return "other"


@dataclass
class ExchangeContext:
    """One exchange: the capture, and what the client expected of it and sent before a transform."""

    capture: Capture
    expects: str | None = None
    """``stream``, ``json`` or ``None`` (unknown)."""
    client_body: bytes | None = None
    """What ChatKit sent before a client transform rewrote it (``None`` without a transform)."""

    @property
    def name(self) -> str:
        return self.capture.name

    @cached_property
    def kind(self) -> str:
        """:func:`reply_kind` of the capture."""
        return reply_kind(self.capture)


class StreamContext:
    """One stream's events, and the shared analysis the event-level checks read."""

    def __init__(
        self,
        events: Sequence[Event],
        request_type: str | None = None,
        capture: Capture | str | None = None,
        *,
        timing: bool = True,
        stopped: bool = False,
        earlier: frozenset[str] = frozenset(),
    ) -> None:
        self.events: list[Event] = events if isinstance(events, list) else list(events)
        self.earlier = earlier
        """Item ids the thread held before this stream (earlier streams and loads of the same
        session; empty when the stream is judged alone)."""
        self.stopped = stopped
        """The client stopped reading on purpose (the stop button): the end is not the server's."""
        self.request_type = request_type
        self.name: str | None = capture.name if isinstance(capture, Capture) else capture
        self.timing = timing
        self._results: list[SchemaResult] | None = None
        self._machine: OrderingMachine | None = None
        self._final: ClientState | None = None
        self._ui_items: list[int] | None = None

    @classmethod
    def of(cls, capture: Capture) -> StreamContext:
        """The context of a capture's events, request type and timing."""
        return cls(
            capture.events,
            capture.request_type,
            capture,
            timing=capture.timing,
            stopped=capture.ending.state == "stopped",
            earlier=earlier_items(capture),
        )

    # -- the shared pass -------------------------------------------------------------------

    @property
    def results(self) -> list[SchemaResult]:
        """The SDK's validation verdict per event (without the models)."""
        if self._results is None:
            self._replay()
        assert self._results is not None
        return self._results

    @property
    def ordering(self) -> OrderingMachine:
        """The ordering state machine after the last event."""
        if self._machine is None:
            self._replay()
        assert self._machine is not None
        return self._machine

    @property
    def final(self) -> ClientState:
        """The modelled client state after the last event."""
        if self._final is None:
            self._replay()
        assert self._final is not None
        return self._final

    @property
    def ui_items(self) -> list[int]:
        """How many items the modelled client shows after each event."""
        if self._ui_items is None:
            self._replay()
        assert self._ui_items is not None
        return self._ui_items

    @cached_property
    def verdicts(self) -> list[DialectVerdict]:
        """The dialect (and ChatKit equivalent) of each event."""
        return classify_events(self.events, self.results)

    @cached_property
    def undecodable(self) -> list[Event]:
        """The events whose data is not a JSON object."""
        return [event for event in self.events if event.decode_error is not None]

    @cached_property
    def invalid(self) -> list[tuple[Event, SchemaResult, DialectVerdict]]:
        """Each decodable event that is not a valid ChatKit event, with its verdicts."""
        return [
            (event, result, verdict)
            for event, result, verdict in zip(self.events, self.results, self.verdicts, strict=True)
            if not result.ok and event.decode_error is None
        ]

    def _replay(self) -> None:
        # One pass: each event's SDK model goes to the client model and the ordering machine and
        # is dropped; only the verdicts are kept (a model is several times the size of its JSON).
        model = ClientModel()
        machine = OrderingMachine(request_type=self.request_type, earlier=self.earlier)
        results: list[SchemaResult] = []
        ui_items: list[int] = []
        parsed: Any = None
        validate = parse_event
        apply = model.step
        feed = machine.feed
        keep_result = results.append
        keep_shown = ui_items.append
        # Equal verdicts are shared: every valid event of one type has the same verdict, and a
        # long run of one fault (a million `data: 1` frames) repeats its verdict; keeping one
        # object per event made the verdicts a fifth of a long stream's analysis memory.
        valid: dict[str | None, SchemaResult] = {}
        last: SchemaResult | None = None
        for event in self.events:
            result, parsed = validate(event)
            if result.ok and not result.errors:
                result = valid.setdefault(result.type, result)
            elif result == last:
                result = last
            last = result
            apply(event, parsed)
            feed(event, result, parsed)
            keep_result(result)
            keep_shown(model.visible_count)
        parsed = None  # the last event's model goes too
        self._results = results
        self._machine = machine
        self._final = model.current  # the model is dropped here: its state is the final one
        self._ui_items = ui_items

    def with_final(self, final: ClientState) -> StreamContext:
        """This context with the client state after the last event already known."""
        self._final = final
        return self

    # -- evidence --------------------------------------------------------------------------

    def evidence(self, event: Event, /, **detail: Any) -> Evidence:
        """Evidence pointing at one event of this stream."""
        return Evidence(
            capture=self.name,
            event_index=event.index,
            frame_index=event.frame_index,
            byte_range=event.byte_range,
            excerpt=excerpt(event.data),
            detail=detail,
        )


def earlier_items(capture: Capture) -> frozenset[str]:
    """The item ids the thread held before ``capture``'s request (recorded by the session)."""
    return frozenset(capture.thread_items_before)


@dataclass
class LifecycleContext:
    """A lifecycle (when there is one) and the diff of each load point after its streams."""

    lifecycle: Lifecycle | None = None
    reloads: list[Reload] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.lifecycle.target if self.lifecycle is not None else None
