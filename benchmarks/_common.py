"""What every benchmark returns, and small statistics helpers."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Metric:
    """One figure next to its target (``op`` is ``<=`` or ``>=``; no target when ``None``)."""

    name: str
    value: float | None
    unit: str
    target: float | None = None
    op: str = "<="
    baseline: float | None = None
    """The same-run baseline the value was compared with (for information)."""
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.value <= self.target if self.op == "<=" else self.value >= self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass
class BenchResult:
    """A benchmark's figures, parameters and remarks."""

    name: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None
    """Why the benchmark did not run (``None`` when it ran)."""

    @property
    def missed(self) -> list[Metric]:
        return [metric for metric in self.metrics if metric.met is False]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "metrics": [metric.to_dict() for metric in self.metrics],
            "notes": list(self.notes),
            "seconds": self.seconds,
            "skipped": self.skipped,
        }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the ``benchmarks`` package (child processes run there)."""


def in_child(task: str, arg: str, timeout_s: float = 600.0) -> dict[str, Any]:
    """Run ``benchmarks._child TASK ARG`` in a fresh process; its JSON line (time, memory)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._child", task, arg],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{task} failed (exit {done.returncode}): {tail[0]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
