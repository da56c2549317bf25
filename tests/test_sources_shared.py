"""What the sources share: one uvicorn start-up, one credential rule, the run's redactor."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from chatkit_lab.errors import TargetError
from chatkit_lab.redact import Redactor, is_secret_header, redacting
from chatkit_lab.sources import HTTPTransport, LoopbackServer, RecordingProxy, serve_proxy

STAGING_SECRET = "staging-password-4f9a7c2e"
"""A literal secret no token shape matches: only a redactor that was told about it removes it."""


async def echo(request: Request) -> Response:
    return JSONResponse({"headers": dict(request.headers), "said": STAGING_SECRET})


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=307)


def make_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST"]),
            Route("/redirect", redirect, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(make_app()) as running:
        yield running


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_port_in_use_is_the_same_clear_error_for_the_loopback_server_and_the_proxy(
    taken_port: int,
) -> None:
    with pytest.raises(TargetError) as loopback:
        LoopbackServer(make_app(), port=taken_port).start()
    proxy = RecordingProxy("http://127.0.0.1:9")
    with pytest.raises(TargetError) as proxied:
        serve_proxy(proxy, "127.0.0.1", taken_port)
    assert str(loopback.value) == str(proxied.value)
    assert str(loopback.value).startswith(f"cannot listen on 127.0.0.1:{taken_port}: ")


@pytest.mark.parametrize(
    "name", ["Authorization", "X-Api-Key", "X-Auth-Token", "X-Session-Id", "Cookie"]
)
async def test_a_cross_origin_redirect_drops_every_header_the_redaction_rule_calls_a_credential(
    server: LoopbackServer, name: str
) -> None:
    assert is_secret_header(name)
    transport = HTTPTransport(server.url, follow_redirects=True)
    other = f"http://localhost:{server.port}/echo"
    headers = {name: "value-that-must-stay-home", "x-trace": "kept"}
    moved = await transport.send("GET", f"/redirect?to={other}", headers=headers)
    received = moved.json_body()["headers"]
    assert name.lower() not in received
    assert received["x-trace"] == "kept"
    notes = [note for note in moved.notes if "credentials not forwarded" in note]
    assert len(notes) == 1 and name.lower() in notes[0].lower(), moved.notes


async def test_the_proxy_saves_with_the_redactor_current_where_it_was_made(
    server: LoopbackServer, tmp_path: Path
) -> None:
    with redacting(Redactor([STAGING_SECRET])):
        proxy = RecordingProxy(server.url, out_dir=tmp_path)
    plain = RecordingProxy(server.url, out_dir=tmp_path / "plain")
    for recorder in (proxy, plain):
        async with LoopbackServer(recorder.app) as running:
            async with httpx.AsyncClient() as client:
                await client.post(running.url + "/echo", json={"type": "threads.list"})
            deadline = time.monotonic() + 5
            while not recorder.saved:
                assert time.monotonic() < deadline, "nothing saved"
                await asyncio.sleep(0.01)
    assert STAGING_SECRET in proxy.captures[0].body.decode(), "kept in memory"
    assert STAGING_SECRET not in proxy.saved[0].read_text(encoding="utf-8")
    assert STAGING_SECRET in plain.saved[0].read_text(encoding="utf-8"), (
        "a redactor that was not told about the literal keeps it: the test plants a real secret"
    )


def test_a_file_source_is_added_with_one_registration_and_is_asked_first(tmp_path: Path) -> None:
    from chatkit_lab.capture import Capture, RequestRecord
    from chatkit_lab.diagnosis import diagnose_source
    from chatkit_lab.sources import (
        CaptureSource,
        FileSource,
        read_captures,
        register_source,
        registered_sources,
        unregister_source,
    )

    class ToySource:
        name = "toy recording"

        def sniff(self, path: Path) -> bool:
            return path.suffix == ".toy"

        def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
            body = b'{"type": "threads.list", "params": {}}'
            request = RequestRecord("POST", "https://example.test/chatkit", [], body)
            return FileSource(self.name, path, [Capture(request=request)])

    toy = tmp_path / "session.toy"
    toy.write_text("anything")
    source = register_source(ToySource())
    try:
        assert isinstance(source, CaptureSource) and registered_sources()[0] is source
        read = read_captures(toy)
        assert read.kind == "toy recording" and len(read.captures) == 1
        assert read.captures[0].request_type == "threads.list"
        kind, found = diagnose_source(str(toy))
        assert kind == "files" and isinstance(found, FileSource)
    finally:
        unregister_source(source)
    assert source not in registered_sources()
    with pytest.raises(TypeError):
        register_source(object())  # type: ignore[arg-type]
