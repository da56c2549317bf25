"""Hostile input and faults: every broken exchange in the corpus gives its finding, no traceback.

Each case runs a misbehaving server through the kit (in process, on 127.0.0.1 under uvicorn, or
as a raw-socket script), diagnoses the capture, saves it and loads it back. What must hold for
every case: only the kit's documented errors escape, the ending and finding codes are the
expected ones, the bytes that arrived before the fault are kept, and nothing is lost on disk.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hostile_cases import CASES, Case, Outcome, envelope
from hostile_servers import raw_server

from chatkit_lab import (
    Capture,
    ChatKitLabError,
    Diagnosis,
    HTTPTransport,
    diagnose_captures,
    open_app_target,
)

CASE_BUDGET_S = 10.0
"""No single case may take this long (the whole corpus runs in well under a minute)."""


async def produce(case: Case) -> Outcome:
    """Run the case's server and capture one exchange with the kit."""
    if case.run is not None:
        return await case.run(case)
    body = envelope(case.request_type)
    headers = [("content-type", "application/json"), *case.request_headers]
    if case.via == "raw":
        assert isinstance(case.server, tuple)
        async with raw_server(case.server) as url:
            capture = await HTTPTransport(limits=case.limits).send(
                "POST", url + "/chatkit", headers=headers, body=body, label=case.name
            )
        return Outcome(capture)
    loopback = case.via == "loopback"
    async with open_app_target(case.server, loopback=loopback, limits=case.limits) as target:
        capture = await target.sender.send(
            "POST", target.url, headers=headers, body=body, label=case.name, limits=case.limits
        )
    return Outcome(capture)


def diagnosed(capture: Capture) -> Diagnosis:
    try:
        return diagnose_captures([capture])
    except ChatKitLabError:
        raise
    except Exception as exc:  # a traceback escaping the analysis is the failure under test
        pytest.fail(f"the analysis raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_each_broken_exchange_gives_its_finding_and_keeps_what_arrived(
    case: Case, tmp_path: Path
) -> None:
    started = time.monotonic()
    try:
        outcome = await produce(case)
    except ChatKitLabError as exc:
        outcome = Outcome(error=exc)
    except Exception as exc:  # a traceback escaping the kit is the failure under test
        pytest.fail(f"{case.name}: the kit raised {type(exc).__name__}: {exc}")
    assert time.monotonic() - started < CASE_BUDGET_S

    if case.raises is not None:
        kind, phrase = case.raises
        assert isinstance(outcome.error, kind), outcome
        assert phrase in str(outcome.error)
        return
    assert outcome.error is None, f"unexpected documented error: {outcome.error}"
    capture = outcome.capture
    assert capture is not None

    assert capture.ending.state == case.ending, capture.ending
    if case.kept is not None:
        assert capture.body == case.kept, (len(capture.body), len(case.kept))
    if case.kept_prefix is not None:
        assert capture.chunks and capture.body.startswith(case.kept_prefix)
    if case.chunks is not None:
        assert len(capture.chunks) == case.chunks

    diagnosis = diagnosed(capture)
    codes = {item.code for item in diagnosis.findings}
    missing = set(case.expect) - codes
    assert not missing, f"missing {sorted(missing)}; found {sorted(codes)}"
    unwanted = set(case.absent) & codes
    assert not unwanted, f"unexpected {sorted(unwanted)}"
    if case.clean:
        assert not diagnosis.findings, [(f.code, f.summary) for f in diagnosis.findings]
    if case.says:
        said = [capture.ending.message, *(item.summary for item in diagnosis.findings)]
        assert any(case.says in text for text in said), said

    saved = capture.save(tmp_path / f"{case.name}.jsonl")
    loaded = Capture.load(saved)
    assert loaded.chunks == capture.chunks
    assert loaded.ending == capture.ending
    assert (loaded.status, loaded.response_headers) == (capture.status, capture.response_headers)
    assert {item.code for item in diagnosed(loaded).findings} == codes

    if case.check is not None:
        case.check(outcome)


def test_the_corpus_has_at_least_thirty_cases_with_unique_names() -> None:
    names = [case.name for case in CASES]
    assert len(CASES) >= 30
    assert len(set(names)) == len(names)


def test_the_corpus_covers_every_way_an_exchange_can_end_and_every_transport() -> None:
    assert {case.ending for case in CASES if case.raises is None} == {
        "complete",
        "timeout",
        "reset",
        "error",
        "limit",
    }
    assert {case.via for case in CASES} == {"in-process", "loopback", "raw"}
