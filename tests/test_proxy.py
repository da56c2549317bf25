"""The recording proxy relays each piece as it arrives and records what went through it."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from typer.testing import CliRunner

from chatkit_lab.capture import Capture, load_captures
from chatkit_lab.cli import app as cli_app
from chatkit_lab.sources import LoopbackServer, RecordingProxy, parse_listen, parse_upstream

PAUSE_S = 0.15
EVENTS = 4
ENVELOPE = {"type": "threads.create", "params": {"input": {"content": []}}, "metadata": {}}
# A JWT-shaped value ({"alg":"HS256","typ":"JWT"} . {"sub":"u1"} . signature); not a real key.
FAKE_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


class Backend:
    """A loopback backend that notes when it yields each event and when a stream is abandoned."""

    def __init__(self) -> None:
        self.sent_ns: list[int] = []
        self.abandoned = asyncio.Event()
        self.abandoned_flag = False

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/chatkit", self.stream, methods=["POST"]),
                Route("/hang", self.hang, methods=["POST"]),
                Route("/break", self.breaks, methods=["POST"]),
                Route("/json", self.json, methods=["POST"]),
                Route("/gzip", self.gzipped, methods=["GET"]),
                Route("/echo", self.echo, methods=["GET", "POST"]),
            ]
        )

    @staticmethod
    def event(number: int) -> bytes:
        payload = {"type": "progress_update", "n": number, "text": f"step {number}"}
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    async def stream(self, request: Request) -> Response:
        await request.body()

        async def body() -> AsyncIterator[bytes]:
            for number in range(EVENTS):
                if number:
                    await asyncio.sleep(PAUSE_S)
                self.sent_ns.append(time.monotonic_ns())
                yield self.event(number)

        return StreamingResponse(body(), media_type="text/event-stream")

    async def hang(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            try:
                yield self.event(0)
                await asyncio.sleep(10)
                yield self.event(1)
            finally:
                self.abandoned_flag = True

        return StreamingResponse(body(), media_type="text/event-stream")

    async def breaks(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield self.event(0)
            await asyncio.sleep(0.05)
            raise RuntimeError("backend crashed mid-stream")

        return StreamingResponse(body(), media_type="text/event-stream")

    async def json(self, request: Request) -> Response:
        payload = await request.json()
        return JSONResponse({"id": "thr_1", "echo": payload.get("type"), "items": {"data": []}})

    async def gzipped(self, request: Request) -> Response:
        data = json.dumps({"data": [{"id": f"thr_{n}"} for n in range(50)]}).encode()
        return Response(
            gzip.compress(data),
            media_type="application/json",
            headers={"content-encoding": "gzip"},
        )

    async def echo(self, request: Request) -> Response:
        return JSONResponse({"headers": dict(request.headers), "query": str(request.query_params)})


def unused_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[Backend, LoopbackServer]]:
    state = Backend()
    with LoopbackServer(state.app()) as server:
        yield state, server


@pytest.fixture
def proxied(
    backend: tuple[Backend, LoopbackServer], tmp_path: Path
) -> Iterator[tuple[RecordingProxy, LoopbackServer]]:
    proxy = RecordingProxy(backend[1].url, out_dir=tmp_path / "captures")
    with LoopbackServer(proxy.app) as server:
        yield proxy, server


async def wait_for_captures(proxy: RecordingProxy, count: int, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while len(proxy.captures) < count:
        assert time.monotonic() < deadline, f"only {len(proxy.captures)} captures recorded"
        await asyncio.sleep(0.01)


async def test_the_proxy_delivers_each_event_before_the_server_sends_the_next(
    backend: tuple[Backend, LoopbackServer], proxied: tuple[RecordingProxy, LoopbackServer]
) -> None:
    state, _ = backend
    proxy, server = proxied
    state.sent_ns.clear()
    received: list[tuple[int, bytes]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream(
            "POST",
            "/chatkit",
            json=ENVELOPE,
            headers={"accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers
            async for piece in response.aiter_raw():
                received.append((time.monotonic_ns(), piece))
    await wait_for_captures(proxy, 1)

    assert len(state.sent_ns) == EVENTS
    assert len(received) == EVENTS, [piece for _, piece in received]
    for number, (_, piece) in enumerate(received):
        assert piece == Backend.event(number)
    for number in range(EVENTS - 1):
        assert received[number][0] < state.sent_ns[number + 1], f"event {number} held back"
    gaps_ms = [
        (later[0] - earlier[0]) / 1e6
        for earlier, later in zip(received, received[1:], strict=False)
    ]
    for gap in gaps_ms:
        assert abs(gap - PAUSE_S * 1000) < 60, gaps_ms

    capture = proxy.captures[0]
    assert capture.transport == "proxy"
    assert capture.label == "threads.create"
    assert capture.status == 200
    assert capture.ending.state == "complete", capture.ending
    assert capture.request.url == proxy.upstream + "/chatkit"
    assert json.loads(capture.request.body) == ENVELOPE
    assert capture.body == b"".join(piece for _, piece in received)
    assert [chunk.data for chunk in capture.chunks] == [piece for _, piece in received]
    assert [event.payload["n"] for event in capture.events] == list(range(EVENTS))
    sends = capture.meta["client_send_ns"]
    assert len(sends) == len(capture.chunks)
    for chunk, sent in zip(capture.chunks, sends, strict=True):
        assert chunk.offset_ns <= sent
    chunks = capture.chunks
    arrival_gaps = [
        (b.offset_ns - a.offset_ns) / 1e6 for a, b in zip(chunks, chunks[1:], strict=False)
    ]
    for gap in arrival_gaps:
        assert abs(gap - PAUSE_S * 1000) < 60, arrival_gaps


async def test_a_saved_capture_reloads_with_the_same_chunks_and_send_times(
    proxied: tuple[RecordingProxy, LoopbackServer],
) -> None:
    proxy, server = proxied
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post("/chatkit", json=ENVELOPE)
    await wait_for_captures(proxy, 1)
    assert len(proxy.saved) == 1
    name = proxy.saved[0].name
    assert name.endswith("_0001_threads.create.jsonl"), name
    loaded = load_captures(proxy.saved[0])[0]
    assert loaded.body == response.content
    assert loaded.meta["client_send_ns"] == proxy.captures[0].meta["client_send_ns"]
    assert [c.offset_ns for c in loaded.chunks] == [c.offset_ns for c in proxy.captures[0].chunks]


async def test_a_client_that_leaves_mid_stream_still_leaves_a_reset_capture_behind(
    backend: tuple[Backend, LoopbackServer], proxied: tuple[RecordingProxy, LoopbackServer]
) -> None:
    state, _ = backend
    proxy, server = proxied
    state.abandoned_flag = False
    first = Backend.event(0)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("POST", "/hang", json=ENVELOPE) as response:
            async for piece in response.aiter_raw():
                assert piece == first
                break
    started = time.monotonic()
    await wait_for_captures(proxy, 1, within_s=3.0)
    assert time.monotonic() - started < 2.0, "the proxy waited for the upstream to finish"

    capture = proxy.captures[0]
    assert capture.ending.state == "reset", capture.ending
    assert capture.ending.message == f"client disconnected after {len(first)} bytes"
    assert [chunk.data for chunk in capture.chunks] == [first]
    assert len(proxy.saved) == 1
    assert load_captures(proxy.saved[0])[0].ending.state == "reset"
    deadline = time.monotonic() + 3.0
    while not state.abandoned_flag:
        assert time.monotonic() < deadline, "the proxy kept reading the upstream"
        await asyncio.sleep(0.02)


async def test_an_upstream_that_breaks_off_mid_stream_breaks_the_client_stream_too(
    proxied: tuple[RecordingProxy, LoopbackServer],
) -> None:
    proxy, server = proxied
    pieces: list[bytes] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("POST", "/break", json=ENVELOPE) as response:
                async for piece in response.aiter_raw():
                    pieces.append(piece)
    await wait_for_captures(proxy, 1)
    capture = proxy.captures[0]
    assert pieces == [Backend.event(0)]
    assert capture.ending.state == "reset", capture.ending
    assert "client disconnected" not in capture.ending.message
    assert [chunk.data for chunk in capture.chunks] == pieces


async def test_saved_captures_never_hold_the_bearer_token(
    proxied: tuple[RecordingProxy, LoopbackServer],
) -> None:
    proxy, server = proxied
    headers = {"authorization": f"Bearer {FAKE_JWT}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        echoed = (await client.post("/echo?mode=check", headers=headers, json={})).json()
        await client.post("/chatkit", headers=headers, json=ENVELOPE)
    await wait_for_captures(proxy, 2)

    assert echoed["headers"]["authorization"] == f"Bearer {FAKE_JWT}", "not forwarded"
    assert echoed["query"] == "mode=check"
    assert proxy.captures[0].request.header("authorization") == f"Bearer {FAKE_JWT}"
    assert len(proxy.saved) == 2
    for path in proxy.saved:
        text = path.read_text(encoding="utf-8")
        assert text.count(FAKE_JWT) == 0, path.name
        assert FAKE_JWT.split(".")[2] not in text
        saved = load_captures(path)[0]
        assert saved.request.header("authorization") != f"Bearer {FAKE_JWT}"


async def test_json_replies_pass_through_unchanged(
    backend: tuple[Backend, LoopbackServer], proxied: tuple[RecordingProxy, LoopbackServer]
) -> None:
    proxy, server = proxied
    body = {"type": "threads.get_by_id", "params": {"thread_id": "thr_1"}, "metadata": {}}
    async with httpx.AsyncClient(timeout=10) as client:
        direct = await client.post(backend[1].url + "/json", json=body)
        relayed = await client.post(server.url + "/json", json=body)
    await wait_for_captures(proxy, 1)
    assert relayed.status_code == direct.status_code == 200
    assert relayed.content == direct.content
    assert relayed.headers["content-type"] == direct.headers["content-type"]
    assert relayed.headers["content-length"] == str(len(direct.content))
    capture = proxy.captures[0]
    assert capture.label == "threads.get_by_id"
    assert capture.json_body() == direct.json()
    assert capture.ending.state == "complete"


async def test_compressed_replies_are_relayed_as_raw_bytes_with_their_encoding(
    proxied: tuple[RecordingProxy, LoopbackServer],
) -> None:
    proxy, server = proxied
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/gzip", headers={"accept-encoding": "gzip"}) as response:
            raw = b"".join([piece async for piece in response.aiter_raw()])
    await wait_for_captures(proxy, 1)
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(raw))
    assert json.loads(gzip.decompress(raw))["data"][0] == {"id": "thr_0"}
    capture = proxy.captures[0]
    assert capture.body == raw
    assert capture.header("content-encoding") == "gzip"
    assert capture.label == "GET /gzip"


async def test_an_unreachable_upstream_gets_a_502_and_a_capture(tmp_path: Path) -> None:
    proxy = RecordingProxy(f"http://127.0.0.1:{unused_port()}", out_dir=tmp_path)
    async with LoopbackServer(proxy.app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            response = await client.post("/chatkit", json=ENVELOPE)
        await wait_for_captures(proxy, 1)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/plain")
    assert "connection refused" in response.text
    assert response.text.count("\n") == 1
    capture: Capture = proxy.captures[0]
    assert capture.status is None
    assert capture.ending.state == "error"
    assert capture.meta["client_status"] == 502
    assert capture.chunks == []
    assert len(proxy.saved) == 1 and proxy.saved[0].parent == tmp_path


def test_the_proxy_command_rejects_bad_usage_with_exit_code_2() -> None:
    runner = CliRunner()
    cases = [
        (["proxy", "--upstream", "ftp://example.test"], "http"),
        (["proxy", "--upstream", "127.0.0.1:8000"], "http"),
        (["proxy", "--upstream", "http://127.0.0.1:8000", "--listen", "8787"], "host:port"),
        (["proxy", "--upstream", "http://127.0.0.1:8000", "--listen", "lo:http"], "port"),
    ]
    for args, reason in cases:
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 2, (args, result.output)
        assert reason in result.output, result.output


def test_upstream_and_listen_values_are_parsed_strictly() -> None:
    assert parse_upstream("https://api.example.test/base/") == "https://api.example.test/base"
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("", ":80", "host:", "host:99999", "::1:80"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_the_proxy_command_serves_until_interrupted(
    backend: tuple[Backend, LoopbackServer], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "chatkit_lab.cli", "proxy",
        "--upstream", backend[1].url, "--listen", "127.0.0.1:0", "--out", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("proxy listening on http://127.0.0.1:"), first
        url = first.split()[3]
        response = httpx.post(url + "/json", json=ENVELOPE, timeout=10)
        assert response.json()["echo"] == "threads.create"
        deadline = time.monotonic() + 5
        while not list(out.glob("*.jsonl")):
            assert time.monotonic() < deadline, "no capture saved"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        output, errors = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert "threads.create: 200" in output
    assert "stopped: 1 captures saved" in output
