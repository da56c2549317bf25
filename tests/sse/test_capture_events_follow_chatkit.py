"""A capture's events are the messages ChatKit's parser dispatches, not a browser EventSource's.

ChatKit's host script parses streams with ``@microsoft/fetch-event-source``; where its rules
differ from WHATWG, ``Capture.events`` follows it; the WHATWG reference parser (``whatwg``, beside
the tests) shows what a browser's ``EventSource`` makes of the same chunks.
"""

from __future__ import annotations

from framing_corpus import framing_corpus
from whatwg import parse_frames, whatwg_differences

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.checks import check_framing
from chatkit_lab.sse import BOM, run_message_parser

EVENT = b'data: {"type":"notice","message":"hi"}\n\n'
CORPUS = framing_corpus()


def capture(*chunks: bytes) -> Capture:
    made = Capture(
        request=RequestRecord("POST", "http://backend.test/chatkit", [], b"{}"),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
    )
    for number, chunk in enumerate(chunks):
        made.add_chunk(chunk, (number + 1) * 1_000_000)
    return made


def codes(made: Capture) -> list[str]:
    return [finding.code for finding in check_framing(made)]


def test_a_line_without_a_colon_is_ignored_in_the_events_but_not_in_the_whatwg_frames() -> None:
    made = capture(b'data\ndata: {"type":"notice"}\n\n')
    assert [event.data for event in made.events] == ['{"type":"notice"}']
    assert made.events[0].ok
    assert [frame.data for frame in parse_frames(made.chunks)] == ['\n{"type":"notice"}']
    assert "framing.parser_divergence" in codes(made)


def test_empty_data_lines_before_the_first_one_are_dropped_from_the_event() -> None:
    made = capture(b'data:\ndata: {"type":"notice"}\n\n')
    assert made.events[0].data == '{"type":"notice"}' and made.events[0].ok
    (finding,) = [f for f in check_framing(made) if f.code == "framing.parser_divergence"]
    assert "WHATWG" in finding.summary and finding.evidence.byte_range == (0, 31)


def test_a_keep_alive_reaches_chatkit_as_an_empty_message_that_is_not_an_event() -> None:
    made = capture(b": ping\n\n", EVENT, b": ping\n\n")
    assert [m.data for m in made.messages] == ["", EVENT[6:-2].decode(), ""]
    assert [event.index for event in made.events] == [0]
    assert made.events[0].frame_index == 1  # the message it came from
    (finding,) = [f for f in check_framing(made) if f.code == "framing.empty_message"]
    assert finding.severity == "info"
    assert "not known" in finding.summary and "models it as ignored" in finding.summary
    assert finding.evidence.detail["count"] == 2 and finding.evidence.byte_range == (0, 8)


def test_a_bom_before_a_later_field_name_loses_the_event_for_whatwg_but_not_for_chatkit() -> None:
    made = capture(EVENT + BOM + EVENT)
    assert len(made.events) == 2
    assert sum(frame.dispatched for frame in parse_frames(made.chunks)) == 1
    (finding,) = [f for f in check_framing(made) if f.code == "framing.parser_divergence"]
    assert "WHATWG drops only a BOM at the start of the stream" in finding.summary
    assert "the field is unknown and ignored" in finding.summary


def test_a_bom_at_the_start_of_the_stream_is_dropped_by_both_and_not_reported() -> None:
    made = capture(BOM + EVENT)
    assert len(made.events) == 1 and made.events[0].ok
    assert codes(made) == []


def test_bytes_after_the_last_blank_line_are_never_an_event_and_are_reported_as_truncated() -> None:
    made = capture(EVENT, EVENT[:-1])
    assert len(made.events) == 1
    assert made.dispatch.undispatched == (len(EVENT), 2 * len(EVENT) - 1)
    assert made.dispatch.unterminated is not None
    assert made.dispatch.unterminated.data == EVENT[6:-2].decode()
    assert "framing.truncated_frame" in codes(made)


def test_an_unterminated_comment_is_not_a_truncated_event() -> None:
    made = capture(EVENT, b": still here")
    assert "framing.truncated_frame" not in codes(made)


def test_a_stream_of_empty_messages_only_has_no_events() -> None:
    made = capture(b": hello\n\nretry: 10\n\ndata:\n\n")
    assert made.events == [] and len(made.messages) == 3
    assert "framing.no_events" in codes(made)


def test_an_event_line_without_data_dispatches_an_empty_message_to_chatkit() -> None:
    made = capture(b"event: thread.created\n\n" + EVENT)
    assert made.messages[0].event == "thread.created" and made.messages[0].data == ""
    assert not any(frame.dispatched for frame in parse_frames(made.chunks)[:1])
    assert "framing.undispatched_frame" in codes(made)


def test_the_events_are_recomputed_when_more_chunks_arrive() -> None:
    made = capture(EVENT)
    assert len(made.events) == 1
    made.add_chunk(EVENT, 9_000_000)
    assert len(made.events) == 2 and made.events[1].arrived_ns == 9_000_000


def test_the_events_are_the_data_of_chatkits_messages_over_the_whole_framing_corpus() -> None:
    differ = []
    for name, chunks in CORPUS.items():
        events = capture(*chunks).events
        messages = [m for m in run_message_parser(chunks).messages if m.data]
        if [(e.data, e.byte_range) for e in events] != [(m.data, m.byte_range) for m in messages]:
            differ.append(name)
    assert len(CORPUS) > 100 and differ == []


def test_a_message_names_whatwg_exactly_where_a_browsers_eventsource_dispatches_otherwise() -> None:
    # The package holds no WHATWG parser: its messages' notes say where the rules differ. Over
    # the whole corpus, a note that names WHATWG stands on a message the reference parser
    # dispatches otherwise, and every message with data it dispatches otherwise has such a note.
    unfounded, unsaid = [], []
    for name, chunks in CORPUS.items():
        messages = run_message_parser(chunks).messages
        differs = whatwg_differences(messages, parse_frames(chunks), range(len(messages)))
        for message in messages:
            noted = any("WHATWG" in note for note in message.notes)
            if noted and message.index not in differs:
                unfounded.append((name, message.index))
            if not noted and message.data and message.index in differs:
                unsaid.append((name, message.index))
    assert unfounded == [] and unsaid == []
