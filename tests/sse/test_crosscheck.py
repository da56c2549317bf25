"""httpx-sse as a second opinion: agreement on plain streams, every disagreement listed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_parsers import COLUMNS, crosscheck_httpx_sse

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.sse import BOM

REFERENCE = (
    b'data: {"type":"thread.created","thread":{"id":"thr_1"}}\n\n'
    b'data: {"type":"thread.item.done","item":{"id":"msg_1"}}\n\n'
)


def test_a_reference_style_stream_agrees() -> None:
    result = crosscheck_httpx_sse(REFERENCE)
    assert result.agree
    assert result.table.empty and list(result.table.columns) == COLUMNS
    assert [sse.data for sse in result.httpx_sse] == [f.data for f in result.browser]


def test_crlf_comments_and_multiline_data_split_anywhere_still_agree() -> None:
    body = b": ping\r\n\r\ndata: a\r\ndata:b\r\n\r\nevent: x\rdata: c\r\r"
    chunks = [body[i : i + 3] for i in range(0, len(body), 3)]
    result = crosscheck_httpx_sse(chunks)
    assert result.agree, result.table
    assert [(sse.event, sse.data) for sse in result.httpx_sse] == [("message", "a\nb"), ("x", "c")]
    assert any("comment" in note for note in result.notes)


def test_a_retry_only_block_is_yielded_by_httpx_sse_but_not_dispatched_by_a_browser() -> None:
    result = crosscheck_httpx_sse(b"retry: 3000\n\n" + REFERENCE)
    assert not result.agree
    (row,) = result.table.to_dict("records")
    assert row["kind"] == "httpx-sse only"
    assert row["browser"] == "(nothing dispatched)"
    assert "retry" in row["why"] and "dispatches nothing" in row["why"]


def test_blank_lines_after_an_id_make_httpx_sse_yield_empty_events() -> None:
    result = crosscheck_httpx_sse(b"id: 1\ndata: a\n\n\n")
    assert [row["kind"] for row in result.table.to_dict("records")] == ["httpx-sse only"]
    assert "after an id was set" in result.table["why"][0]


def test_a_leading_bom_hides_the_first_event_from_httpx_sse() -> None:
    result = crosscheck_httpx_sse(BOM + REFERENCE)
    (row,) = result.table.to_dict("records")
    assert row["kind"] == "browser only"
    first_end = 3 + REFERENCE.index(b"\n\n") + 2
    assert row["frame"] == 0 and row["bytes"] == f"3..{first_end}"
    assert "BOM" in row["why"]


def test_a_retry_value_only_int_accepts_is_a_listed_difference() -> None:
    result = crosscheck_httpx_sse(b"retry: 1_000\ndata: a\n\n")
    (row,) = result.table.to_dict("records")
    assert row["kind"] == "differs"
    assert "ASCII digits" in row["why"]


def test_a_capture_is_crosschecked_chunk_by_chunk_with_its_content_type() -> None:
    capture = Capture(
        request=RequestRecord("POST", "http://127.0.0.1/chatkit"),
        status=200,
        response_headers=[("content-type", "application/json")],
    )
    capture.add_chunk(REFERENCE[:20], 1)
    capture.add_chunk(REFERENCE[20:], 2)
    result = crosscheck_httpx_sse(capture)
    assert result.agree
    assert any("refuses this response" in note for note in result.notes)


PLAIN_TOKENS = [
    b"data: x",
    b"data:",
    b"data",
    b": c",
    b"x",
    b"\r",
    b"\n",
    b"\r\n",
    b"\xff",
    b"\xe2\x82",
]


@settings(max_examples=150, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(PLAIN_TOKENS), max_size=30),
    size=st.integers(min_value=1, max_value=7),
)
def test_streams_without_bom_id_retry_or_event_always_agree(tokens: list[bytes], size: int) -> None:
    body = b"".join(tokens)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    result = crosscheck_httpx_sse(chunks)
    assert result.agree, result.table.to_dict("records")


@settings(max_examples=150, deadline=None)
@given(
    body=st.lists(st.sampled_from([*PLAIN_TOKENS, b"id: 1", b"retry: 5", b"event: e", BOM])).map(
        b"".join
    )
)
def test_every_disagreement_names_a_reason(body: bytes) -> None:
    result = crosscheck_httpx_sse(body)
    assert all(result.table["why"].str.len() > 0)
    assert result.agree == result.table.empty
