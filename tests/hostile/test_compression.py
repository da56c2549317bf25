"""Valid compression gets the verdict a browser would give (issue 16, "Wrong verdict on valid
compression").

A browser asks for gzip, deflate and br and decodes the body before ChatKit reads it. The kit
asks for what it can decode, decodes each piece as it arrives, keeps ``Content-Encoding`` in the
capture's headers (a compressed event stream is still a warning) and reads frames, events and
JSON bodies from the decoded bytes. A body that is not what its header says is one clean
transport finding; one that expands without end stops at the size limit.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware

from chatkit_lab import Capture, LoopbackServer, diagnose_captures
from chatkit_lab.backends import LEGACY_USER_ID, make_token, reference_app
from chatkit_lab.capture import RequestRecord
from chatkit_lab.client import ClientRequest, NodeFetch
from chatkit_lab.diagnosis import Diagnosis, diagnose
from chatkit_lab.sources import (
    DECODABLE,
    HTTPTransport,
    Limits,
    RecordingProxy,
    decode_capture,
    encoding_info,
    load_har,
    read_captures,
)

STREAMS = Path(__file__).resolve().parent.parent / "streams"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
REFERENCE = (STREAMS / "reference_handmade_create.sse").read_bytes()
JSON_HEADERS = [("content-type", "application/json")]
ENVELOPE = b'{"type":"threads.get_by_id","params":{"thread_id":"thr_1"},"metadata":{}}'
THREAD = json.dumps(
    {
        "id": "thr_1",
        "created_at": "2026-02-11T10:00:00",
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }
).encode()


def codes(diagnosis: Diagnosis) -> set[str]:
    return {finding.code for finding in diagnosis.findings}


def gzip_everything(app: Any) -> Any:
    """Wrap an ASGI app so that every reply, event streams included, is gzip'd as it streams
    (each body message compressed and flushed, as compression middleware that does not exclude
    event streams does)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)

        async def compressing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"
                ]
                await send({**message, "headers": [*headers, (b"content-encoding", b"gzip")]})
                return
            body = packer.compress(message.get("body", b""))
            more = message.get("more_body", False)
            body += packer.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
            await send({**message, "body": body})

        await app(scope, receive, compressing)

    return wrapped


def fixed_reply(body: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
    """An ASGI app answering every request with ``body`` and ``headers`` (status 200)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def raw_reply(body: bytes, encoding: str, content_type: str = "application/json") -> Capture:
    """A threads.get_by_id reply recorded raw (as the proxy records, or as saved before)."""
    made = Capture(
        request=RequestRecord("POST", "http://backend.test/chatkit", [], ENVELOPE),
        status=200,
        response_headers=[("content-type", content_type), ("content-encoding", encoding)],
        headers_ns=1_000_000,
        label="threads.get_by_id",
    )
    made.add_chunk(body, 2_000_000)
    return made


async def test_a_reference_backend_behind_gzip_middleware_passes_every_layer() -> None:
    app = reference_app()
    app.add_middleware(GZipMiddleware, minimum_size=10)
    async with LoopbackServer(app) as server:
        diagnosis = await diagnose(server.url + "/chatkit", transform="none")
    compressed = [c for c in diagnosis.captures if c.header("content-encoding") == "gzip"]
    assert compressed, "the middleware compressed nothing: the test proves nothing"
    assert all(encoding_info(c) and encoding_info(c)["decoded"] for c in compressed)
    assert "transport.expected_json_got_other" not in codes(diagnosis)
    assert "persistence.reload_failed" not in codes(diagnosis)
    assert diagnosis.verdict is None, diagnosis.headline()
    assert set(diagnosis.layers.values()) == {"pass"}


async def test_a_gzip_event_stream_is_read_decoded_and_still_warned_about() -> None:
    async with LoopbackServer(gzip_everything(reference_app())) as server:
        diagnosis = await diagnose(server.url + "/chatkit", transform="none")
    assert diagnosis.verdict is None, diagnosis.headline()
    assert "transport.compressed_stream" in codes(diagnosis)
    assert diagnosis.layers["transport"] == "warn"
    streams = [c for c in diagnosis.captures if c.is_event_stream]
    assert streams and all(c.events for c in streams)
    assert all(c.header("content-encoding") == "gzip" for c in streams)
    info = encoding_info(streams[0])
    assert info is not None and info["raw_pieces"] >= len(streams[0].chunks) > 1


@pytest.mark.parametrize(
    "encoding, compress",
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as browsers accept
        ("GZIP", gzip.compress),
        ("br", brotli.compress),
        ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "upper-case", "br", "gzip-then-br"],
)
async def test_a_compressed_json_reply_is_read_as_json(encoding: str, compress: Any) -> None:
    app = fixed_reply(
        compress(THREAD),
        [(b"content-type", b"application/json"), (b"content-encoding", encoding.encode())],
    )
    async with LoopbackServer(app) as server:
        capture = await HTTPTransport(server.url).send(
            "POST", "/chatkit", headers=JSON_HEADERS, body=ENVELOPE
        )
    assert capture.ending.state == "complete", capture.ending
    assert capture.json_body() == json.loads(THREAD)
    assert capture.header("content-encoding") == encoding
    assert capture.content_encoding["raw_bytes"] == len(compress(THREAD))
    diagnosis = diagnose_captures([capture])
    assert not {c for c in codes(diagnosis) if c.startswith("transport.")}, diagnosis.headline()


async def test_the_kit_asks_only_for_codings_it_can_decode() -> None:
    seen: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.extend(v for k, v in scope["headers"] if k == b"accept-encoding")
        await fixed_reply(THREAD, [(b"content-type", b"application/json")])(scope, receive, send)

    async with LoopbackServer(app) as server:
        await HTTPTransport(server.url).send("POST", "/", headers=JSON_HEADERS, body=ENVELOPE)
    asked = {part.strip() for part in seen[0].decode().split(",")}
    assert asked and asked <= set(DECODABLE)


async def test_a_body_that_claims_gzip_but_is_not_gzip_is_one_clean_transport_finding() -> None:
    app = fixed_reply(
        THREAD, [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    )
    async with LoopbackServer(app) as server:
        capture = await HTTPTransport(server.url).send(
            "POST", "/chatkit", headers=JSON_HEADERS, body=ENVELOPE
        )
    assert capture.ending.state == "error"
    assert "not gzip data" in capture.ending.message
    diagnosis = diagnose_captures([capture])
    assert diagnosis.verdict is not None
    assert diagnosis.verdict.code == "transport.undecodable_body"
    transport = [f.code for f in diagnosis.findings if f.layer == "transport"]
    assert transport == ["transport.undecodable_body"]  # not also incomplete or "not JSON"
    assert json.loads(json.dumps(diagnosis.to_json()))["verdict"]["layer"] == "transport"


async def test_a_gzip_bomb_stops_at_the_size_limit_in_bounded_memory() -> None:
    bomb = gzip.compress(b"\0" * 200_000_000)  # 200 MB of zeros in about 200 kB
    app = fixed_reply(
        bomb, [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    )
    limits = Limits(max_bytes=2_000_000)
    async with LoopbackServer(app) as server:
        tracemalloc.start()
        try:
            capture = await HTTPTransport(server.url, limits=limits).send(
                "POST", "/", headers=JSON_HEADERS, body=ENVELOPE
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert capture.ending.state == "limit"
    assert capture.size == 2_000_000
    assert peak < 40_000_000


async def test_a_coding_a_browser_does_not_know_is_passed_through_as_the_browser_does() -> None:
    app = fixed_reply(
        THREAD, [(b"content-type", b"application/json"), (b"content-encoding", b"utf-8")]
    )
    async with LoopbackServer(app) as server:
        capture = await HTTPTransport(server.url).send(
            "POST", "/chatkit", headers=JSON_HEADERS, body=ENVELOPE
        )
    assert capture.json_body() == json.loads(THREAD)
    info = capture.content_encoding
    assert info["decoded"] is False and "does not know" in " ".join(info["notes"])
    assert decode_capture(raw_reply(THREAD, "utf-8")).json_body() == json.loads(THREAD)
    assert "transport.undecodable_body" not in codes(diagnose_captures([capture]))


def test_a_capture_saved_raw_before_decoding_existed_loads_and_diagnoses_decoded(
    tmp_path: Path,
) -> None:
    old = raw_reply(gzip.compress(THREAD), "gzip")
    path = old.save(tmp_path / "old.jsonl")
    source = read_captures(path)
    (loaded,) = source.captures
    assert loaded.json_body() == json.loads(THREAD)
    assert loaded.header("content-encoding") == "gzip"
    assert "transport.expected_json_got_other" not in codes(diagnose_captures(source.captures))


async def test_a_proxy_recording_of_a_gzip_reply_diagnoses_as_the_decoded_reply(
    tmp_path: Path,
) -> None:
    backend_app = fixed_reply(
        gzip.compress(THREAD),
        [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")],
    )
    async with LoopbackServer(backend_app) as backend:
        proxy = RecordingProxy(backend.url, out_dir=tmp_path, trust_env=False)
        async with LoopbackServer(proxy.app) as front:
            async with httpx.AsyncClient(base_url=front.url, trust_env=False) as client:
                reply = await client.post("/chatkit", content=ENVELOPE, headers=dict(JSON_HEADERS))
    assert reply.json() == json.loads(THREAD)  # the browser side decodes it itself
    for _ in range(100):  # the proxy saves a capture just after the reply ends
        if proxy.saved:
            break
        await asyncio.sleep(0.05)
    source = read_captures(tmp_path)
    assert [c.json_body() for c in source.captures] == [json.loads(THREAD)]
    assert "transport.expected_json_got_other" not in codes(diagnose_captures(source.captures))


def test_a_har_body_is_taken_as_already_decoded_by_the_browser() -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-02-11T10:00:00.000Z",
                    "request": {
                        "method": "POST",
                        "url": "https://api.example.test/chatkit",
                        "headers": [{"name": "content-type", "value": "application/json"}],
                        "postData": {"mimeType": "application/json", "text": ENVELOPE.decode()},
                    },
                    "response": {
                        "status": 200,
                        "headers": [
                            {"name": "content-type", "value": "application/json"},
                            {"name": "content-encoding", "value": "gzip"},
                        ],
                        "content": {"size": len(THREAD), "text": THREAD.decode()},
                        "bodySize": 120,
                    },
                    "timings": {"wait": 5, "receive": 1},
                }
            ],
        }
    }
    (capture,) = load_har(har).captures
    assert decode_capture(capture) is capture
    assert capture.json_body() == json.loads(THREAD)
    assert capture.content_encoding == {
        "coding": "gzip",
        "decoded": True,
        "by": "browser",
        "raw_bytes": 120,
    }
    assert "transport.undecodable_body" not in codes(diagnose_captures([capture]))


@pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the fetch runs there"
)
async def test_the_users_fetch_gets_a_decoded_http_capture_as_the_browser_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = b'data: {"type": "thread.created", "thread": {"id": "7"}}\n\n'
    app = fixed_reply(
        gzip.compress(created),
        [(b"content-type", b"text/event-stream"), (b"content-encoding", b"gzip")],
    )
    monkeypatch.setenv("CHATKIT_LAB_TEST_FETCH_TOKEN", make_token(LEGACY_USER_ID))
    url = f"http://chatkit-lab.test/{LEGACY_USER_ID}/chat"
    payload = {"type": "threads.create", "params": {"input": {"content": []}}, "metadata": {}}
    async with LoopbackServer(app) as server:
        transport = HTTPTransport(server.url)

        async def send(request: ClientRequest) -> Capture:
            return await transport.send(
                request.method, "/chat", headers=request.headers, body=request.body
            )

        async with NodeFetch.open(
            SAMPLES / "chatprovider_fetch.mjs",
            token_env="CHATKIT_LAB_TEST_FETCH_TOKEN",
            user_id=LEGACY_USER_ID,
            timeout_s=20,
        ) as runner:
            outcome = await runner.fetch(ClientRequest.chatkit(url, payload), send)
    assert outcome.error is None, outcome.error
    assert outcome.wire[0].body == created  # decoded by the kit as it arrived
    assert outcome.handed_back is not None and outcome.handed_back.body == created
