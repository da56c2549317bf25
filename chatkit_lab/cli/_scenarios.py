"""``diagnose --scenario``: run conformance scenarios and print the conformance table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chatkit_lab.cli._io import fail, print_json, progress, say
from chatkit_lab.errors import ChatKitLabError

if TYPE_CHECKING:
    from chatkit_lab.diagnosis import RunConfig

UPLOADS = ("text/plain", "image/png", "application/pdf")
"""The file types ``--upload-type`` can make."""


def check_scenario_options(
    scenario: str | None,
    prompts: list[str] | None,
    *,
    upload_url: str | None,
    upload_type: str | None,
    sync_action: bool,
    errors_upstream: str | None,
) -> dict[str, dict[str, str]] | None:
    """Refuse the scenario-only options without ``--scenario``, and values the kit cannot use
    (exit 2 with what to give); the ``--prompt`` overrides by scenario."""
    if scenario is None and (
        prompts or upload_url or upload_type or sync_action or errors_upstream
    ):
        fail(
            "--prompt, --upload-url, --upload-type, --sync-action and --errors-upstream go with "
            "--scenario"
        )
    if upload_type is not None and upload_type not in UPLOADS:
        fail(f"bad --upload-type {upload_type!r}: use {', '.join(UPLOADS)}")
    if errors_upstream is None and not prompts:
        return None
    from chatkit_lab.scenarios import parse_upstream, resolve_prompts

    try:
        if errors_upstream is not None:
            parse_upstream(errors_upstream)
        return resolve_prompts(prompts or [])
    except ChatKitLabError as exc:
        fail(str(exc))


def run_conformance(
    config: RunConfig,
    scenarios: str,
    *,
    as_json: bool,
    out: Path | None,
    verbose: bool,
    width: int,
    junit: Path | None = None,
) -> int:
    """Run ``scenarios`` against the configuration's target (a built-in name or a URL), print
    the table (or JSON), write the report to ``out`` and one recording per scenario to the
    configuration's ``save``; the exit code (1 when a scenario fails)."""
    import asyncio

    from chatkit_lab.diagnosis import diagnose_scenarios, diagnose_source
    from chatkit_lab.report import conformance_lines, write_conformance_report
    from chatkit_lab.scenarios import resolve_scenarios

    target = config.target
    try:
        chosen = resolve_scenarios(scenarios)
        kind, _ = diagnose_source(target)
        if kind != "target":
            fail(
                f"--scenario plays the client against a backend: give a built-in name or a URL, "
                f"not {target} (a recording can only be diagnosed as it is)"
            )
        progress(f"{target}: playing {len(chosen)} scenario(s) ...")
        conformance = asyncio.run(diagnose_scenarios(config, [s.name for s in chosen]))
    except ChatKitLabError as exc:
        fail(str(exc))
    if config.save is not None:
        from chatkit_lab.diagnosis import save_run

        try:  # one folder per scenario, each a recording `diagnose` reads again
            for result in conformance.results:
                save_run(result.diagnosis, Path(config.save) / result.name)
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
