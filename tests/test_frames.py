"""FrameParser follows the WHATWG event-stream interpretation rules, in any chunking."""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from whatwg import Frame, FrameParser, parse_bytes, parse_frames

from chatkit_lab.capture import Chunk
from chatkit_lab.sse import BOM


def dispatched(frames: list[Frame]) -> list[tuple[str, str]]:
    return [(frame.event, frame.data) for frame in frames if frame.dispatched]


def datas(body: bytes | list[bytes]) -> list[str]:
    frames = parse_bytes(body) if isinstance(body, bytes) else parse_frames(body)
    return [frame.data for frame in frames if frame.dispatched]


# -- the specification's own examples ----------------------------------------------------------


def test_the_stock_example_joins_data_lines_with_newlines() -> None:
    frames = parse_bytes(b"data: YHOO\ndata: +2\ndata: 10\n\n")
    assert dispatched(frames) == [("message", "YHOO\n+2\n10")]


def test_the_test_stream_example_with_a_comment_ids_and_a_data_colon_without_space() -> None:
    body = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n\n"
    )
    frames = parse_bytes(body)
    assert frames[0].comments == [" test stream"]
    assert not frames[0].dispatched
    sent = [frame for frame in frames if frame.dispatched]
    assert [frame.data for frame in sent] == ["first event", "second event", " third event"]
    assert [frame.last_event_id for frame in sent] == ["1", "", ""]


def test_data_without_a_colon_is_an_empty_line_of_data() -> None:
    frames = parse_bytes(b"data\n\ndata\ndata\n\ndata:")
    assert datas(b"data\n\ndata\ndata\n\ndata:") == ["", "\n"]
    assert not frames[-1].complete and not frames[-1].dispatched


def test_data_colon_test_and_data_colon_space_test_are_identical() -> None:
    assert datas(b"data:test\n\ndata: test\n\n") == ["test", "test"]


# -- line endings -------------------------------------------------------------------------------


def test_lf_cr_and_crlf_line_endings_are_equivalent() -> None:
    expected = ["a\nb"]
    for ending in (b"\n", b"\r", b"\r\n"):
        body = b"data: a" + ending + b"data: b" + ending + ending
        assert datas(body) == expected
        assert (
            parse_bytes(body)[0].line_ending == {b"\n": "LF", b"\r": "CR", b"\r\n": "CRLF"}[ending]
        )


def test_mixed_line_endings_in_one_frame_are_reported_as_mixed() -> None:
    frames = parse_bytes(b"data: a\r\ndata: b\rdata: c\n\n")
    assert frames[0].data == "a\nb\nc"
    assert frames[0].line_ending == "mixed"


def test_a_cr_and_its_lf_split_across_chunks_are_one_line_ending() -> None:
    frames = parse_frames([b"data: a\r", b"\ndata: b\r\n\r", b"\n"])
    assert [frame.data for frame in frames] == ["a\nb"]
    assert frames[0].line_ending == "CRLF"
    assert frames[0].end == len(b"data: a\r\ndata: b\r\n\r\n")


def test_two_crs_are_two_line_endings_even_across_chunks() -> None:
    assert datas([b"data: a\r", b"\r", b"data: b\r\r"]) == ["a", "b"]


# -- byte order mark ----------------------------------------------------------------------------


def test_one_leading_bom_is_dropped() -> None:
    parser = FrameParser()
    parser.feed(BOM + b"data: x\n\n")
    parser.close()
    assert parser.bom_skipped
    assert [frame.data for frame in parser.frames] == ["x"]
    assert parser.frames[0].start == 3


def test_a_leading_bom_split_across_chunks_is_still_dropped() -> None:
    assert datas([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == ["x"]


def test_a_second_bom_is_kept_and_spoils_the_field_name() -> None:
    frames = parse_bytes(BOM + BOM + b"data: x\n\n")
    assert not frames[0].dispatched
    assert frames[0].fields == [("\ufeffdata", "x")]


def test_a_bom_inside_data_is_kept_as_data() -> None:
    assert datas(b"data: " + BOM + b"x\n\n") == ["\ufeffx"]


# -- fields -------------------------------------------------------------------------------------


def test_comment_lines_are_recorded_but_not_dispatched() -> None:
    frames = parse_bytes(b": ping\n\ndata: x\n: inside\n\n")
    assert not frames[0].dispatched
    assert frames[1].comments == [" inside"]
    assert frames[1].data == "x"


def test_an_event_field_names_the_event_and_an_empty_one_means_message() -> None:
    frames = parse_bytes(b"event: delta\ndata: 1\n\nevent:\ndata: 2\n\ndata: 3\n\n")
    assert dispatched(frames) == [("delta", "1"), ("message", "2"), ("message", "3")]


def test_an_id_containing_nul_is_ignored() -> None:
    frames = parse_bytes(b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n")
    assert [frame.last_event_id for frame in frames] == ["7", "7"]
    assert frames[1].id is None
    assert any("NUL" in note for note in frames[1].notes)


def test_retry_is_accepted_only_as_ascii_digits() -> None:
    frames = parse_bytes(
        b"retry: 1500\ndata: a\n\nretry: 1.5\ndata: b\n\nretry:  15\ndata: c\n\n"
        b"retry: \xd9\xa1\ndata: d\n\n"
    )
    assert [frame.retry for frame in frames] == [1500, None, None, None]


def test_unknown_fields_are_ignored_with_a_note() -> None:
    frames = parse_bytes(b"foo: bar\ndata: x\n\n")
    assert frames[0].data == "x"
    assert ("foo", "bar") in frames[0].fields
    assert any("unknown field 'foo'" in note for note in frames[0].notes)


def test_a_frame_with_an_empty_data_buffer_is_not_dispatched() -> None:
    frames = parse_bytes(b"event: ping\nid: 3\n\nretry: 10\n\n")
    assert [frame.dispatched for frame in frames] == [False, False]
    assert frames[0].last_event_id == "3"


def test_data_colon_alone_dispatches_an_empty_string() -> None:
    frames = parse_bytes(b"data:\n\n")
    assert frames[0].dispatched and frames[0].data == ""


def test_a_trailing_partial_frame_is_discarded_and_recorded() -> None:
    frames = parse_bytes(b'data: {"type":"a"}\n\ndata: {"type":"b"}\n')
    assert [frame.dispatched for frame in frames] == [True, False]
    assert frames[1].complete is False
    assert frames[1].data == '{"type":"b"}'
    assert any("ended before the empty line" in note for note in frames[1].notes)


def test_an_unterminated_last_line_is_recorded_in_the_partial_frame() -> None:
    frames = parse_bytes(b"data: a\n\ndata: tail")
    assert frames[-1].fields == [("data", "tail")]
    assert frames[-1].end == len(b"data: a\n\ndata: tail")


def test_extra_empty_lines_between_frames_create_no_frames() -> None:
    assert len(parse_bytes(b"\n\n\ndata: a\n\n\n\n")) == 1


# -- decoding -----------------------------------------------------------------------------------


def test_invalid_utf8_becomes_replacement_characters_with_a_note() -> None:
    frames = parse_bytes(b"data: a\xffb\n\n")
    assert frames[0].data == "a\ufffdb"
    assert any("U+FFFD" in note for note in frames[0].notes)


def test_a_multibyte_character_split_across_chunks_is_decoded_whole() -> None:
    euro = "€".encode()
    assert datas([b"data: " + euro[:1], euro[1:2], euro[2:] + b"\n\n"]) == ["€"]


# -- positions and timing -----------------------------------------------------------------------


def test_byte_offsets_chunk_indexes_and_arrival_times_are_recorded() -> None:
    chunks = [
        Chunk(0, 1_000, b"data: a\n\ndata: b"),
        Chunk(1, 5_000, b"\n"),
        Chunk(2, 9_000, b"\n: c\n\n"),
    ]
    first, second, third = parse_frames(chunks)
    assert (first.start, first.end, first.first_chunk, first.last_chunk) == (0, 9, 0, 0)
    assert first.arrived_ns == 1_000
    assert (second.start, second.end, second.first_chunk, second.last_chunk) == (9, 18, 0, 2)
    assert second.arrived_ns == 9_000
    assert (third.start, third.end, third.first_chunk) == (18, 23, 2)
    assert [frame.index for frame in (first, second, third)] == [0, 1, 2]


def test_feed_returns_the_frames_each_chunk_completes() -> None:
    parser = FrameParser()
    assert parser.feed(b"data: a\n") == []
    assert [frame.data for frame in parser.feed(b"\ndata: b\n\n")] == ["a", "b"]
    assert parser.close() == []


# -- any chunking gives the same frames ----------------------------------------------------------

TOKENS = [
    b"data",
    b"data:",
    b"data: ",
    b"event: x",
    b"event:",
    b"id: 1",
    b"id",
    b"retry: 10",
    b"retry: x",
    b":",
    b": c",
    b" ",
    b"x",
    b'{"type":"a"}',
    BOM,
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b"\n\n",
    b"\x00",
    "€".encode(),
    b"\xe2\x82",
    b"\xff",
]
sse_bytes = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=3)), max_size=40).map(
    b"".join
)


def comparable(frame: Frame) -> dict:
    data = frame.to_dict()
    for key in ("first_chunk", "last_chunk", "arrived_ns"):
        data.pop(key)
    return data


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(body) + 1) for cut in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in pairwise(edges)]


def reference(body: bytes) -> list[tuple[str, str, str]]:
    """A direct transcription of the spec over the whole decoded body, for comparison."""
    text = body.decode("utf-8", errors="replace")
    text = text[1:] if text.startswith("\ufeff") else text
    lines = re.split("\r\n|\r|\n", text)[:-1]
    events, data, kind, last_id = [], "", "", ""
    for line in lines:
        if not line:
            if data:
                events.append((kind or "message", data[:-1], last_id))
            data, kind = "", ""
        elif not line.startswith(":"):
            name, colon, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data += value + "\n"
            elif name == "event":
                kind = value
            elif name == "id" and "\x00" not in value:
                last_id = value
    return events


@settings(max_examples=300, deadline=None)
@given(body=sse_bytes, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_any_split_of_the_same_bytes_gives_identical_frames(body: bytes, cuts: list[int]) -> None:
    whole = [comparable(frame) for frame in parse_bytes(body)]
    pieces = [comparable(frame) for frame in parse_frames(split(body, cuts))]
    bytewise = [
        comparable(frame) for frame in parse_frames([body[i : i + 1] for i in range(len(body))])
    ]
    assert pieces == whole
    assert bytewise == whole


@settings(max_examples=300, deadline=None)
@given(body=sse_bytes)
def test_dispatched_events_match_a_direct_transcription_of_the_spec(body: bytes) -> None:
    frames = parse_bytes(body)
    ours = [(f.event, f.data, f.last_event_id) for f in frames if f.dispatched]
    assert ours == reference(body)


@settings(max_examples=200, deadline=None)
@given(body=sse_bytes, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_a_frames_first_chunk_is_the_chunk_holding_its_first_byte(
    body: bytes, cuts: list[int]
) -> None:
    pieces = split(body, cuts)
    owner: list[int] = []
    for index, piece in enumerate(pieces):
        owner.extend([index] * len(piece))
    for frame in parse_frames(pieces):
        if frame.start < len(body):
            assert frame.first_chunk == owner[frame.start]
