"""Benchmark 7: importing a 200 MB HAR export.

A Chrome-style HAR of a ChatKit session (``threads.create`` entries with event-stream bodies,
``threads.get_by_id`` JSON entries, static entries), written to a temporary folder, imported
with ``load_har`` in a fresh process; against ``json.load`` of the same file, the bare parse
of the whole document, in a fresh process too. Two shapes: large entries (1 MB event-stream
bodies) and many small ones (2 kB bodies, about 70,000 entries). Targets (issue 16): each
import under 20 s and under 1 GB peak memory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ._common import BenchResult, Metric, in_child
from ._inputs import write_har

NAME = "har"
TITLE = "A 200 MB HAR imported"
SECONDS_TARGET = 20.0
MEMORY_TARGET_MB = 1000.0
SHAPES = {"large entries": 1_000_000, "small entries": 2_000}
"""Event-stream body bytes per ``threads.create`` entry, by shape."""


def run(quick: bool = False, *, size_mb: float | None = None) -> BenchResult:
    """Run the benchmark (``size_mb`` overrides the file size ``quick`` picks)."""
    size_mb = size_mb if size_mb is not None else (10.0 if quick else 200.0)
    result = BenchResult(NAME, TITLE, params={"size_mb": size_mb, "shapes": dict(SHAPES)})
    with tempfile.TemporaryDirectory(prefix="chatkit-lab-bench-") as folder:
        for shape, stream_bytes in SHAPES.items():
            path = Path(folder) / f"{shape.replace(' ', '_')}.har"
            written = write_har(path, int(size_mb * 1e6), min(stream_bytes, int(size_mb * 1e5)))
            bare = in_child("json-har", str(path))
            kit = in_child("load-har", str(path))
            path.unlink()
            if kit["problems"]:
                raise RuntimeError(f"{shape}: the import reported {kit['problems']} problem(s)")
            result.metrics += [
                Metric(f"{shape}: bare json.load", bare["seconds"], "s"),
                Metric(
                    f"{shape}: load_har wall time",
                    kit["seconds"],
                    "s",
                    target=SECONDS_TARGET,
                    baseline=bare["seconds"],
                ),
                Metric(
                    f"{shape}: load_har / json.load time", kit["seconds"] / bare["seconds"], "x"
                ),
                Metric(f"{shape}: bare peak memory (RSS)", bare["peak_rss_mb"], "MB"),
                Metric(
                    f"{shape}: load_har peak memory (RSS)",
                    kit["peak_rss_mb"],
                    "MB",
                    target=MEMORY_TARGET_MB,
                    baseline=bare["peak_rss_mb"],
                ),
                Metric(
                    f"{shape}: load_har / json.load peak memory",
                    kit["peak_rss_mb"] / bare["peak_rss_mb"],
                    "x",
                ),
            ]
            result.notes.append(
                f"{shape}: {written['bytes'] / 1e6:.0f} MB, {written['entries']:,} entries, "
                f"{kit['captures']:,} imported (static entries are filtered out)"
            )
    return result
