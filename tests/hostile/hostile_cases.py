"""The hostile corpus: broken exchanges, each a small declarative case.

A case names the server (a scripted ASGI app run in process or on 127.0.0.1, or a raw-socket
script for resets and hangs), the ChatKit request type sent to it, the limits of the exchange,
and what the kit must make of it: how the exchange ended, the finding codes the diagnosis must
(and must not) hold, a phrase it must say, and the body bytes that must be kept.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hostile_servers import (
    SAFETY_S,
    AsgiApp,
    Close,
    Forever,
    HeaderRecorder,
    Pause,
    Raise,
    RawStep,
    Reset,
    Wait,
    Write,
    chunked,
    failing_startup_app,
    http_head,
    redirect_app,
    scripted_app,
    sse,
    thread_json,
    valid_events,
    valid_stream,
)

from chatkit_lab import Capture, ChatKitLabError, HTTPTransport, LoopbackServer
from chatkit_lab.errors import TargetError
from chatkit_lab.sources import Limits

QUICK = Limits(connect_s=1.0, read_s=1.0, total_s=3.0, max_bytes=8 * 1024 * 1024)
"""Limits for every case unless it sets its own: no case may take seconds."""

SSE_HEAD = (("content-type", "text/event-stream"),)
JSON_HEAD = (("content-type", "application/json"),)
HTML_HEAD = (("content-type", "text/html; charset=utf-8"),)
SECRET = "Bearer sk-hostile-corpus-0123456789abcdef"


def envelope(request_type: str) -> bytes:
    """The body ChatKit's client posts for ``request_type``."""
    params: dict[str, Any] = {}
    if request_type in ("threads.create", "threads.add_user_message"):
        params["input"] = {
            "content": [{"type": "input_text", "text": "Hello"}],
            "attachments": [],
            "inference_options": {},
        }
    if request_type != "threads.create" and request_type.startswith(("threads.", "items.")):
        params["thread_id"] = "thr_1"
    return json.dumps({"type": request_type, "params": params, "metadata": {}}).encode()


@dataclass
class Outcome:
    """What running a case produced: a capture, or the documented error the kit raised."""

    capture: Capture | None = None
    error: ChatKitLabError | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    """Anything a custom case observed on the server side (headers a second host received)."""


Runner = Callable[["Case"], Awaitable[Outcome]]


@dataclass(frozen=True)
class Case:
    """One broken exchange and what the kit must make of it."""

    name: str
    server: AsgiApp | tuple[RawStep, ...] | None
    """A scripted ASGI app (``via`` in-process or loopback), a raw-socket script (``raw``)."""
    request_type: str = "threads.create"
    via: str = "in-process"
    """``in-process``, ``loopback`` (uvicorn on 127.0.0.1) or ``raw`` (a socket script)."""
    expect: tuple[str, ...] = ()
    """Finding codes the diagnosis must hold."""
    absent: tuple[str, ...] = ()
    """Finding codes the diagnosis must not hold."""
    clean: bool = False
    """The exchange is valid: no finding at all."""
    ending: str = "complete"
    says: str = ""
    """A phrase the ending message or one of the finding summaries must contain."""
    kept: bytes | None = None
    """Exactly the body bytes the server sent before the fault (``None``: not checked)."""
    kept_prefix: bytes | None = None
    """For endless streams: a non-empty capture whose body starts with these bytes."""
    limits: Limits = QUICK
    request_headers: tuple[tuple[str, str], ...] = ()
    run: Runner | None = None
    """A custom way to produce the outcome (two servers, a server that cannot start)."""
    check: Callable[[Outcome], None] | None = None
    """Extra assertions on the outcome."""
    raises: tuple[type[ChatKitLabError], str] | None = None
    """The documented error (type, message phrase) the kit must raise instead of capturing."""
    chunks: int | None = None
    """How many chunks the capture must hold (``None``: not checked)."""


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def split_inside(data: bytes, needles: tuple[bytes, ...]) -> list[bytes]:
    """``data`` cut in the middle of the first occurrence of each multi-byte ``needle``."""
    cuts = sorted(data.index(needle) + len(needle) // 2 for needle in needles)
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


# -- bodies ----------------------------------------------------------------------------------

VALID = valid_stream()
FIRST_TWO = b"".join(sse(event) for event in valid_events()[:2])
HTML_PAGE = (
    b"<!doctype html><html><head><title>Sign in</title></head>"
    b"<body><div id='root'>Loading\xe2\x80\xa6</div></body></html>"
)
ERROR_PAGE = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
GATEWAY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
ACCENTED = valid_stream("Caf\u00e9 \U0001f642 na\u00efve")
SEPARATORS = valid_stream("line\u2028separator\u2029paragraph\x85next\x1cfile")
BIG_REPLY = valid_stream("x" * (2 * 1024 * 1024))
BOM_CRLF = b"\xef\xbb\xbf" + VALID.replace(b"\n", b"\r\n")
CR_ONLY = VALID.replace(b"\n", b"\r")
GZIPPED = gzip.compress(VALID)
TRUNCATED = VALID[:-2]
PINGS = b": ping\n\n"
BIG_STREAM = b"".join(sse({"type": "progress_update", "text": "y" * 200}) for _ in range(40))
BAD_UTF8 = FIRST_TWO + b'data: {"type":"progress_update","text":"caf\xe9 \xff"}\n\n'
WITH_EMPTY_MESSAGES = [piece for event in valid_events() for piece in (sse(event), b"")]
DEEP = b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"
HUGE_RETRY = b"retry: " + b"9" * 5000 + b"\n" + VALID
LATIN1_LOAD = thread_json().replace(b'"title":null', b'"title":"Caf\xe9"')
TRAILING_BYTE_LOAD = thread_json() + b"\xff"


# -- custom runners --------------------------------------------------------------------------


def _gate(on_post: AsgiApp) -> AsgiApp:
    """Answer POST with ``on_post`` and anything else with an HTML 405 page."""
    refuse = scripted_app(405, HTML_HEAD, [b"<html><body>405 Method Not Allowed</body></html>"])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "POST":
            await refuse(scope, receive, send)
        else:
            await on_post(scope, receive, send)

    return app


def redirected(status: int) -> Runner:
    """Host A answers ``status`` to host B (another origin); the client follows it."""

    async def run(case: Case) -> Outcome:
        recorder = HeaderRecorder(_gate(scripted_app(200, SSE_HEAD, [VALID])))
        with LoopbackServer(recorder) as second:
            elsewhere = f"http://localhost:{second.port}/chatkit"
            with LoopbackServer(redirect_app(status, elsewhere)) as first:
                transport = HTTPTransport(
                    headers={"authorization": SECRET, "content-type": "application/json"},
                    follow_redirects=True,
                    limits=case.limits,
                )
                capture = await transport.send(
                    "POST",
                    first.url + "/chatkit",
                    body=envelope(case.request_type),
                    label=case.name,
                )
        return Outcome(capture, facts={"second_host_saw": recorder.seen})

    return run


def _no_credentials_reached_the_other_host(outcome: Outcome) -> None:
    seen = outcome.facts["second_host_saw"]
    assert len(seen) == 1, seen
    headers = seen[0]["headers"]
    assert "authorization" not in headers, headers
    assert SECRET not in json.dumps(headers)
    assert outcome.capture is not None
    assert any("credentials not forwarded" in note for note in outcome.capture.notes)
    assert outcome.capture.redirects[0]["location"].startswith("http://localhost:")


def _post_kept_its_body(outcome: Outcome) -> None:
    _no_credentials_reached_the_other_host(outcome)
    seen = outcome.facts["second_host_saw"][0]
    assert seen["method"] == "POST"
    assert json.loads(seen["body"])["type"] == "threads.create"


def _post_became_a_bodiless_get(outcome: Outcome) -> None:
    _no_credentials_reached_the_other_host(outcome)
    seen = outcome.facts["second_host_saw"][0]
    assert (seen["method"], seen["body"]) == ("GET", b"")


async def start_failing_backend(case: Case) -> Outcome:
    try:
        LoopbackServer(failing_startup_app(), start_timeout_s=SAFETY_S).start()
    except ChatKitLabError as exc:
        return Outcome(error=exc)
    raise AssertionError("a backend whose startup fails was reported as started")


def _one_chunk_per_byte(outcome: Outcome) -> None:
    assert outcome.capture is not None
    assert all(len(chunk.data) == 1 for chunk in outcome.capture.chunks)


# -- the corpus ------------------------------------------------------------------------------

CASES: list[Case] = [
    # request layer: error pages and redirects
    Case(
        "html-page-with-200-instead-of-a-stream",
        scripted_app(200, HTML_HEAD, [HTML_PAGE]),
        expect=("transport.expected_stream_got_json",),
        says="html reply",
        kept=HTML_PAGE,
    ),
    Case(
        "html-login-page-with-401",
        scripted_app(401, HTML_HEAD, [HTML_PAGE]),
        expect=("request.http_error",),
        says="HTTP 401",
        kept=HTML_PAGE,
    ),
    Case(
        "html-error-page-with-500",
        scripted_app(500, HTML_HEAD, [ERROR_PAGE]),
        expect=("request.http_error",),
        says="HTTP 500",
        kept=ERROR_PAGE,
    ),
    Case(
        "html-502-from-a-proxy-over-a-raw-socket",
        (
            Write(
                http_head(502, HTML_HEAD + (("content-length", str(len(GATEWAY_PAGE))),))
                + GATEWAY_PAGE
            ),
            Close(),
        ),
        via="raw",
        expect=("request.http_error",),
        says="HTTP 502",
        kept=GATEWAY_PAGE,
    ),
    Case(
        "html-page-with-200-for-a-thread-load",
        scripted_app(200, HTML_HEAD, [HTML_PAGE]),
        request_type="threads.get_by_id",
        expect=("transport.expected_json_got_other",),
        says="html reply",
        kept=HTML_PAGE,
    ),
    Case(
        "redirect-307-to-another-host-drops-credentials",
        None,
        via="loopback",
        run=redirected(307),
        expect=("request.redirect",),
        absent=("request.http_error",),
        says="307",
        kept=VALID,
        check=_post_kept_its_body,
    ),
    Case(
        "redirect-301-to-another-host-drops-credentials-and-the-body",
        None,
        via="loopback",
        run=redirected(301),
        expect=("request.redirect", "request.http_error"),
        says="arrived as GET without its body",
        check=_post_became_a_bodiless_get,
    ),
    Case(
        "redirect-not-followed",
        redirect_app(302, "/login"),
        expect=("request.redirect",),
        says="/login",
        kept=b"",
    ),
    # transport layer: content type, encoding, wrong reply kind
    Case(
        "event-stream-labelled-text-plain",
        scripted_app(200, (("content-type", "text/plain"),), [VALID]),
        expect=("transport.stream_refused",),
        absent=("transport.content_type",),
        says="text/plain",
        kept=VALID,
    ),
    Case(
        "event-stream-without-content-type",
        scripted_app(200, (), [VALID]),
        expect=("transport.stream_refused",),
        absent=("transport.content_type",),
        says="Content-Type none",
        kept=VALID,
    ),
    Case(
        "event-stream-labelled-application-json",
        scripted_app(200, JSON_HEAD, [VALID]),
        expect=("transport.stream_refused",),
        absent=("transport.content_type",),
        says="application/json",
        kept=VALID,
    ),
    Case(
        "gzip-encoded-event-stream",
        scripted_app(200, SSE_HEAD + (("content-encoding", "gzip"),), [GZIPPED]),
        expect=("transport.compressed_stream", "framing.no_events"),
        says="Content-Encoding gzip",
        kept=GZIPPED,
    ),
    Case(
        # Over HTTP the kit decodes what it asked for, as ChatKit's browser does (issue 16: the
        # compressed bytes used to be framed raw, a wrong verdict); the warning stays.
        "gzip-encoded-event-stream-over-loopback-is-decoded",
        scripted_app(
            200,
            SSE_HEAD + (("content-encoding", "gzip"),),
            split_every(GZIPPED, 64),
        ),
        via="loopback",
        expect=("transport.compressed_stream",),
        absent=("framing.no_events",),
        says="Content-Encoding gzip",
        kept=VALID,
    ),
    Case(
        "json-reply-where-a-stream-was-expected",
        scripted_app(200, JSON_HEAD, [thread_json()]),
        expect=("transport.expected_stream_got_json",),
        says="json reply",
        kept=thread_json(),
    ),
    Case(
        "event-stream-where-json-was-expected",
        scripted_app(200, SSE_HEAD, [VALID]),
        request_type="threads.get_by_id",
        expect=("transport.expected_json_got_stream",),
        kept=VALID,
    ),
    Case(
        "no-content-204-instead-of-a-stream",
        scripted_app(204, ()),
        expect=("transport.expected_stream_got_json",),
        says="an empty reply",
        kept=b"",
    ),
    Case(
        "empty-json-body-for-a-thread-load",
        scripted_app(200, JSON_HEAD, []),
        request_type="threads.get_by_id",
        expect=("transport.expected_json_got_other",),
        says="an empty reply",
        kept=b"",
    ),
    Case(
        "non-ascii-response-header-values",
        scripted_app(
            200,
            SSE_HEAD + (("x-served-by", "caf\u00e9".encode()), ("x-region", b"M\xfcnchen")),
            [VALID],
        ),
        via="loopback",
        clean=True,
        kept=VALID,
    ),
    Case(
        "request-header-a-browser-could-not-send",
        scripted_app(200, SSE_HEAD, [VALID]),
        request_headers=(("x-user", "Zo\u00eb \u20ac"),),
        expect=("transport.no_response",),
        ending="error",
        says="ISO-8859-1",
        kept=b"",
    ),
    # transport layer: faults mid-exchange and limits
    Case(
        "connection-reset-mid-stream",
        (
            Write(http_head(200, SSE_HEAD + (("transfer-encoding", "chunked"),))),
            Write(chunked(FIRST_TWO)),
            Wait(0.2),
            Reset(),
        ),
        via="raw",
        expect=("transport.incomplete",),
        ending="reset",
        says="reset by peer",
        kept=FIRST_TWO,
    ),
    Case(
        "content-length-longer-than-the-body",
        (
            Write(http_head(200, SSE_HEAD + (("content-length", "5000"),)) + FIRST_TWO),
            Close(),
        ),
        via="raw",
        expect=("transport.incomplete",),
        ending="reset",
        says="closed before the response ended",
        kept=FIRST_TWO,
    ),
    Case(
        "server-closes-before-any-response",
        (Close(),),
        via="raw",
        expect=("transport.no_response",),
        ending="reset",
        says="without a response",
        kept=b"",
    ),
    Case(
        "server-that-does-not-speak-http",
        (Write(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n\r\n"), Close()),
        via="raw",
        expect=("transport.no_response",),
        ending="error",
        says="did not answer with HTTP",
        kept=b"",
    ),
    Case(
        "headers-then-hang",
        (Write(http_head(200, SSE_HEAD + (("transfer-encoding", "chunked"),))),),
        via="raw",
        limits=Limits(connect_s=1.0, read_s=0.4, total_s=3.0),
        expect=("transport.incomplete", "framing.no_events"),
        ending="timeout",
        says="read limit",
        kept=b"",
    ),
    Case(
        "first-events-then-silence-in-process",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, Pause(SAFETY_S), VALID]),
        limits=Limits(read_s=0.4, total_s=3.0),
        expect=("transport.incomplete",),
        ending="timeout",
        says="read limit",
        kept=FIRST_TWO,
    ),
    Case(
        "pings-forever-over-loopback",
        scripted_app(200, SSE_HEAD, [Forever(PINGS, 0.02)]),
        via="loopback",
        limits=Limits(connect_s=1.0, read_s=2.0, total_s=0.6),
        expect=("transport.incomplete", "framing.no_events"),
        ending="timeout",
        says="total limit",
        kept_prefix=PINGS,
    ),
    Case(
        "pings-forever-in-process",
        scripted_app(200, SSE_HEAD, [Forever(PINGS, 0.02)]),
        limits=Limits(read_s=2.0, total_s=0.5),
        expect=("transport.incomplete", "framing.no_events"),
        ending="timeout",
        says="total limit",
        kept_prefix=PINGS,
    ),
    Case(
        "stream-past-max-bytes-in-process",
        scripted_app(200, SSE_HEAD, split_every(BIG_STREAM, 1000)),
        limits=Limits(read_s=1.0, total_s=3.0, max_bytes=2500),
        expect=("transport.incomplete",),
        ending="limit",
        says="max_bytes",
        kept=BIG_STREAM[:2500],
    ),
    Case(
        "stream-past-max-bytes-over-loopback",
        scripted_app(200, SSE_HEAD, split_every(BIG_STREAM, 1000)),
        via="loopback",
        limits=Limits(connect_s=1.0, read_s=1.0, total_s=3.0, max_bytes=2500),
        expect=("transport.incomplete",),
        ending="limit",
        says="max_bytes",
        kept=BIG_STREAM[:2500],
    ),
    Case(
        "app-raises-mid-stream",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, Raise("model call failed")]),
        expect=("transport.incomplete",),
        ending="error",
        says="model call failed",
        kept=FIRST_TWO,
    ),
    Case(
        "app-returns-without-ending-the-body",
        scripted_app(200, SSE_HEAD, [FIRST_TWO], finish=False),
        expect=("transport.incomplete",),
        ending="error",
        says="before the response body ended",
        kept=FIRST_TWO,
    ),
    Case(
        "backend-that-cannot-start",
        None,
        via="loopback",
        run=start_failing_backend,
        raises=(TargetError, "stopped while starting"),
    ),
    # framing layer
    Case(
        "empty-event-stream",
        scripted_app(200, SSE_HEAD, []),
        expect=("framing.no_events",),
        kept=b"",
    ),
    Case(
        "comments-only-stream",
        scripted_app(200, SSE_HEAD, [b": connected\n\n", PINGS, PINGS]),
        expect=("framing.no_events",),
        absent=("framing.undispatched_frame",),
        kept=b": connected\n\n" + PINGS + PINGS,
    ),
    Case(
        "truncated-final-frame",
        scripted_app(200, SSE_HEAD, [TRUNCATED]),
        expect=("framing.truncated_frame",),
        kept=TRUNCATED,
    ),
    Case(
        "event-line-without-data",
        scripted_app(200, SSE_HEAD, [b"event: thread.created\n\n", VALID]),
        expect=("framing.undispatched_frame",),
        kept=b"event: thread.created\n\n" + VALID,
    ),
    Case(
        "invalid-utf8",
        scripted_app(200, SSE_HEAD, [BAD_UTF8]),
        expect=("framing.invalid_utf8",),
        kept=BAD_UTF8,
    ),
    Case(
        "multibyte-characters-split-across-chunks-are-not-a-fault",
        scripted_app(
            200, SSE_HEAD, split_inside(ACCENTED, ("\u00e9".encode(), "\U0001f642".encode()))
        ),
        clean=True,
        kept=ACCENTED,
        chunks=3,
    ),
    Case(
        "unicode-line-separators-inside-json-are-not-line-ends",
        scripted_app(200, SSE_HEAD, [SEPARATORS]),
        clean=True,
        kept=SEPARATORS,
    ),
    Case(
        "bom-and-crlf-are-valid",
        scripted_app(200, SSE_HEAD, split_every(BOM_CRLF, 7)),
        clean=True,
        kept=BOM_CRLF,
    ),
    Case(
        "cr-only-line-endings-are-valid",
        scripted_app(200, SSE_HEAD, split_every(CR_ONLY, 13)),
        clean=True,
        kept=CR_ONLY,
    ),
    Case(
        "one-byte-per-chunk",
        scripted_app(200, SSE_HEAD, split_every(VALID, 1)),
        clean=True,
        kept=VALID,
        chunks=len(VALID),
        check=_one_chunk_per_byte,
    ),
    Case(
        "empty-body-messages-between-events",
        scripted_app(200, SSE_HEAD, WITH_EMPTY_MESSAGES),
        clean=True,
        kept=VALID,
        chunks=len(valid_events()),
    ),
    Case(
        "empty-body-messages-between-events-over-loopback",
        scripted_app(200, SSE_HEAD, WITH_EMPTY_MESSAGES),
        via="loopback",
        clean=True,
        kept=VALID,
    ),
    Case(
        "zero-length-chunk-mid-body-ends-the-response-early",
        (
            Write(http_head(200, SSE_HEAD + (("transfer-encoding", "chunked"),))),
            Write(chunked(FIRST_TWO) + b"0\r\n\r\n" + chunked(VALID[len(FIRST_TWO) :])),
            Close(),
        ),
        via="raw",
        expect=("rendering.no_assistant_text",),
        kept=FIRST_TWO,
    ),
    Case(
        "two-megabyte-single-line",
        scripted_app(200, SSE_HEAD, split_every(BIG_REPLY, 64 * 1024)),
        clean=True,
        kept=BIG_REPLY,
    ),
    # decoding layer
    Case(
        "non-json-in-data",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, b"data: Hello from the model!\n\n"]),
        expect=("decoding.not_json",),
        kept=FIRST_TWO + b"data: Hello from the model!\n\n",
    ),
    Case(
        "json-array-in-data",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, b'data: ["thread.item.done"]\n\n']),
        expect=("decoding.not_object",),
        says="list",
    ),
    Case(
        "json-number-in-data",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, b"data: 42\n\n"]),
        expect=("decoding.not_object",),
        says="int",
    ),
    Case(
        "json-string-in-data",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, b'data: "thread.item.done"\n\n']),
        expect=("decoding.not_object",),
        says="str",
    ),
    Case(
        "done-sentinel-after-the-events",
        scripted_app(200, SSE_HEAD, [VALID, b"data: [DONE]\n\n"]),
        expect=("decoding.not_json",),
        says="[DONE]",
        kept=VALID + b"data: [DONE]\n\n",
    ),
    Case(
        "nul-byte-inside-a-json-string",
        scripted_app(
            200, SSE_HEAD, [FIRST_TWO, b'data: {"type":"progress_update","text":"a\x00b"}\n\n']
        ),
        expect=("decoding.not_json",),
    ),
    # round three: valid input that crashed, headers and replies a browser reads otherwise
    Case(
        "a-retry-field-of-five-thousand-digits-is-read-as-infinity",
        scripted_app(200, SSE_HEAD, [HUGE_RETRY]),
        absent=("decoding.not_json", "transport.incomplete"),
        kept=HUGE_RETRY,
    ),
    Case(
        "a-retry-field-of-five-thousand-digits-over-loopback",
        scripted_app(200, SSE_HEAD, split_every(HUGE_RETRY, 1000)),
        via="loopback",
        absent=("decoding.not_json", "transport.incomplete"),
        kept=HUGE_RETRY,
    ),
    Case(
        "two-content-type-headers-on-a-stream",
        scripted_app(200, SSE_HEAD + (("content-type", "text/event-stream"),), [VALID]),
        expect=("transport.repeated_content_type",),
        says="2 Content-Type headers",
        kept=VALID,
    ),
    Case(
        "two-different-content-types-on-a-thread-load",
        scripted_app(200, JSON_HEAD + (("content-type", "text/html"),), [thread_json()]),
        request_type="threads.get_by_id",
        via="loopback",
        expect=("transport.repeated_content_type",),
        says="application/json, text/html",
    ),
    Case(
        "a-thread-load-in-latin-1",
        scripted_app(200, JSON_HEAD, [LATIN1_LOAD]),
        request_type="threads.get_by_id",
        expect=("transport.json_not_utf8",),
        says="ChatKit got changed text",
        kept=LATIN1_LOAD,
    ),
    Case(
        "a-thread-load-with-a-stray-byte-after-the-json",
        scripted_app(200, JSON_HEAD, [TRAILING_BYTE_LOAD]),
        request_type="threads.get_by_id",
        expect=("transport.json_not_utf8",),
        says="ChatKit got {}",
        kept=TRAILING_BYTE_LOAD,
    ),
    Case(
        "a-list-reply-not-utf8-over-loopback",
        scripted_app(
            200, JSON_HEAD, [b'{"data":[{"id":"thr_1","title":"\xff\xfe"}],"has_more":false}']
        ),
        request_type="threads.list",
        via="loopback",
        expect=("transport.json_not_utf8",),
    ),
    Case(
        "json-nested-too-deeply-to-decode",
        scripted_app(200, SSE_HEAD, [FIRST_TWO, DEEP]),
        expect=("decoding.not_json",),
        says="nested too deeply",
        kept=FIRST_TWO + DEEP,
    ),
]
