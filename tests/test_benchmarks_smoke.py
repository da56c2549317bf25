"""Smoke test: every benchmark runs at a tiny size and returns well-formed results.

No timing is asserted (the figures depend on the machine); only the shape of the results, and
the facts that hold on any machine (each event recorded, no coalescing through the proxy).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    BENCHMARKS,
    BenchResult,
    Metric,
    analysis,
    capture,
    cli,
    events,
    findings,
    har,
    notebooks,
    proxy,
    results_table,
    timing,
    write_results,
)
from benchmarks.__main__ import main  # noqa: E402
from benchmarks._common import percentile  # noqa: E402
from benchmarks._streams import capture_from_chunks, reference_chunks  # noqa: E402


def _check(result: BenchResult, name: str) -> None:
    assert result.name == name
    assert result.skipped is None
    assert result.metrics
    for metric in result.metrics:
        assert isinstance(metric, Metric)
        assert metric.value is not None and metric.value == metric.value  # not NaN
        assert metric.op in ("<=", ">=")
    assert any(metric.target is not None for metric in result.metrics)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["name"] == name and len(document["metrics"]) == len(result.metrics)


def test_reference_stream_is_valid_chatkit() -> None:
    from chatkit_lab import analyze_capture

    chunks = reference_chunks(20)
    assert len(chunks) == 20
    assert all(chunk.startswith(b"data: {") and chunk.endswith(b"}\n\n") for chunk in chunks)
    result = analyze_capture(capture_from_chunks(chunks))
    assert result.codes == []
    assert result.dialects == {"chatkit": 20}
    assert result.final.assistant_text.startswith("alpha beta gamma")


def test_analysis_benchmark() -> None:
    result = analysis.run(events=60, repeats=1)
    _check(result, "analysis")
    names = {metric.name for metric in result.metrics}
    assert {"analysis rate / validation rate", "peak memory / capture size"} <= names


def test_capture_benchmark() -> None:
    result = capture.run(events=30, repeats=1)
    _check(result, "capture")
    assert [m.name for m in result.metrics][-1] == "kit / bare wall time"


def test_timing_benchmark() -> None:
    result = timing.run(plan=[0.0, 0.001, 0.001, 0.01, 0.001])
    _check(result, "timing")
    names = [metric.name for metric in result.metrics]
    assert "in-process: median gap error" in names and "loopback: p99 gap error" in names
    assert all(metric.value >= 0 for metric in result.metrics)  # type: ignore[operator]


def test_proxy_benchmark_never_coalesces() -> None:
    result = proxy.run(events=8, repeats=1, streams=3)
    _check(result, "proxy")
    coalesced = next(m for m in result.metrics if m.name.startswith("events not in a piece"))
    assert coalesced.value == 0 and coalesced.met is True
    ratios = [m for m in result.metrics if m.name.startswith("3 at once: proxied / direct")]
    assert len(ratios) == 2 and all(m.target == 2.0 and m.value > 0 for m in ratios)


def test_the_million_events_benchmark_runs_each_side_in_a_process_of_its_own() -> None:
    result = events.run(events=2_000)
    _check(result, "events")
    figures = {m.name: m for m in result.metrics}
    assert figures["diagnose_captures wall time"].target == 60.0
    assert figures["diagnosis peak memory (RSS)"].target == 1000.0
    assert figures["diagnosis peak memory (RSS)"].value > 0  # type: ignore[operator]
    assert figures["findings kept"].value < 100  # type: ignore[operator]


def test_the_har_benchmark_imports_both_shapes_from_a_temporary_file() -> None:
    result = har.run(size_mb=0.5)
    _check(result, "har")
    names = [m.name for m in result.metrics]
    for shape in ("large entries", "small entries"):
        assert f"{shape}: load_har wall time" in names
        assert f"{shape}: load_har peak memory (RSS)" in names
    generated = [*ROOT.glob("*.har"), *(ROOT / "benchmarks").glob("**/*.har")]
    assert not generated  # the inputs go to a temporary folder, never the repository


def test_the_findings_benchmark_compares_json_sizes_across_sizes() -> None:
    result = findings.run(scale=100)
    _check(result, "findings")
    growth = [m for m in result.metrics if m.name.startswith("growth with")]
    assert [m.target for m in growth] == [1.5, 1.5]


def test_the_cli_benchmark_times_help_and_the_first_stderr_byte() -> None:
    result = cli.run(repeats=1, first_runs=1)
    _check(result, "cli")
    names = [m.name for m in result.metrics]
    assert "--help added to the interpreter start" in names
    assert "first stderr byte added to the interpreter start" in names


def test_the_first_stderr_byte_is_timed_without_waiting_for_the_end() -> None:
    script = "import sys, time; sys.stderr.write('x'); sys.stderr.flush(); time.sleep(30)"
    seconds, wrote = cli.first_stderr_byte([sys.executable, "-c", script])
    assert wrote and seconds < 20


def test_notebooks_benchmark_without_notebooks(tmp_path: Path) -> None:
    result = notebooks.run(directory=tmp_path)
    assert result.skipped == "no notebooks" and result.metrics == []


def test_notebooks_benchmark_runs_a_notebook(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_code_cell("x = 1 + 1"))
    nbformat.write(book, tmp_path / "tiny.ipynb")
    result = notebooks.run(directory=tmp_path)
    _check(result, "notebooks")
    assert [m.name for m in result.metrics][:2] == ["empty notebook (kernel start)", "tiny.ipynb"]
    assert not result.notes  # nothing failed


def test_table_json_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = BenchResult("demo", "Demo", metrics=[Metric("ratio", 0.4, "x", target=0.5, op=">=")])
    skipped = BenchResult("other", "Other", skipped="no notebooks")
    table = results_table([ok, skipped])
    assert list(table.columns) == ["benchmark", "metric", "value", "target", "met"]
    assert table.loc[0, "met"] == "**MISS**" and table.loc[1, "metric"] == "(not run)"
    path = write_results([ok, skipped], tmp_path / "out" / "r.json")
    document = json.loads(path.read_text())
    assert document["missed"] == ["demo: ratio"] and len(document["results"]) == 2

    assert set(BENCHMARKS) == {
        "analysis",
        "capture",
        "timing",
        "proxy",
        "events",
        "har",
        "findings",
        "cli",
        "notebooks",
    }
    with pytest.raises(SystemExit):
        main(["--only", "nope"])
    assert main(["--only", "timing", "--quick", "--output", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "| timing" in out and (tmp_path / "t.json").exists()


def test_percentile() -> None:
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([0.0, 10.0], 0.5) == 5.0
    assert percentile(list(range(101)), 0.99) == pytest.approx(99.0)
