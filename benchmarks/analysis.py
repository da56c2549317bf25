"""Benchmark 1: analysis throughput and peak memory on a 100,000-event stream.

``analyze_capture`` (framing, decoding, schema validation, dialects, ordering and the client
model) against the bare cost of ``TypeAdapter(ThreadStreamEvent).validate_json`` over the same
events' JSON, timed in alternating runs; then the analysis's peak traced memory (tracemalloc)
against the capture's size in bytes.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from chatkit_lab import analyze_capture

from ._common import BenchResult, Metric, median
from ._streams import capture_from_chunks, reference_chunks

NAME = "analysis"
TITLE = "Analysis throughput and memory"
RATE_TARGET = 0.5
"""Analysis rate as a fraction of the bare validation rate: at least this."""
MEMORY_TARGET = 10.0
"""Peak traced memory as a multiple of the capture's size: under this."""


def _payloads(chunks: list[bytes]) -> list[bytes]:
    prefix, suffix = b"data: ", b"\n\n"
    return [chunk[len(prefix) : -len(suffix)] for chunk in chunks]


def _time_baseline(adapter: Any, payloads: list[bytes]) -> float:
    gc.collect()
    started = time.perf_counter()
    validated = [adapter.validate_json(payload) for payload in payloads]
    elapsed = time.perf_counter() - started
    if len(validated) != len(payloads):  # pragma: no cover - defensive
        raise RuntimeError("baseline lost events")
    return elapsed


def _time_analysis(chunks: list[bytes]) -> tuple[float, Any]:
    capture = capture_from_chunks(chunks)
    gc.collect()
    started = time.perf_counter()
    analysis = analyze_capture(capture)
    return time.perf_counter() - started, analysis


def _peak_memory(chunks: list[bytes]) -> tuple[int, int]:
    """(peak traced bytes while analysing, capture size in bytes)."""
    capture = capture_from_chunks(chunks)
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        analysis = analyze_capture(capture)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del analysis
    return peak, capture.size


def run(
    quick: bool = False, *, events: int | None = None, repeats: int | None = None
) -> BenchResult:
    """Run the benchmark (``events`` and ``repeats`` override the sizes ``quick`` picks)."""
    from chatkit.types import ThreadStreamEvent
    from pydantic import TypeAdapter

    events = events if events is not None else (10_000 if quick else 100_000)
    repeats = repeats if repeats is not None else (2 if quick else 3)
    result = BenchResult(NAME, TITLE, params={"events": events, "repeats": repeats})

    chunks = reference_chunks(events)
    payloads = _payloads(chunks)
    adapter: Any = TypeAdapter(ThreadStreamEvent)
    # Warm up both sides (imports, validator and lru caches) on a small prefix.
    warm = reference_chunks(min(events, 200))
    _time_baseline(adapter, _payloads(warm))
    _time_analysis(warm)

    base_times: list[float] = []
    kit_times: list[float] = []
    analysis: Any = None
    for _ in range(repeats):  # alternate so load from elsewhere hits both sides alike
        base_times.append(_time_baseline(adapter, payloads))
        elapsed, analysis = _time_analysis(chunks)
        kit_times.append(elapsed)
    if len(analysis.events) != events or analysis.findings:
        raise RuntimeError(
            f"the benchmark stream did not analyse cleanly: {len(analysis.events)} events, "
            f"findings {analysis.codes}"
        )
    reply = analysis.final.assistant_text
    del analysis

    base_rate = events / median(base_times)
    kit_rate = events / median(kit_times)
    peak, size = _peak_memory(chunks)

    result.metrics = [
        Metric("bare validate_json rate", base_rate, "events/s"),
        Metric("analyze_capture rate", kit_rate, "events/s", baseline=base_rate),
        Metric(
            "analysis rate / validation rate",
            kit_rate / base_rate,
            "x",
            target=RATE_TARGET,
            op=">=",
        ),
        Metric("capture size", size / 1e6, "MB"),
        Metric("peak traced memory", peak / 1e6, "MB"),
        Metric(
            "peak memory / capture size",
            peak / size,
            "x",
            target=MEMORY_TARGET,
            op="<=",
            baseline=size / 1e6,
        ),
    ]
    result.notes.append(
        f"median of {repeats} alternating runs each; baseline keeps the validated models in a "
        f"list; reply text {len(reply):,} characters"
    )
    return result
