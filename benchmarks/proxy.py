"""Benchmark 4: latency the recording proxy adds, and proof that it never coalesces events.

A loopback backend sends events a few milliseconds apart and notes the monotonic time of each
send. A bare httpx client reads the stream directly and through ``RecordingProxy`` (itself served
by ``LoopbackServer``), stamping each piece as it arrives; an event's latency is its arrival
minus its send (one process, one clock). Runs alternate; the added latency is the proxied
latency minus the direct one, at the median and the 99th percentile. Each piece the client got
through the proxy is checked to be exactly one event.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from chatkit_lab import LoopbackServer
from chatkit_lab.sources._proxy import RecordingProxy

from ._common import BenchResult, Metric, median, percentile
from ._streams import REQUEST_BODY, REQUEST_HEADERS, ChunkApp, reference_chunks

NAME = "proxy"
TITLE = "Recording proxy: added latency and no coalescing"
TARGET_MS = 1.0
"""Median added latency per event: under this."""
GAP_S = 0.005


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


def run(
    quick: bool = False, *, events: int | None = None, repeats: int | None = None
) -> BenchResult:
    """Run the benchmark (``events`` and ``repeats`` override the sizes ``quick`` picks)."""
    events = events if events is not None else (20 if quick else 60)
    repeats = repeats if repeats is not None else (2 if quick else 5)
    result = BenchResult(
        NAME, TITLE, params={"events": events, "repeats": repeats, "gap_ms": GAP_S * 1e3}
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
    result.notes.append(
        f"{repeats} alternating runs of {events} events {GAP_S * 1e3:g} ms apart; the proxy "
        f"recorded {len(recorded)} captures, each event in its own chunk: {split_ok}"
    )
    return result
