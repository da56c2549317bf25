"""``diagnose --scenario``: run conformance scenarios and print the conformance table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatkit_lab.cli._io import fail, print_json, progress, say
from chatkit_lab.errors import ChatKitLabError

UPLOADS = ("text/plain", "image/png", "application/pdf")
"""The file types ``--upload-type`` can make."""


def check_scenario_options(
    scenario: str | None, prompts: list[str] | None, played: dict[str, Any]
) -> None:
    """Refuse the scenario-only options without ``--scenario``, and values the kit cannot use
    (exit 2 with what to give)."""
    if scenario is None and (prompts or any(played.values())):
        fail(
            "--prompt, --upload-url, --upload-type, --sync-action and --errors-upstream go with "
            "--scenario"
        )
    upload_type = played.get("upload_type")
    if upload_type is not None and upload_type not in UPLOADS:
        fail(f"bad --upload-type {upload_type!r}: use {', '.join(UPLOADS)}")
    upstream = played.get("errors_upstream")
    if upstream is not None:
        from chatkit_lab.scenarios import parse_upstream

        try:
            parse_upstream(upstream)
        except ChatKitLabError as exc:
            fail(str(exc))


def run_conformance(
    target: str,
    scenarios: str,
    prompts: list[str],
    *,
    options: dict[str, Any],
    as_json: bool,
    out: Path | None,
    verbose: bool,
    width: int,
    save: Path | None = None,
    junit: Path | None = None,
) -> int:
    """Run ``scenarios`` against ``target`` (a built-in name or a URL), print the table (or
    JSON), write the report to ``out``; the exit code (1 when a scenario fails)."""
    import asyncio

    from chatkit_lab.diagnosis import RunConfig, diagnose_scenarios, diagnose_source
    from chatkit_lab.report import conformance_lines, write_conformance_report
    from chatkit_lab.scenarios import resolve_prompts, resolve_scenarios

    try:
        chosen = resolve_scenarios(scenarios)
        overrides = resolve_prompts(prompts)
        kind, _ = diagnose_source(target)
        if kind != "target":
            fail(
                f"--scenario plays the client against a backend: give a built-in name or a URL, "
                f"not {target} (a recording can only be diagnosed as it is)"
            )
        progress(f"{target}: playing {len(chosen)} scenario(s) ...")
        config = RunConfig(target, prompts=overrides, progress=progress, **options)
        conformance = asyncio.run(diagnose_scenarios(config, [s.name for s in chosen]))
    except ChatKitLabError as exc:
        fail(str(exc))
    if save is not None:
        from chatkit_lab.diagnosis import save_run

        try:  # one folder per scenario, each a recording `diagnose` reads again
            for result in conformance.results:
                save_run(result.diagnosis, save / result.name)
        except ChatKitLabError as exc:
            fail(str(exc))
    if out is not None:
        try:
            write_conformance_report([conformance], out, title=f"ChatKit conformance: {target}")
        except (ChatKitLabError, OSError) as exc:
            fail(f"cannot write the report to {out}: {exc}")
    if junit is not None:
        from chatkit_lab.report import write_junit

        try:
            write_junit(conformance, junit)
        except (ChatKitLabError, OSError) as exc:
            fail(f"cannot write the JUnit XML to {junit}: {exc}")
    if as_json:
        print_json(conformance.to_json())
    else:
        for line in conformance_lines(conformance, verbose=verbose, width=width):
            say(line)
        if out is not None:
            say(f"report written to {out}")
        if junit is not None:
            say(f"JUnit XML written to {junit}")
    return 1 if conformance.failed else 0
