"""Valid input the kit used to crash on: huge retry fields, headers that break the request,
a port that accepts and never answers.

Each case runs the input through the kit and asserts an honest outcome: a diagnosis (or the
documented bad-input exit) and never a traceback, in bounded time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from har_builder import har_entry, write_har
from hostile_cases import QUICK, SSE_HEAD, VALID, envelope
from hostile_servers import scripted_app
from typer.testing import CliRunner

from chatkit_lab import HTTPTransport, LoopbackServer, diagnose_captures, open_app_target
from chatkit_lab.cli import app
from chatkit_lab.sources import load_har
from chatkit_lab.sse import dispatch_messages

ENDPOINT = "https://api.example.test/chatkit"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=80)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("9" * 5000, float("inf")),
        ("0" * 5000 + "7", 7),
        ("1" * 300, float("1" * 300)),
        ("1" * 310, float("inf")),
    ],
    ids=[
        "five-thousand-nines",
        "five-thousand-leading-zeros",
        "300-digits-a-finite-double",
        "310-digits-past-a-double",
    ],
)
def test_a_retry_field_of_any_length_is_read_as_a_browser_reads_it(
    field: str, expected: float
) -> None:
    stream = f"retry: {field}\n\n".encode() + VALID
    messages = dispatch_messages([stream])
    assert messages[0].retry == expected


async def test_a_stream_with_a_five_thousand_digit_retry_is_diagnosed_not_crashed() -> None:
    stream = b"retry: " + b"9" * 5000 + b"\n\n" + VALID
    async with open_app_target(scripted_app(200, SSE_HEAD, [stream]), limits=QUICK) as target:
        capture = await target.sender.send(
            "POST", target.url, body=envelope("threads.create"), label="retry", limits=QUICK
        )
    diagnosis = diagnose_captures([capture])
    assert capture.ending.state == "complete"
    assert "decoding.not_json" not in {item.code for item in diagnosis.findings}


def test_a_har_with_a_five_thousand_digit_retry_is_diagnosed_not_crashed(tmp_path: Path) -> None:
    body = (b"retry: " + b"9" * 5000 + b"\n\nretry: 1" + b"0" * 4400 + b"\n\n" + VALID).decode()
    har = write_har(
        tmp_path / "retry.har",
        [har_entry("2026-01-01T00:00:00Z", ENDPOINT, {"type": "threads.create"}, SSE, body)],
    )
    code, output = run_cli("diagnose", str(har))
    assert code in (0, 1), output
    assert "Traceback" not in output
    assert load_har(har).captures


SSE = "text/event-stream"


@pytest.mark.parametrize(
    "header",
    ["Content-Length: 2", "content-length: 99999", "Host: evil.example", "Transfer-Encoding: x"],
)
def test_a_header_that_would_break_the_request_is_refused_as_bad_input(header: str) -> None:
    code, output = run_cli("diagnose", "reference", "-H", header)
    assert code == 2
    assert "bad --header" in output and "Traceback" not in output


@pytest.mark.parametrize("via", ["in-process", "loopback"])
async def test_the_sources_drop_framing_headers_as_a_browser_fetch_does(via: str) -> None:
    seen: list[dict[str, str]] = []

    async def recorder(scope, receive, send):  # type: ignore[no-untyped-def]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append({k.decode(): v.decode() for k, v in scope["headers"]} | {"body": body.decode()})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": list(map(lambda pair: (pair[0].encode(), pair[1].encode()), SSE_HEAD)),
            }
        )
        await send({"type": "http.response.body", "body": VALID})

    wrong = [("Content-Length", "2"), ("Host", "evil.example"), ("Transfer-Encoding", "gzip")]
    body = envelope("threads.create")
    if via == "loopback":
        with LoopbackServer(recorder) as server:
            capture = await HTTPTransport(limits=QUICK).send(
                "POST", server.url + "/chatkit", headers=wrong, body=body
            )
    else:
        async with open_app_target(recorder, limits=QUICK) as target:
            capture = await target.sender.send("POST", target.url, headers=wrong, body=body)
    assert capture.ending.state == "complete", capture.ending
    assert seen[0]["body"] == body.decode()
    assert seen[0]["host"] != "evil.example"
    assert seen[0].get("content-length") == str(len(body))
    assert "transfer-encoding" not in seen[0]
    assert any("dropped, as a browser's fetch drops them" in note for note in capture.notes)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_port_that_accepts_and_never_answers_gives_up_within_the_timeout(
    silent_port: int,
) -> None:
    started = time.monotonic()
    code, output = run_cli(
        "diagnose", f"http://127.0.0.1:{silent_port}/chatkit", "--timeout", "1.5"
    )
    took = time.monotonic() - started
    assert code == 2, output
    assert "Traceback" not in output and "no the " not in output
    # the mount's list and the first send each wait at most the timeout; no retry is modelled
    # after the kit's own limit (a browser would still be waiting)
    assert took < 3 * 1.5 + 5, took
    assert "retry 1" not in output


def test_a_read_limit_message_reads_as_a_sentence() -> None:
    async def hang() -> str:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        from chatkit_lab.sources import Limits

        async with server:
            capture = await HTTPTransport(limits=Limits(connect_s=1, read_s=0.3, total_s=2)).send(
                "POST", f"http://127.0.0.1:{port}/chatkit", body=b"{}"
            )
        return capture.ending.message

    message = asyncio.run(hang())
    assert message.startswith("no response head for"), message
