"""The terminal answer fits one screen, ends with the verdict, what the user sees and the fix, and
never cuts a word: checked through the command line, and in a real 80x24 terminal (tmux)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatkit_lab.cli import app

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("Verdict", "You see", "Fix")


def run(*args: str, columns: int = 80, lines: int = 24) -> tuple[int, str, str]:
    env = {"COLUMNS": str(columns), "LINES": str(lines)}
    result = CliRunner().invoke(app, list(args), env=env, terminal_width=columns)
    return result.exit_code, result.stdout, result.stderr


def words(text: str) -> set[str]:
    return set(text.split())


def wide(*args: str) -> str:
    """The same answer printed on lines long enough for every paragraph, at every height (the
    parts a short screen leaves out differ), with and without -v: every word whole."""
    outputs = [
        run(*args, extra, columns=2000, lines=n)[1]
        for n in (10, 24, 1000)
        for extra in ("-v", "--no-progress")
    ]
    return "\n".join(outputs)


def cut_words(narrow: str, wide: str) -> list[str]:
    """Tokens of the narrow output that are not whole words of the same answer printed wide:
    a word cut at the end of a line shows up as two such pieces."""
    whole = words(wide)
    return sorted(token for token in words(narrow) if token not in whole)


def test_the_default_answer_fits_22_lines_at_80_columns_and_ends_with_verdict_sees_and_fix() -> (
    None
):
    code, out, _ = run("diagnose", "legacy:attempt3")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) <= 22, out
    assert all(len(line) <= 80 for line in lines), out
    labels = [line.split("  ")[0] for line in lines]
    for label in LABELS:
        assert label in labels, out
    assert labels.index("Verdict") < labels.index("You see") < labels.index("Fix")
    assert "request.rewritten" in out and "-v" in lines[-1] + lines[-2]


def test_no_word_is_cut_at_80_columns_nor_with_verbose() -> None:
    for extra in ((), ("-v",)):
        _, narrow, _ = run("diagnose", "legacy:attempt3", *extra, columns=80)
        assert narrow.strip()
        assert cut_words(narrow, wide("diagnose", "legacy:attempt3")) == [], extra
        assert all(len(line) <= 80 for line in narrow.splitlines())


def test_columns_is_respected_and_verbose_prints_every_finding_whole() -> None:
    _, printed, _ = run("diagnose", "legacy:attempt3", "-v", columns=250)
    lines = printed.splitlines()
    assert max(len(line) for line in lines) > 120  # it used the width it was given
    assert all(len(line) <= 250 for line in lines)
    import asyncio

    from chatkit_lab.diagnosis import diagnose

    diagnosis = asyncio.run(diagnose("legacy:attempt3"))
    flat = " ".join(printed.split())
    for finding in diagnosis.findings:
        assert " ".join(f"{finding.code}: {finding.summary}".split()) in flat


def test_checks_reads_at_80_columns_as_a_block_per_check() -> None:
    code, out, _ = run("checks")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert sum(1 for line in lines if line.startswith("request.rewritten (")) == 1
    assert sum(1 for line in lines if line.lstrip().startswith("fix ")) >= 50
    _, everything, _ = run("checks", columns=2000)
    assert cut_words(out, everything) == []


# -- a real terminal ---------------------------------------------------------------------------


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_80x24_terminal_the_verdict_what_the_user_sees_and_the_fix_are_on_screen(
    tmp_path: Path,
) -> None:
    socket = f"ckl-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "run.sh"
    done = tmp_path / "done"
    cli = Path(sys.executable).parent / "chatkit-lab"
    script.write_text(
        f"cd {ROOT}\nclear\n{cli} diagnose legacy:attempt3\ntouch {done}\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    subprocess.run(
        ["tmux", "-L", socket, "new-session", "-d", "-x", "80", "-y", "24", "sh"],
        env=env,
        check=True,
        timeout=30,
    )
    try:
        tmux("-L", socket, "send-keys", f"sh {script}", "Enter")
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert done.exists(), "the diagnosis did not finish within 120 s"
        time.sleep(0.5)
        screen = tmux("-L", socket, "capture-pane", "-p").splitlines()
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], timeout=30, check=False)
    text = "\n".join(screen)
    assert len(screen) <= 24
    assert all(len(line) <= 80 for line in screen)
    labels = [line.split("  ")[0] for line in screen]
    for label in LABELS:
        assert label in labels, text
    assert "chatkit-lab: diagnosing" not in text  # the progress line was cleared
    shown = "\n".join(line for line in screen if not re.match(r"^\S*[#$]\s*$", line))
    assert cut_words(shown, wide("diagnose", "legacy:attempt3")) == [], text
