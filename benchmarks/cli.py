"""Benchmark 9: how fast the command line answers.

Wall time of ``chatkit-lab --help`` against ``python -c pass`` (the interpreter's own start),
alternating, medians of several runs; and, for a built-in diagnosis (``chatkit-lab diagnose
legacy:attempt3``), the time from starting the command to the first byte it writes to stderr
(its first progress line: the sign that it is doing work), against the same baseline. The
targets: ``--help`` at most 0.5 s over the interpreter's start; the first output of a diagnosis
within 0.5 s of its start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ._common import ROOT, BenchResult, Metric, median

NAME = "cli"
TITLE = "Command line: --help and time to first output"
HELP_TARGET_S = 0.5
"""``--help``: at most this much longer than ``python -c pass``."""
FIRST_BYTE_TARGET_S = 0.5
"""A built-in diagnosis (``diagnose legacy:attempt3``): its first stderr byte at most this long
after the command starts."""
DIAGNOSED = "legacy:attempt3"
"""The diagnosis whose first output is timed: the team's reported setup."""


def command() -> list[str]:
    """How to start the command line: its installed script, else through the interpreter."""
    script = Path(sys.executable).parent / "chatkit-lab"
    if script.exists():
        return [str(script)]
    found = shutil.which("chatkit-lab")
    if found:
        return [found]
    return [sys.executable, "-c", "from chatkit_lab.cli import main; main()"]


def _wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120, check=False)
    return time.perf_counter() - started


def first_stderr_byte(argv: list[str], timeout_s: float = 120.0) -> tuple[float, bool]:
    """(seconds until the first stderr byte or the exit, whether a byte came first)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: stopped with whatever it started
    )
    try:
        assert process.stderr is not None
        byte = process.stderr.read(1)  # returns at the first byte, or at the exit
        elapsed = time.perf_counter() - started
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout_s)
        if process.stderr is not None:
            process.stderr.close()
    return elapsed, bool(byte)


def run(quick: bool = False, *, repeats: int | None = None, first_runs: int = 2) -> BenchResult:
    """Run the benchmark (``repeats`` overrides the count ``quick`` picks)."""
    repeats = repeats if repeats is not None else (3 if quick else 7)
    cli = command()
    result = BenchResult(NAME, TITLE, params={"repeats": repeats, "command": Path(cli[0]).name})
    bare_runs: list[float] = []
    help_runs: list[float] = []
    _wall([sys.executable, "-c", "pass"])  # warm the file cache on both sides
    _wall([*cli, "--help"])
    for round_ in range(repeats):
        sides = ("bare", "help") if round_ % 2 == 0 else ("help", "bare")
        for side in sides:
            if side == "bare":
                bare_runs.append(_wall([sys.executable, "-c", "pass"]))
            else:
                help_runs.append(_wall([*cli, "--help"]))
    bare, shown = median(bare_runs), median(help_runs)
    # --progress: stderr is a pipe here, where the command is quiet unless asked.
    run = [*cli, "diagnose", DIAGNOSED, "--progress"]
    firsts = [first_stderr_byte(run) for _ in range(first_runs)]
    first = median([seconds for seconds, _ in firsts])
    wrote = all(came for _, came in firsts)
    result.metrics = [
        Metric("python -c pass", bare * 1e3, "ms"),
        Metric("chatkit-lab --help", shown * 1e3, "ms", baseline=bare * 1e3),
        Metric("--help added to the interpreter start", shown - bare, "s", target=HELP_TARGET_S),
        Metric("--help / python -c pass", shown / bare, "x"),
        Metric(
            f"diagnose {DIAGNOSED}: first stderr byte after start",
            first,
            "s",
            baseline=bare,
            target=FIRST_BYTE_TARGET_S,
        ),
        Metric("first stderr byte added to the interpreter start", first - bare, "s"),
    ]
    result.notes.append(
        f"medians of {repeats} alternating runs (first byte: {first_runs} runs)"
        + ("" if wrote else "; the diagnosis wrote nothing to stderr before it ended")
    )
    return result
