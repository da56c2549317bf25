"""The command line answers first, takes any source, and refuses bad input cleanly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit_lab.cli import app

ROOT = Path(__file__).resolve().parents[2]
HAR = ROOT / "tests" / "har" / "chrome_reference.har"
RECORDING = ROOT / "data" / "samples" / "legacy_attempt3_via_proxy.jsonl"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=80)
    return result.exit_code, result.stdout, result.stderr


def test_the_verdict_what_the_user_sees_the_fix_and_the_fetchless_run_close_the_answer() -> None:
    code, out, _ = run("diagnose", "legacy:attempt3")
    assert code == 1
    tail = out.splitlines()[-16:]
    assert all(len(line) <= 80 for line in tail)
    text = "\n".join(tail)
    flat = " ".join(text.split())
    said = "Verdict legacy:attempt3 FAILS: first broken layer is request (request.rewritten)"
    assert said in flat
    assert "at step 2 (send: threads.create)" in flat
    assert "You see" in text and "(modelled)" in text
    assert "Fix          Let whatever sits between ChatKit and the backend (a custom fetch," in text
    assert "The same session with legacy-fetch replaced by a pass-through" in flat


def test_each_finding_code_is_counted_once_by_layer_and_verbose_lists_every_finding() -> None:
    result = CliRunner().invoke(
        app, ["diagnose", "legacy:attempt3"], env={"LINES": "60"}, terminal_width=80
    )
    out = result.stdout
    schema = [line for line in out.splitlines() if line.startswith("schema fail")]
    assert len(schema) == 1 and "foreign_protocol ×2" in schema[0]
    _, everything, _ = run("diagnose", "legacy:attempt3", "-v")
    assert everything.count("schema.unknown_type:") > 1


def test_the_reference_backend_passes_with_exit_code_zero() -> None:
    code, out, err = run("diagnose", "reference", "--progress")
    assert code == 0, out + err
    assert "Verdict      reference PASSES: every layer passes." in out
    assert "send: threads.create: 200 text/event-stream" in err  # a line per step, on stderr


def test_a_har_file_is_diagnosed_and_the_command_says_what_it_read() -> None:
    code, _, err = run("diagnose", str(HAR))
    assert code in (0, 1)
    assert "read HAR file" in err


def test_a_capture_file_is_diagnosed_and_the_command_says_what_it_read() -> None:
    code, out, err = run("diagnose", str(RECORDING))
    assert code == 1
    assert "read capture file" in err
    assert "FAILS: first broken layer is" in " ".join(out.split())


def test_a_recording_folder_is_diagnosed_and_the_command_says_what_it_read(
    tmp_path: Path,
) -> None:
    shutil.copy(RECORDING, tmp_path / "one.jsonl")
    code, _, err = run("diagnose", str(tmp_path))
    assert code == 1
    assert "read recording folder" in err


def test_a_url_is_diagnosed() -> None:
    from chatkit_lab import LoopbackServer
    from chatkit_lab.backends import reference_app

    with LoopbackServer(reference_app(store="memory")) as server:
        url = f"{server.url}/chatkit"
        code, out, err = run("diagnose", url)
    assert code == 0, out + err
    assert f"Verdict      {url} PASSES" in " ".join(out.split("\n"))


async def test_two_threads_in_one_recording_give_no_false_persistence_finding(
    tmp_path: Path,
) -> None:
    from chatkit_lab import diagnose, diagnose_captures, save_captures

    first = await diagnose("reference")
    second = await diagnose("reference", message="A different first message")
    save_captures(first.captures + second.captures, tmp_path / "both.jsonl")
    from chatkit_lab import load_captures

    loose = diagnose_captures(load_captures(tmp_path / "both.jsonl"))
    persistence = [f.code for f in loose.findings if f.layer == "persistence"]
    assert persistence == []
    assert len(loose.reloads) >= 2


def test_an_unknown_target_is_a_clear_error_and_json_mode_prints_it_as_json() -> None:
    code, out, _ = run("diagnose", "nosuch", "--json")
    assert code == 2
    payload = json.loads(out)
    assert "unknown target 'nosuch'" in payload["error"] and payload["exit_code"] == 2


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_a_bad_timeout_is_bad_input_not_an_unreachable_target(value: str) -> None:
    code, _, err = run("diagnose", "reference", "--timeout", value)
    assert code == 2 and "bad --timeout" in err


def test_a_header_value_with_a_newline_is_bad_input() -> None:
    code, _, err = run("diagnose", "reference", "-H", "X-Test: a\nInjected: b")
    assert code == 2 and "bad --header" in err


def test_out_naming_an_existing_directory_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("diagnose", "reference", "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_version_prints_the_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("chatkit-lab ")


def test_an_unknown_transform_is_refused_before_any_backend_is_built() -> None:
    code, _, err = run("diagnose", "reference", "--transform", "nosuch")
    assert code == 2 and "unknown transform 'nosuch'" in err


def test_investigate_finds_the_seven_notebooks_it_executes() -> None:
    from chatkit_lab.cli import NOTEBOOKS_DIR
    from chatkit_lab.investigation import NOTEBOOKS

    assert all((NOTEBOOKS_DIR / f"{name}.ipynb").is_file() for name in NOTEBOOKS)
    assert len(NOTEBOOKS) == 7
