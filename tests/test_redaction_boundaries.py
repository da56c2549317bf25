"""One redaction boundary per exit: secrets travel with the run, every output redacts itself.

A run's secrets live in its own redactor (made current for the run, carried by the diagnosis),
not in the process; each exit (saved capture, report, JSON, tables, previews) redacts what it
produces with it, and cuts text only after redacting it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatkit_lab import (
    Capture,
    Diagnosis,
    diagnose_captures,
    diagnose_target,
    load_captures,
    open_app_target,
    report_markdown,
    save_captures,
)
from chatkit_lab.capture import RequestRecord
from chatkit_lab.client import ClientRequest
from chatkit_lab.redact import (
    Redactor,
    clear_registered_secrets,
    current_redactor,
    header_secrets,
    is_secret_header,
    redacting,
    register_secrets,
    shorten,
)
from chatkit_lab.report import (
    chunks_table,
    events_table,
    findings_table,
    lifecycle_notes,
    lifecycle_table,
    messages_table,
    reload_tables,
    summary_by_code,
)

LITERAL = "plainLiteralSecretValue42"
"""Looks like no token at all: only a redactor that was given it can find it."""
API_KEY = "opaqueApiKeyGivenByTheUser77"


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    clear_registered_secrets()
    yield
    clear_registered_secrets()


def _pieces(secret: str) -> set[str]:
    return {secret[i : i + 8] for i in range(len(secret) - 7)}


def _leaked(secret: str, text: str) -> list[str]:
    return sorted(piece for piece in _pieces(secret) if piece in text)


def _stream_capture(data: str) -> Capture:
    capture = Capture(
        RequestRecord(
            "POST",
            "https://staging.example/chatkit",
            [("content-type", "application/json")],
            b'{"type":"threads.create","params":{}}',
        ),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
    )
    body = f"data: {data}\n\n".encode()
    cut = len(body) // 2
    capture.add_chunk(body[:cut], 1_000_000)
    capture.add_chunk(body[cut:], 2_000_000)
    return capture


# -- the run's secrets ----------------------------------------------------------------------


def test_secrets_registered_in_one_context_are_not_seen_from_another() -> None:
    def register_inside() -> tuple[str, ...]:
        register_secrets([LITERAL])
        return current_redactor().secrets

    inside = contextvars.copy_context().run(register_inside)
    assert inside == (LITERAL,)
    assert current_redactor().secrets == ()
    assert LITERAL in current_redactor().redact_text(f"x {LITERAL} y")


async def test_concurrent_runs_each_redact_with_their_own_secrets_only() -> None:
    async def run(secret: str) -> str:
        with redacting(Redactor([secret])):
            await asyncio.sleep(0.01)
            return current_redactor().redact_text(f"{LITERAL} {API_KEY}")

    first, second = await asyncio.gather(run(LITERAL), run(API_KEY))
    assert LITERAL not in first and API_KEY in first
    assert API_KEY not in second and LITERAL in second
    assert current_redactor().secrets == ()


def test_redacting_restores_the_previous_redactor_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), redacting(Redactor([LITERAL])):
        assert current_redactor().secrets == (LITERAL,)
        raise RuntimeError("boom")
    assert current_redactor().secrets == ()


def test_a_redactor_given_more_secrets_is_a_new_one_and_the_old_one_is_unchanged() -> None:
    base = Redactor([LITERAL])
    more = base.with_secrets([API_KEY, "short"])
    assert base.secrets == (LITERAL,)
    assert more.secrets == (LITERAL, API_KEY)
    assert base.with_secrets([LITERAL]) is base
    assert LITERAL not in repr(more) and API_KEY not in repr(more)


def test_the_credentials_in_headers_a_user_supplies_are_named_by_the_one_header_rule() -> None:
    headers = {
        "Authorization": f"Bearer {LITERAL}",
        "X-Authentication": API_KEY,
        "X-Trace": "trace-value-0123456789",
    }
    assert header_secrets(headers) == [f"Bearer {LITERAL}", LITERAL, API_KEY]
    assert is_secret_header("X-Authentication") and not is_secret_header("X-Trace")


def _echo_app() -> Starlette:
    async def echo(request: Request) -> Response:
        said = f"you sent {request.headers.get('x-api-key', '')} as your key"
        body = "data: " + json.dumps({"type": "notice", "level": "info", "message": said})
        return Response(body + "\n\n", media_type="text/event-stream")

    return Starlette(routes=[Route("/chatkit", echo, methods=["POST"])])


@dataclass
class _Probe:
    """A client transform that records which secrets were known when each request went out."""

    seen: list[tuple[str, ...]] = field(default_factory=list)

    def __call__(self, request: ClientRequest) -> ClientRequest:
        self.seen.append(current_redactor().secrets)
        return request


async def test_a_run_knows_the_supplied_credentials_before_its_first_request_and_keeps_them(
    tmp_path: Path,
) -> None:
    probe = _Probe()
    async with open_app_target(
        _echo_app(), headers={"X-Api-Key": API_KEY}, transform=probe
    ) as target:
        diagnosis = await diagnose_target(target)
    assert probe.seen and all(API_KEY in secrets for secrets in probe.seen)
    assert current_redactor().secrets == (), "the run's secrets must not outlive it globally"
    assert API_KEY in diagnosis.captures[0].body.decode(), "the backend must echo the key back"
    assert API_KEY in diagnosis.redactor.secrets

    outputs = {
        "headline": diagnosis.headline(),
        "json": json.dumps(diagnosis.to_json()),
        "findings": findings_table(diagnosis).to_string(),
        "by code": summary_by_code(diagnosis).to_string(),
        "lifecycle": lifecycle_table(diagnosis).to_string() + "\n".join(lifecycle_notes(diagnosis)),
        "reloads": "".join(table.to_string() for _, table in reload_tables(diagnosis)),
        "report": report_markdown([diagnosis], tmp_path / "r.md", plots=False).read_text(),
        "saved": save_captures(
            diagnosis.captures, tmp_path / "c.jsonl", redactor=diagnosis.redactor
        ).read_text(),
    }
    assert {name: _leaked(API_KEY, text) for name, text in outputs.items()} == {
        name: [] for name in outputs
    }


# -- exits ----------------------------------------------------------------------------------


def _diagnosis_with_a_long_excerpt(secret_at: int) -> Diagnosis:
    data = "not json " + "p" * (secret_at - len("not json ")) + LITERAL + " tail"
    with redacting(Redactor([LITERAL])):
        return diagnose_captures([_stream_capture(data)], target="staging")


@pytest.mark.parametrize("secret_at", [140, 150, 155, 159, 230, 236])
def test_findings_are_redacted_before_their_excerpts_are_cut(secret_at: int) -> None:
    diagnosis = _diagnosis_with_a_long_excerpt(secret_at)
    assert any(
        LITERAL in (item.evidence.excerpt or "") or "REDACTED" in (item.evidence.excerpt or "")
        for item in diagnosis.findings
    ), "the test needs a finding whose excerpt reaches the secret"
    table = findings_table(diagnosis).to_string()
    assert _leaked(LITERAL, table) == []
    assert _leaked(LITERAL, json.dumps(diagnosis.to_json())) == []


def test_a_report_written_after_the_run_still_knows_the_runs_secrets(tmp_path: Path) -> None:
    diagnosis = _diagnosis_with_a_long_excerpt(100)
    assert current_redactor().secrets == ()
    text = report_markdown([diagnosis], tmp_path / "report.md", plots=False).read_text()
    assert "## staging" in text
    assert _leaked(LITERAL, text) == []


def test_capture_tables_and_summary_are_redacted_with_the_current_redactor() -> None:
    capture = _stream_capture(f'{{"type":"notice","message":"key {LITERAL} here"}}')
    capture.target = f"https://staging.example/chatkit?access_token={API_KEY}"
    register_secrets([LITERAL])
    shown = "\n".join(
        [
            chunks_table(capture).to_string(),
            messages_table(capture).to_string(),
            events_table(capture).to_string(),
            json.dumps(capture.summary()),
        ]
    )
    assert _leaked(LITERAL, shown) == []
    assert _leaked(API_KEY, shown) == []
    assert "REDACTED" in chunks_table(capture)["preview"][0] + chunks_table(capture)["preview"][1]


def test_a_chunk_preview_never_keeps_part_of_a_secret_split_across_chunks() -> None:
    capture = _stream_capture(f"x {LITERAL} y")
    register_secrets([LITERAL])
    previews = chunks_table(capture)["preview"].tolist()
    assert _leaked(LITERAL, "".join(previews)) == []


def test_saving_uses_the_given_redactor_and_the_current_one_by_default(tmp_path: Path) -> None:
    capture = _stream_capture(f"x {LITERAL} y")
    plain = save_captures([capture], tmp_path / "plain.jsonl").read_text()
    assert LITERAL in plain, "nothing tells a plain redactor that this word is a secret"
    given = save_captures([capture], tmp_path / "given.jsonl", redactor=Redactor([LITERAL]))
    assert _leaked(LITERAL, given.read_text()) == []
    with redacting(Redactor([LITERAL])):
        current = save_captures([capture], tmp_path / "current.jsonl")
    assert _leaked(LITERAL, current.read_text()) == []
    [loaded] = load_captures(current)
    assert len(loaded.chunks) == len(capture.chunks)


def test_a_dataclass_is_redacted_into_a_copy_and_the_original_is_kept() -> None:
    @dataclass
    class Note:
        text: str
        token: str
        count: int = 3

    note = Note(f"saw {LITERAL}", "abcdef0123456789")
    shown = Redactor([LITERAL]).redact_obj(note)
    assert isinstance(shown, Note) and shown.count == 3
    assert LITERAL not in shown.text and "abcdef0123456789" not in shown.token
    assert note.text == f"saw {LITERAL}"


# -- the shortener --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", range(40, 90, 3))
def test_shorten_never_cuts_inside_a_redaction_marker(limit: int) -> None:
    marker = "[REDACTED jwt alg=HS256 …abcd]"
    text = "x" * 45 + marker + " and then some more words to cut"
    cut = shorten(text, limit)
    assert len(cut) <= limit
    assert cut.endswith("…")
    head = cut[:-1]
    assert marker in head or "[REDACTED" not in head


def test_shorten_leaves_short_text_alone_and_marks_a_cut() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("abcdefghijkl", 5) == "abcd…"
    assert shorten("abcdef", 0) == ""


def test_the_staging_notebook_calls_no_redact_function() -> None:
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for name in ("05_staging.py", "05_staging.ipynb"):
        text = (notebooks / name).read_text(encoding="utf-8")
        assert "redact" not in text, f"{name} mentions redaction by hand"
