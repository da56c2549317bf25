"""``--junit FILE`` writes JUnit XML for scenario runs, as h2spec does: one test case per
scenario, a failure with the verdict and the fix, a skip with the reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from chatkit_lab.cli import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=80)
    return result.exit_code, result.stdout, result.stderr


def cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return {case.get("name", "").split(":")[0]: case for case in suite.findall("testcase")}


def test_a_failing_scenario_is_a_failure_with_its_verdict_and_fix(tmp_path: Path) -> None:
    junit = tmp_path / "ci" / "conformance.xml"
    code, out, err = run(
        "diagnose", "faulty:cancel", "--scenario", "messages,cancel", "--junit", str(junit)
    )
    assert code == 1, out + err
    assert f"JUnit XML written to {junit}" in out
    found = cases(junit)
    assert set(found) == {"messages", "cancel"}
    assert list(found["messages"]) == [] or found["messages"][0].tag == "system-out"
    (failure,) = found["cancel"].findall("failure")
    assert failure.get("type") == "persistence.cancel_partial_lost"
    assert "first broken layer is persistence" in failure.get("message", "")
    assert "Fix: " in (failure.text or "") and "handle_stream_cancelled" in (failure.text or "")
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "1", "0")


def test_a_skipped_scenario_is_a_skipped_case_with_the_reason_and_nothing_unredacted(
    tmp_path: Path,
) -> None:
    import asyncio
    from dataclasses import replace

    from chatkit_lab.diagnosis import diagnose_scenarios
    from chatkit_lab.redact import current_redactor
    from chatkit_lab.report import write_junit

    secret = "sk-proj-" + "Q" * 40
    conformance = asyncio.run(diagnose_scenarios("reference", ["messages", "history"]))
    conformance.redactor = current_redactor().with_secrets([secret])
    reason = f"the backend answers threads.list with 501 (key {secret})\x1b[31m"
    conformance.results[1] = replace(
        conformance.results[1], state="skip", reason=reason, evidence="history: threads.list"
    )
    path = write_junit(conformance, tmp_path / "out.xml")
    text = path.read_text(encoding="utf-8")
    assert secret not in text and "\x1b" not in text
    found = cases(path)
    (skipped,) = found["history"].findall("skipped")
    assert "threads.list with 501" in skipped.get("message", "")
    assert "history: threads.list" in skipped.get("message", "")
    assert not found["messages"].findall("failure") and not found["messages"].findall("skipped")
    assert ET.parse(path).getroot().get("skipped") == "1"


def test_junit_without_scenarios_is_refused_with_one_line(tmp_path: Path) -> None:
    code, out, err = run("diagnose", "reference", "--junit", str(tmp_path / "x.xml"))
    assert code == 2
    assert "--junit" in err and "--scenario" in err
    assert not (tmp_path / "x.xml").exists()
