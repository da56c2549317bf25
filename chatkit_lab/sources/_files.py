"""Captures from files: a HAR export, a saved capture file, or a folder of recordings.

``read_captures(path)`` decides what the path is by looking at it (a folder, a ``.har`` or a
JSON document with a ``log``, a chatkit-lab capture file) and says which it read, so the
command line takes any of them where it takes a URL or a built-in name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatkit_lab.capture import Capture, load_captures
from chatkit_lab.errors import CaptureFormatError, TargetError
from chatkit_lab.sources._encoding import decode_capture
from chatkit_lab.sources._har import TIME_ORDER_NOTE, in_time_order, load_har

MAX_FILES = 10_000
"""A recording folder is read up to this many capture files (sorted by name)."""


@dataclass
class FileSource:
    """What a path held."""

    kind: str
    """``HAR file``, ``capture file`` or ``recording folder``."""
    path: Path
    captures: list[Capture] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Entries or files that could not be used, each with the reason."""

    def describe(self) -> str:
        skipped = [problem for problem in self.problems if not problem.endswith(TIME_ORDER_NOTE)]
        extra = f", {len(skipped)} skipped" if skipped else ""
        return f"{self.kind} {self.path}: {len(self.captures)} capture(s){extra}"


def is_capture_path(spec: str) -> bool:
    """Whether ``spec`` names an existing file or folder (rather than a target name or URL)."""
    try:
        return Path(spec).exists()
    except (OSError, ValueError):
        return False


def _looks_like_har(path: Path) -> bool:
    if path.suffix.lower() == ".har":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{") and b'"log"' in head


def read_captures(spec: str | Path, *, url_contains: str | None = None) -> FileSource:
    """Read every capture a HAR file, a capture file or a recording folder holds.

    Raises :class:`~chatkit_lab.errors.TargetError` naming what was wrong when the path holds
    none (a folder without capture files, a file that is neither a HAR nor a capture file).
    """
    path = Path(spec)
    if path.is_dir():
        source = _read_folder(path)
    elif not path.is_file():
        raise TargetError(f"{path}: no such file or folder")
    elif _looks_like_har(path):
        imported = load_har(path, url_contains=url_contains)
        problems = [str(problem) for problem in imported.problems]
        source = FileSource("HAR file", path, list(imported.captures), problems)
    else:
        try:
            captures = [decode_capture(capture) for capture in load_captures(path)]
        except CaptureFormatError as exc:
            raise TargetError(
                f"{path}: neither a HAR export nor a chatkit-lab capture file ({exc})"
            ) from None
        source = FileSource("capture file", path, captures)
    source.captures, moved = in_time_order(source.captures)
    if moved:
        source.problems.append(TIME_ORDER_NOTE)
    if source.captures and not any(is_chatkit_exchange(c) for c in source.captures):
        raise TargetError(
            f"{path}: no ChatKit traffic here: none of its {len(source.captures)} exchange(s) "
            "posts a ChatKit request (a JSON body with 'type' and 'params') or answers with an "
            "event stream; record the page while sending a message in the chat"
            + (f" (only URLs containing {url_contains!r} were read)" if url_contains else "")
        )
    return source


def is_chatkit_exchange(capture: Capture) -> bool:
    """Whether ``capture`` is ChatKit traffic: a ChatKit request envelope, or an event stream."""
    return bool(capture.request_type) or capture.is_event_stream


def _read_folder(path: Path) -> FileSource:
    source = FileSource("recording folder", path)
    files = sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    if not files:
        raise TargetError(f"{path}: the folder holds no capture files (*.jsonl)")
    for file in files[:MAX_FILES]:
        try:
            source.captures.extend(decode_capture(capture) for capture in load_captures(file))
        except CaptureFormatError as exc:
            source.problems.append(str(exc))
    if len(files) > MAX_FILES:
        source.problems.append(f"only the first {MAX_FILES} of {len(files)} files were read")
    if not source.captures:
        raise TargetError(f"{path}: no readable capture in {len(files)} file(s)")
    return source


__all__ = ["FileSource", "is_capture_path", "is_chatkit_exchange", "read_captures"]
