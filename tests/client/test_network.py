"""The host script's network layer, one test per fact in the protocol notes."""

from __future__ import annotations

import pytest

from chatkit_lab.client._network import (
    MAX_STREAM_RETRIES,
    json_reply,
    parse_json_body,
    retry_delay_range,
    stream_open,
)


def test_an_ok_event_stream_opens() -> None:
    assert stream_open(200, "text/event-stream").verdict == "open"


def test_a_content_type_with_parameters_still_opens_because_the_test_is_a_prefix() -> None:
    assert stream_open(200, "text/event-stream; charset=utf-8").verdict == "open"


def test_the_content_type_test_is_case_sensitive_so_other_casing_is_retried() -> None:
    verdict = stream_open(200, "Text/Event-Stream")
    assert verdict.verdict == "retry"
    assert "case-sensitive" in verdict.reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 499])
def test_a_client_error_is_fatal_at_once(status: int) -> None:
    verdict = stream_open(status, "application/json")
    assert verdict.verdict == "fatal"
    assert verdict.ui_error is not None and verdict.ui_error.startswith("Streaming failed")


@pytest.mark.parametrize("status", [500, 502, 503, 302])
def test_a_server_error_or_redirect_is_retried(status: int) -> None:
    assert stream_open(status, "text/event-stream").verdict == "retry"


def test_json_with_status_200_on_a_streaming_request_is_retried() -> None:
    assert stream_open(200, "application/json").verdict == "retry"


def test_no_response_at_all_is_retried() -> None:
    assert stream_open(None, None).verdict == "retry"


def test_there_are_at_most_five_retries_with_delays_doubling_up_to_ten_seconds() -> None:
    assert MAX_STREAM_RETRIES == 5
    assert [retry_delay_range(n)[1] for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert all(low == high / 2 for low, high in map(retry_delay_range, range(1, 6)))
    with pytest.raises(ValueError):
        retry_delay_range(6)


def test_an_ok_reply_that_is_not_json_becomes_an_empty_object_without_an_error() -> None:
    reply = json_reply(200, b"data: {}\n\n")
    assert reply.ok and reply.value == {} and not reply.parsed and reply.error is None


def test_an_ok_json_reply_is_passed_through() -> None:
    reply = json_reply(200, b'{"id": "thr_1", "items": {"data": []}}')
    assert reply.ok and reply.parsed and reply.value["id"] == "thr_1"


def test_an_error_reply_carries_the_json_message() -> None:
    reply = json_reply(404, b'{"message": "thread not found"}')
    assert not reply.ok and reply.error == "thread not found" and reply.status == 404


def test_an_error_reply_without_a_json_message_carries_the_status_text() -> None:
    assert json_reply(500, b"<html>oops</html>").error == "Internal Server Error"
    assert json_reply(403, b'{"detail": "no"}').error == "Forbidden"


def test_json_the_browser_rejects_is_not_parsed() -> None:
    for body in (b"NaN", b'{"a": Infinity}', b'{"a": -Infinity}'):
        assert parse_json_body(body) == (False, None)


def test_a_leading_bom_is_dropped_as_the_browser_decoder_does() -> None:
    assert parse_json_body(b'\xef\xbb\xbf{"a": 1}') == (True, {"a": 1})
