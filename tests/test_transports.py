"""Transports record every chunk with its arrival time and never raise for network faults."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from chatkit_lab.capture import Capture
from chatkit_lab.errors import TargetError
from chatkit_lab.sources import (
    ClientRequest,
    HTTPTransport,
    InProcessTransport,
    Limits,
    LoopbackServer,
    Transport,
)

BODY = b'{"type":"threads.create","params":{},"metadata":{}}'
HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}
TOLERANCE_MS = 15.0

SLEEPS_S = (0.0, 0.08, 0.04, 0.12)
"""Sleep before each event of ``/stream``."""


def sse(payload: dict) -> bytes:
    """One event framed the way the ChatKit server SDK writes it."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _events(sleeps: tuple[float, ...]) -> AsyncIterator[bytes]:
    for number, pause in enumerate(sleeps):
        if pause:
            await asyncio.sleep(pause)
        yield sse({"type": "progress_update", "n": number})


async def stream(request: Request) -> Response:
    await request.body()
    return StreamingResponse(_events(SLEEPS_S), media_type="text/event-stream")


async def hang(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield sse({"type": "progress_update", "n": 0})
        await asyncio.sleep(10)
        yield sse({"type": "progress_update", "n": 1})

    return StreamingResponse(body(), media_type="text/event-stream")


async def big(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"data: " + b"x" * 1000 + b"\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


async def thread_json(request: Request) -> Response:
    payload = await request.json()
    return JSONResponse({"id": "thr_1", "echo": payload.get("type"), "items": {"data": []}})


async def echo_headers(request: Request) -> Response:
    return JSONResponse({k: v for k, v in request.headers.items()})


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=307)


async def boom(request: Request) -> Response:
    raise RuntimeError("backend exploded")


def make_app() -> Starlette:
    """A small app covering streaming, JSON, hangs, redirects and crashes."""
    return Starlette(
        routes=[
            Route("/stream", stream, methods=["POST"]),
            Route("/hang", hang, methods=["POST"]),
            Route("/big", big, methods=["POST"]),
            Route("/json", thread_json, methods=["POST"]),
            Route("/echo", echo_headers, methods=["GET", "POST"]),
            Route("/redirect", redirect, methods=["GET", "POST"]),
            Route("/boom", boom, methods=["POST"]),
        ]
    )


@pytest.fixture
def app() -> Starlette:
    return make_app()


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(make_app()) as running:
        yield running


def event_gaps_ms(capture: Capture) -> list[float]:
    arrivals = [event.arrived_ns for event in capture.events]
    return [(later - earlier) / 1e6 for earlier, later in zip(arrivals, arrivals[1:], strict=False)]


def assert_gaps_follow_sleeps(capture: Capture) -> None:
    assert capture.ending.state == "complete", capture.ending
    assert [event.payload["n"] for event in capture.events] == [0, 1, 2, 3]
    gaps = event_gaps_ms(capture)
    expected = [pause * 1000 for pause in SLEEPS_S[1:]]
    for gap, sleep in zip(gaps, expected, strict=True):
        assert abs(gap - sleep) < TOLERANCE_MS, (gaps, expected)


async def test_in_process_capture_keeps_the_gaps_between_events(app) -> None:
    capture = await InProcessTransport(app).send(
        "POST", "/stream", headers=HEADERS, body=BODY, label="stream"
    )
    assert capture.status == 200
    assert capture.is_event_stream
    assert capture.transport == "in-process"
    assert capture.label == "stream"
    assert capture.target == "http://chatkit-lab.test"
    assert capture.request.url == "http://chatkit-lab.test/stream"
    assert capture.request.body == BODY
    assert capture.headers_ns is not None and capture.headers_ns <= capture.chunks[0].offset_ns
    assert len(capture.chunks) == 4
    assert_gaps_follow_sleeps(capture)


async def test_http_capture_through_a_loopback_server_keeps_the_gaps_between_events(
    server: LoopbackServer,
) -> None:
    capture = await HTTPTransport(server.url).send("POST", "/stream", headers=HEADERS, body=BODY)
    assert capture.status == 200
    assert capture.transport == "http"
    assert capture.target == server.url
    assert capture.request.url == server.url + "/stream"
    assert capture.request.header("content-type") == "application/json"
    assert capture.header("content-encoding") is None
    assert_gaps_follow_sleeps(capture)


async def test_httpx_asgi_transport_collapses_the_gaps_which_is_why_it_is_not_used(app) -> None:
    arrivals: list[int] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        started = time.monotonic_ns()
        async with client.stream("POST", "/stream", headers=HEADERS, content=BODY) as response:
            async for _ in response.aiter_raw():
                arrivals.append(time.monotonic_ns() - started)
    first_ms = arrivals[0] / 1e6
    spread_ms = (arrivals[-1] - arrivals[0]) / 1e6
    assert first_ms >= sum(SLEEPS_S) * 1000 - TOLERANCE_MS  # nothing arrives until the end
    assert spread_ms < TOLERANCE_MS  # ... and then everything at once


async def test_a_non_streaming_json_reply_is_captured_whole(server: LoopbackServer, app) -> None:
    for transport in (HTTPTransport(server.url), InProcessTransport(app)):
        capture = await transport.send("POST", "/json", headers=HEADERS, body=BODY)
        assert capture.status == 200
        assert capture.content_type == "application/json"
        assert capture.ending.state == "complete"
        assert capture.json_body() == {
            "id": "thr_1",
            "echo": "threads.create",
            "items": {"data": []},
        }
        assert capture.events == []


@pytest.mark.parametrize("kind", ["in-process", "http"])
async def test_hitting_the_total_limit_keeps_the_partial_capture(
    kind: str, server: LoopbackServer, app
) -> None:
    limits = Limits(total_s=0.3)
    transport = InProcessTransport(app) if kind == "in-process" else HTTPTransport(server.url)
    started = time.monotonic()
    capture = await transport.send("POST", "/hang", headers=HEADERS, body=BODY, limits=limits)
    assert time.monotonic() - started < 2.5
    assert capture.status == 200
    assert capture.ending.state == "timeout"
    assert "total limit" in capture.ending.message
    assert len(capture.chunks) == 1
    assert [event.payload["n"] for event in capture.events] == [0]


@pytest.mark.parametrize("kind", ["in-process", "http"])
async def test_a_silent_stream_ends_at_the_read_limit(
    kind: str, server: LoopbackServer, app
) -> None:
    limits = Limits(read_s=0.2, total_s=5)
    transport = InProcessTransport(app) if kind == "in-process" else HTTPTransport(server.url)
    capture = await transport.send("POST", "/hang", headers=HEADERS, body=BODY, limits=limits)
    assert capture.ending.state == "timeout"
    assert "read limit" in capture.ending.message
    assert len(capture.chunks) == 1


@pytest.mark.parametrize("kind", ["in-process", "http"])
async def test_a_body_past_max_bytes_ends_with_state_limit(
    kind: str, server: LoopbackServer, app
) -> None:
    transport = InProcessTransport(app) if kind == "in-process" else HTTPTransport(server.url)
    capture = await transport.send("POST", "/big", body=BODY, limits=Limits(max_bytes=2500))
    assert capture.ending.state == "limit"
    assert capture.size == 2500


async def test_connection_refused_is_an_error_ending_not_an_exception(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    capture = await HTTPTransport().send("POST", url + "/chatkit", headers=HEADERS, body=BODY)
    assert capture.status is None
    assert capture.chunks == []
    assert capture.ending.state == "error"
    assert capture.ending.message == f"cannot connect to {url}: connection refused"


async def test_an_unsupported_url_is_an_error_ending_not_an_exception() -> None:
    capture = await HTTPTransport().send("POST", "ftp://127.0.0.1/x", body=BODY)
    assert capture.status is None
    assert capture.ending.state == "error"


async def test_an_app_that_crashes_in_process_gives_a_500_and_a_note(app) -> None:
    capture = await InProcessTransport(app).send("POST", "/boom", body=BODY)
    assert capture.status == 500
    assert any("backend exploded" in note for note in capture.notes)


async def test_a_bare_asgi_app_that_raises_before_responding_is_an_error_ending() -> None:
    async def broken(scope, receive, send) -> None:
        raise ValueError("no route")

    capture = await InProcessTransport(broken).send("POST", "/x", body=BODY)
    assert capture.status is None
    assert capture.ending.state == "error"
    assert "ValueError: no route" in capture.ending.message


async def test_an_app_that_stops_mid_body_is_an_error_ending_with_the_chunks_kept() -> None:
    async def quits(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})

    capture = await InProcessTransport(quits).send("GET", "/")
    assert capture.ending.state == "error"
    assert "before the response body ended" in capture.ending.message
    assert capture.body == b"data: 1\n\n"


async def test_redirects_are_recorded_not_followed_by_default(server: LoopbackServer) -> None:
    capture = await HTTPTransport(server.url).send("GET", "/redirect?to=/echo")
    assert capture.status == 307
    assert capture.header("location") == "/echo"


async def test_followed_redirects_never_carry_credentials_to_another_host(
    server: LoopbackServer,
) -> None:
    secret = {"authorization": "Bearer s3cr3t-token-value", "x-api-key": "k", "x-trace": "t"}
    transport = HTTPTransport(server.url, follow_redirects=True)
    same = await transport.send("GET", "/redirect?to=/echo", headers=secret)
    assert same.status == 200
    assert same.json_body()["authorization"] == secret["authorization"]
    other = f"http://localhost:{server.port}/echo"
    moved = await transport.send("GET", f"/redirect?to={other}", headers=secret)
    assert moved.status == 200, moved.ending
    received = moved.json_body()
    assert "authorization" not in received and "x-api-key" not in received
    assert received["x-trace"] == "t"
    assert moved.redirects[0]["status"] == 307
    assert any("credentials not forwarded" in note for note in moved.notes)


async def test_a_client_request_can_be_sent_as_is(app) -> None:
    request = ClientRequest.chatkit("/json", {"type": "threads.list", "params": {}})
    transport = InProcessTransport(app)
    assert isinstance(transport, Transport)
    capture = await transport.send_request(request, label="list")
    assert capture.label == "list"
    assert capture.request_type == "threads.list"
    assert capture.json_body()["echo"] == "threads.list"


def test_a_loopback_server_closes_its_port_on_exit(port_accepts: Callable[[int], bool]) -> None:
    with LoopbackServer(make_app()) as running:
        port = running.port
        assert running.url == f"http://127.0.0.1:{port}"
        assert port_accepts(port)
    assert not running.running
    assert not port_accepts(port)


async def test_a_loopback_server_works_as_an_async_context_manager(
    port_accepts: Callable[[int], bool],
) -> None:
    async with LoopbackServer(make_app()) as running:
        capture = await HTTPTransport().send("POST", running.url + "/json", body=BODY)
        assert capture.status == 200
    assert not port_accepts(running.port)


def test_a_loopback_server_on_a_busy_port_fails_with_a_clear_error(
    server: LoopbackServer,
) -> None:
    with pytest.raises(TargetError, match="cannot listen on 127.0.0.1"):
        LoopbackServer(make_app(), port=server.port).start()


def test_a_loopback_server_whose_app_fails_to_start_says_so() -> None:
    async def refuses(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return

    with pytest.raises(TargetError, match="stopped while starting"):
        LoopbackServer(refuses, start_timeout_s=5).start()


async def raw_server(reply: bytes) -> asyncio.Server:
    """A 127.0.0.1 server that reads the request head, writes ``reply`` and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_a_connection_closed_mid_body_is_a_reset_with_the_chunks_kept() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 500\r\n\r\n"
    server = await raw_server(head + b"data: 1\n\n")
    port = server.sockets[0].getsockname()[1]
    async with server:
        capture = await HTTPTransport().send("POST", f"http://127.0.0.1:{port}/", body=BODY)
    assert capture.status == 200
    assert capture.ending.state == "reset"
    assert capture.body == b"data: 1\n\n"


async def test_a_connection_closed_without_a_response_is_a_reset_without_status() -> None:
    server = await raw_server(b"")
    port = server.sockets[0].getsockname()[1]
    async with server:
        capture = await HTTPTransport().send("POST", f"http://127.0.0.1:{port}/", body=BODY)
    assert capture.status is None
    assert capture.ending.state == "reset"
    assert "without a response" in capture.ending.message
