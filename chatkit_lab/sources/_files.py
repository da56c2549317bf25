"""Captures from files: a registry of the kinds of file (or folder) captures are read from.

A source is a small declaration with a ``name`` (what the path is, as the user is told), a
``sniff(path)`` that says whether it reads ``path`` (looking at it, without reading it all) and a
``read(path, *, url_contains=None)`` that returns a :class:`FileSource`. The built-in ones: a
recording folder, a HAR export, a chatkit-lab capture file (the last one asked, it takes any
file). ``read_captures(path)`` asks each registered source in turn and the first that sniffs the
path reads it, so the command line takes any of them where it takes a URL or a built-in name.
A new source is added with one call, :func:`register_source`, as content views are registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

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
    """The name of the source that read it: ``HAR file``, ``capture file``, ``recording
    folder``, or a registered source's."""
    path: Path
    captures: list[Capture] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Entries or files that could not be used, each with the reason."""

    def describe(self) -> str:
        skipped = [problem for problem in self.problems if not problem.endswith(TIME_ORDER_NOTE)]
        extra = f", {len(skipped)} skipped" if skipped else ""
        return f"{self.kind} {self.path}: {len(self.captures)} capture(s){extra}"


@runtime_checkable
class CaptureSource(Protocol):
    """A kind of file or folder captures are read from (see :func:`register_source`)."""

    name: str
    """What such a path is, as the user is told (``HAR file``)."""

    def sniff(self, path: Path) -> bool:
        """Whether this source reads ``path`` (an existing file or folder)."""
        ...

    def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
        """The captures ``path`` holds; :class:`~chatkit_lab.errors.TargetError` when none.

        ``url_contains`` keeps only exchanges whose URL contains it, where the source can tell.
        """
        ...


_SOURCES: list[CaptureSource] = []


def register_source(source: CaptureSource) -> CaptureSource:
    """Add ``source`` to the registry, asked before every source registered earlier (so before
    the built-in ones); returns it."""
    if not isinstance(source, CaptureSource):
        raise TypeError(f"{source!r} is not a source: it needs name, sniff(path) and read(path)")
    _SOURCES.insert(0, source)
    return source


def unregister_source(source: CaptureSource) -> None:
    """Remove ``source`` from the registry (a no-op when it is not there)."""
    if source in _SOURCES:
        _SOURCES.remove(source)


def registered_sources() -> tuple[CaptureSource, ...]:
    """The registered sources, in the order they are asked."""
    return tuple(_SOURCES)


def is_capture_path(spec: str) -> bool:
    """Whether ``spec`` names an existing file or folder (rather than a target name or URL)."""
    try:
        return Path(spec).exists()
    except (OSError, ValueError):
        return False


def read_captures(spec: str | Path, *, url_contains: str | None = None) -> FileSource:
    """Read every capture the path holds, with the first registered source that sniffs it.

    Raises :class:`~chatkit_lab.errors.TargetError` naming what was wrong when the path holds
    none (a folder without capture files, a file that is neither a HAR nor a capture file).
    """
    path = Path(spec)
    exists = path.exists()
    reader = next((source for source in _SOURCES if source.sniff(path)), None) if exists else None
    if reader is None:
        raise TargetError(f"{path}: no such file or folder")
    source = reader.read(path, url_contains=url_contains)
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


# -- the built-in sources ------------------------------------------------------------------------


class CaptureFile:
    """A chatkit-lab capture file (JSON Lines); bodies recorded raw are decoded."""

    name = "capture file"

    @staticmethod
    def sniff(path: Path) -> bool:
        return path.is_file()

    def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
        try:
            captures = [decode_capture(capture) for capture in load_captures(path)]
        except CaptureFormatError as exc:
            raise TargetError(
                f"{path}: neither a HAR export nor a chatkit-lab capture file ({exc})"
            ) from None
        return FileSource(self.name, path, captures)


class HarFile:
    """A browser DevTools export (see :func:`~chatkit_lab.sources.load_har`)."""

    name = "HAR file"

    @staticmethod
    def sniff(path: Path) -> bool:
        if not path.is_file():
            return False
        if path.suffix.lower() == ".har":
            return True
        try:
            with path.open("rb") as handle:
                head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError:
            return False
        return head.startswith(b"{") and b'"log"' in head

    def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
        imported = load_har(path, url_contains=url_contains)
        problems = [str(problem) for problem in imported.problems]
        return FileSource(self.name, path, list(imported.captures), problems)


class RecordingFolder:
    """A folder of capture files (``*.jsonl``), such as the recording proxy writes."""

    name = "recording folder"

    @staticmethod
    def sniff(path: Path) -> bool:
        return path.is_dir()

    def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
        source = FileSource(self.name, path)
        files = sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
        if not files:
            raise TargetError(f"{path}: the folder holds no capture files (*.jsonl)")
        for file in files[:MAX_FILES]:
            try:
                source.captures.extend(decode_capture(c) for c in load_captures(file))
            except CaptureFormatError as exc:
                source.problems.append(str(exc))
        if len(files) > MAX_FILES:
            source.problems.append(f"only the first {MAX_FILES} of {len(files)} files were read")
        if not source.captures:
            raise TargetError(f"{path}: no readable capture in {len(files)} file(s)")
        return source


for _builtin in (CaptureFile(), HarFile(), RecordingFolder()):
    register_source(_builtin)  # the catch-all capture file first: it is asked last

__all__ = [
    "CaptureSource",
    "FileSource",
    "is_capture_path",
    "is_chatkit_exchange",
    "read_captures",
    "register_source",
    "registered_sources",
    "unregister_source",
]
