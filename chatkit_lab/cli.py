"""The ``chatkit-lab`` command line.

Exit codes: 0 when no layer fails, 1 when a layer fails, 2 for bad usage or an unreachable
target (with a one-line reason on stderr).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chatkit_lab.errors import ChatKitLabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find the first layer where a ChatKit conversation breaks, with evidence.",
)


def _fail_usage(message: str) -> None:
    typer.echo(f"chatkit-lab: {message}", err=True)
    raise typer.Exit(2)


def _parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            _fail_usage(f"bad --header {value!r}: expected 'Name: value'")
        headers[name.strip()] = rest.strip()
    return headers


def _emit(diagnoses: list, as_json: bool, out: Path | None, title: str) -> int:
    from chatkit_lab.redact._engine import redact_obj, redact_text
    from chatkit_lab.report._markdown import report_markdown

    if out is not None:
        report_markdown(diagnoses, out, title=title)
    if as_json:
        payload = [d.to_json() for d in diagnoses]
        typer.echo(json.dumps(redact_obj(payload[0] if len(payload) == 1 else payload), indent=2))
    else:
        for diagnosis in diagnoses:
            typer.echo(redact_text(diagnosis.headline()))
            table = diagnosis.layers_table()
            typer.echo(table.to_string(index=False))
            for item in diagnosis.findings:
                if item.severity != "info":
                    typer.echo(redact_text(f"  [{item.severity}] {item.code}: {item.summary}"))
            life = diagnosis.lifecycle
            if life is not None and life.created_threads and "://" in diagnosis.target:
                kept = [t for t in life.created_threads if t not in life.deleted_threads]
                typer.echo(
                    redact_text(
                        f"threads created in the target: {', '.join(life.created_threads)}"
                        + (
                            f"; deleted again: {', '.join(life.deleted_threads)}"
                            if life.deleted_threads
                            else ""
                        )
                        + (f"; still there: {', '.join(kept)}" if kept else "")
                    )
                )
        if out is not None:
            typer.echo(f"report written to {out}")
    return 1 if any(d.failed for d in diagnoses) else 0


def _register_header_secrets(headers: dict[str, str]) -> None:
    """Scrub credential header values given on the command line from everything written."""
    from chatkit_lab.redact._engine import is_secret_header, register_secrets

    values = []
    for name, value in headers.items():
        if is_secret_header(name):
            values.append(value)
            values.append(value.partition(" ")[2])
    register_secrets(v for v in values if v)


@app.command()
def diagnose(
    target: Annotated[
        str,
        typer.Argument(
            help="A ChatKit endpoint URL, or a built-in: reference, legacy:attempt1, "
            "legacy:attempt2, legacy:attempt3."
        ),
    ],
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="Extra request header 'Name: value' (repeatable)."),
    ] = None,
    transform: Annotated[
        str | None,
        typer.Option(
            help="Client transform (custom fetch): none, legacy-fetch, or module:callable. "
            "Built-in legacy targets default to legacy-fetch."
        ),
    ] = None,
    message: Annotated[str, typer.Option(help="The first user message to send.")] = (
        "Hello! What can you do?"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
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
) -> None:
    """Run the client lifecycle against TARGET and name the first broken layer."""
    from chatkit_lab.diagnose import diagnose as run_diagnosis
    from chatkit_lab.sources._transports import Limits

    headers = _parse_headers(header or [])
    _register_header_secrets(headers)
    limits = Limits(total_s=timeout)
    try:
        diagnosis = asyncio.run(
            run_diagnosis(
                target,
                headers=headers,
                transform=transform or "default",
                message=message,
                loopback=loopback,
                limits=limits,
                verify=not insecure,
                keep_threads=keep_threads,
            )
        )
    except ChatKitLabError as exc:
        _fail_usage(str(exc))
        return
    raise typer.Exit(_emit([diagnosis], as_json, out, f"ChatKit diagnosis: {target}"))


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
            help="Execute the six notebooks headless instead (executed copies go to "
            "reports/notebooks/; notebook 06 writes the report)."
        ),
    ] = False,
) -> None:
    """The main job: diagnose every built-in backend and write the findings report."""
    from chatkit_lab.report._investigation import run_investigation, run_notebooks

    try:
        if notebooks:
            here = Path(__file__).resolve().parent.parent / "notebooks"
            executed = run_notebooks(here, out, out.parent / "notebooks")
            typer.echo(f"executed notebooks written to {executed[0].parent}")
            path = out
        else:
            path = asyncio.run(run_investigation(out, loopback=loopback))
    except ChatKitLabError as exc:
        _fail_usage(str(exc))
        return
    typer.echo(f"report written to {path}")


@app.command()
def har(
    path: Annotated[Path, typer.Argument(help="A HAR file exported from browser DevTools.")],
    url_contains: Annotated[
        str | None, typer.Option(help="Only entries whose URL contains this text.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write a markdown report here.")] = None,
) -> None:
    """Diagnose the ChatKit exchanges recorded in a browser HAR export."""
    from chatkit_lab.diagnose import diagnose_captures
    from chatkit_lab.sources._har import load_har

    try:
        imported = load_har(path, url_contains=url_contains)
    except ChatKitLabError as exc:
        _fail_usage(str(exc))
        return
    for problem in imported.problems:
        typer.echo(f"note: {problem}", err=True)
    if not imported.captures:
        _fail_usage(f"{path}: no usable entries")
    diagnosis = diagnose_captures(imported.captures, target=str(path))
    raise typer.Exit(_emit([diagnosis], as_json, out, f"ChatKit diagnosis: {path.name}"))


@app.command()
def checks(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the full catalogue as a markdown table.")
    ] = False,
) -> None:
    """List every check: stable code, layer, severity, expectation (and fix with --markdown)."""
    table = all_checks_table()
    if markdown:
        typer.echo(CHECKS_HEADER + table.to_markdown(index=False))
    else:
        columns = ["code", "layer", "severity", "expectation"]
        typer.echo(table[columns].to_string(index=False))


CHECKS_HEADER = (
    "# Check catalogue\n\n"
    "Every check chatkit-lab runs, with its stable code, layer, severity, what it expects and the "
    "fix it suggests. Generated by `chatkit-lab checks --markdown`; a test keeps it in sync.\n\n"
)


def all_checks_table() -> Any:
    """Every registered check (importing the modules that register them first)."""
    from chatkit_lab import diagnose  # noqa: F401  (importing registers their checks)
    from chatkit_lab.checks import _analysis  # noqa: F401
    from chatkit_lab.checks._model import checks_table

    return checks_table()


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
    from chatkit_lab.capture._model import Capture
    from chatkit_lab.redact._engine import redact_text
    from chatkit_lab.sources._proxy import RecordingProxy, parse_listen, parse_upstream, serve_proxy

    try:
        base = parse_upstream(upstream)
        host, port = parse_listen(listen)
    except ValueError as exc:
        _fail_usage(str(exc))
        return
    if out.exists() and not out.is_dir():
        _fail_usage(f"--out {out} exists and is not a directory")

    def report(capture: Capture, path: Path | None) -> None:
        summary = capture.summary()
        line = (
            f"{capture.label}: {capture.status or '-'} {summary['chunks']} chunks "
            f"{summary['bytes']} B {capture.ending.state}"
        )
        if capture.ending.message:
            line += f" ({capture.ending.message})"
        typer.echo(redact_text(line) + (f" -> {path.name}" if path else ""))

    def listening(url: str) -> None:
        typer.echo(f"proxy listening on {url} -> {redact_text(base)}")
        typer.echo(f"point ChatKit's api.url at {url}/<path on the backend>")
        typer.echo(f"captures (redacted) go to {out}/; Ctrl-C stops")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"note: listening on {host}, not loopback only", err=True)

    recorder = RecordingProxy(base, out_dir=out, verify=not insecure, on_capture=report)
    try:
        serve_proxy(recorder, host, port, on_listening=listening)
    except ChatKitLabError as exc:
        _fail_usage(str(exc))
        return
    except KeyboardInterrupt:
        pass
    typer.echo(f"stopped: {len(recorder.saved)} captures saved in {out}")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
