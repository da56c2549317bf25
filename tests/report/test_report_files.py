"""Reports are written whole or not at all; a bad destination is a clear error."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.diagnosis import Diagnosis, diagnose_captures
from chatkit_lab.errors import ChatKitLabError
from chatkit_lab.investigation import run_investigation
from chatkit_lab.report import ReportError, report_markdown, write_text


def _diagnosis() -> Diagnosis:
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
    capture.add_chunk(b'data: {"type":"vendor.thing"}\n\n', 1_000_000)
    return diagnose_captures([capture], target="staging")


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".part"))


def test_a_failure_while_the_report_is_built_leaves_the_old_report_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.md"
    report_markdown([_diagnosis()], path, plots=False)
    before = path.read_bytes()

    def explode(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom while rendering")

    monkeypatch.setattr("chatkit_lab.report._markdown.diagnosis_markdown", explode)
    with pytest.raises(RuntimeError):
        report_markdown([_diagnosis()], path, plots=False)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_a_failure_while_the_file_is_written_leaves_the_old_file_and_no_part_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.md"
    path.write_text("the previous report\n", encoding="utf-8")

    def full_disk(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(ReportError, match="No space left"):
        write_text(path, "a new report " * 1000)
    assert path.read_text(encoding="utf-8") == "the previous report\n"
    assert _leftovers(tmp_path) == []


def test_a_directory_as_the_report_path_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match="is a directory") as raised:
        report_markdown([_diagnosis()], tmp_path, plots=False)
    assert isinstance(raised.value, ChatKitLabError)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.txt"]


def test_a_file_standing_where_the_reports_folder_should_be_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ReportError, match="not a directory"):
        report_markdown([_diagnosis()], blocker / "report.md", plots=False)


def test_the_investigation_refuses_a_directory_before_it_runs_anything(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is a directory"):
        asyncio.run(run_investigation(tmp_path))


def test_a_written_report_is_an_ordinary_readable_file(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = report_markdown([_diagnosis()], tmp_path / "report.md", plots=True)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)
    plots = sorted((tmp_path / "report_plots").glob("*.png"))
    assert plots and all(p.read_bytes().startswith(b"\x89PNG") for p in plots)
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "report_plots") == []
