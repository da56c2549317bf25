"""JSON the browser reads otherwise: every such payload gives a clean finding, never a traceback.

ChatKit's UI reads each event (and each non-streaming reply) with the browser's ``JSON.parse``,
which rejects ``NaN`` and ``Infinity``, reads ``1e400`` (and a 5,000-digit integer) as
``Infinity``, rounds integers past 2**53, accepts any nesting depth, and keeps lone surrogates.
Python's ``json`` differs on each; the kit must judge as the browser does and survive the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab import Capture, Diagnosis, diagnose_captures
from chatkit_lab.capture import RequestRecord
from chatkit_lab.sse import dumps_strict

STREAMS = Path(__file__).resolve().parent.parent / "streams"
REFERENCE = (STREAMS / "reference_handmade_create.sse").read_bytes()
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = b"1" + b"0" * 4_999
"""A 5,000-digit integer: past Python's int-digit limit and a double's range."""


def envelope(kind: str, **params: Any) -> bytes:
    return json.dumps({"type": kind, "params": params, "metadata": {}}).encode()


def reply(
    body: bytes, *, kind: str = "threads.create", content_type: str = "text/event-stream", **params
) -> Capture:
    made = Capture(
        request=RequestRecord("POST", "http://backend.test/chatkit", [], envelope(kind, **params)),
        status=200,
        response_headers=[("content-type", content_type)],
        headers_ns=1_000_000,
        label=kind,
    )
    made.add_chunk(body, 2_000_000)
    return made


def with_event(payload: bytes) -> Capture:
    """The reference threads.create stream with one more event, written as given."""
    return reply(REFERENCE + b"data: " + payload + b"\n\n")


def diagnosed(*captures: Capture) -> Diagnosis:
    try:
        return diagnose_captures(list(captures))
    except Exception as exc:  # a traceback escaping the analysis is the failure under test
        pytest.fail(f"the analysis raised {type(exc).__name__}: {exc}")


def findings(diagnosis: Diagnosis, code: str) -> list[str]:
    return [item.summary for item in diagnosis.findings if item.code == code]


def strict(diagnosis: Diagnosis) -> dict[str, Any]:
    """The diagnosis as strict JSON, read back by a parser that refuses NaN and Infinity."""

    def refuse(name: str) -> Any:
        raise ValueError(f"bare {name} in the output")

    text = dumps_strict(diagnosis.to_json(), ensure_ascii=False)
    text.encode("utf-8")  # writable as UTF-8: no lone surrogate
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_frame_holding_nan_or_infinity_is_not_json_for_the_browser(constant: str) -> None:
    diagnosis = diagnosed(
        with_event(b'{"type":"progress_update","text":"x","score":' + constant.encode() + b"}")
    )
    said = findings(diagnosis, "decoding.not_json")
    assert len(said) == 1 and f"`{constant}` is not a JSON value" in said[0]
    assert "JSON.parse rejects it" in said[0]
    assert strict(diagnosis)["verdict"]["code"] == "decoding.not_json"


def test_1e400_is_read_as_infinity_by_the_browser_and_flagged() -> None:
    diagnosis = diagnosed(with_event(b'{"type":"progress_update","text":"x","n":1e400}'))
    (said,) = findings(diagnosis, "decoding.number_changed")
    assert "n = 1e400: the browser reads Infinity" in said
    assert not findings(diagnosis, "decoding.not_json")
    strict(diagnosis)


def test_a_5000_digit_number_is_infinity_in_the_browser_not_a_traceback() -> None:
    diagnosis = diagnosed(with_event(b'{"type":"progress_update","text":"x","n":' + HUGE + b"}"))
    (said,) = findings(diagnosis, "decoding.number_changed")
    assert "5,000 chars" in said and "the browser reads Infinity" in said
    strict(diagnosis)


def test_an_integer_id_past_2_to_the_53_is_flagged_with_the_value_the_browser_gets() -> None:
    body = REFERENCE.replace(b'"id":"msg_asst_1"', b'"id":9007199254740993')
    diagnosis = diagnosed(reply(body))
    said = findings(diagnosis, "decoding.number_changed")
    assert said and all("item.id = 9007199254740993" in text for text in said)
    assert "9007199254740992" in said[0]


def test_json_nested_100000_deep_in_a_stream_event_is_a_clean_finding() -> None:
    diagnosis = diagnosed(with_event(DEEP))
    (said,) = findings(diagnosis, "decoding.not_json")
    assert "nested too deeply" in said and "100,000 levels" in said
    assert "accepts it" in said  # the browser would decode it: the kit says it cannot judge
    strict(diagnosis)


def test_json_nested_100000_deep_in_a_thread_load_is_a_clean_finding() -> None:
    load = reply(DEEP, kind="threads.get_by_id", content_type="application/json", thread_id="thr_1")
    assert load.json_body() is None and load.json_result().error_kind == "depth"
    diagnosis = diagnosed(reply(REFERENCE), load)
    said = [item for item in diagnosis.findings if item.layer == "persistence"]
    assert said, [item.code for item in diagnosis.findings]
    assert any("nested too deeply" in item.summary for item in said)
    strict(diagnosis)


def test_a_lone_surrogate_in_an_item_id_is_flagged_and_later_stages_survive_it() -> None:
    body = REFERENCE.replace(b"msg_asst_1", b"msg_asst_\\ud800")
    capture = reply(body)
    diagnosis = diagnosed(capture)
    said = findings(diagnosis, "decoding.lone_surrogate")
    assert said and "\\ud800" in said[0] and "U+FFFD" in said[0]
    ids = {event.payload.get("item", {}).get("id") for event in capture.events}
    assert "msg_asst_\ufffd" in ids  # what later stages read: writable as UTF-8
    assert not [item for item in diagnosis.findings if item.layer in ("ordering", "schema")]
    strict(diagnosis)


def test_a_lone_surrogate_in_a_delta_is_flagged_and_the_transcript_can_be_written() -> None:
    body = REFERENCE.replace(b'"delta":" there"', b'"delta":" there\\udc00"')
    capture = reply(body)
    diagnosis = diagnosed(capture)
    (said,) = findings(diagnosis, "decoding.lone_surrogate")
    assert "update.delta" in said
    analysis = diagnosis.analyses[capture.name]
    assert analysis.final.transcript().encode("utf-8")
    strict(diagnosis)


def test_the_kits_strict_json_has_no_bare_nan_or_infinity_and_no_lone_surrogate() -> None:
    value = {"a": float("nan"), "b": [float("inf"), -float("inf")], "c\ud800": ("x\udfff",)}
    text = dumps_strict(value, ensure_ascii=False)
    assert json.loads(text) == {
        "a": "NaN",
        "b": ["Infinity", "-Infinity"],
        "c\ufffd": ["x\ufffd"],
    }
    text.encode("utf-8")
