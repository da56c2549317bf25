"""``diagnose`` on one source: a built-in backend, a URL, or recorded files; and the answer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chatkit_lab.cli._io import fail, print_json, progress, say
from chatkit_lab.errors import ChatKitLabError

if TYPE_CHECKING:
    from chatkit_lab.diagnosis import Diagnosis, RunConfig


def emit(
    diagnoses: list[Diagnosis],
    as_json: bool,
    out: Path | None,
    title: str,
    verbose: bool,
    width: int,
) -> int:
    """Write the report, print the answer (or JSON); the exit code."""
    from chatkit_lab.cli._progress import height
    from chatkit_lab.report import report_markdown, terminal_answer

    if out is not None:
        try:
            report_markdown(diagnoses, out, title=title)
        except (ChatKitLabError, OSError) as exc:
            fail(f"cannot write the report to {out}: {exc}")
    if as_json:
        payload = [d.to_json() for d in diagnoses]  # each redacted by its run's redactor
        print_json(payload[0] if len(payload) == 1 else payload)
    else:
        for diagnosis in diagnoses:
            lines = terminal_answer(diagnosis, verbose=verbose, width=width, height=height())
            for line in lines:
                say(line)
        if out is not None:
            say(f"report written to {out}")
    return 1 if any(d.failed for d in diagnoses) else 0


def diagnose_one(config: RunConfig, url_contains: str | None) -> tuple[Diagnosis, str]:
    """Diagnose one source: recorded files as they are (redacted by the configuration's
    redactor), a built-in name or a URL by playing the client with the configuration; the
    diagnosis and a title."""
    from chatkit_lab.diagnosis import diagnose, diagnose_captures, diagnose_source

    target = config.target
    try:
        kind, source = diagnose_source(target, url_contains=url_contains)
        if kind == "files":
            say(f"chatkit-lab: read {source.describe()}", err=True)
            for problem in source.problems[:20]:
                say(f"  note: {problem}", err=True)
            if not source.captures:
                fail(f"{target}: no usable exchanges")
            diagnosis = diagnose_captures(source.captures, target=target, redactor=config.redactor)
            if config.save is not None:
                from chatkit_lab.diagnosis import save_run

                save_run(diagnosis, config.save)
            return diagnosis, f"ChatKit diagnosis: {Path(target).name}"
        what = "URL" if "://" in target else "built-in backend"
        progress(f"{what} {target}: playing the ChatKit client ...")
        import asyncio

        diagnosis = asyncio.run(diagnose(config))
    except ChatKitLabError as exc:
        fail(str(exc))
    return diagnosis, f"ChatKit diagnosis: {target}"
