"""Benchmark 6: the cost of diagnosing a stream of a million one-byte events.

``diagnose_captures`` on one capture of 1,000,000 frames ``data: 1`` (each event's data is one
byte, and each trips ``decoding.not_object``), cut into 16 KiB chunks as a network read would
cut them; against the bare cost of ``json.loads`` of every event's data, measured on the same
data in the same run. Each side runs in a fresh process, so its peak resident memory is its
own. Targets (issue 16): under 60 s and under 1 GB; the ratios to the baseline say how far
above the bare parse the whole diagnosis is.
"""

from __future__ import annotations

from ._common import BenchResult, Metric, in_child

NAME = "events"
TITLE = "A million one-byte events diagnosed"
SECONDS_TARGET = 60.0
MEMORY_TARGET_MB = 1000.0


def run(quick: bool = False, *, events: int | None = None) -> BenchResult:
    """Run the benchmark (``events`` overrides the size ``quick`` picks)."""
    events = events if events is not None else (50_000 if quick else 1_000_000)
    result = BenchResult(NAME, TITLE, params={"events": events})
    bare = in_child("json-events", str(events))
    kit = in_child("diagnose-events", str(events))
    if kit["counted"] < events:
        raise RuntimeError(f"the diagnosis accounted for {kit['counted']} of {events} events")
    result.metrics = [
        Metric("bare json.loads of every event", bare["seconds"], "s"),
        Metric(
            "diagnose_captures wall time",
            kit["seconds"],
            "s",
            target=SECONDS_TARGET,
            baseline=bare["seconds"],
        ),
        Metric("diagnosis / json.loads time", kit["seconds"] / bare["seconds"], "x"),
        Metric("bare peak memory (RSS)", bare["peak_rss_mb"], "MB"),
        Metric(
            "diagnosis peak memory (RSS)",
            kit["peak_rss_mb"],
            "MB",
            target=MEMORY_TARGET_MB,
            baseline=bare["peak_rss_mb"],
        ),
        Metric("diagnosis / json.loads peak memory", kit["peak_rss_mb"] / bare["peak_rss_mb"], "x"),
        Metric("findings kept", float(kit["findings"]), "findings"),
        Metric("--json size", kit["json_bytes"] / 1e3, "kB"),
    ]
    result.notes.append(
        f"{events:,} events, {kit['input_mb']:.1f} MB of body; each side in a fresh process "
        f"(imports: {bare['start_rss_mb']:.0f} MB and {kit['start_rss_mb']:.0f} MB RSS before "
        f"the work); the findings stand for {kit['counted']:,} (the rest counted, not kept)"
    )
    return result
