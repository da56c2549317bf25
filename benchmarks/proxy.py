"""Benchmark 4: latency the recording proxy adds, and proof that it never coalesces events.

A loopback backend sends events a few milliseconds apart and notes the monotonic time of each
send. A bare httpx client reads the stream directly and through ``RecordingProxy`` (itself served
by ``LoopbackServer``), stamping each piece as it arrives; an event's latency is its arrival
minus its send (one process, one clock). Runs alternate; the added latency is the proxied
latency minus the direct one, at the median and the 99th percentile. Each piece the client got
through the proxy is checked to be exactly one event.

Then concurrency: 50 clients at once each read a stream directly and through the proxy, in
alternating rounds, with the backend and the proxy each in a process of its own. The backend
takes 100 ms to a stream's first event (a model's time to its first token is usually longer),
then sends the rest 5 ms apart. The first-event latency (request sent to the first byte of the
body read, by a bare socket client) through the proxy is compared with the direct one at the
median and the 95th percentile (target: within 2x of direct).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx

from chatkit_lab import LoopbackServer
from chatkit_lab.sources import RecordingProxy

from ._common import ROOT, BenchResult, Metric, median, percentile
from ._streams import REQUEST_BODY, REQUEST_HEADERS, ChunkApp, reference_chunks

NAME = "proxy"
TITLE = "Recording proxy: added latency and no coalescing"
TARGET_MS = 1.0
"""Median added latency per event: under this."""
GAP_S = 0.005
CONCURRENT = 50
"""Streams read at once in the concurrency part."""
FIRST_GAP_S = 0.1
"""How long the backend thinks before a stream's first event in the concurrency part."""
CONCURRENT_TARGET = 2.0
"""First-event latency through the proxy, as a multiple of direct: at most this."""


async def _read(url: str) -> tuple[list[int], list[bytes]]:
    """Arrival time (monotonic ns) and bytes of every piece of the reply."""
    arrivals: list[int] = []
    pieces: list[bytes] = []
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
        async with client.stream(
            "POST", url + "/chatkit", content=REQUEST_BODY, headers=REQUEST_HEADERS
        ) as response:
            async for piece in response.aiter_raw():
                arrivals.append(time.monotonic_ns())
                pieces.append(piece)
    return arrivals, pieces


def _latencies_ms(
    sent_ns: list[int], arrivals: list[int], pieces: list[bytes], sizes: list[int]
) -> list[float]:
    """Per sent event, ms from its send to the arrival of the piece holding its last byte."""
    out: list[float] = []
    position = 0
    have = pieces_seen = 0
    sent_end = 0
    for sent, size in zip(sent_ns, sizes, strict=True):
        sent_end += size
        while have < sent_end:
            have += len(pieces[pieces_seen])
            position = pieces_seen
            pieces_seen += 1
        out.append((arrivals[position] - sent) / 1e6)
    return out


def _coalesced(pieces: list[bytes], chunks: list[bytes]) -> int:
    """How many events did not arrive as exactly one piece of their own."""
    following: dict[int, int] = {}
    offset = 0
    for piece in pieces:
        following[offset] = offset + len(piece)
        offset += len(piece)
    alone = 0
    offset = 0
    for chunk in chunks:
        alone += following.get(offset) == offset + len(chunk)
        offset += len(chunk)
    return len(chunks) - alone


async def _measure(
    backend: str, proxied: str, app: ChunkApp, chunks: list[bytes], repeats: int
) -> dict[str, list[float]]:
    sizes = [len(chunk) for chunk in chunks]
    out: dict[str, list[float]] = {"direct": [], "proxy": [], "coalesced": []}
    await _read(backend)  # warm up
    await _read(proxied)
    for round_ in range(repeats):
        order = ("direct", "proxy") if round_ % 2 == 0 else ("proxy", "direct")
        for side in order:
            arrivals, pieces = await _read(backend if side == "direct" else proxied)
            if b"".join(pieces) != b"".join(chunks):
                raise RuntimeError(f"{side}: the reply differs from what the backend sent")
            out[side] += _latencies_ms(app.sent_ns, arrivals, pieces, sizes)
            if side == "proxy":
                out["coalesced"].append(float(_coalesced(pieces, chunks)))
    return out


async def _first_event_ms(url: str) -> float:
    """ms from sending a request to reading the first byte of its reply's body.

    A bare socket client (HTTP/1.1, ``Connection: close``, read to the end): a full HTTP client
    spends milliseconds of CPU per request, and with fifty at once in one process that, not the
    proxy, would be what the figures measure.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST /chatkit HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(REQUEST_BODY)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    started = time.monotonic_ns()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + REQUEST_BODY)
        await writer.drain()
        received = b""
        first: int | None = None
        while first is None:
            piece = await reader.read(65536)
            if not piece:
                raise RuntimeError(f"{url}: the reply ended before its body")
            received += piece
            end = received.find(b"\r\n\r\n")
            if end >= 0 and len(received) > end + 4:
                first = time.monotonic_ns()
        while await reader.read(65536):
            pass
    finally:
        writer.close()
    if not received.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{url}: {received[:40]!r}")
    return (first - started) / 1e6


async def _concurrent(backend: str, proxied: str, streams: int, repeats: int) -> dict[str, list]:
    out: dict[str, list[float]] = {"direct": [], "proxy": []}
    await asyncio.gather(*(_first_event_ms(url) for url in (backend, proxied)))  # warm up
    for round_ in range(repeats):
        order = ("direct", "proxy") if round_ % 2 == 0 else ("proxy", "direct")
        for side in order:
            url = backend if side == "direct" else proxied
            out[side] += await asyncio.gather(*(_first_event_ms(url) for _ in range(streams)))
    return out


class _Served:
    """A benchmark server in a child process (``benchmarks._serve_child``), stopped on exit."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._serve_child", *argv],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.close()
            raise RuntimeError(f"the {argv[0]} server did not start")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the child stops when its standard input closes
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> _Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def concurrency(streams: int = CONCURRENT, repeats: int = 3, events: int = 10) -> list[Metric]:
    """The concurrency part's figures: first-event latency direct and through the proxy.

    The backend and the proxy each run in a process of their own (as they do for real), so
    what is measured is the proxy's work, not three servers sharing one interpreter.
    """
    with _Served("backend", str(events), str(FIRST_GAP_S), str(GAP_S)) as backend:
        with _Served("proxy", backend.url) as front:
            out = asyncio.run(_concurrent(backend.url, front.url, streams, repeats))
    direct, proxied = out["direct"], out["proxy"]
    return [
        Metric(f"{streams} at once: direct first-event latency median", median(direct), "ms"),
        Metric(f"{streams} at once: proxied first-event latency median", median(proxied), "ms"),
        Metric(
            f"{streams} at once: proxied / direct first-event latency (median)",
            median(proxied) / median(direct),
            "x",
            target=CONCURRENT_TARGET,
            baseline=median(direct),
        ),
        Metric(
            f"{streams} at once: proxied / direct first-event latency (p95)",
            percentile(proxied, 0.95) / percentile(direct, 0.95),
            "x",
            target=CONCURRENT_TARGET,
            baseline=percentile(direct, 0.95),
        ),
    ]


def run(
    quick: bool = False,
    *,
    events: int | None = None,
    repeats: int | None = None,
    streams: int | None = None,
) -> BenchResult:
    """Run the benchmark (``events`` and ``repeats`` override the sizes ``quick`` picks)."""
    events = events if events is not None else (20 if quick else 60)
    repeats = repeats if repeats is not None else (2 if quick else 5)
    streams = streams if streams is not None else CONCURRENT
    result = BenchResult(
        NAME,
        TITLE,
        params={"events": events, "repeats": repeats, "gap_ms": GAP_S * 1e3, "streams": streams},
    )
    chunks = reference_chunks(max(events, 8))[:events]
    app = ChunkApp(chunks, [GAP_S] * len(chunks))
    with LoopbackServer(app) as backend:
        proxy = RecordingProxy(backend.url, trust_env=False)
        with LoopbackServer(proxy.app) as front:
            out = asyncio.run(_measure(backend.url, front.url, app, chunks, repeats))
    recorded = [capture for capture in proxy.captures if capture.status == 200]
    split_ok = all(len(capture.chunks) == len(chunks) for capture in recorded)
    direct, proxied = out["direct"], out["proxy"]
    coalesced = max(out["coalesced"])
    result.metrics = [
        Metric("direct latency median", median(direct), "ms"),
        Metric("proxied latency median", median(proxied), "ms"),
        Metric(
            "added latency median",
            median(proxied) - median(direct),
            "ms",
            target=TARGET_MS,
            baseline=median(direct),
        ),
        Metric(
            "added latency p99",
            percentile(proxied, 0.99) - percentile(direct, 0.99),
            "ms",
            baseline=percentile(direct, 0.99),
        ),
        Metric("events not in a piece of their own (worst run)", coalesced, "events", 0.0),
    ]
    result.metrics += concurrency(streams, repeats=1 if quick else 3)
    result.notes.append(
        f"{repeats} alternating runs of {events} events {GAP_S * 1e3:g} ms apart; the proxy "
        f"recorded {len(recorded)} captures, each event in its own chunk: {split_ok}"
    )
    return result
