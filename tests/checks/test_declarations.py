"""How checks are declared, run and reported: one declaration decides everything about a finding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatkit_lab import Capture, diagnose_captures
from chatkit_lab.capture import RequestRecord
from chatkit_lab.checks import (
    EXCERPT_LIMIT,
    LAYER_MODULES,
    LAYERS,
    ExchangeContext,
    Found,
    Skipped,
    StreamContext,
    all_checks,
    check,
    check_specs,
    checks_for,
    finding,
    run_checks,
    run_layer,
)

URL = "http://backend.test/chatkit"


def sse_capture(
    body: bytes, *, timing: bool = True, meta: dict | None = None, **fields: Any
) -> Capture:
    request = RequestRecord("POST", URL, [], b'{"type": "threads.create", "params": {}}')
    made = Capture(
        request=request,
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        timing=timing,
        meta=meta or {},
        label="cap",
        **fields,
    )
    made.add_chunk(body, 1_000_000)
    return made


def test_the_registry_lists_one_module_per_layer_in_layer_order() -> None:
    assert [module.__name__.rsplit(".", 1)[-1] for module in LAYER_MODULES] == list(LAYERS)
    for layer in LAYERS:
        assert checks_for(layer), layer
        assert all(declared.spec.layer == layer for declared in checks_for(layer))


def test_every_check_code_is_declared_once_and_starts_with_its_layer() -> None:
    codes = [declared.code for declared in all_checks()]
    assert len(codes) == len(set(codes)) == len(check_specs())
    assert all(code.split(".")[0] == check_specs()[code].layer for code in codes)


def test_a_declaration_must_name_a_known_layer_and_severity_and_match_its_code() -> None:
    words = {"description": "d", "expectation": "e", "fix": "f"}
    with pytest.raises(ValueError, match="unknown layer"):
        check(code="network.x", layer="network", severity="error", **words)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown severity"):
        check(code="request.x", layer="request", severity="fatal", **words)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not start with its layer"):
        check(code="transport.x", layer="request", severity="error", **words)


def test_a_finding_takes_layer_severity_and_fix_from_its_declaration_only() -> None:
    @check(
        code="request.example",
        layer="request",
        severity="warning",
        description="An example.",
        expectation="Nothing.",
        fix="Do nothing.",
    )
    def example(exchange: ExchangeContext) -> Iterator[Found]:
        yield Found("found it")

    (found,) = example(ExchangeContext(sse_capture(b"")))
    assert (found.layer, found.code, found.severity, found.fix) == (
        "request",
        "request.example",
        "warning",
        "Do nothing.",
    )
    spec = check_specs()["ordering.error_event"]
    made = finding("ordering.error_event", "an error event")
    assert (made.layer, made.severity, made.fix) == (spec.layer, spec.severity, spec.fix)
    with pytest.raises(KeyError):
        finding("request.no_such_check", "nothing")


def test_findings_of_one_layer_are_listed_in_stream_order_across_checks() -> None:
    body = (
        b'data: {"type": "response.created"}\n\n'
        b'data: {"item": {}}\n\n'
        b'data: {"type": "thread.item.done", "item": {"id": "x"}}\n\n'
        b'data: {"type": "response.done"}\n\n'
    )
    codes = run_layer("schema", StreamContext.of(sse_capture(body))).findings
    assert [f.code for f in codes] == [
        "schema.foreign_protocol",
        "schema.unknown_type",
        "schema.missing_type",
        "schema.invalid_event",
        "schema.unknown_type",
    ]
    assert [f.evidence.event_index for f in codes[1:]] == [0, 1, 2, 3]


def test_a_check_that_cannot_judge_says_so_as_a_typed_skip() -> None:
    body = b"".join(
        b"data: "
        + json.dumps({"type": "notice", "level": "info", "message": str(n)}).encode()
        + b"\n\n"
        for n in range(3)
    )
    outcome = run_layer("transport", ExchangeContext(sse_capture(body, timing=False), "stream"))
    assert outcome.findings == []
    (skipped,) = outcome.skipped
    assert isinstance(skipped, Skipped)
    where = (skipped.layer, skipped.code, skipped.capture)
    assert where == ("transport", "transport.buffered", "cap")
    assert str(skipped) == "cap: transport.buffered: the source kept no per-chunk timing"


def test_a_diagnosis_keeps_its_skips_typed_and_readable() -> None:
    missing = sse_capture(b"", body_missing=True)
    diagnosis = diagnose_captures([missing])
    assert all(isinstance(item, Skipped) for item in diagnosis.skipped)
    layers = {item.layer for item in diagnosis.skipped}
    assert layers == {"transport", "persistence"}
    assert any("did not save this response body" in str(item) for item in diagnosis.skipped)


def test_a_followed_redirect_that_loses_credentials_is_an_error_and_a_clean_one_a_warning() -> None:
    hops = [{"status": 307, "location": "http://other.test/chatkit"}]
    lost = sse_capture(b"", redirects=hops)
    lost.notes.append("redirect to another origin (http://other.test): credentials not forwarded")
    clean = sse_capture(b"", redirects=hops)
    lost_found = run_layer("request", ExchangeContext(lost)).findings
    clean_found = run_layer("request", ExchangeContext(clean)).findings
    assert [(f.code, f.severity) for f in lost_found] == [("request.redirect", "error")]
    assert "credentials not forwarded" in lost_found[0].summary
    assert [(f.code, f.severity) for f in clean_found] == [("request.redirect_followed", "warning")]


def test_evidence_excerpts_keep_the_raw_payload_up_to_a_generous_cap() -> None:
    secret = "sk-proj-PLANTEDkey0123456789abcdefXYZ"
    long = json.dumps({"type": "response.done", "note": secret, "pad": "x" * 5000})
    findings = run_layer("schema", StreamContext.of(sse_capture(f"data: {long}\n\n".encode())))
    excerpts = [f.evidence.excerpt or "" for f in findings.findings]
    assert excerpts and all(secret in text for text in excerpts)
    assert all(len(text) == EXCERPT_LIMIT for text in excerpts)


def test_run_checks_keeps_declaration_order_when_positions_tie() -> None:
    words = {"description": "d", "expectation": "e", "fix": "f", "layer": "framing"}

    @check(code="framing.second", severity="info", **words)  # type: ignore[arg-type]
    def second(exchange: ExchangeContext) -> Iterator[Found]:
        yield Found("b", at=(1,))
        yield Found("a", at=(0,))

    @check(code="framing.first", severity="info", **words)  # type: ignore[arg-type]
    def first(exchange: ExchangeContext) -> Iterator[Found]:
        yield Found("c", at=(0,))

    found = run_checks([second, first], ExchangeContext(sse_capture(b"")))
    assert [f.summary for f in found.findings] == ["a", "c", "b"]
