"""Cost bounded by what matters, not by the input's size (issue 16, "Cost that grows without
bound"), at sizes small enough for the test suite; the benchmarks carry the big ones.

* findings of one code are grouped where they are produced: the check runner keeps the first
  few per stream and counts the rest (``Finding.more``), and the verdict is unchanged;
* a long stream of one fault gives a ``--json`` that does not grow with it;
* a very large frame is analysed without a large multiple of its size in memory;
* a HAR file is read entry by entry: the reader's own memory does not grow with the file, and a
  cut-off file is still salvaged.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab import Capture, diagnose_captures
from chatkit_lab.capture import RequestRecord
from chatkit_lab.checks import EXCERPT_LIMIT, KEPT_PER_CODE, StreamContext, run_layer
from chatkit_lab.sources import _har, load_har
from chatkit_lab.sources import _har as _har_stream
from chatkit_lab.sse import dumps_strict

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._inputs import write_har  # noqa: E402


def stream_capture(body: bytes, chunk: int = 16 * 1024) -> Capture:
    made = Capture(
        request=RequestRecord(
            "POST",
            "http://backend.test/chatkit",
            [],
            b'{"type":"threads.create","params":{"input":{"content":[]}},"metadata":{}}',
        ),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=1_000_000,
        label="threads.create",
    )
    for number, start in enumerate(range(0, len(body), chunk)):
        made.add_chunk(body[start : start + chunk], 2_000_000 + number)
    return made


def ones(events: int) -> Capture:
    """``events`` frames ``data: 1``: each event's data is one byte, none a JSON object."""
    return stream_capture(b"data: 1\n\n" * events)


def unknown_types(events: int) -> Capture:
    return stream_capture(
        b"".join(b'data: {"type":"x.kind.%d"}\n\n' % number for number in range(events))
    )


def counted(findings: list[Any], code: str) -> int:
    return sum(finding.count for finding in findings if finding.code == code)


def test_findings_of_one_code_are_grouped_with_the_count_of_the_rest() -> None:
    diagnosis = diagnose_captures([ones(5_000)])
    mine = [f for f in diagnosis.findings if f.code == "decoding.not_object"]
    assert len(mine) == KEPT_PER_CODE
    assert mine[0].more == 5_000 - KEPT_PER_CODE
    assert all(f.more == 0 for f in mine[1:])
    assert [f.evidence.event_index for f in mine] == list(range(KEPT_PER_CODE))
    assert json.loads(dumps_strict(diagnosis.to_json()))["findings"][0]["more"] == 4_980


def test_grouping_leaves_the_verdict_and_the_counts_as_they_were() -> None:
    stream = StreamContext.of(unknown_types(300))
    everything = {
        layer: run_layer(layer, StreamContext.of(unknown_types(300)), keep=10**9)
        for layer in ("decoding", "schema", "ordering", "rendering")
    }
    grouped = {layer: run_layer(layer, stream) for layer in everything}
    for layer, whole in everything.items():
        found = grouped[layer].findings
        assert {f.code for f in found} == {f.code for f in whole.findings}
        for code in {f.code for f in whole.findings}:
            assert counted(found, code) == counted(whole.findings, code)
        assert {(f.code, f.severity) for f in found} == {
            (f.code, f.severity) for f in whole.findings
        }


def test_twenty_thousand_distinct_unknown_types_give_a_small_json() -> None:
    diagnosis = diagnose_captures([unknown_types(20_000)])
    text = dumps_strict(diagnosis.to_json())
    assert len(text) < 200_000  # was 30 MB before findings were grouped
    assert counted(diagnosis.findings, "schema.unknown_type") == 20_000
    grouped = [f for f in diagnosis.findings if f.code == "schema.unknown_type"]
    assert grouped[0].more == 20_000 - KEPT_PER_CODE  # "and 19,980 more"


def test_the_json_does_not_grow_with_the_number_of_events_of_one_fault() -> None:
    small = len(dumps_strict(diagnose_captures([ones(1_000)]).to_json()))
    large = len(dumps_strict(diagnose_captures([ones(20_000)]).to_json()))
    assert large < 1.2 * small


def test_a_long_stream_of_one_fault_is_diagnosed_in_bounded_memory_per_event() -> None:
    capture = ones(50_000)
    capture.events  # noqa: B018 - framing and decoding are the capture's, not the diagnosis's
    tracemalloc.start()
    try:
        diagnosis = diagnose_captures([capture])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counted(diagnosis.findings, "decoding.not_object") == 50_000
    assert peak / 50_000 < 600  # bytes per event: verdicts and the client model, not findings


@pytest.mark.parametrize("kind", ["json string", "not json"])
def test_a_very_large_frame_is_analysed_in_a_small_multiple_of_its_size(kind: str) -> None:
    size = 4_000_000
    if kind == "json string":
        data = b'{"type":"progress_update","text":"' + b"x" * size + b'"}'
    else:
        data = b"x" * size
    capture = stream_capture(b"data: " + data + b"\n\n", chunk=64 * 1024)
    tracemalloc.start()
    try:
        diagnosis = diagnose_captures([capture])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * size  # was 80x
    text = dumps_strict(diagnosis.to_json())
    assert len(text) < 40_000
    assert all(len(f.evidence.excerpt or "") <= EXCERPT_LIMIT for f in diagnosis.findings)


def _reader_overhead(path: Path) -> tuple[int, int]:
    """(peak traced bytes while importing minus what the import keeps, imported captures)."""
    tracemalloc.start()
    try:
        imported = load_har(path)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - kept, len(imported.captures)


def test_the_har_reader_memory_does_not_grow_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_har_stream, "BLOCK", 256 * 1024)  # the sizes below are several blocks
    small, large = tmp_path / "small.har", tmp_path / "large.har"
    write_har(small, 1_500_000, 20_000)
    write_har(large, 6_000_000, 20_000)
    small_overhead, small_count = _reader_overhead(small)
    large_overhead, large_count = _reader_overhead(large)
    assert large_count > 3 * small_count
    assert large_overhead < 1.5 * small_overhead + 1_000_000


def test_a_har_file_is_read_entry_by_entry_not_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "session.har"
    write_har(path, 2_000_000, 50_000)

    def whole(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole-file reader was used for a well-formed HAR")

    monkeypatch.setattr(_har, "read_source", whole)
    imported = load_har(path)
    assert imported.captures and not imported.problems
    assert imported.creator == "WebInspector 537.36"


def test_a_large_har_cut_off_mid_entry_is_still_salvaged(tmp_path: Path) -> None:
    path = tmp_path / "cut.har"
    write_har(path, 2_000_000, 50_000)
    whole = load_har(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    cut = load_har(path)
    assert cut.truncated
    assert 0 < len(cut.captures) < len(whole.captures)
    assert [c.id for c in cut.captures] == [c.id for c in whole.captures[: len(cut.captures)]]
    assert "truncated" in str(cut.problems[0])
