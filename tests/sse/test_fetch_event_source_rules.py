"""MessageParser follows @microsoft/fetch-event-source's rules: what ChatKit's UI is handed."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_lab.sse import (
    BOM,
    DEFAULT_RETRY_MS,
    Message,
    MessageParser,
    dispatch_bytes,
    dispatch_messages,
    js_parse_int,
    run_message_parser,
)


def datas(body: bytes | list[bytes]) -> list[str]:
    messages = dispatch_bytes(body) if isinstance(body, bytes) else dispatch_messages(body)
    return [message.data for message in messages]


def delivered(body: bytes | list[bytes]) -> list[dict[str, object]]:
    messages = dispatch_bytes(body) if isinstance(body, bytes) else dispatch_messages(body)
    return [message.delivered() for message in messages]


def one_byte_chunks(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


# -- lines -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_lines_end_at_lf_crlf_or_cr(ending: bytes) -> None:
    body = b"data: a" + ending + b"data: b" + ending + ending + b"data: c" + ending + ending
    assert datas(body) == ["a\nb", "c"]


def test_a_crlf_split_between_two_chunks_is_one_line_ending() -> None:
    body = [b"data: a\r", b"\n", b"\r", b"\ndata: b\r", b"\n\r", b"\n"]
    messages = dispatch_messages(body)
    assert [m.data for m in messages] == ["a", "b"]
    # the LF that completes the blank line's CRLF belongs to the block it ended
    assert [m.byte_range for m in messages] == [(0, 11), (11, 22)]


def test_an_empty_chunk_between_a_cr_and_its_lf_changes_nothing() -> None:
    assert datas([b"data: a\r", b"", b"\n\r", b"", b"\n"]) == ["a"]


def test_a_cr_then_another_cr_are_two_line_endings() -> None:
    # "data: a" CR, then an empty line ended by CR (dispatch), whose LF is skipped, then LF
    assert datas(b"data: a\r\r\n\n") == ["a", ""]


# -- comments and lines without a colon -----------------------------------------------------------


def test_a_line_starting_with_a_colon_is_ignored() -> None:
    assert delivered(b": comment\ndata: a\n:data: b\n\n") == [
        {"data": "a", "event": "", "id": "", "retry": None}
    ]


def test_a_line_without_a_colon_is_ignored_not_read_as_an_empty_field() -> None:
    (message,) = dispatch_bytes(b"data\nevent\nid\ndata: x\n\n")
    assert message.delivered() == {"data": "x", "event": "", "id": "", "retry": None}
    assert any("without a colon" in note for note in message.notes)


def test_one_space_after_the_colon_is_dropped_and_only_one() -> None:
    assert datas(b"data:a\n\ndata: b\n\ndata:  c\n\ndata:\tx\n\n") == ["a", "b", " c", "\tx"]


def test_only_the_first_colon_separates_the_field_from_its_value() -> None:
    assert datas(b"data: a: b:c\n\n") == ["a: b:c"]


# -- data ---------------------------------------------------------------------------------------


def test_data_lines_are_joined_with_newlines() -> None:
    assert datas(b"data: YHOO\ndata: +2\ndata: 10\n\n") == ["YHOO\n+2\n10"]


def test_empty_data_lines_before_the_first_non_empty_one_are_dropped() -> None:
    (message,) = dispatch_bytes(b"data:\ndata: \ndata: x\n\n")
    assert message.data == "x"
    assert any("before the first non-empty one dropped" in note for note in message.notes)


def test_empty_data_lines_after_a_non_empty_one_are_kept() -> None:
    assert datas(b"data: a\ndata:\ndata:\n\n") == ["a\n\n"]
    assert datas(b"data: a\ndata:\ndata: b\n\n") == ["a\n\nb"]


# -- event, id, retry and other fields ----------------------------------------------------------


def test_event_id_and_retry_are_kept_per_message_last_one_wins() -> None:
    body = b"event: a\nevent: b\nid: 1\nid: 2\nretry: 10\nretry: 20\ndata: x\n\ndata: y\n\n"
    assert delivered(body) == [
        {"data": "x", "event": "b", "id": "2", "retry": 20},
        {"data": "y", "event": "", "id": "", "retry": None},
    ]


def test_unknown_fields_and_other_cases_of_known_names_are_ignored() -> None:
    (message,) = dispatch_bytes(b"foo: 1\nDATA: 2\nEvent: e\ndata: x\n\n")
    assert message.delivered() == {"data": "x", "event": "", "id": "", "retry": None}
    assert any("unknown field 'foo'" in note for note in message.notes)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3000", 3000),
        ("  42", 42),
        ("\u00a07", 7),
        ("-5", -5),
        ("+8", 8),
        ("12abc", 12),
        ("1_000", 1),
        ("3.9", 3),
        ("1e3", 1),
        ("abc", None),
        ("", None),
        ("-", None),
        ("\u0663", None),
        ("\u200b5", None),
    ],
)
def test_retry_is_read_the_way_parseint_reads_it(value: str, expected: int | None) -> None:
    assert js_parse_int(value) == expected
    (message,) = dispatch_bytes(b"retry: " + value.encode() + b"\n\n")
    assert message.retry == expected


def test_a_retry_past_two_to_the_53_is_a_float_and_an_overflow_is_infinity() -> None:
    assert js_parse_int("9007199254740993") == float(9007199254740993)
    assert isinstance(js_parse_int("9007199254740993"), float)
    assert js_parse_int("9" * 400) == math.inf
    assert js_parse_int("-" + "9" * 400) == -math.inf


def test_the_stream_keeps_the_last_event_id_and_retry_for_a_reconnect() -> None:
    parser = run_message_parser([b"retry: 250\nid: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n"])
    assert [(m.id, m.last_event_id) for m in parser.messages] == [("7", "7"), ("", "7"), ("", "")]
    assert parser.retry_ms == 250
    assert parser.last_event_id == ""  # an empty id unsets the last-event-id header
    assert MessageParser().retry_ms == DEFAULT_RETRY_MS


def test_an_id_holding_nul_is_kept() -> None:
    (message,) = dispatch_bytes(b"id: a\x00b\ndata: x\n\n")
    assert message.id == "a\x00b" and message.last_event_id == "a\x00b"


# -- dispatch -----------------------------------------------------------------------------------


def test_every_blank_line_dispatches_a_message_even_with_empty_data() -> None:
    body = b": ping\n\nretry: 3000\n\nevent: x\n\n\n\ndata: a\n\n"
    assert delivered(body) == [
        {"data": "", "event": "", "id": "", "retry": None},
        {"data": "", "event": "", "id": "", "retry": 3000},
        {"data": "", "event": "x", "id": "", "retry": None},
        {"data": "", "event": "", "id": "", "retry": None},
        {"data": "", "event": "", "id": "", "retry": None},
        {"data": "a", "event": "", "id": "", "retry": None},
    ]


def test_bytes_after_the_last_line_ending_are_never_dispatched() -> None:
    parser = run_message_parser([b"data: a\n\ndata: b\nid: 9\n", b"data: c"])
    assert [m.data for m in parser.messages] == ["a"]
    assert parser.undispatched == (9, 30)
    assert len(parser.tail_notes) == 2
    assert parser.close() == []


def test_a_chunk_final_cr_completes_a_blank_line_at_once() -> None:
    parser = MessageParser()
    assert [m.data for m in parser.feed(b"data: a\r\r")] == ["a"]
    assert parser.messages[0].end == 9
    parser.feed(b"\n")
    assert parser.messages[0].end == 10
    parser.close()
    assert parser.undispatched is None


def test_feeding_after_close_is_an_error() -> None:
    parser = MessageParser()
    parser.close()
    with pytest.raises(RuntimeError):
        parser.feed(b"data: a\n\n")


# -- BOM and decoding ---------------------------------------------------------------------------


def test_a_leading_bom_is_dropped_even_split_across_chunks() -> None:
    body = BOM + b"data: a\n\n"
    assert datas(body) == ["a"]
    assert datas(one_byte_chunks(body)) == ["a"]


def test_a_bom_is_dropped_at_the_start_of_any_field_name_or_value_once() -> None:
    body = b"data: " + BOM + b"a\n" + BOM + b"event: e\n\n" + BOM + BOM + b"data: b\n\n"
    assert delivered(body) == [
        {"data": "a", "event": "e", "id": "", "retry": None},
        {"data": "", "event": "", "id": "", "retry": None},  # "\ufeffdata" is not 'data'
    ]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    (message,) = dispatch_bytes(b"data: a\xff\xed\xa0\x80b\n\n")
    assert message.data == "a\ufffd\ufffd\ufffd\ufffdb"
    assert any("U+FFFD" in note for note in message.notes)


def test_multibyte_characters_split_across_chunks_decode_whole() -> None:
    body = "data: Caf\u00e9 \U0001f642\n\n".encode()
    assert datas(one_byte_chunks(body)) == ["Caf\u00e9 \U0001f642"]


# -- byte ranges, chunks and arrival ------------------------------------------------------------


def test_blocks_tile_the_body_and_record_the_chunk_that_dispatched_them() -> None:
    body = b": hi\r\n\r\ndata: a\n\nid: 1\rdata: b\r\r"
    chunks = [body[:5], body[5:20], body[20:]]
    messages = dispatch_messages(chunks)
    assert messages[0].start == 0 and messages[-1].end == len(body)
    assert all(a.end == b.start for a, b in pairwise(messages))
    assert [m.chunk for m in messages] == [1, 1, 2]


def test_arrival_times_come_from_chunk_objects() -> None:
    class Piece:
        def __init__(self, data: bytes, index: int, offset_ns: int) -> None:
            self.data, self.index, self.offset_ns = data, index, offset_ns

    messages = dispatch_messages([Piece(b"data: a\n", 0, 5), Piece(b"\ndata: b\n\n", 1, 9)])
    assert [(m.chunk, m.arrived_ns) for m in messages] == [(1, 9), (1, 9)]


def test_to_dict_holds_the_delivered_message_and_its_origin() -> None:
    (message,) = dispatch_bytes(b"data: a\n\n")
    assert isinstance(message, Message)
    assert message.to_dict() == {
        "index": 0,
        "start": 0,
        "end": 9,
        "chunk": 0,
        "arrived_ns": 0,
        "data": "a",
        "event": "",
        "id": "",
        "retry": None,
        "last_event_id": "",
        "notes": [],
    }


TOKENS = [
    b"data: x",
    b"data:",
    b"data",
    b": c",
    b"event: e",
    b"id: 1",
    b"id:",
    b"retry: 5x",
    b"foo: bar",
    BOM,
    "\u00e9".encode(),
    b"\xff",
    b"",
]
ENDINGS = [b"\n", b"\r\n", b"\r"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(ENDINGS)), max_size=25),
    st.binary(max_size=4),
    st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_any_chunking_gives_the_same_messages_and_ranges(
    lines: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]
) -> None:
    body = b"".join(token + ending for token, ending in lines) + tail
    whole = run_message_parser([body])
    points = sorted({min(cut, len(body)) for cut in cuts})
    pieces = [body[a:b] for a, b in pairwise([0, *points, len(body)])]
    split = run_message_parser(pieces)
    strip = [{**m.to_dict(), "chunk": 0} for m in whole.messages]
    assert [{**m.to_dict(), "chunk": 0} for m in split.messages] == strip
    assert run_message_parser(one_byte_chunks(body)).undispatched == whole.undispatched
    assert all(a.end == b.start for a, b in pairwise(whole.messages))


# -- bounded ------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_million_tiny_frames_are_parsed_in_one_linear_pass() -> None:
    body = b"data: x\n\n" * 1_000_000
    messages = dispatch_messages([body[i : i + 65536] for i in range(0, len(body), 65536)])
    assert len(messages) == 1_000_000
    assert messages[-1].byte_range == (len(body) - 9, len(body))
    assert messages[123_456].data == "x"


@pytest.mark.timeout(60)
def test_a_long_line_arriving_one_byte_at_a_time_is_not_rescanned() -> None:
    body = b"data: " + b"y" * 200_000 + b"\r\n\r\n"
    (message,) = dispatch_messages(one_byte_chunks(body))
    assert len(message.data) == 200_000 and message.end == len(body)
