"""HAR import: a browser DevTools export (HAR 1.2, Chrome or Firefox) to :class:`Capture` objects.

A HAR is what a user can hand over without installing anything: DevTools -> Network -> "Save all
as HAR". It holds each request and response with their headers and (usually) bodies, but it keeps
no per-chunk arrival times, so every imported capture has its whole body in one chunk and
``timing = False``: timing checks skip it.

What can go wrong with a HAR, and what this module does about it:

* the whole file is unusable (not JSON, not a HAR, truncated before any complete entry): raise
  :class:`HarFormatError` with the file name and, for JSON errors, the line and column;
* the file is cut off mid-way (a crashed export, a size-limited upload): keep every entry that was
  complete before the cut and report the cut as a problem;
* one entry is damaged (no response body, bad base64, missing fields): import what is there and
  report a :class:`HarProblem` for it; the rest of the file imports normally.

Nothing else is raised: any unexpected failure inside one entry becomes a problem for that entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from chatkit_lab.capture import Capture, save_captures
from chatkit_lab.redact import MAX_SECRETS, Redactor, har_entry_secrets, register_secrets
from chatkit_lab.sources._base import gc_paused
from chatkit_lab.sources._har_entry import (
    EMPTY_STREAM_MESSAGE,
    MISSING_BODY_MESSAGE,
    NO_TIMING_NOTE,
    chatkit_envelope_type,
    entry_to_capture,
)
from chatkit_lab.sources._har_read import (
    Broken,
    Salvaged,
    check_har,
    json_kind,
    name_version,
    read_source,
)
from chatkit_lab.sources._har_stream import StreamFallback, stream_entries

__all__ = [
    "EMPTY_STREAM_MESSAGE",
    "KEPT_RESOURCE_TYPES",
    "MISSING_BODY_MESSAGE",
    "NO_TIMING_NOTE",
    "HarImport",
    "HarProblem",
    "HarSkip",
    "load_har",
]

KEPT_RESOURCE_TYPES: frozenset[str] = frozenset({"fetch", "xhr", "eventsource", "preflight"})
"""Chrome ``_resourceType`` values kept by default (API traffic and its CORS preflights)."""


@dataclass
class HarProblem:
    """Something wrong with one entry (or, with ``entry=None``, with the file as a whole)."""

    entry: int | None
    """0-based position in ``log.entries``; ``None`` for a file-level problem."""
    url: str
    message: str

    def __str__(self) -> str:
        where = "file" if self.entry is None else f"entry {self.entry}"
        return f"{where}{' ' + self.url if self.url else ''}: {self.message}"


@dataclass
class HarSkip:
    """An entry left out by a filter (not a problem: it was not wanted)."""

    entry: int
    url: str
    reason: str


@dataclass
class HarImport:
    """The result of :func:`load_har`: captures, per-entry problems and skipped entries."""

    source: str
    captures: list[Capture] = field(default_factory=list)
    problems: list[HarProblem] = field(default_factory=list)
    skipped: list[HarSkip] = field(default_factory=list)
    creator: str = ""
    """``log.creator`` as ``name version`` (``WebInspector 537.36`` for Chrome)."""
    browser: str = ""
    """``log.browser`` as ``name version`` (Firefox writes it, Chrome does not)."""
    entries: int = 0
    """How many entries the file held (or, when truncated, how many were read)."""
    truncated: bool = False
    """``True`` when the file was cut off and only the entries before the cut were imported."""

    def __len__(self) -> int:
        return len(self.captures)

    def problems_for(self, entry: int) -> list[HarProblem]:
        return [problem for problem in self.problems if problem.entry == entry]

    def capture_for(self, entry: int) -> Capture | None:
        """The capture imported from HAR entry ``entry`` (``None`` if skipped or unusable)."""
        for capture in self.captures:
            if capture.meta.get("har", {}).get("entry") == entry:
                return capture
        return None

    def table(self) -> pd.DataFrame:
        """One row per HAR entry: what it was, and whether it was imported, skipped or failed."""
        rows: dict[int, dict[str, Any]] = {}
        for capture in self.captures:
            index = capture.meta["har"]["entry"]
            rows[index] = {
                "entry": index,
                "started": capture.started_at,
                "method": capture.request.method,
                "url": capture.request.url,
                "status": capture.status,
                "content_type": capture.content_type,
                "request": capture.request_type or "",
                "bytes": capture.size,
                "events": len(capture.events) if capture.is_event_stream else None,
                "capture": capture.id,
                "outcome": "imported",
                "problems": "",
            }
        for skip in self.skipped:
            rows.setdefault(skip.entry, _blank_row(skip.entry, skip.url))
            rows[skip.entry]["outcome"] = f"skipped: {skip.reason}"
        for problem in self.problems:
            if problem.entry is None:
                continue
            row = rows.setdefault(problem.entry, _blank_row(problem.entry, problem.url))
            row["problems"] = "; ".join(filter(None, [row["problems"], problem.message]))
        columns = [
            "entry",
            "started",
            "method",
            "url",
            "status",
            "content_type",
            "request",
            "bytes",
            "events",
            "capture",
            "outcome",
            "problems",
        ]
        frame = pd.DataFrame([rows[key] for key in sorted(rows)], columns=columns)
        for column in ("entry", "status", "bytes", "events"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def problems_df(self) -> pd.DataFrame:
        """One row per problem (file-level problems have no entry number)."""
        rows = [{"entry": p.entry, "url": p.url, "message": p.message} for p in self.problems]
        return pd.DataFrame(rows, columns=["entry", "url", "message"])

    def save(
        self, path: str | Path, *, redact: bool = True, redactor: Redactor | None = None
    ) -> Path:
        """Write the imported captures to one capture file (secrets redacted by default, by
        ``redactor`` or the current one)."""
        return save_captures(self.captures, path, redact=redact, redactor=redactor)


def _blank_row(entry: int, url: str) -> dict[str, Any]:
    return {
        "entry": entry,
        "started": "",
        "method": "",
        "url": url,
        "status": None,
        "content_type": "",
        "request": "",
        "bytes": None,
        "events": None,
        "capture": "",
        "outcome": "not imported",
        "problems": "",
    }


# -- importing ---------------------------------------------------------------------------------


def load_har(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any],
    *,
    only_chatkit: bool = False,
    url_contains: str | None = None,
    keep_static: bool = False,
) -> HarImport:
    """Import a HAR file (a path, the HAR text or bytes, or the already parsed object).

    Filters, applied in this order to every entry:

    * ``keep_static=False``: when an entry has Chrome's ``_resourceType`` field, keep it only if
      it is ``fetch``, ``xhr``, ``eventsource`` or ``preflight``; entries without the field
      (Firefox) are always kept;
    * ``url_contains``: keep entries whose URL contains this text (e.g. ``"/chat"``);
    * ``only_chatkit=True``: keep entries that look like ChatKit traffic: a request body that is a
      ChatKit envelope (``{"type": ..., "params": ...}``) or a ``text/event-stream`` response (a
      custom fetch may have rewritten the envelope into another shape).

    Raises :class:`HarFormatError` only when the file as a whole is unusable; damaged entries
    become :attr:`HarImport.problems`.
    """
    with gc_paused():
        return _load(source, only_chatkit, url_contains, keep_static)


def _load(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any],
    only_chatkit: bool,
    url_contains: str | None,
    keep_static: bool,
) -> HarImport:
    path = _path_of(source)
    if path is not None:
        try:
            return _load_streamed(path, only_chatkit, url_contains, keep_static)
        except (StreamFallback, OSError, ValueError):
            pass  # read it whole: the exact error, or what a cut-off file still holds
    name, har = read_source(source)
    result = HarImport(source=name)
    if isinstance(har, Salvaged):
        result.truncated = True
        result.problems.append(HarProblem(None, "", har.message))
        har = har.har
    log = check_har(har, name)
    result.creator = name_version(log.get("creator"))
    result.browser = name_version(log.get("browser"))
    entries = log["entries"]
    _import_entries(result, entries, only_chatkit, url_contains, keep_static)
    return result


def _path_of(source: object) -> Path | None:
    """``source`` as a file path when it names one (not HAR text, bytes or a parsed object)."""
    if isinstance(source, os.PathLike):
        path = Path(source)
    elif isinstance(source, str) and source.lstrip("\ufeff \t\r\n")[:1] not in ("{", "["):
        try:
            path = Path(source)
        except (TypeError, ValueError):
            return None
    else:
        return None
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def _load_streamed(
    path: Path, only_chatkit: bool, url_contains: str | None, keep_static: bool
) -> HarImport:
    """:func:`load_har` of a file read entry by entry (see :mod:`._har_stream`)."""
    head, entries = stream_entries(path)
    result = HarImport(source=str(path))
    result.creator = name_version(head.creator)
    result.browser = name_version(head.browser)
    _import_entries(result, entries, only_chatkit, url_contains, keep_static)
    creator, browser = name_version(head.creator), name_version(head.browser)
    if (creator, browser) != (result.creator, result.browser):  # written after the entries
        result.creator, result.browser = creator, browser
        for capture in result.captures:
            capture.meta["har"].update(creator=creator, browser=browser)
    return result


def _import_entries(
    result: HarImport,
    entries: Iterable[Any],
    only_chatkit: bool,
    url_contains: str | None,
    keep_static: bool,
) -> None:
    """Import each entry into ``result`` (one at a time: ``entries`` may be a stream)."""
    secrets: dict[str, None] = {}  # the HAR's own credentials: redacted wherever they show up
    count = 0
    for index, entry in enumerate(entries):
        count = index + 1
        if len(secrets) < MAX_SECRETS:
            secrets.update(dict.fromkeys(har_entry_secrets(entry)))
        if isinstance(entry, Broken):
            result.problems.append(HarProblem(index, "", entry.message))
            continue
        if not isinstance(entry, dict):
            result.problems.append(
                HarProblem(index, "", f"entry is {json_kind(entry)}, not an object")
            )
            continue
        url = _entry_url(entry)
        reason = _skip_reason(entry, only_chatkit, url_contains, keep_static)
        if reason:
            result.skipped.append(HarSkip(index, url, reason))
            continue
        problems: list[str] = []
        try:
            capture = entry_to_capture(
                entry, index, problems, creator=result.creator, browser=result.browser
            )
        except Exception as exc:  # noqa: BLE001 - one bad entry must not sink the file
            capture = None
            problems.append(f"could not import this entry ({type(exc).__name__}: {exc})")
        result.problems.extend(HarProblem(index, url, message) for message in problems)
        if capture is not None:
            result.captures.append(capture)
    result.entries = count
    result.captures, moved = in_time_order(result.captures)
    if moved:
        result.problems.append(HarProblem(None, "", TIME_ORDER_NOTE))
    if not count:
        result.problems.append(HarProblem(None, "", "the HAR holds no entries"))
    register_secrets(secrets)


def _started(capture: Capture) -> datetime | None:
    text = capture.started_at
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def in_time_order(captures: list[Capture]) -> tuple[list[Capture], bool]:
    """``captures`` sorted by start time (stable), and whether that moved any.

    A recording whose times cannot all be read is kept in the order it was written.
    """
    times = [_started(capture) for capture in captures]
    if any(when is None for when in times):
        return captures, False
    order = sorted(range(len(captures)), key=lambda i: times[i])  # type: ignore[arg-type, return-value]
    if order == list(range(len(captures))):
        return captures, False
    return [captures[i] for i in order], True


TIME_ORDER_NOTE = (
    "the exchanges were not in time order: read by their start times (as HAR 1.2 tells "
    "readers to sort entries by startedDateTime)"
)


# -- filtering -----------------------------------------------------------------------------------


def _entry_url(entry: dict[str, Any]) -> str:
    request = entry.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    return url if isinstance(url, str) else ""


def _skip_reason(
    entry: dict[str, Any], only_chatkit: bool, url_contains: str | None, keep_static: bool
) -> str | None:
    resource_type = entry.get("_resourceType")
    if not keep_static and isinstance(resource_type, str):
        if resource_type.lower() not in KEPT_RESOURCE_TYPES:
            return f"resource type {resource_type!r} (not fetch/xhr)"
    url = _entry_url(entry)
    if url_contains is not None and url_contains not in url:
        return f"URL does not contain {url_contains!r}"
    if only_chatkit and not _looks_like_chatkit(entry):
        return "not ChatKit traffic (no ChatKit envelope body, no event-stream response)"
    return None


def _looks_like_chatkit(entry: dict[str, Any]) -> bool:
    request = entry.get("request")
    post = request.get("postData") if isinstance(request, dict) else None
    text = post.get("text") if isinstance(post, dict) else None
    if isinstance(text, str) and chatkit_envelope_type(text):
        return True
    response = entry.get("response")
    if not isinstance(response, dict):
        return False
    content = response.get("content")
    mime = content.get("mimeType") if isinstance(content, dict) else None
    values = [mime] + [
        h.get("value")
        for h in response.get("headers") or []
        if isinstance(h, dict) and str(h.get("name", "")).lower() == "content-type"
    ]
    return any(
        isinstance(v, str) and v.split(";")[0].strip().lower() == "text/event-stream"
        for v in values
    )
