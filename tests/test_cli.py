"""The command line: exit codes, the --json object, usage errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatkit_lab.checks._model import LAYERS
from chatkit_lab.cli import app
from chatkit_lab.report import table as report_table

runner = CliRunner()


def _usage_error(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chatkit-lab: ") and words in lines[0]
    assert "Traceback" not in result.output


def test_diagnose_reference_json_prints_one_object_with_a_null_verdict_and_exits_0() -> None:
    result = runner.invoke(app, ["diagnose", "reference", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    assert set(payload) == {"target", "verdict", "layers", "findings", "departure"}
    assert payload["departure"] is None
    assert payload["target"] == "reference"
    assert payload["verdict"] is None
    assert payload["layers"] == dict.fromkeys(LAYERS, "pass")
    assert isinstance(payload["findings"], list)


def test_diagnose_legacy_attempt3_json_exits_1_with_a_verdict() -> None:
    result = runner.invoke(app, ["diagnose", "legacy:attempt3", "--json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"]["layer"] == "request"
    assert payload["verdict"]["code"] == "request.rewritten"
    found = {f["code"] for f in payload["findings"]}
    assert {"transport.expected_json_got_stream", "persistence.reload_failed"} <= found


def test_diagnose_legacy_attempt3_without_the_custom_fetch_fails_at_the_request() -> None:
    result = runner.invoke(app, ["diagnose", "legacy:attempt3", "--transform", "none", "--json"])
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)["verdict"]
    assert (verdict["layer"], verdict["code"]) == ("request", "request.http_error")
    assert "401" in verdict["summary"] or "422" in verdict["summary"]


def test_diagnose_prints_a_readable_table_without_json() -> None:
    result = runner.invoke(app, ["diagnose", "legacy:attempt1"])
    assert result.exit_code == 1
    assert "first broken layer is request (request.rewritten)" in " ".join(result.stdout.split())
    assert "persistence" in result.stdout  # a failing layer; -v names every finding's code
    verbose = runner.invoke(app, ["diagnose", "legacy:attempt1", "-v"])
    assert "persistence.reload_failed" in verbose.stdout


def test_an_unknown_target_exits_2_with_a_one_line_reason() -> None:
    _usage_error(["diagnose", "nonsense-target"], "unknown target 'nonsense-target'")


def test_an_unreachable_url_exits_2_saying_it_cannot_reach_it(closed_port: int) -> None:
    _usage_error(
        ["diagnose", f"http://127.0.0.1:{closed_port}/chatkit", "--timeout", "5"], "cannot reach"
    )


def test_a_bad_header_exits_2() -> None:
    _usage_error(["diagnose", "reference", "--header", "no colon here"], "bad --header")


def test_an_unimportable_transform_exits_2() -> None:
    _usage_error(["diagnose", "reference", "--transform", "no.such:thing"], "no.such")


def test_out_writes_a_markdown_report(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = runner.invoke(app, ["diagnose", "reference", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report written to {out}" in result.stdout
    text = out.read_text()
    assert text.startswith("#") and "reference" in text


def test_checks_lists_every_check_code() -> None:
    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0, result.output
    for code in (
        "request.rewritten",
        "transport.expected_json_got_stream",
        "transport.buffered",
        "decoding.not_json",
        "persistence.reload_failed",
        "persistence.changed_order",
        "persistence.no_thread_id",
    ):
        assert code in result.stdout


def test_the_committed_check_catalogue_matches_the_registered_checks() -> None:
    result = runner.invoke(app, ["checks", "--markdown"])
    assert result.exit_code == 0
    committed = Path(__file__).resolve().parent.parent / "docs" / "concepts" / "checks.md"
    assert committed.read_text(encoding="utf-8") == result.stdout


def test_threads_created_in_a_remote_target_are_deleted_unless_kept() -> None:
    from chatkit_lab import LoopbackServer
    from chatkit_lab.backends import reference_app

    backend = reference_app(store="memory")
    with LoopbackServer(backend) as server:
        url = f"{server.url}/chatkit"
        deleted = runner.invoke(app, ["diagnose", url])
        kept = runner.invoke(app, ["diagnose", url, "--keep-threads"])
    assert deleted.exit_code == 0, deleted.output
    assert "deleted again" in deleted.output and "still there" not in deleted.output
    assert kept.exit_code == 0, kept.output
    assert "still there" in kept.output
    methods = list(report_table(backend.state.store.rows())["method"])
    assert methods.count("delete_thread") == 1
