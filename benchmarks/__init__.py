"""Performance benchmarks for chatkit-lab, each measured against a baseline from the same run.

``python -m benchmarks`` runs them all and prints a table with every figure next to its target;
``--only NAME`` runs one (or several, comma-separated) and ``--quick`` uses small sizes. Each
benchmark module has ``NAME``, ``TITLE`` and ``run(quick=False, ...) -> BenchResult``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ._common import BenchResult, Metric

__all__ = [
    "BENCHMARKS",
    "DEFAULT_OUTPUT",
    "BenchResult",
    "Metric",
    "results_table",
    "run_benchmarks",
    "write_results",
]

BENCHMARKS: tuple[str, ...] = (
    "analysis",
    "capture",
    "timing",
    "proxy",
    "events",
    "har",
    "findings",
    "cli",
    "notebooks",
)
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _module(name: str) -> ModuleType:
    import importlib

    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return importlib.import_module(f"{__name__}.{name}")


def run_benchmarks(
    names: Iterable[str] = BENCHMARKS,
    *,
    quick: bool = False,
    on_result: Callable[[BenchResult], None] | None = None,
) -> list[BenchResult]:
    """Run the named benchmarks in order; a benchmark that raises is reported as skipped."""
    results: list[BenchResult] = []
    for name in names:
        module = _module(name)
        started = time.perf_counter()
        try:
            result: BenchResult = module.run(quick=quick)
        except Exception as exc:
            result = BenchResult(name, module.TITLE, skipped=f"error: {type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - started
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def results_table(results: Iterable[BenchResult]) -> Any:
    """A pandas DataFrame: one row per figure, its target and whether it was met."""
    import pandas as pd

    rows: list[dict[str, str]] = []
    for result in results:
        if result.skipped:
            rows.append(
                {
                    "benchmark": result.name,
                    "metric": "(not run)",
                    "value": result.skipped,
                    "target": "",
                    "met": "",
                }
            )
            continue
        for metric in result.metrics:
            target = (
                f"{metric.op} {_fmt(metric.target)} {metric.unit}"
                if metric.target is not None
                else ""
            )
            met = {True: "yes", False: "**MISS**", None: ""}[metric.met]
            rows.append(
                {
                    "benchmark": result.name,
                    "metric": metric.name,
                    "value": f"{_fmt(metric.value)} {metric.unit}",
                    "target": target,
                    "met": met,
                }
            )
    return pd.DataFrame(rows, columns=["benchmark", "metric", "value", "target", "met"])


def write_results(results: Iterable[BenchResult], path: Path = DEFAULT_OUTPUT) -> Path:
    """Write the results as JSON (with the machine's CPU count and Python version)."""
    import os
    import platform

    results = list(results)
    document = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "missed": [
            f"{result.name}: {metric.name}" for result in results for metric in result.missed
        ],
        "results": [result.to_dict() for result in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
