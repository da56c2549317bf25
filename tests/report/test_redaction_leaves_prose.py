"""Redaction leaves prose alone: in every built-in's outputs (terminal, verbose terminal, JSON,
report) a ``[REDACTED`` marker stands only where a secret was planted (the report's fetch sends
a JWT), never on a word of the kit's own sentences. The notebooks are executed by
``tests/test_notebooks.py``, which looks at their outputs the same way."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from chatkit_lab.diagnosis import Diagnosis, diagnose
from chatkit_lab.investigation import FIX_LADDER, run_all
from chatkit_lab.redact import current_redactor
from chatkit_lab.report import report_markdown, terminal_answer
from chatkit_lab.targets import describe_targets

MARKER = re.compile(r"\[REDACTED(?P<kind> [a-z-]+)?[^\]]*\]|REDACTED-(?P<url>[a-z-]+)")
PLANTED = {"jwt", "token"}
"""What the built-ins plant: the report's fetch sends ``Authorization: Bearer <JWT>``."""


def kinds(text: str) -> list[str]:
    return [
        (found.group("kind") or found.group("url") or "").strip() for found in MARKER.finditer(text)
    ]


@pytest.mark.parametrize(
    ("prose", "kept"),
    [
        (
            "legacy:attempt3 + legacy-auth: first broken layer is request",
            "legacy-auth: first broken layer",
        ),
        ("fix 1 only: the fetch adds the JWT and rewrites nothing: still broken", "still broken"),
        ("the x-session-note: see below", "see below"),
        ("basic-auth: enabled for staging", "enabled for staging"),
    ],
)
def test_a_header_like_name_in_a_sentence_does_not_eat_the_next_word(prose: str, kept: str) -> None:
    said = current_redactor().redact_text(prose)
    assert "[REDACTED" not in said and kept in said


@pytest.mark.parametrize(
    "line",
    [
        "X-Auth-Token: abcd1234efgh5678",
        "Authorization: first",
        "X-Auth-Token: Bearer abcdefghijkl",
        "basic-auth: hunter2",
    ],
)
def test_a_header_line_with_a_credential_is_still_redacted(line: str) -> None:
    said = current_redactor().redact_text(line)
    assert "[REDACTED" in said and line.split(": ", 1)[1].split()[-1] not in said


@pytest.fixture(scope="module")
def builtins() -> list[Diagnosis]:
    async def every() -> list[Diagnosis]:
        found = [await diagnose(name) for name in describe_targets()]
        return found + await run_all(FIX_LADDER, progress=False)

    return asyncio.run(every())


def test_no_built_in_output_redacts_anything_but_the_planted_credential(
    builtins: list[Diagnosis], tmp_path: Path
) -> None:
    path = report_markdown(builtins, tmp_path / "report.md", plots=False)
    outputs = {"report": path.read_text(encoding="utf-8")}
    for diagnosis in builtins:
        name = diagnosis.target
        outputs[f"{name} terminal"] = "\n".join(terminal_answer(diagnosis, height=None))
        outputs[f"{name} -v"] = "\n".join(terminal_answer(diagnosis, verbose=True))
        outputs[f"{name} json"] = json.dumps(diagnosis.to_json())
        outputs[f"{name} headline"] = diagnosis.headline()
    wrong = {
        where: sorted(set(kinds(text)) - PLANTED)
        for where, text in outputs.items()
        if set(kinds(text)) - PLANTED
    }
    assert wrong == {}
    # the kit's own sentences are whole: the verdict of every run reads as written
    for diagnosis in builtins:
        if diagnosis.verdict is not None:
            assert "first broken layer is" in diagnosis.headline()
