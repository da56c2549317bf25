"""``diagnose`` on one source: a built-in backend, a URL, or recorded files; and the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_lab.cli._io import fail, print_json, progress, say
from chatkit_lab.errors import ChatKitLabError


def emit(
    diagnoses: list[Any], as_json: bool, out: Path | None, title: str, verbose: bool, width: int
) -> int:
    """Write the report, print the answer (or JSON); the exit code."""
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
            for line in terminal_answer(diagnosis, verbose=verbose, width=width):
                say(line)
        if out is not None:
            say(f"report written to {out}")
    return 1 if any(d.failed for d in diagnoses) else 0


def diagnose_one(
    target: str,
    headers: dict[str, str],
    transform: str | None,
    fetch: Path | None,
    token_env: str,
    user_id: str | None,
    message: str,
    loopback: bool,
    timeout: float,
    insecure: bool,
    keep_threads: bool,
    url_contains: str | None,
    run: Any,
) -> tuple[Any, str] | None:
    from chatkit_lab.diagnosis import diagnose as run_diagnosis
    from chatkit_lab.diagnosis import diagnose_captures, diagnose_source
    from chatkit_lab.sources import Limits

    try:
        kind, source = diagnose_source(target, url_contains=url_contains)
        if kind == "files":
            say(f"chatkit-lab: read {source.describe()}", err=True)
            for problem in source.problems[:20]:
                say(f"  note: {problem}", err=True)
            if not source.captures:
                fail(f"{target}: no usable exchanges")
            diagnosis = diagnose_captures(source.captures, target=str(target))
            diagnosis.redactor = run
            return diagnosis, f"ChatKit diagnosis: {Path(target).name}"
        what = "URL" if "://" in target else "built-in backend"
        progress(f"{what} {target}: playing the ChatKit client ...")
        import asyncio

        diagnosis = asyncio.run(
            run_diagnosis(
                target,
                headers=headers,
                transform=transform or "default",
                message=message,
                loopback=loopback,
                limits=Limits(total_s=timeout),
                verify=not insecure,
                keep_threads=keep_threads,
                redactor=run,
                progress=progress,
                fetch_file=fetch,
                token_env=token_env,
                user_id=user_id,
            )
        )
    except ChatKitLabError as exc:
        fail(str(exc))
    return diagnosis, f"ChatKit diagnosis: {target}"
