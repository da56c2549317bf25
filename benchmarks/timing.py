"""Benchmark 3: timing fidelity of recorded arrival times.

A server sends events at known gaps (1 ms, 10 ms, 100 ms) and notes the monotonic time of each
send; the capture's chunk arrival offsets give the gaps as recorded. The error is, per event,
the recorded gap minus the gap the server actually left (its sleeps overshoot, so the nominal
gap would measure the server, not the capture). Each sent event is matched to the recorded
chunk that completed it, so a coalesced read counts as the delay it really is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chatkit_lab import Capture, HTTPTransport, InProcessTransport, LoopbackServer

from ._common import BenchResult, Metric, median, percentile
from ._streams import REQUEST_BODY, REQUEST_HEADERS, ChunkApp, reference_chunks

NAME = "timing"
TITLE = "Timing fidelity of captured gaps"
TARGET_MS = 1.0
"""Median absolute gap error: under this."""
GAPS_MS = (1.0, 10.0, 100.0)


def gap_plan(quick: bool = False) -> list[float]:
    """Seconds to wait before each event: a run of each gap size, then the next."""
    counts = {1.0: 20, 10.0: 10, 100.0: 3} if quick else {1.0: 60, 10.0: 30, 100.0: 6}
    plan = [0.0]
    for gap in GAPS_MS:
        plan += [gap / 1e3] * counts[gap]
    return plan


def arrival_offsets(capture: Capture, chunk_sizes: list[int]) -> list[int]:
    """For each sent chunk, the capture offset (ns) of the recorded chunk holding its last byte."""
    arrivals: list[int] = []
    recorded = iter(capture.chunks)
    have = 0
    current: Any = None
    sent_end = 0
    for size in chunk_sizes:
        sent_end += size
        while have < sent_end:
            current = next(recorded)
            have += len(current.data)
        arrivals.append(current.offset_ns)
    return arrivals


def gap_errors_ms(sent_ns: list[int], arrived_ns: list[int]) -> list[float]:
    """|recorded gap - sent gap| in ms for each event after the first."""
    return [
        abs((arrived_ns[i] - arrived_ns[i - 1]) - (sent_ns[i] - sent_ns[i - 1])) / 1e6
        for i in range(1, len(sent_ns))
    ]


async def _capture(transport: Any, app: ChunkApp, sizes: list[int]) -> list[float]:
    capture = await transport.send("POST", "/", headers=REQUEST_HEADERS, body=REQUEST_BODY)
    if capture.ending.state != "complete" or capture.size != sum(sizes):
        raise RuntimeError(f"{transport.name}: capture incomplete ({capture.ending})")
    return gap_errors_ms(app.sent_ns, arrival_offsets(capture, sizes))


def run(quick: bool = False, *, plan: list[float] | None = None) -> BenchResult:
    """Run the benchmark (``plan``: seconds before each event, overriding ``quick``)."""
    plan = plan if plan is not None else gap_plan(quick)
    chunks = reference_chunks(max(len(plan), 8))[: len(plan)]
    sizes = [len(chunk) for chunk in chunks]
    result = BenchResult(
        NAME,
        TITLE,
        params={"events": len(plan), "gaps_ms": list(GAPS_MS), "plan_s": round(sum(plan), 3)},
    )
    app = ChunkApp(chunks, plan)
    errors: dict[str, list[float]] = {}
    errors["in-process"] = asyncio.run(_capture(InProcessTransport(app), app, sizes))
    with LoopbackServer(app) as server:
        errors["loopback"] = asyncio.run(
            _capture(HTTPTransport(server.url, trust_env=False), app, sizes)
        )
    for transport, values in errors.items():
        result.metrics.append(
            Metric(f"{transport}: median gap error", median(values), "ms", target=TARGET_MS)
        )
        result.metrics.append(Metric(f"{transport}: p99 gap error", percentile(values, 0.99), "ms"))
    return result
