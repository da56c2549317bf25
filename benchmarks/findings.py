"""Benchmark 8: the ``--json`` answer grows with the distinct finding codes, not with the events.

``Diagnosis.to_json()`` (what ``--json`` prints) of one stream whose every event trips the same
check, at 1,000, 10,000 and 100,000 events; and of a stream of N events each of its own unknown
type (one code, N distinct values), at 200 and 20,000. The runner keeps the first examples of a
code and counts the rest, so each series should stay flat: the target is the largest size
over the smallest, at most 1.5. The bytes per distinct code are reported beside it.
"""

from __future__ import annotations

import json

from ._common import BenchResult, Metric
from ._inputs import one_byte_capture, unknown_types_capture

NAME = "findings"
TITLE = "--json size vs distinct codes and events"
GROWTH_TARGET = 1.5


def _size(capture: object) -> tuple[int, int, int]:
    """(JSON bytes, distinct codes, findings the JSON stands for)."""
    from chatkit_lab.diagnosis import diagnose_captures

    diagnosis = diagnose_captures([capture])  # type: ignore[list-item]
    text = json.dumps(diagnosis.to_json(), ensure_ascii=False)
    codes = {finding.code for finding in diagnosis.findings}
    counted = sum(1 + getattr(finding, "more", 0) for finding in diagnosis.findings)
    return len(text.encode("utf-8")), len(codes), counted


def run(quick: bool = False, *, scale: int | None = None) -> BenchResult:
    """Run the benchmark (``scale`` divides the sizes; ``quick`` divides them by 10)."""
    scale = scale if scale is not None else (10 if quick else 1)
    result = BenchResult(NAME, TITLE, params={"scale": scale})
    same = [1_000 // scale, 10_000 // scale, 100_000 // scale]
    distinct = [200 // scale, 20_000 // scale]
    same_sizes = [_size(one_byte_capture(max(n, 1))) for n in same]
    type_sizes = [_size(unknown_types_capture(max(n, 1))) for n in distinct]
    for n, (size, _codes, counted) in zip(same, same_sizes, strict=True):
        result.metrics.append(Metric(f"{n:,} events of one fault: --json", size / 1e3, "kB"))
        if counted < n:
            raise RuntimeError(f"{n} events: the JSON accounts for only {counted}")
    for n, (size, _codes, _) in zip(distinct, type_sizes, strict=True):
        result.metrics.append(Metric(f"{n:,} distinct unknown types: --json", size / 1e3, "kB"))
    result.metrics += [
        Metric(
            "growth with events (largest / smallest)",
            max(s for s, _, _ in same_sizes) / min(s for s, _, _ in same_sizes),
            "x",
            target=GROWTH_TARGET,
        ),
        Metric(
            "growth with distinct types (largest / smallest)",
            max(s for s, _, _ in type_sizes) / min(s for s, _, _ in type_sizes),
            "x",
            target=GROWTH_TARGET,
        ),
        Metric(
            "--json bytes per distinct code",
            max(size / codes for size, codes, _ in same_sizes + type_sizes),
            "bytes",
        ),
    ]
    result.notes.append(
        "distinct codes per run: "
        + ", ".join(str(codes) for _, codes, _ in same_sizes + type_sizes)
    )
    return result
