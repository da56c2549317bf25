"""The ``chatkit-lab`` command line: it parses arguments, calls the diagnosis, formats the answer.

Exit codes: 0 when no layer fails, 1 when a layer fails, 2 for bad input or an unreachable
target (a one-line reason on stderr, or a JSON object on stdout with ``--json``).

Nothing heavy is imported until a command runs, so ``--help`` and usage errors answer at once;
every line written to the terminal is redacted and has its control characters made visible.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import chatkit_lab
from chatkit_lab.cli._diagnose import diagnose_one, emit
from chatkit_lab.cli._io import (
    JSON_MODE,
    PROGRESS,
    check_out,
    check_timeout,
    fail,
    parse_headers,
    progress,
    say,
)
from chatkit_lab.cli._progress import width
from chatkit_lab.errors import ChatKitLabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: loading rich would cost most of a second per call
    pretty_exceptions_enable=False,
    help="Find the first layer where a ChatKit conversation breaks, with evidence.",
)

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
"""The walkthroughs `investigate --notebooks` executes (the checkout's notebooks folder)."""


# -- commands ----------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatkit-lab {chatkit_lab.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Find the first layer where a ChatKit conversation breaks, with evidence."""
    JSON_MODE[0] = False


@app.command()
def diagnose(
    target: Annotated[
        str,
        typer.Argument(
            help="What to diagnose: a built-in backend (reference, legacy:attempt1..3, "
            "faulty:create-500, faulty:create-json, and faulty:SCENARIO, one per scenario; "
            "`chatkit-lab targets` lists them), a ChatKit endpoint URL, a HAR file, a saved "
            "capture file (.jsonl) or a recording folder (from `chatkit-lab proxy`)."
        ),
    ],
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="Extra request header 'Name: value' (repeatable)."),
    ] = None,
    transform: Annotated[
        str | None,
        typer.Option(
            help="Client transform (a Python stand-in for a custom fetch): none, legacy-fetch, "
            "legacy-auth, or module:callable. Built-in legacy targets default to legacy-fetch."
        ),
    ] = None,
    fetch: Annotated[
        Path | None,
        typer.Option(
            help="Your own fetch file (.js, .mjs, .ts), run as written under Node between the "
            "client and the target (see docs/guides/your-fetch.md)."
        ),
    ] = None,
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the token your fetch uses.")
    ] = "CHATKIT_TOKEN",
    user_id: Annotated[
        str | None, typer.Option(help="The user id your fetch's factory receives.")
    ] = None,
    message: Annotated[str, typer.Option(help="The first user message to send.")] = (
        "Hello! What can you do?"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every finding.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            help="Save the run's captures here, redacted, one file each (a folder `diagnose` "
            "reads again); reasons that cite a capture name its file."
        ),
    ] = None,
    loopback: Annotated[
        bool, typer.Option(help="Run built-in backends on 127.0.0.1 under uvicorn.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Total seconds allowed per exchange.")] = 30.0,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify TLS certificates (never the default).")
    ] = False,
    keep_threads: Annotated[
        bool,
        typer.Option(
            help="Keep the threads this run creates in a remote target (deleted by default)."
        ),
    ] = False,
    url_contains: Annotated[
        str | None, typer.Option(help="HAR files: only entries whose URL contains this text.")
    ] = None,
    show_progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show each step on stderr (default: when stderr is a terminal).",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="Conformance scenarios to run instead of the message lifecycle: all, or names "
            "separated by commas (messages, cancel, retry, client-tool, widget, workflow, "
            "attachments, history, errors). Prints one row per scenario."
        ),
    ] = None,
    prompt: Annotated[
        list[str] | None,
        typer.Option(
            help="A scenario's message in your backend's words: SCENARIO.ROLE=TEXT "
            "(repeatable), e.g. 'widget.ask=Show my order as a card'."
        ),
    ] = None,
    upload_url: Annotated[
        str | None,
        typer.Option(help="Where ChatKit uploads files directly (the attachments scenario)."),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            help="With --scenario: also write JUnit XML here (one test case per scenario), for CI."
        ),
    ] = None,
    upload_type: Annotated[
        str | None,
        typer.Option(
            help="The file type the attachments scenario uploads: text/plain, image/png or "
            "application/pdf (default: text/plain, or what the backend's refusal names)."
        ),
    ] = None,
    sync_action: Annotated[
        bool,
        typer.Option(
            "--sync-action",
            help="Also send threads.sync_custom_action after a widget action (ChatKit.js "
            "does not).",
        ),
    ] = False,
    errors_upstream: Annotated[
        str | None,
        typer.Option(
            help="The errors scenario serves a failing model API here (http://127.0.0.1:PORT) "
            "and judges the backend's answer to that real failure; start the backend with its "
            "model's base URL there (OPENAI_BASE_URL=http://127.0.0.1:PORT/v1).",
        ),
    ] = None,
) -> None:
    """Diagnose TARGET and name the first break on the user's path, with the fix."""
    JSON_MODE[0] = as_json
    PROGRESS[0] = sys.stderr.isatty() if show_progress is None else show_progress
    headers = parse_headers(header or [])
    limit = check_timeout(timeout)
    if fetch is not None and transform is not None:
        fail("give --fetch or --transform, not both")
    if fetch is not None and not fetch.is_file():
        fail(f"bad --fetch {fetch}: no such file")
    out = check_out(out, inputs=(target, fetch))
    from chatkit_lab.redact import redacting, run_redactor

    # The run's redactor knows every credential given (-H values, cookies, Basic auth, URL
    # userinfo and tokens in the URL) before anything is sent.
    run = run_redactor(target, headers)
    from chatkit_lab.cli._scenarios import check_scenario_options

    prompts = check_scenario_options(
        scenario,
        prompt,
        upload_url=upload_url,
        upload_type=upload_type,
        sync_action=sync_action,
        errors_upstream=errors_upstream,
    )
    if scenario is None and junit:
        fail("--junit goes with --scenario")
    junit = check_out(junit, inputs=(target, fetch), option="--junit")
    with redacting(run):
        progress(f"chatkit-lab: diagnosing {target} ...")  # first output, before heavy imports
        if fetch is not None:  # the header says which fetch file ran, progress or not
            say(f"chatkit-lab: fetch {fetch.name} runs between the client and {target}", err=True)
        from chatkit_lab.diagnosis import RunConfig
        from chatkit_lab.sources import Limits

        # The one configuration of the run, the message lifecycle and the scenarios alike
        # (the scenarios play their own messages, and --save keeps one folder per scenario).
        config = RunConfig(
            target,
            headers=headers,
            transform=transform or "default",
            loopback=loopback,
            limits=Limits(
                connect_s=min(Limits.connect_s, limit),
                read_s=min(Limits.read_s, limit),
                total_s=limit,
            ),
            verify=not insecure,
            keep_threads=keep_threads,
            redactor=run,
            fetch_file=fetch,
            token_env=token_env,
            user_id=user_id,
            progress=progress,
            message=message,
            without_fetch=True,
            save=save,
            prompts=prompts,
            upload_url=upload_url,
            sync_action=sync_action,
            upload_type=upload_type,
            errors_upstream=errors_upstream,
        )
        if scenario is not None:
            from chatkit_lab.cli._scenarios import run_conformance

            raise typer.Exit(
                run_conformance(
                    config,
                    scenario,
                    as_json=as_json,
                    out=out,
                    verbose=verbose,
                    width=width(),
                    junit=junit,
                )
            )
        diagnosis, title = diagnose_one(config, url_contains)
        raise typer.Exit(emit([diagnosis], as_json, out, title, verbose, width()))


@app.command()
def investigate(
    out: Annotated[Path, typer.Option(help="Where to write the markdown report.")] = Path(
        "reports/investigation.md"
    ),
    loopback: Annotated[
        bool, typer.Option(help="Run the built-in backends on 127.0.0.1 under uvicorn.")
    ] = False,
    notebooks: Annotated[
        bool,
        typer.Option(
            help="Execute the seven notebooks headless instead (executed copies go to "
            "reports/notebooks/; notebook 06 writes the report)."
        ),
    ] = False,
) -> None:
    """The main job: diagnose every built-in backend and write the findings report."""
    out = check_out(out) or out
    say("chatkit-lab: investigating the built-in backends ...", err=True)
    import asyncio

    from chatkit_lab.investigation import run_investigation, run_notebooks

    try:
        if notebooks:
            executed = run_notebooks(NOTEBOOKS_DIR, out, out.parent / "notebooks")
            say(f"executed notebooks written to {executed[0].parent}")
            path = out
        else:
            path = asyncio.run(run_investigation(out, loopback=loopback))
    except ChatKitLabError as exc:
        fail(str(exc))
    say(f"report written to {path}")


@app.command()
def har(
    path: Annotated[Path, typer.Argument(help="A HAR file exported from browser DevTools.")],
    url_contains: Annotated[
        str | None, typer.Option(help="Only entries whose URL contains this text.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every finding.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
) -> None:
    """Diagnose a HAR export (the same as `diagnose FILE.har`)."""
    JSON_MODE[0] = as_json
    out = check_out(out, inputs=(path,))
    from chatkit_lab.diagnosis import diagnose_captures
    from chatkit_lab.sources import read_captures

    try:
        source = read_captures(path, url_contains=url_contains)
    except ChatKitLabError as exc:
        fail(str(exc))
    for problem in source.problems:
        say(f"note: {problem}", err=True)
    if not source.captures:
        fail(f"{path}: no usable entries")
    diagnosis = diagnose_captures(source.captures, target=str(path))
    title = f"ChatKit diagnosis: {path.name}"
    raise typer.Exit(emit([diagnosis], as_json, out, title, verbose, width()))


@app.command()
def checks(
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the catalogue as markdown (a section per check)."),
    ] = False,
) -> None:
    """List every check: a block each with its code, layer, severity, expectation and fix."""
    from chatkit_lab.report import catalogue_lines, catalogue_markdown, checks_table

    table = checks_table()
    if markdown:
        typer.echo(catalogue_markdown(table, CHECKS_HEADER), nl=False)
    else:
        for line in catalogue_lines(table, width()):
            say(line)


@app.command()
def targets() -> None:
    """List the built-in backends: each name and what it is."""
    from chatkit_lab.targets import describe_targets

    for name, description in describe_targets().items():
        say(f"{name:<20} {description}")


@app.command()
def scenarios() -> None:
    """List the conformance scenarios `diagnose --scenario` runs, and their prompts."""
    from chatkit_lab.scenarios import scenarios as declared

    for scenario in declared().values():
        say(f"{scenario.name:<12} {scenario.title}: {', '.join(scenario.requests)}")
        for role, text in scenario.prompts.items():
            say(f"{'':<12}   --prompt {scenario.name}.{role}={text!r}")


CHECKS_HEADER = (
    "# Check catalogue\n\n"
    "Every check chatkit-lab runs, with its stable code, layer, severity, what it expects and the "
    "fix it suggests. Scenario `all` checks run on every exchange of every scenario; the others "
    "belong to one conformance scenario (`diagnose --scenario`, see scenarios.md). Generated "
    "by `chatkit-lab checks --markdown`; a test keeps it in sync.\n\n"
)


@app.command()
def proxy(
    upstream: Annotated[
        str, typer.Option(help="The backend's base URL (http:// or https://) to forward to.")
    ],
    listen: Annotated[
        str, typer.Option(help="host:port to listen on (port 0 picks a free one).")
    ] = "127.0.0.1:8787",
    out: Annotated[Path, typer.Option(help="Where to save the (redacted) captures.")] = Path(
        "data/captures/proxy"
    ),
    insecure: Annotated[
        bool, typer.Option(help="Do not verify the upstream's TLS certificate.")
    ] = False,
) -> None:
    """Record a live ChatKit session: a reverse proxy to point the frontend's api.url at."""
    from chatkit_lab.capture import Capture
    from chatkit_lab.sources import RecordingProxy, parse_listen, parse_upstream, serve_proxy

    try:
        base = parse_upstream(upstream)
        host, port = parse_listen(listen)
    except ValueError as exc:
        fail(str(exc))
    if out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a directory")

    def report(capture: Capture, path: Path | None) -> None:
        summary = capture.summary()
        line = (
            f"{capture.label}: {capture.status or '-'} {summary['chunks']} chunks "
            f"{summary['bytes']} B {capture.ending.state}"
        )
        if capture.ending.message:
            line += f" ({capture.ending.message})"
        say(recorder.redactor.redact_text(line) + (f" -> {path.name}" if path else ""))

    def listening(url: str) -> None:
        say(f"proxy listening on {url} -> {base}")
        say(f"point ChatKit's api.url at {url}/<path on the backend>")
        say(f"captures (redacted) go to {out}/; diagnose them with `chatkit-lab diagnose {out}`")
        say("Ctrl-C stops")
        if host not in ("127.0.0.1", "localhost", "::1"):
            say(f"note: listening on {host}, not loopback only", err=True)

    from chatkit_lab.redact import run_redactor

    recorder = RecordingProxy(
        base, out_dir=out, verify=not insecure, on_capture=report, redactor=run_redactor(base)
    )
    try:
        serve_proxy(recorder, host, port, on_listening=listening)
    except ChatKitLabError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
    say(f"stopped: {len(recorder.saved)} captures saved in {out}")


def _announce(argv: list[str]) -> bool:
    """Whether ``argv`` starts a diagnosis that shows progress (a terminal, or ``--progress``)."""
    if argv[1:2] != ["diagnose"] or {"--help", "--no-progress"} & set(argv):
        return False
    return "--progress" in argv or sys.stderr.isatty()


def main() -> None:
    """Console entry point."""
    if _announce(sys.argv):
        from chatkit_lab.cli._progress import show

        # the first output, before typer and the kit load: a line that names no input (nothing
        # to redact); the diagnosis rewrites it with the target once the redactor is ready
        show("chatkit-lab: starting ...")
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
