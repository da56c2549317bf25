"""The recording proxy forwards only origin-form requests to its upstream, and closes the
connection after a request whose framing is ambiguous.

Each case is sent as raw bytes to a proxy served by uvicorn on 127.0.0.1, with a second backend
("elsewhere") the request tries to reach. What must hold: a 400 that says why, the connection
closed, the refusal recorded as a capture, and nothing reaching the other host or the upstream.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_cases import SSE_HEAD, VALID
from hostile_servers import HeaderRecorder, scripted_app

from chatkit_lab import Capture, LoopbackServer
from chatkit_lab.sources import RecordingProxy


def exchange(port: int, data: bytes, within_s: float = 3.0) -> tuple[bytes, bool]:
    """Send ``data`` and read until the proxy closes; (what came back, whether it closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=within_s) as sock:
        sock.sendall(data)
        received = b""
        try:
            while piece := sock.recv(65536):
                received += piece
        except TimeoutError:
            return received, False
    return received, True


class Hosts:
    def __init__(
        self,
        proxy: RecordingProxy,
        port: int,
        upstream: HeaderRecorder,
        other_port: int,
        elsewhere: HeaderRecorder,
    ) -> None:
        self.proxy, self.port, self.upstream = proxy, port, upstream
        self.other_port, self.elsewhere = other_port, elsewhere


@pytest.fixture(params=["", "/chatkit"], ids=["upstream-origin", "upstream-with-path"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hosts]:
    upstream = HeaderRecorder(scripted_app(200, SSE_HEAD, [VALID]))
    elsewhere = HeaderRecorder(scripted_app(200, SSE_HEAD, [b"data: elsewhere\n\n"]))
    with LoopbackServer(upstream) as up, LoopbackServer(elsewhere) as other:
        proxy = RecordingProxy(up.url + request.param, out_dir=tmp_path / "captures")
        with LoopbackServer(proxy) as served:
            yield Hosts(proxy, served.port, upstream, other.port, elsewhere)


def wait_for(proxy: RecordingProxy, count: int) -> list[Capture]:
    deadline = time.monotonic() + 5
    while len(proxy.captures) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return proxy.captures


TARGETS = {
    "options-asterisk": "OPTIONS * HTTP/1.1\r\nHost: proxy\r\n\r\n",
    "absolute-form-to-another-host": (
        "GET http://127.0.0.1:{other}/steal HTTP/1.1\r\nHost: proxy\r\n"
        "Cookie: session=s3cr3t\r\n\r\n"
    ),
    "userinfo-glued-onto-the-upstream": (
        "POST @127.0.0.1:{other}/steal HTTP/1.1\r\nHost: proxy\r\nCookie: session=s3cr3t\r\n"
        "Content-Length: 2\r\n\r\n{{}}"
    ),
    "port-glued-onto-the-upstream": (
        "POST :{other}/steal HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\n\r\n{{}}"
    ),
    "authority-form": "CONNECT 127.0.0.1:{other} HTTP/1.1\r\nHost: 127.0.0.1:{other}\r\n\r\n",
}


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_request_target_that_is_not_origin_form_is_refused_with_a_400_and_recorded(
    hosts: Hosts, name: str
) -> None:
    raw = TARGETS[name].format(other=hosts.other_port).encode()
    received, closed = exchange(hosts.port, raw)
    assert received.startswith(b"HTTP/1.1 400"), received[:200]
    assert b"request not forwarded" in received
    assert closed
    assert hosts.elsewhere.seen == [] and hosts.upstream.seen == []
    (capture,) = wait_for(hosts.proxy, 1)
    assert capture.ending.state == "error"
    assert "refused by the proxy" in capture.ending.message
    assert capture.status is None
    assert len(hosts.proxy.saved) == 1
    assert "s3cr3t" not in hosts.proxy.saved[0].read_text()


AMBIGUOUS = {
    "content-length-and-chunked": (
        b"POST /chatkit HTTP/1.1\r\nHost: proxy\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ),
    "two-different-content-lengths": (
        b"POST /chatkit HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}"
    ),
}
SMUGGLED = b"POST /chatkit HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize("name", list(AMBIGUOUS))
def test_ambiguous_framing_is_refused_and_the_next_request_on_the_connection_is_not_forwarded(
    hosts: Hosts, name: str
) -> None:
    received, closed = exchange(hosts.port, AMBIGUOUS[name] + SMUGGLED)
    if not received:
        # the HTTP parser itself refused the message and closed the connection: also safe
        assert closed
    else:
        assert received.startswith(b"HTTP/1.1 400"), received[:200]
        assert received.count(b"HTTP/1.1 ") == 1
        assert closed
    assert hosts.upstream.seen == []


def test_an_origin_form_request_is_still_forwarded(hosts: Hosts) -> None:
    received, _ = exchange(
        hosts.port,
        b"POST /chatkit HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}",
    )
    assert received.startswith(b"HTTP/1.1 200")
    assert len(hosts.upstream.seen) == 1
    (capture,) = wait_for(hosts.proxy, 1)
    assert capture.ending.state == "complete"
