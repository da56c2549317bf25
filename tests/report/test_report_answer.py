"""The report leads with the answer, in plain words, each point with its evidence, nothing twice."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_blocks import headings, parse, section, section_text

from chatkit_lab.backends import reference_app
from chatkit_lab.backends.faulty import failing_reference_app
from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.client import LifecycleRunner, timeline
from chatkit_lab.diagnosis import Diagnosis, diagnose, diagnose_captures, evaluate_lifecycle
from chatkit_lab.report import CLIENT_MODEL_NOTE, explain, report_markdown
from chatkit_lab.report._plots import timeline_figure
from chatkit_lab.targets import open_app_target

ANSWER = "What is wrong and what to change"


@pytest.fixture(scope="module")
def setup() -> Diagnosis:
    """The report's setup: attempt 3 behind the report's rewriting fetch."""
    return asyncio.run(diagnose("legacy:attempt3"))


@pytest.fixture(scope="module")
def reference() -> Diagnosis:
    return asyncio.run(diagnose("reference"))


def _report(tmp_path: Path, diagnoses: list[Diagnosis], **options: Any) -> str:
    path = report_markdown(diagnoses, tmp_path / "report.md", plots=False, **options)
    return path.read_text(encoding="utf-8")


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_first_section_says_what_is_wrong_and_names_the_verdicts_fix_in_full(
    tmp_path: Path, setup: Diagnosis, reference: Diagnosis
) -> None:
    tokens = parse(_report(tmp_path, [reference, setup]))
    assert headings(tokens)[0] == ANSWER
    first = section_text(section(tokens, ANSWER))
    verdict = setup.verdict
    assert verdict is not None and verdict.fix
    assert _words(verdict.fix) in first
    assert verdict.code in first and setup.target in first


def test_every_point_of_the_answer_points_to_its_evidence(tmp_path: Path, setup: Diagnosis) -> None:
    tokens = section(parse(_report(tmp_path, [setup])), ANSWER)
    items = [tokens[i + 2] for i, token in enumerate(tokens) if token.type == "list_item_open"]
    assert len(items) >= 4
    for item in items:
        pointer = [child for child in item.children or [] if child.type == "em_open"]
        assert pointer, f"no evidence pointer in: {item.content}"
        assert any(
            word in item.content for word in ("capture", "screen", "finding", "check", "layers")
        )


def test_the_answer_names_the_screen_that_first_loses_a_message(setup: Diagnosis) -> None:
    assert setup.lifecycle is not None
    screens = timeline(setup.lifecycle)
    loss = screens.first_loss
    assert loss is not None, "the report's setup loses the user's message on the thread load"
    number = screens.screens.index(loss) + 1
    said = explain(setup)
    assert said.sees is not None and said.sees.basis == "modelled"
    assert f"first loss: screen {number}" in said.sees.pointer
    assert said.vanish is not None and f"capture {loss.step}" in said.vanish.evidence


def test_the_strip_of_screens_marks_the_first_loss_once(tmp_path: Path, setup: Diagnosis) -> None:
    text = _report(tmp_path, [setup])
    assert setup.lifecycle is not None
    screens = timeline(setup.lifecycle).screens
    strip = text.split("### What the user sees, screen by screen", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in strip.splitlines() if line.startswith("|")][2:]
    assert len(rows) == len(screens)
    marked = [number for number, row in enumerate(rows, start=1) if "first loss" in row]
    first = timeline(setup.lifecycle).first_loss
    assert marked == [screens.index(first) + 1]


def test_what_is_not_the_cause_lists_exactly_the_passing_layers(setup: Diagnosis) -> None:
    said = explain(setup)
    passing = [layer for layer, state in setup.layers.items() if state == "pass"]
    assert said.not_cause is not None
    assert said.not_cause.evidence == ("layers " + ", ".join(passing),)
    failing = [layer for layer, state in setup.layers.items() if state == "fail"]
    for layer in failing:
        assert layer not in said.not_cause.text.lower().split(" (")[0]


def test_the_explanation_wraps_to_the_terminal_width_with_the_verdict_and_fix(
    setup: Diagnosis,
) -> None:
    said = explain(setup)
    for width in (60, 80, 100):
        lines = said.lines(width)
        assert lines and all(len(line) <= width for line in lines)
    brief = " ".join(said.lines(80, fields=("verdict", "sees", "why", "fix"), evidence=False))
    assert setup.verdict is not None
    assert setup.verdict.code in brief and _words(setup.verdict.fix) in _words(brief)


def test_every_fix_is_printed_whole_and_the_disclaimer_once(
    tmp_path: Path, setup: Diagnosis, reference: Diagnosis
) -> None:
    text = _report(tmp_path, [reference, setup])
    rendered = section_text(parse(text))
    for finding in setup.findings:
        assert _words(finding.fix) in rendered, finding.code
    assert text.count(CLIENT_MODEL_NOTE) == 1
    assert text.count("### Stream vs reload") <= 2
    assert "Stream vs load" not in text


def _unknown_types_capture(count: int) -> Capture:
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
    body = b"".join(
        b"data: " + json.dumps({"type": f"vendor.kind_{n}"}).encode() + b"\n\n"
        for n in range(count)
    )
    capture.add_chunk(body, 1_000_000)
    return capture


def test_findings_of_one_code_are_one_row_with_a_count_however_many_events(
    tmp_path: Path,
) -> None:
    sizes = {}
    for count in (20, 2000):
        diagnosis = diagnose_captures([_unknown_types_capture(count)], target=f"n{count}")
        found = sum(f.code == "schema.unknown_type" for f in diagnosis.findings)
        assert found >= 1
        text = _report(tmp_path / str(count), [diagnosis])
        rows = [line for line in text.splitlines() if "| schema.unknown_type " in line]
        assert len(rows) == 1
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", rows[0].strip("|"))]
        assert cells[1:4] == ["schema.unknown_type", "error", str(found)]
        sizes[count] = len(text.encode())
    assert sizes[2000] < 2 * sizes[20], sizes


def test_the_fix_ladder_names_the_first_step_that_passes(
    tmp_path: Path, setup: Diagnosis, reference: Diagnosis
) -> None:
    text = _report(tmp_path, [setup], ladder=[setup, reference])
    ladder = section_text(section(parse(text), "The fix ladder"))
    first = next(n for n, d in enumerate([setup, reference], start=1) if not d.failed)
    assert f"Every layer passes from step {first}" in ladder
    # the ladder's first step is the same run as a target already detailed: not repeated
    assert text.count(f"## {setup.target}\n") == 1


async def test_retries_and_the_duplicates_they_left_in_the_store_are_shown(
    tmp_path: Path,
) -> None:
    async with open_app_target(failing_reference_app("create-500", store="memory")) as target:
        life = await LifecycleRunner(target.sender, target.url).run()
    diagnosis = evaluate_lifecycle(life, "faulty:create-500")
    text = _report(tmp_path, [diagnosis])
    retries = text.split("### Retries", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in retries.splitlines() if line.startswith("|")][2:]
    assert len(rows) == len(life.retries) > 0
    audit = life.store_audit
    saved = sum(audit["user_messages"].values())
    assert f"{len(audit['new_threads'])} new thread(s)" in retries
    assert f"the user message {saved} time(s)" in retries and "duplicates" in retries


def _swallowing_deletes(app: Any) -> Any:
    """The app, except that threads.delete answers 200 and deletes nothing."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        if b'"threads.delete"' in body:
            head = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        replay = iter(messages)

        async def again() -> dict[str, Any]:
            return next(replay, None) or await receive()

        await app(scope, again, send)

    return wrapped


@pytest.mark.parametrize("swallow", [False, True], ids=["deleted", "delete-ignored"])
async def test_cleanup_says_deleted_only_when_a_load_confirms_it(
    tmp_path: Path, swallow: bool
) -> None:
    app = reference_app(store="memory")
    async with open_app_target(_swallowing_deletes(app) if swallow else app) as target:
        life = await LifecycleRunner(target.sender, target.url, delete_created=True).run()
    diagnosis = evaluate_lifecycle(life, "reference")
    text = _report(tmp_path, [diagnosis])
    cleanup = text.split("### Cleanup", 1)[1].split("\n### ", 1)[0]
    assert life.created_threads
    confirmed = "a load confirmed it is gone" in cleanup
    assert confirmed == (not swallow) == bool(life.deleted_threads)
    assert ("delete it by hand" in cleanup) == swallow


def test_loads_that_became_chat_turns_are_counted(tmp_path: Path, setup: Diagnosis) -> None:
    assert setup.lifecycle is not None
    ran = setup.lifecycle.turns_for_non_sends
    assert ran, "the report's fetch turns every load into a chat turn"
    text = _report(tmp_path, [setup])
    part = text.split("### Loads that became chat turns", 1)[1].split("\n### ", 1)[0]
    assert f"{len(ran)} request(s) that were not sends" in part


def test_the_arrivals_plot_has_its_whole_title_an_outside_legend_and_whole_event_numbers(
    setup: Diagnosis,
) -> None:
    import matplotlib.pyplot as plt

    setup_long = Diagnosis(
        setup.target + " behind a custom fetch with a rather long caption for the plot title",
        findings=setup.findings,
        layers=setup.layers,
        captures=setup.captures,
        analyses=setup.analyses,
    )
    fig = timeline_figure(setup_long)
    assert fig is not None
    try:
        ax = fig.axes[0]
        assert ax.get_title().replace("\n", " ").startswith(setup_long.target)
        ticks = [tick for tick in ax.get_yticks() if ax.get_ylim()[0] <= tick <= ax.get_ylim()[1]]
        assert ticks and all(float(tick).is_integer() for tick in ticks)
        fig.canvas.draw()
        legend = ax.get_legend().get_window_extent()
        data = ax.get_window_extent()
        assert legend.y1 <= data.y0, "the legend must sit outside the data"
    finally:
        plt.close(fig)
