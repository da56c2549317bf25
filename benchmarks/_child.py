"""Measure one piece of work in a fresh Python process: its wall time and peak memory.

``python -m benchmarks._child TASK ARG`` runs ``TASK`` once and prints one JSON line:
``{"seconds": ..., "peak_rss_mb": ..., "start_rss_mb": ..., ...}``. Peak memory is the
process's peak resident set size, so each measurement gets a process of its own: in the
benchmark runner's process it would be the high-water mark of everything run before. Tasks:

* ``diagnose-events N``: ``diagnose_captures`` on one capture of ``N`` one-byte events
  (``data: 1``); ``json-events N``: the bare baseline, ``json.loads`` of each event's data;
* ``load-har PATH``: ``load_har(PATH)``; ``json-har PATH``: the bare baseline, ``json.load``.

The input is built before the clock starts and before the memory baseline is read.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: ``ru_maxrss`` is kept across
    ``exec``, so a child started from a large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _diagnose_events(arg: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    from chatkit_lab.diagnosis import diagnose_captures

    from ._inputs import one_byte_capture

    capture = one_byte_capture(int(arg))

    def work() -> dict[str, Any]:
        diagnosis = diagnose_captures([capture])
        return {
            "findings": len(diagnosis.findings),
            "counted": sum(1 + getattr(f, "more", 0) for f in diagnosis.findings),
            "json_bytes": len(json.dumps(diagnosis.to_json())),
        }

    return work, {"input_mb": capture.size / 1e6}


def _json_events(arg: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    from ._inputs import one_byte_body

    body = one_byte_body(int(arg))

    def work() -> dict[str, Any]:
        values = [json.loads(frame[6:]) for frame in body.split(b"\n\n") if frame]
        return {"events": len(values)}

    return work, {"input_mb": len(body) / 1e6}


def _load_har(arg: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    from chatkit_lab.sources import load_har

    def work() -> dict[str, Any]:
        imported = load_har(arg)
        return {"captures": len(imported.captures), "problems": len(imported.problems)}

    return work, {"input_mb": Path(arg).stat().st_size / 1e6}


def _json_har(arg: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    def work() -> dict[str, Any]:
        with open(arg, "rb") as handle:
            har = json.load(handle)
        return {"entries": len(har["log"]["entries"])}

    return work, {"input_mb": Path(arg).stat().st_size / 1e6}


TASKS: dict[str, Callable[[str], tuple[Callable[[], Any], dict[str, Any]]]] = {
    "diagnose-events": _diagnose_events,
    "json-events": _json_events,
    "load-har": _load_har,
    "json-har": _json_har,
}


def main(argv: list[str]) -> int:
    task, arg = argv
    work, facts = TASKS[task](arg)
    start_rss = _rss_mb()
    started = time.perf_counter()
    out = work()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": _rss_mb(),
                "start_rss_mb": start_rss,
                **facts,
                **out,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
