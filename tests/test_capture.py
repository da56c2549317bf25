"""Captures survive a save/load round trip, and unreadable files fail with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chatkit_lab.capture import (
    CAPTURE_VERSION,
    Capture,
    Ending,
    RequestRecord,
    load_captures,
    save_captures,
)
from chatkit_lab.errors import CaptureFormatError
from chatkit_lab.report import chunks_table, events_table, messages_table

STREAM = [
    b'data: {"type":"thread.created","thread":{"id":"thr_1"}}\n\n',
    b'data: {"type":"progress_update"',
    b',"text":"\xe2\x80\xa6"}\n\n: ping\n\ndata: not json\n\n',
]


def make_capture(chunks: list[bytes] | None = None, **changes) -> Capture:
    fields = {
        "label": "create",
        "target": "http://127.0.0.1:8000",
        "transport": "http",
        **changes,
    }
    capture = Capture(
        request=RequestRecord(
            "POST",
            "http://127.0.0.1:8000/chatkit",
            [("content-type", "application/json")],
            b'{"type":"threads.create","params":{}}',
        ),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=1_500_000,
        **fields,
    )
    for number, data in enumerate(STREAM if chunks is None else chunks):
        capture.add_chunk(data, 2_000_000 + number * 40_000_000)
    capture.ending = Ending("complete", "", 90_000_000)
    return capture


def assert_same(saved: Capture, loaded: Capture) -> None:
    assert loaded.equivalent(saved)
    assert [(c.index, c.offset_ns, c.data) for c in loaded.chunks] == [
        (c.index, c.offset_ns, c.data) for c in saved.chunks
    ]


def test_a_saved_capture_loads_back_equal(tmp_path: Path) -> None:
    capture = make_capture()
    loaded = Capture.load(capture.save(tmp_path / "one.jsonl"))
    assert_same(capture, loaded)
    assert [e.type for e in loaded.events] == ["thread.created", "progress_update", None]


def test_several_captures_in_one_file_load_back_in_order(tmp_path: Path) -> None:
    first, second = make_capture(label="a"), make_capture(label="b")
    loaded = load_captures(save_captures([first, second], tmp_path / "two.jsonl"))
    assert [c.label for c in loaded] == ["a", "b"]
    assert_same(second, loaded[1])


def test_a_binary_non_utf8_chunk_round_trips_byte_for_byte(tmp_path: Path) -> None:
    capture = make_capture([b"data: \xff\xfe\x00\n\n", b"\x1f\x8b\x08\x00gzip?", b"\xe2\x82"])
    loaded = Capture.load(capture.save(tmp_path / "binary.jsonl", redact=False))
    assert_same(capture, loaded)


def test_a_timeout_ending_and_a_missing_status_round_trip(tmp_path: Path) -> None:
    capture = make_capture([])
    capture.status = None
    capture.ending = Ending("timeout", "no response head for 15 s (read limit)", 15_000_000_000)
    loaded = Capture.load(capture.save(tmp_path / "timeout.jsonl"))
    assert loaded.status is None
    assert loaded.ending == capture.ending


def header_record(capture: Capture) -> dict:
    return next(capture.to_records())


def write_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_client_fields_round_trip_and_are_read_from_meta_in_earlier_files(
    tmp_path: Path,
) -> None:
    capture = make_capture(client_type="threads.delete", kit=True, cleanup=True)
    loaded = Capture.load(capture.save(tmp_path / "typed.jsonl"))
    assert (loaded.client_type, loaded.answered_locally, loaded.kit, loaded.cleanup) == (
        "threads.delete",
        False,
        True,
        True,
    )
    records = list(make_capture().to_records())
    fields = {"answered_locally", "cleanup", "fetch_error", "fetch_body_error", "fetch_body_bytes"}
    fields |= {"client_type", "kit", "attempt", "retry_wait_s", "fetch_undefined"}
    records[0] = {key: value for key, value in records[0].items() if key not in fields}
    records[0]["meta"] = {  # an earlier file kept them in meta
        "client_type": "threads.create",
        "kit": True,
        "attempt": 2,
        "retry_wait_s": [2, 4],
        "fetch_undefined": ["tokenRef"],
        "source": "har",
    }
    loaded = load_captures(write_lines(tmp_path / "earlier.jsonl", records))[0]
    assert (loaded.client_type, loaded.kit, loaded.cleanup) == ("threads.create", True, False)
    assert (loaded.attempt, loaded.retry_wait_s, loaded.fetch_undefined) == (
        2,
        (2, 4),
        ["tokenRef"],
    )
    assert loaded.meta == {"source": "har"}


def test_the_source_fields_round_trip_and_are_read_from_meta_in_earlier_files(
    tmp_path: Path,
) -> None:
    coding = {"coding": "gzip", "decoded": True, "raw_bytes": 12, "raw_pieces": 1}
    capture = make_capture(
        content_encoding=coding, body_missing=True, thread_items_before=["msg_1"]
    )
    loaded = Capture.load(capture.save(tmp_path / "typed.jsonl"))
    assert (loaded.content_encoding, loaded.body_missing, loaded.thread_items_before) == (
        coding,
        True,
        ["msg_1"],
    )
    records = list(make_capture().to_records())
    fields = {"content_encoding", "body_missing", "thread_items_before"}
    records[0] = {key: value for key, value in records[0].items() if key not in fields}
    records[0]["meta"] = {  # an earlier file kept them in meta
        "content_encoding": coding,
        "thread_items_before": ["msg_1", "msg_2"],
        "har": {"entry": 3, "body_missing": True},
    }
    loaded = load_captures(write_lines(tmp_path / "earlier.jsonl", records))[0]
    assert loaded.content_encoding == coding
    assert loaded.body_missing is True
    assert loaded.thread_items_before == ["msg_1", "msg_2"]
    assert loaded.meta == {"har": {"entry": 3}}


def test_an_older_format_version_is_refused_with_advice(tmp_path: Path) -> None:
    records = list(make_capture().to_records())
    records[0]["version"] = CAPTURE_VERSION - 1
    with pytest.raises(CaptureFormatError, match="older than this chatkit-lab reads"):
        load_captures(write_lines(tmp_path / "old.jsonl", records))


def test_a_newer_format_version_is_refused_with_advice(tmp_path: Path) -> None:
    records = list(make_capture().to_records())
    records[0]["version"] = CAPTURE_VERSION + 1
    with pytest.raises(CaptureFormatError, match="newer than this chatkit-lab reads.*upgrade"):
        load_captures(write_lines(tmp_path / "new.jsonl", records))


def test_a_har_file_is_named_as_a_foreign_file(tmp_path: Path) -> None:
    har = {"log": {"version": "1.2", "entries": []}}
    pretty = tmp_path / "pretty.har"
    pretty.write_text(json.dumps(har, indent=2), encoding="utf-8")
    with pytest.raises(CaptureFormatError, match="not a chatkit-lab capture file"):
        load_captures(pretty)
    compact = write_lines(tmp_path / "compact.har", [har])
    with pytest.raises(CaptureFormatError, match="HAR"):
        load_captures(compact)


def test_random_text_is_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nthis is not a capture\n", encoding="utf-8")
    with pytest.raises(CaptureFormatError, match="not a chatkit-lab capture file"):
        load_captures(path)


def test_a_binary_file_is_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(CaptureFormatError, match="not UTF-8"):
        load_captures(path)


def test_an_empty_file_holds_no_captures(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(CaptureFormatError, match="holds no captures"):
        load_captures(path)


def test_a_missing_file_is_a_capture_format_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="no such capture file"):
        load_captures(tmp_path / "absent.jsonl")


def test_a_file_cut_before_its_end_record_is_truncated(tmp_path: Path) -> None:
    lines = make_capture().save(tmp_path / "full.jsonl").read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(CaptureFormatError, match="truncated"):
        load_captures(cut)


def test_a_file_cut_mid_line_is_a_corrupt_record(tmp_path: Path) -> None:
    text = make_capture().save(tmp_path / "full.jsonl").read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(CaptureFormatError, match=r"cut\.jsonl:\d+: corrupt record"):
        load_captures(cut)


def test_a_file_missing_a_chunk_is_incomplete(tmp_path: Path) -> None:
    records = [
        r for r in make_capture().to_records() if r.get("index") != 1 or r["record"] != "chunk"
    ]
    with pytest.raises(CaptureFormatError, match="incomplete"):
        load_captures(write_lines(tmp_path / "gap.jsonl", records))


def test_load_refuses_a_file_with_two_captures(tmp_path: Path) -> None:
    path = save_captures([make_capture(), make_capture()], tmp_path / "two.jsonl")
    with pytest.raises(CaptureFormatError, match="holds 2 captures"):
        Capture.load(path)


def test_the_chunks_table_has_one_row_per_chunk_with_gaps() -> None:
    table = chunks_table(make_capture())
    assert list(table.columns) == ["chunk", "arrived_ms", "gap_ms", "bytes", "preview"]
    assert list(table["chunk"]) == [0, 1, 2]
    assert list(table["arrived_ms"]) == [2.0, 42.0, 82.0]
    assert list(table["gap_ms"]) == [2.0, 40.0, 40.0]
    assert list(table["bytes"]) == [len(data) for data in STREAM]


def test_the_messages_table_has_a_row_per_message_chatkit_got_and_one_for_an_unended_tail() -> None:
    table = messages_table(make_capture([*STREAM, b"data: cut"]))
    assert list(table.columns) == [
        "message",
        "bytes",
        "chunk",
        "arrived_ms",
        "event",
        "id",
        "retry",
        "dispatched",
        "data",
        "notes",
    ]
    assert list(table["dispatched"]) == [True, True, True, True, False]
    assert list(table["chunk"]) == [0, 2, 2, 2, 3]
    assert list(table["arrived_ms"])[:4] == [2.0, 82.0, 82.0, 82.0]
    assert pd.isna(table["arrived_ms"].iloc[4])
    assert table["data"].iloc[2] == "" and table["data"].iloc[4] == "cut"
    assert "never dispatches" in table["notes"].iloc[4]


def test_the_events_table_has_one_row_per_dispatched_event() -> None:
    table = events_table(make_capture())
    assert list(table.columns) == [
        "event",
        "frame",
        "arrived_ms",
        "sse_event",
        "type",
        "decode_error",
        "data",
    ]
    assert list(table["frame"]) == [0, 1, 3]
    assert list(table["type"])[:2] == ["thread.created", "progress_update"]
    assert table["decode_error"][2].startswith("not JSON")


def test_tables_of_a_capture_without_timing_leave_times_empty() -> None:
    capture = make_capture(timing=False)
    assert chunks_table(capture)["arrived_ms"].isna().all()
    assert events_table(capture)["arrived_ms"].isna().all()
