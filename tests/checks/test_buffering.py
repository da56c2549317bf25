"""transport.buffered judges the spread of events after the response head."""

from __future__ import annotations

import json

from chatkit_lab import Capture
from chatkit_lab.capture import RequestRecord
from chatkit_lab.checks import ExchangeContext, run_layer

MS = 1_000_000
URL = "http://backend.test/chatkit"


def _stream(head_ms: float, event_ms: list[float]) -> Capture:
    made = Capture(
        request=RequestRecord("POST", URL, [], b'{"type":"threads.create"}'),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=int(head_ms * MS),
    )
    for number, at in enumerate(event_ms):
        payload = {"type": "progress_update", "text": f"step {number}"}
        made.add_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n", int(at * MS))
    return made


def _codes(capture: Capture) -> list[str]:
    return [f.code for f in run_layer("transport", ExchangeContext(capture, "stream")).findings]


def test_a_slow_first_byte_with_a_fast_body_is_not_buffering() -> None:
    # The head (with the first byte) comes after 2 s, then the body streams in under a ms.
    assert "transport.buffered" not in _codes(_stream(2000, [2000.1, 2000.3, 2000.5, 2000.7]))


def test_a_body_held_back_after_an_early_head_is_buffering() -> None:
    found = run_layer("transport", ExchangeContext(_stream(5, [3000, 3000.2, 3000.4]), "stream"))
    buffered = [f for f in found.findings if f.code == "transport.buffered"]
    assert buffered and "after the response head" in buffered[0].summary
    assert buffered[0].evidence.detail["headers_ms"] == 5.0


def test_events_spread_after_the_head_are_not_buffering() -> None:
    assert "transport.buffered" not in _codes(_stream(5, [50, 400, 800, 1200]))
