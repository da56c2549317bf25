"""The session model: built once from any source, read by every verdict, screen and fix.

The seed's own bug recorded the way a frontend team records it (a HAR, a proxy recording) gets
the same verdict layer and fix as the in-process run of the same setup; claims rest on what was
observed; captures are saved redacted and named in reasons; a run with a fetch is played again
without it, on the same target.
"""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from one_story import assert_one_story
from typer.testing import CliRunner

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.cli import app
from chatkit_lab.client import ClientRequest
from chatkit_lab.client.session import build_session, carries_turn, lifecycle_of_captures
from chatkit_lab.diagnosis import diagnose, diagnose_captures, diagnose_target
from chatkit_lab.report import explain
from chatkit_lab.sources import HTTPTransport, Limits, read_captures
from chatkit_lab.targets import open_target

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SECRET = "Bearer sk-session-model-0123456789abcdef"
runner = CliRunner()


def stream_capture(*payloads: Any, kind: str = "threads.get_by_id") -> Capture:
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    made = Capture(
        request=RequestRecord(
            "POST",
            "http://backend.test/chatkit",
            [],
            json.dumps({"type": kind, "params": {"thread_id": "thr_1"}}).encode(),
        ),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        label="load",
    )
    made.add_chunk(body, 1_000_000)
    return made


# -- what a reply carries --------------------------------------------------------------------


def test_a_stream_of_only_stream_options_carries_no_turn() -> None:
    only_options = stream_capture({"type": "stream_options", "stream_options": {"allow_cancel": 1}})
    assert not carries_turn(only_options)


def test_a_stream_with_an_item_or_a_foreign_message_carries_a_turn() -> None:
    item = {"type": "user_message", "id": "u1", "thread_id": "t", "content": []}
    assert carries_turn(stream_capture({"type": "thread.item.done", "item": item}))
    assert carries_turn(stream_capture({"type": "response.output_text.delta", "delta": "hi"}))


# -- the seed's recordings -------------------------------------------------------------------


async def test_the_seed_recordings_give_the_in_process_verdict_layer_and_fix() -> None:
    in_process = (await diagnose("legacy:attempt3")).verdict
    assert in_process is not None and in_process.layer == "request"
    for name in ("firefox_legacy.har", "legacy_attempt3_via_proxy.jsonl"):
        recorded = diagnose_captures(read_captures(SAMPLES / name).captures, target=name)
        assert_one_story(recorded)
        verdict = recorded.verdict
        assert verdict is not None, name
        assert verdict.layer == in_process.layer, (name, verdict.code)
        assert verdict.fix == in_process.fix, name
        assert "rewrote" in verdict.summary and "ChatKit envelope" in verdict.summary


def test_a_recorded_session_says_which_requests_on_the_wire_were_rewritten() -> None:
    captures = read_captures(SAMPLES / "legacy_attempt3_via_proxy.jsonl").captures
    session = build_session(lifecycle_of_captures(captures), recorded=True)
    assert session.rewritten and len(session.rewritten) == len(session.exchanges)
    assert all(item.host_did.startswith("opened the stream") for item in session.exchanges)
    assert not session.fetch_in_path


# -- the backend stopped answering -----------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/chatkit"


class StopsAnswering:
    """A sender that answers ``answered`` requests, then connects to a port nobody serves."""

    def __init__(self, inner: Any, answered: int) -> None:
        self.inner, self.answered, self.sent, self.dead = inner, answered, 0, _dead_url()

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Any = None
    ) -> Capture:
        self.sent += 1
        if self.sent <= self.answered:
            return await self.inner.send_request(request, label=label, limits=limits)
        moved = ClientRequest(request.method, self.dead, request.headers, request.body)
        quick = Limits(connect_s=1.0, read_s=1.0, total_s=2.0)
        return await HTTPTransport(limits=quick).send_request(moved, label=label, limits=quick)


async def test_a_refused_connection_is_the_backend_stopping_after_the_request_before_it() -> None:
    async with open_target("reference") as target:
        stopping = replace(target, sender=StopsAnswering(target.sender, answered=2))
        diagnosis = await diagnose_target(stopping)
    assert_one_story(diagnosis)
    stopped = [f for f in diagnosis.findings if f.code == "transport.no_response"]
    assert stopped, [f.code for f in diagnosis.findings]
    assert stopped[0].summary.startswith("the backend stopped answering after send: threads.create")
    assert "stopped" in stopped[0].fix
    assert diagnosis.session is not None
    assert diagnosis.session.stopped_after() is not None


# -- evidence on disk ------------------------------------------------------------------------


async def test_a_run_saves_its_captures_redacted_and_reasons_name_their_files(
    tmp_path: Path,
) -> None:
    diagnosis = await diagnose(
        "legacy:attempt3", headers={"X-Api-Key": SECRET}, save=tmp_path / "run"
    )
    files = sorted((tmp_path / "run").iterdir())
    assert len(files) >= len(diagnosis.captures)
    assert all(SECRET not in path.read_text(encoding="utf-8") for path in files)
    verdict = diagnosis.verdict
    assert verdict is not None
    named = diagnosis.saved[verdict.evidence.capture or ""]
    assert (tmp_path / "run" / named).is_file()
    why = explain(diagnosis).why
    assert why is not None and f"(file {named})" in " ".join(why.evidence)
    payload = diagnosis.to_json()
    assert payload["saved"][verdict.evidence.capture] == named
    again = diagnose_captures(read_captures(tmp_path / "run").captures)
    assert again.verdict is not None


def test_the_command_line_saves_a_recordings_captures(tmp_path: Path) -> None:
    out = tmp_path / "saved"
    result = runner.invoke(
        app, ["diagnose", str(SAMPLES / "firefox_legacy.har"), "--save", str(out), "--json"]
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"]["layer"] == "request"
    assert set(payload["saved"].values()) == {path.name for path in out.iterdir()}
    cited = [f["evidence"].get("file") for f in payload["findings"]]
    assert any(cited) and all(name is None or (out / name).is_file() for name in cited)


# -- the same session without the fetch ------------------------------------------------------


async def test_without_the_fetch_the_reports_backend_still_fails_so_the_fetch_is_not_all() -> None:
    diagnosis = await diagnose("legacy:attempt3", without_fetch=True)
    other = diagnosis.counterfactual
    assert other is not None and "authorization" in [name.lower() for name in other.kept]
    assert not other.fetch_is_the_cause
    assert other.diagnosis.verdict is not None
    assert "not the only cause" in other.line()


async def test_without_the_fetch_a_chatkit_backend_passes_so_the_fetch_alone_is_the_cause() -> None:
    diagnosis = await diagnose("reference", transform="legacy-fetch", without_fetch=True)
    assert diagnosis.failed
    other = diagnosis.counterfactual
    assert other is not None and other.fetch_is_the_cause, other.line()
    told = explain(diagnosis).without_fetch
    assert told is not None and "the fetch alone is the cause" in told.text
    assert diagnosis.to_json()["without_fetch"]["verdict"] is None


async def test_a_run_without_a_fetch_is_not_played_again() -> None:
    diagnosis = await diagnose("reference", without_fetch=True)
    assert diagnosis.counterfactual is None and "without_fetch" not in diagnosis.to_json()


def test_the_command_line_answer_holds_the_run_without_the_fetch() -> None:
    result = runner.invoke(app, ["diagnose", "legacy:attempt3"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    label = [n for n, line in enumerate(lines) if line.startswith("Without ")]
    assert label and lines[label[0] + 1].startswith("your fetch"), result.stdout
    assert "The same session with legacy-fetch replaced by a pass-through" in " ".join(
        result.stdout.split()
    )


# -- what the host script did, per exchange --------------------------------------------------


def test_an_event_stream_the_host_script_refuses_is_a_refusal_in_the_session() -> None:
    made = stream_capture({"type": "progress_update", "text": "x"}, kind="threads.create")
    made.response_headers = [("content-type", "Text/Event-Stream")]
    made.ending = Ending()
    session = build_session(lifecycle_of_captures([made]), recorded=True)
    assert session.exchanges[0].host_did.startswith("open check failed")
    departure = session.departure
    assert departure is not None and departure.kind == "send failed"


# -- deleted only when a load answers not-found cleanly ---------------------------------------


async def test_a_crash_on_loading_a_deleted_thread_is_no_proof_it_was_deleted() -> None:
    from session_servers import crash_on_load_after_delete

    from chatkit_lab.backends import reference_app
    from chatkit_lab.client import LifecycleRunner
    from chatkit_lab.targets import open_app_target

    app = crash_on_load_after_delete(reference_app(store="memory"))
    async with open_app_target(app) as target:
        life = await LifecycleRunner(target.sender, target.url, delete_created=True).run()
    assert life.created_threads and life.deleted_threads == []
    assert any("did not answer not-found cleanly (HTTP 500)" in note for note in life.notes)


async def test_a_crash_on_loading_a_deleted_thread_gets_the_not_found_fix() -> None:
    from session_servers import crash_on_load_after_delete

    from chatkit_lab.backends import reference_app
    from chatkit_lab.targets import open_app_target

    app = crash_on_load_after_delete(reference_app(store="memory"))
    async with open_app_target(app) as target:
        # an app of the user's own, not a built-in: the kit deletes the threads it created
        diagnosis = await diagnose_target(replace(target, builtin=False))
    found = [f for f in diagnosis.findings if f.code == "persistence.cleanup_not_confirmed"]
    assert found, [f.code for f in diagnosis.findings]
    assert "Answer a load of a missing thread with HTTP 404" in found[0].fix
    assert "NotFoundError" in found[0].fix  # a Python traceback: the SDK's way is named
    assert "Implement threads.delete" not in found[0].fix


async def test_a_server_without_an_attachment_store_is_told_what_the_sdk_needs() -> None:
    from chatkit_lab.checks import Finding
    from chatkit_lab.checks._model import Evidence
    from chatkit_lab.client.session import build_session as build
    from chatkit_lab.diagnosis._fixes import fit_fixes

    capture = Capture(
        request=RequestRecord(
            "POST",
            "http://backend.test/chatkit",
            [("content-type", "application/json")],
            json.dumps({"type": "attachments.create", "params": {}}).encode(),
        ),
        label="attach",
    )
    capture.client_type = "attachments.create"
    capture.status = 500
    capture.add_chunk(b"Internal Server Error", 0)
    capture.ending = Ending("complete")
    finding = Finding(
        layer="request",
        code="request.http_error",
        severity="error",
        summary="HTTP 500",
        evidence=Evidence(capture="attach"),
        fix="declared",
    )
    session = build(lifecycle_of_captures([capture]), recorded=True, target="t")
    fit_fixes([finding], [capture], session)
    assert "attachment_store=" in finding.fix and "Every request failed" not in finding.fix
    assert "If your ChatKit options leave attachments off" in finding.fix


async def test_when_the_run_without_the_fetch_passes_the_fix_is_the_fetch_alone() -> None:
    diagnosis = await diagnose("reference", transform="legacy-fetch", without_fetch=True)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "request.rewritten"
    assert "the backend needs no change" in verdict.fix
    assert "ChatKitServer" not in verdict.fix


# -- the first departing screen --------------------------------------------------------------


def _session(*screens: Any) -> Any:
    from chatkit_lab.client import Lifecycle, Timeline
    from chatkit_lab.client.session import SessionModel

    return SessionModel("t", Lifecycle("t"), screens=Timeline(list(screens)))


def _screen(moment: str, *who: str, error: str | None = None, lost: tuple[str, ...] = ()) -> Any:
    from chatkit_lab.client import Screen, Shown

    items = tuple(Shown(f"{role}{n}", role, f"{role} {n}") for n, role in enumerate(who))
    return Screen(moment, "send", items, error=error, lost=lost)


def test_a_reply_after_the_stream_is_no_departure_and_its_absence_is() -> None:
    sent = _screen("after send", "user")
    assert _session(sent, _screen("after the stream", "user", "assistant")).departure is None
    gone = _session(sent, _screen("after the stream", "user")).departure
    assert gone is not None and (gone.kind, gone.screen) == ("no reply", 2)


def test_an_error_the_ui_shows_after_the_stream_is_a_reply_the_user_can_act_on() -> None:
    sent = _screen("after send", "user")
    shown = _screen("after the stream", "user", error="error: the model is overloaded")
    assert _session(sent, shown).departure is None


def test_a_reply_drawn_while_streaming_and_gone_after_it_is_a_lost_reply() -> None:
    sent = _screen("after send", "user")
    during = _screen("while streaming", "user", "assistant")
    after = _screen("after the stream", "user")
    departure = _session(sent, during, after).departure
    assert departure is not None and departure.kind == "reply lost"


def test_more_user_messages_after_a_load_than_sends_is_a_duplicate() -> None:
    sent = _screen("after send", "user")
    after = _screen("after the stream", "user", "assistant")
    loaded = _screen("after the thread load", "user", "user", "assistant")
    departure = _session(sent, after, loaded).departure
    assert departure is not None and departure.kind == "duplicate"


def test_a_python_sdk_fix_is_rewritten_for_a_node_backend_and_kept_for_python() -> None:
    from chatkit_lab.checks import Evidence, Finding, check_specs
    from chatkit_lab.diagnosis._fixes import fit_fixes

    declared = check_specs()["schema.foreign_protocol"].fix
    assert "ChatKitServer" in declared

    def fitted(header: tuple[str, str]) -> str:
        made = stream_capture({"type": "response.output_text.delta"}, kind="threads.create")
        made.response_headers = [("content-type", "text/event-stream"), header]
        finding = Finding(
            "schema", "schema.foreign_protocol", "error", "foreign", Evidence(made.name), declared
        )
        fit_fixes([finding], [made], None)
        return finding.fix

    node = fitted(("x-powered-by", "Express"))
    assert "ChatKitServer" not in node and "openai-chatkit" not in node
    assert "Node (X-Powered-By: Express)" in node and "thread.item.added" in node
    assert fitted(("server", "uvicorn")) == declared


def test_a_scenario_run_saves_each_scenarios_captures_in_a_folder_of_its_own(
    tmp_path: Path,
) -> None:
    out = tmp_path / "saved"
    result = runner.invoke(
        app, ["diagnose", "reference", "--scenario", "cancel", "--save", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = sorted((out / "cancel").iterdir())
    assert files and all(path.suffix == ".jsonl" for path in files)
    again = diagnose_captures(read_captures(out / "cancel").captures)
    assert again.session is not None and again.session.exchanges


def test_the_terminal_lists_a_thread_whose_delete_was_not_confirmed_as_such() -> None:
    from session_servers import crash_on_load_after_delete

    from chatkit_lab import LoopbackServer
    from chatkit_lab.backends import reference_app

    with LoopbackServer(crash_on_load_after_delete(reference_app(store="memory"))) as server:
        result = runner.invoke(app, ["diagnose", f"{server.url}/chatkit"])
    flat = " ".join(result.stdout.split())
    assert "not confirmed deleted (no clean not-found on reload)" in flat, result.stdout
    assert "still there" not in flat
