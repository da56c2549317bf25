"""Benchmark 2: capture overhead against reading the same stream with bare httpx.

A loopback server (uvicorn on 127.0.0.1) streams 10,000 SDK-style events as fast as it can;
``HTTPTransport`` records the exchange (every piece kept with its arrival time) and a bare
``httpx.AsyncClient`` streams the same response with the same settings (fresh client per
request, same timeouts, redirects off, no environment proxies) and only counts bytes. Runs
alternate; the medians are compared.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from chatkit_lab import HTTPTransport, LoopbackServer
from chatkit_lab.sources import DEFAULT_LIMITS

from ._common import BenchResult, Metric, median
from ._streams import REQUEST_BODY, REQUEST_HEADERS, ChunkApp, reference_chunks

NAME = "capture"
TITLE = "Capture overhead vs bare httpx"
TARGET = 1.2
"""Kit wall time as a multiple of bare httpx: at most this."""


def _timeout() -> httpx.Timeout:
    limits = DEFAULT_LIMITS
    return httpx.Timeout(
        connect=limits.connect_s, read=limits.read_s, write=limits.read_s, pool=limits.connect_s
    )


async def _bare(url: str) -> tuple[float, int, int]:
    """(seconds, bytes, pieces) reading the stream with httpx alone."""
    started = time.perf_counter()
    received = pieces = 0
    async with httpx.AsyncClient(
        timeout=_timeout(), verify=True, follow_redirects=False, trust_env=False
    ) as client:
        async with client.stream(
            "POST", url + "/", content=REQUEST_BODY, headers=REQUEST_HEADERS
        ) as response:
            async for piece in response.aiter_raw():
                received += len(piece)
                pieces += 1
    return time.perf_counter() - started, received, pieces


async def _kit(transport: HTTPTransport) -> tuple[float, int, int]:
    """(seconds, bytes, chunks) capturing the stream through the kit."""
    started = time.perf_counter()
    capture = await transport.send("POST", "/", headers=REQUEST_HEADERS, body=REQUEST_BODY)
    elapsed = time.perf_counter() - started
    if capture.ending.state != "complete":
        raise RuntimeError(f"capture did not complete: {capture.ending}")
    return elapsed, capture.size, len(capture.chunks)


async def _measure(url: str, repeats: int, expected: int) -> dict[str, list[float]]:
    transport = HTTPTransport(url, trust_env=False)
    times: dict[str, list[float]] = {"bare": [], "kit": [], "bare_pieces": [], "kit_pieces": []}
    await _bare(url)  # warm up both paths (imports, first connection)
    await _kit(transport)
    for round_ in range(repeats):
        order = ("bare", "kit") if round_ % 2 == 0 else ("kit", "bare")
        for side in order:
            elapsed, size, pieces = await (_bare(url) if side == "bare" else _kit(transport))
            if size != expected:
                raise RuntimeError(f"{side}: read {size} bytes, expected {expected}")
            times[side].append(elapsed)
            times[f"{side}_pieces"].append(pieces)
    return times


def run(
    quick: bool = False, *, events: int | None = None, repeats: int | None = None
) -> BenchResult:
    """Run the benchmark (``events`` and ``repeats`` override the sizes ``quick`` picks)."""
    events = events if events is not None else (2_000 if quick else 10_000)
    repeats = repeats if repeats is not None else (3 if quick else 7)
    result = BenchResult(NAME, TITLE, params={"events": events, "repeats": repeats})
    chunks = reference_chunks(events)
    expected = sum(len(chunk) for chunk in chunks)
    with LoopbackServer(ChunkApp(chunks)) as server:
        times = asyncio.run(_measure(server.url, repeats, expected))
    bare, kit = median(times["bare"]), median(times["kit"])
    result.metrics = [
        Metric("bare httpx wall time", bare * 1e3, "ms"),
        Metric("kit capture wall time", kit * 1e3, "ms", baseline=bare * 1e3),
        Metric("kit / bare wall time", kit / bare, "x", target=TARGET, op="<="),
    ]
    result.notes.append(
        f"median of {repeats} alternating runs; {expected:,} bytes; pieces read per run "
        f"(median): bare {median(times['bare_pieces']):.0f}, kit {median(times['kit_pieces']):.0f}"
    )
    return result
