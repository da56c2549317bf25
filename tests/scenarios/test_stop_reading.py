"""Stopping a stream on purpose (the stop button): counted in the bytes, ended as ``stopped``,
seen by the server as a disconnect, and not blamed on the server by the end-of-stream checks."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import Any

import pytest

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.checks import STOPPED, ExchangeContext, StreamContext, run_layer
from chatkit_lab.sources import (
    HTTPTransport,
    InProcessTransport,
    Limits,
    LoopbackServer,
    StopReading,
)

MARKER = b"assistant_message.content_part.text_delta"
TICK = b'"type":"tick"'
EVENTS = 24
PAUSE_S = 0.02
STOP_AFTER = 3
END_CHECKS = ("transport.incomplete", "framing.truncated_frame", "ordering.unfinished_item")


# -- counting ------------------------------------------------------------------------------


def fed(rule: StopReading, chunks: list[bytes]) -> tuple[Any, list[bool]]:
    watch = rule.watch()
    return watch, [watch.feed(chunk) for chunk in chunks]


def test_a_marker_split_across_chunks_is_counted_once() -> None:
    half = len(MARKER) // 2
    watch, said = fed(StopReading(MARKER, 1), [b"data: {" + MARKER[:half], MARKER[half:] + b"}"])
    assert said == [False, True]
    assert watch.seen == 1


def test_a_marker_split_into_single_bytes_is_counted_once() -> None:
    watch, said = fed(StopReading(MARKER, 2), [bytes([b]) for b in b"x" + MARKER + b"yy"])
    assert watch.seen == 1 and not any(said)


def test_a_partial_marker_is_not_counted() -> None:
    watch, said = fed(StopReading(MARKER, 1), [MARKER[:-1], b'"', MARKER[1:], b"\n\n"])
    assert watch.seen == 0 and said == [False] * 4


def test_it_says_stop_on_the_chunk_that_completes_the_count_and_after() -> None:
    chunks = [b"data: " + MARKER + b"\n\n"] * 5
    watch, said = fed(StopReading(MARKER, 3), chunks)
    assert said == [False, False, True, True, True]
    assert watch.seen == 5


@pytest.mark.parametrize("seed", range(8))
def test_the_count_is_the_same_whatever_the_chunking(seed: int) -> None:
    shuffle = random.Random(seed)
    body = b"".join(
        b'data: {"update":{"type":"' + (MARKER if shuffle.random() < 0.6 else b"other") + b'"}}\n\n'
        for _ in range(30)
    )
    cuts = sorted(shuffle.sample(range(1, len(body)), 40))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    watch, _ = fed(StopReading(MARKER, 10_000), chunks)
    assert watch.seen == body.count(MARKER)


def test_it_keeps_less_than_one_marker_whatever_it_was_fed() -> None:
    watch = StopReading(MARKER, 10_000).watch()
    chunk = (b"x" * 4093 + MARKER[:7]) * 16
    for _ in range(64):  # 4 MiB of body
        watch.feed(chunk)
    held = sum(len(value) for value in vars(watch).values() if isinstance(value, bytes))
    assert held < len(MARKER)


@pytest.mark.parametrize(("marker", "count"), [(b"", 1), (MARKER, 0), (MARKER, -2)])
def test_a_rule_with_nothing_to_count_is_refused(marker: bytes, count: int) -> None:
    with pytest.raises(ValueError, match="non-empty marker"):
        StopReading(marker, count)


# -- a slow streaming app ------------------------------------------------------------------


class SlowStream:
    """An ASGI app streaming ``EVENTS`` ticks, ``PAUSE_S`` apart, each sent in two pieces
    split inside the marker; it notes when it learns the client went away."""

    def __init__(self) -> None:
        self.sent = 0
        self.finished = False
        self.gone = threading.Event()
        self.how: str | None = None

    def _left(self, how: str) -> None:
        self.how = self.how or how
        self.gone.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self._left("http.disconnect")

        listener = asyncio.create_task(listen())
        try:
            for number in range(EVENTS):
                frame = (
                    b"data: "
                    + json.dumps({"type": "tick", "n": number}, separators=(",", ":")).encode()
                    + b"\n\n"
                )
                cut = frame.index(TICK) + 5
                for piece in (frame[:cut], frame[cut:]):
                    if self.gone.is_set():
                        return
                    try:
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
                    except OSError:
                        self._left("send refused")
                        return
                self.sent += 1
                await asyncio.sleep(PAUSE_S)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            self.finished = True
        finally:
            listener.cancel()


def rule() -> StopReading:
    return StopReading(TICK, STOP_AFTER, f"stopped after {STOP_AFTER} ticks")


def assert_stopped_mid_stream(capture: Capture, app: SlowStream) -> None:
    assert capture.ending.state == "stopped"
    assert capture.ending.message == f"stopped after {STOP_AFTER} ticks"
    assert capture.status == 200
    assert STOP_AFTER <= capture.body.count(TICK) < EVENTS
    assert not app.finished and app.sent < EVENTS


async def test_in_process_the_capture_ends_stopped_and_the_app_sees_the_disconnect() -> None:
    app = SlowStream()
    transport = InProcessTransport(app)
    started = time.monotonic()
    capture = await transport.send("POST", "/stream", body=b"{}", limits=Limits(stop=rule()))
    assert time.monotonic() - started < EVENTS * PAUSE_S  # it did not wait for the end
    assert_stopped_mid_stream(capture, app)
    assert capture.body.count(TICK) == STOP_AFTER  # in process nothing more is read
    assert app.gone.is_set(), "the app never learned the client went away"
    sent = app.sent
    await asyncio.sleep(PAUSE_S * 5)
    assert app.sent == sent  # and it stopped sending


async def test_in_process_without_a_stop_rule_the_same_app_streams_to_the_end() -> None:
    app = SlowStream()
    capture = await InProcessTransport(app).send("POST", "/stream", body=b"{}")
    assert capture.ending.state == "complete"
    assert capture.body.count(TICK) == EVENTS and app.finished


async def test_over_http_the_capture_ends_stopped_and_the_app_sees_the_disconnect() -> None:
    app = SlowStream()
    with LoopbackServer(app) as server:
        transport = HTTPTransport(server.url, trust_env=False)
        started = time.monotonic()
        capture = await transport.send("POST", "/stream", body=b"{}", limits=Limits(stop=rule()))
        elapsed = time.monotonic() - started
        learned = await asyncio.to_thread(app.gone.wait, 5.0)
    assert elapsed < EVENTS * PAUSE_S
    assert_stopped_mid_stream(capture, app)
    assert learned, "the app never learned the client closed the connection"


# -- the end-of-stream checks ---------------------------------------------------------------


def cut_stream(ending: Ending) -> Capture:
    """A threads.create stream cut inside a reply: an item left open, a frame half-sent."""
    item = {
        "id": "msg_1",
        "thread_id": "thr_1",
        "created_at": "2025-01-01T00:00:00",
        "type": "assistant_message",
        "content": [],
    }
    payloads = [
        {"type": "stream_options", "stream_options": {"allow_cancel": True}},
        {"type": "thread.item.added", "item": item},
        {
            "type": "thread.item.updated",
            "item_id": "msg_1",
            "update": {
                "type": MARKER.decode(),
                "content_index": 0,
                "delta": "Once upon",
            },
        },
    ]
    made = Capture(
        request=RequestRecord("POST", "http://backend.test/chatkit", [], b"{}"),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=1_000_000,
        ending=ending,
        label="stopped case",
        client_type="threads.create",
    )
    for number, payload in enumerate(payloads, 2):
        made.add_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n", number * 1_000_000)
    made.add_chunk(b'data: {"type": "thread.item.upd', 6_000_000)
    return made


def end_check_outcomes(capture: Capture) -> tuple[set[str], list[Any]]:
    exchange = ExchangeContext(capture, "stream", None)
    outcomes = [
        run_layer("transport", exchange),
        run_layer("framing", exchange),
        run_layer("ordering", StreamContext.of(capture)),
    ]
    found = {f.code for outcome in outcomes for f in outcome.findings}
    skipped = [s for outcome in outcomes for s in outcome.skipped]
    return found, skipped


def test_a_stream_cut_by_the_server_trips_the_end_of_stream_checks() -> None:
    found, _ = end_check_outcomes(cut_stream(Ending("reset", "connection closed", 6_000_000)))
    assert set(END_CHECKS) <= found


def test_a_stream_the_client_stopped_skips_them_with_the_reason() -> None:
    stop = Ending("stopped", "the client stopped after 3 text deltas", 6_000_000)
    found, skipped = end_check_outcomes(cut_stream(stop))
    assert not set(END_CHECKS) & found
    by_code = {s.code: s for s in skipped}
    for code in END_CHECKS:
        assert code in by_code, f"{code} was neither found nor skipped"
        assert by_code[code].reason == STOPPED
