"""The command line's input checks and output: redacted, visible and strict.

Every line written to the terminal is redacted by the run's current redactor and has its control
characters (and lone surrogates) shown as escapes; every JSON object printed is strict (no NaN).
Bad input stops with a one-line reason and exit code 2, or a JSON object in ``--json`` mode.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, NoReturn

import typer

PROGRESS = [False]
"""``[True]`` when progress lines go to stderr (a terminal, or ``--progress``)."""
JSON_MODE = [False]
"""``[True]`` while a command given ``--json`` runs: errors are then printed as JSON on stdout."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token)."""
_FRAMING = ("content-length", "host", "transfer-encoding")
"""Header names ``-H`` refuses: they would break the request (the sources drop them too)."""


def safe(text: str) -> str:
    """Redacted, with control characters (and lone surrogates) shown as escapes."""
    from chatkit_lab.redact import current_redactor

    redacted = current_redactor().redact_text(text)
    return "".join(
        char if char.isprintable() or char in "\n\t" else _escape(char) for char in redacted
    )


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def say(text: str = "", *, err: bool = False) -> None:
    from chatkit_lab.cli._progress import done

    done()  # a progress line on screen is cleared first
    typer.echo(safe(text), err=err)


def print_json(payload: Any) -> None:
    from chatkit_lab.cli._progress import done
    from chatkit_lab.redact import current_redactor

    done()  # a progress line on screen is cleared first
    from chatkit_lab.sse import dumps_strict

    # strict JSON (no bare NaN), and text that is valid UTF-8 (a lone surrogate is escaped)
    text = dumps_strict(current_redactor().redact_obj(payload), indent=2)
    typer.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop with a one-line reason (a JSON object on stdout in ``--json`` mode)."""
    if JSON_MODE[0]:
        print_json({"error": safe(message), "exit_code": code})
    else:
        import sys

        from chatkit_lab.cli._progress import wrap

        line = safe(f"chatkit-lab: {message}")
        # one line for scripts; in a terminal, wrapped between words at its width
        say(wrap(line) if sys.stderr.isatty() else line, err=True)
    raise typer.Exit(code)


def progress(line: str) -> None:
    """A progress line on stderr, when progress is on (a terminal, or ``--progress``)."""
    if PROGRESS[0]:
        from chatkit_lab.cli._progress import show

        show(safe(line))


def parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            fail(f"bad --header {value!r}: expected 'Name: value'")
        if any(char in value for char in "\r\n\0"):
            fail(f"bad --header {name.strip()!r}: a header value cannot hold a line break")
        if not _TOKEN.fullmatch(name.strip()):
            fail(f"bad --header name {name.strip()!r}: not an HTTP header name")
        if name.strip().lower() in _FRAMING:
            fail(
                f"bad --header {name.strip()!r}: the client sets it from the URL and the body "
                "(a browser's fetch refuses it too); leave it out"
            )
        headers[name.strip()] = rest.strip()
    return headers


def check_timeout(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        fail(f"bad --timeout {value!r}: give a number of seconds greater than 0")
    return value


def check_out(
    out: Path | None, inputs: tuple[str | Path | None, ...] = (), option: str = "--out"
) -> Path | None:
    """``--out`` (or another ``option`` naming a file to write) checked before anything is sent
    or read: the path to write (a symlink followed to the file it names, so the report replaces
    that file and the link stays).

    Refused with exit code 2: a directory, a file that is one of ``inputs`` (or a capture file
    inside an input folder), a place where nothing can be written.
    """
    if out is None:
        return None
    out = out.expanduser()
    target = out.resolve() if out.is_symlink() else out
    if target.is_dir():
        fail(f"bad {option} {out}: it is a directory; give a file name such as {out}/report.md")
    for given in inputs:
        if given is None or not _exists(Path(given)):
            continue
        source = Path(given).expanduser()
        if _same_file(target, source):
            fail(f"bad {option} {out}: it is the input {given}; the report would overwrite it")
        if source.is_dir() and target.suffix == ".jsonl" and _inside(target, source):
            fail(
                f"bad {option} {out}: it is a capture file in the folder being read ({given}); "
                "give a file name outside it"
            )
    _check_writable(out, target, option)
    return target


def _exists(path: Path) -> bool:
    try:
        return path.expanduser().exists()
    except (OSError, ValueError):
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _check_writable(out: Path, target: Path, option: str = "--out") -> None:
    """Fail unless a file can be created where ``target`` goes (its folder, or the nearest
    folder that exists when it is still to be made)."""
    import os
    import tempfile

    folder = target.parent
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    if not folder.is_dir():
        fail(f"bad {option} {out}: {folder} is not a directory")
    if folder == target.parent:
        try:
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
        except OSError as exc:
            fail(f"bad {option} {out}: cannot write in {folder} ({exc.strerror or exc})")
        os.close(handle)
        Path(name).unlink(missing_ok=True)
    elif not os.access(folder, os.W_OK | os.X_OK):
        fail(f"bad {option} {out}: cannot create folders in {folder} (no permission)")
