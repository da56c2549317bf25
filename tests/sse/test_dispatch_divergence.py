"""ChatKit's parser, WHATWG EventSource and httpx-sse side by side: every divergence, with why."""

from __future__ import annotations

from reference_parsers import DIVERGENCE_COLUMNS, crosscheck_dispatchers

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.sse import BOM

REFERENCE = (
    b'data: {"type":"thread.created","thread":{"id":"thr_1"}}\n\n'
    b'data: {"type":"thread.item.done","item":{"id":"msg_1"}}\n\n'
)


def rows(body: bytes | list[bytes]) -> list[dict[str, object]]:
    return crosscheck_dispatchers(body).table.to_dict("records")


def test_a_reference_style_stream_gives_all_three_the_same_messages() -> None:
    result = crosscheck_dispatchers([REFERENCE[:17], REFERENCE[17:]])
    assert result.agree and list(result.table.columns) == DIVERGENCE_COLUMNS
    datas = [m.data for m in result.messages]
    assert datas == [f.data for f in result.whatwg] == [s.data for s in result.httpx_sse]


def test_a_ping_reaches_chatkit_as_an_empty_message_and_nobody_else_dispatches_it() -> None:
    (row,) = rows(b": ping\n\n" + REFERENCE)
    assert row["kind"] == "WHATWG and httpx-sse differ"
    assert (row["message"], row["bytes"]) == (0, "0..8")
    assert row["whatwg"] == row["httpx_sse"] == "(nothing dispatched)"
    assert "dispatches it with empty data" in str(row["why"])


def test_a_retry_only_block_is_dispatched_by_chatkit_and_httpx_sse_but_not_whatwg() -> None:
    (row,) = rows(b"retry: 3000\n\n" + REFERENCE)
    assert row["kind"] == "WHATWG differs"
    assert "set only 'retry'" in str(row["why"])
    assert "retry=3000" in str(row["httpx_sse"])


def test_a_line_without_a_colon_changes_the_data_for_whatwg_and_httpx_sse() -> None:
    (row,) = rows(b"data\ndata: x\n\n")
    assert row["kind"] == "WHATWG and httpx-sse differ"
    assert "data='\\nx'" in str(row["whatwg"]) and "data='x'" in str(row["fetch_event_source"])
    assert "without a colon" in str(row["why"])


def test_leading_empty_data_lines_are_dropped_only_by_chatkit() -> None:
    (row,) = rows(b"data:\ndata: x\n\n")
    assert "before the first non-empty one dropped" in str(row["why"])


def test_a_leading_bom_hides_the_first_message_from_httpx_sse_only() -> None:
    (row,) = rows(BOM + REFERENCE)
    assert row["kind"] == "httpx-sse differs"
    assert row["message"] == 0 and row["httpx_sse"] == "(nothing dispatched)"
    assert "BOM" in str(row["why"])


def test_a_retry_read_by_parseint_is_listed_against_both_others() -> None:
    (row,) = rows(b"retry: 12abc\ndata: a\n\n")
    assert "retry 12 vs None" in str(row["why"])
    assert "parseInt" in str(row["why"])


def test_an_id_with_nul_is_kept_by_chatkit_only() -> None:
    (row,) = rows(b"id: a\x00b\ndata: x\n\n")
    assert row["kind"] == "WHATWG and httpx-sse differ"
    assert "NUL" in str(row["why"])


def test_the_undispatched_tail_is_reported() -> None:
    result = crosscheck_dispatchers(REFERENCE + b"data: cut")
    assert result.agree
    assert result.undispatched == (len(REFERENCE), len(REFERENCE) + 9)


def test_a_capture_is_compared_in_its_own_chunking() -> None:
    capture = Capture(
        request=RequestRecord("POST", "http://127.0.0.1/chatkit"),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
    )
    capture.add_chunk(b"data: a\r", 1)
    capture.add_chunk(b"\n\r\n\r\n", 2)
    result = crosscheck_dispatchers(capture)
    assert [(m.data, m.chunk) for m in result.messages] == [("a", 1), ("", 1)]
    (row,) = result.table.to_dict("records")
    assert row["message"] == 1 and row["bytes"] == "11..13"
