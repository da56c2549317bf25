"""HAR import: a browser DevTools export (HAR 1.2, Chrome or Firefox) to :class:`Capture` objects.

A HAR is what a user can hand over without installing anything: DevTools -> Network -> "Save all
as HAR". It holds each request and response with their headers and (usually) bodies, but it keeps
no per-chunk arrival times, so every imported capture has its whole body in one chunk and
``timing = False``: timing checks skip it. :func:`entry_to_capture` maps one entry to one capture.

What can go wrong with a HAR, and what this module does about it:

* the whole file is unusable (not JSON, not a HAR, truncated before any complete entry): raise
  :class:`HarFormatError` with the file name and, for JSON errors, the line and column;
* the file is cut off mid-way (a crashed export, a size-limited upload): keep every entry that was
  complete before the cut and report the cut as a problem;
* one entry is damaged (no response body, bad base64, missing fields): import what is there and
  report a :class:`HarProblem` for it; the rest of the file imports normally.

Nothing else is raised: any unexpected failure inside one entry becomes a problem for that entry.

A file is read entry by entry, in bounded memory (ijson, an incremental JSON parser): a HAR of
hundreds of megabytes parsed whole is several times its size in Python objects. Only a
well-formed UTF-8 file is streamed: anything unusual (not UTF-8, a ``NaN``, a lone surrogate
escape, a cut-off or malformed file, no ``log.entries`` list) raises :class:`StreamFallback`,
and the file is read whole instead, which gives the exact error or salvages what came before a
cut. An entry the stream already handed over is then read again from the whole file, so the
result is the same either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

import ijson

from chatkit_lab.capture import Capture, Ending, RequestRecord, save_captures
from chatkit_lab.errors import HarFormatError
from chatkit_lab.redact import MAX_SECRETS, Redactor, har_entry_secrets, register_secrets
from chatkit_lab.sources._base import gc_paused
from chatkit_lab.sources._encoding import codings_of
from chatkit_lab.sse import json_kind

__all__ = [
    "EMPTY_STREAM_MESSAGE",
    "KEPT_RESOURCE_TYPES",
    "MISSING_BODY_MESSAGE",
    "NO_TIMING_NOTE",
    "TIME_ORDER_NOTE",
    "HarImport",
    "HarProblem",
    "HarSkip",
    "entry_to_capture",
    "in_time_order",
    "load_har",
]

KEPT_RESOURCE_TYPES: frozenset[str] = frozenset({"fetch", "xhr", "eventsource", "preflight"})
"""Chrome ``_resourceType`` values kept by default (API traffic and its CORS preflights)."""
NO_TIMING_NOTE = "HAR keeps no per-chunk timing: timing checks are skipped"
MISSING_BODY_MESSAGE = (
    "response body not saved in the HAR (DevTools often drops event-stream bodies); "
    "re-export or use the recording proxy"
)
EMPTY_STREAM_MESSAGE = (
    "event-stream body is empty in the HAR: either the server sent nothing or DevTools did not "
    "save the stream; re-export or use the recording proxy to tell which"
)
TIME_ORDER_NOTE = (
    "the exchanges were not in time order: read by their start times (as HAR 1.2 tells "
    "readers to sort entries by startedDateTime)"
)


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

    def save(
        self, path: str | Path, *, redact: bool = True, redactor: Redactor | None = None
    ) -> Path:
        """Write the imported captures to one capture file (secrets redacted by default, by
        ``redactor`` or the current one)."""
        return save_captures(self.captures, path, redact=redact, redactor=redactor)


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


def _is_har_text(source: str) -> bool:
    """Whether ``source`` is the HAR's JSON text rather than a path."""
    return source.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def _path_of(source: object) -> Path | None:
    """``source`` as a file path when it names one (not HAR text, bytes or a parsed object)."""
    if isinstance(source, os.PathLike):
        path = Path(source)
    elif isinstance(source, str) and not _is_har_text(source):
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
    """:func:`load_har` of a file read entry by entry (:func:`stream_entries`)."""
    head = HarHead()
    result = HarImport(source=str(path))
    _import_entries(result, stream_entries(path, head), only_chatkit, url_contains, keep_static)
    result.creator, result.browser = name_version(head.creator), name_version(head.browser)
    if result.creator or result.browser:  # known once the whole file is read
        for capture in result.captures:
            capture.meta["har"].update(creator=result.creator, browser=result.browser)
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
            if capture is not None:
                capture.id = _capture_id(capture, index)
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


# -- reading the file whole: the exact error, or what a cut-off file still holds ------------------

_TEXT_NAME = "<HAR text>"
_DICT_NAME = "<HAR object>"


@dataclass
class Salvaged:
    har: dict[str, Any]
    message: str


@dataclass
class Broken:
    message: str


def read_source(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any],
) -> tuple[str, dict[str, Any] | Salvaged]:
    if isinstance(source, Mapping):
        return _DICT_NAME, dict(source)
    if isinstance(source, bytes | bytearray):
        return _TEXT_NAME, _parse_text(_decode(bytes(source), _TEXT_NAME), _TEXT_NAME)
    if isinstance(source, str) and _is_har_text(source):
        return _TEXT_NAME, _parse_text(source.lstrip("\ufeff"), _TEXT_NAME)
    if not isinstance(source, str | os.PathLike):
        raise HarFormatError(
            f"cannot read a HAR from a {type(source).__name__}: "
            "pass a path, the HAR text or the parsed HAR object"
        )
    path = Path(source)
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise HarFormatError(f"{name}: no such HAR file") from None
    except IsADirectoryError:
        raise HarFormatError(f"{name}: is a directory, not a HAR file") from None
    except OSError as exc:
        raise HarFormatError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return name, _parse_text(_decode(data, name), name)


_NOT_UTF8 = (b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b", b"PK\x03\x04")
"""How a file starts that is UTF-16, gzip or zip: read whole, for the message that says so."""


def _decode(data: bytes, name: str) -> str:
    if data.startswith(_NOT_UTF8[:2]):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise HarFormatError(f"{name}: not a HAR file (undecodable UTF-16 text)") from None
    if data.startswith(b"\x1f\x8b"):
        raise HarFormatError(f"{name}: is gzip-compressed; decompress it first (gunzip)")
    if data.startswith(b"PK\x03\x04"):
        raise HarFormatError(f"{name}: is a zip archive; extract the .har file from it first")
    # Bytes that are not UTF-8 are kept as surrogate escapes, so one bad body does not sink the
    # file; the entry that holds them is reported when its body is converted back to bytes.
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def _parse_text(text: str, name: str) -> dict[str, Any] | Salvaged:
    if not text.strip():
        raise HarFormatError(f"{name}: the file is empty, not a HAR")
    try:
        har = json.loads(text)
    except RecursionError:
        raise HarFormatError(f"{name}: not a HAR file (JSON nested too deeply)") from None
    except json.JSONDecodeError as exc:
        return _after_json_error(text, name, exc)
    if not isinstance(har, dict):
        raise HarFormatError(
            f"{name}: not a HAR file (the JSON is {json_kind(har)}; a HAR is an object "
            "with a 'log' key)"
        )
    return har


def _after_json_error(text: str, name: str, exc: json.JSONDecodeError) -> Salvaged:
    where = f"line {exc.lineno} column {exc.colno}"
    if exc.msg == "Extra data":
        first = text.lstrip().split("\n", 1)[0]
        try:
            record = json.loads(first)
        except ValueError:
            record = None
        if isinstance(record, dict) and "record" in record:
            raise HarFormatError(
                f"{name}: this is a chatkit-lab capture file (JSON Lines), not a HAR; "
                "read it with load_captures()"
            ) from None
        raise HarFormatError(
            f"{name}: not a HAR file (more than one JSON value; extra data at {where})"
        ) from None
    scan = _scan(text)
    if not scan.truncated:
        raise HarFormatError(f"{name}: not valid JSON at {where}: {exc.msg}") from None
    ends = f"line {text.count(chr(10)) + 1} column {len(text) - text.rfind(chr(10))}"
    cut = f"{name}: the file is truncated (it ends at {ends} before its JSON is complete)"
    if not scan.in_log:
        raise HarFormatError(f"{cut}; nothing of a HAR 'log' was read before the cut") from None
    entries: list[Any] = []
    for start, end in scan.entry_spans:
        try:
            entries.append(json.loads(text[start:end]))
        except (json.JSONDecodeError, RecursionError):
            entries.append(Broken("entry is not valid JSON (damaged before the cut)"))
    if not entries:
        raise HarFormatError(f"{cut}; no complete entry came before the cut") from None
    log: dict[str, Any] = {"entries": entries}
    for key, (start, end) in scan.log_spans.items():
        try:
            log[key] = json.loads(text[start:end])
        except (json.JSONDecodeError, RecursionError):
            pass
    lost = scan.entries_started - len(entries)
    message = (
        f"the file is truncated (it ends at {ends}); imported the {len(entries)} "
        "complete entries before the cut"
        + (f", entry {len(entries)} was cut off and is lost" if lost else "")
        + "; any later entries are missing"
    )
    return Salvaged({"log": log}, message)


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]|"')
_COLON = re.compile(r"\s*:")


@dataclass
class _Scan:
    truncated: bool = False
    in_log: bool = False
    entries_started: int = 0
    entry_spans: list[tuple[int, int]] = field(default_factory=list)
    log_spans: dict[str, tuple[int, int]] = field(default_factory=dict)


def _scan(text: str) -> _Scan:
    """Walk the JSON structure of ``text`` (strings and brackets only) to tell a truncated file
    from a malformed one and to find the spans of the complete ``log.entries`` items."""
    scan = _Scan()
    stack: list[tuple[str, str | None, int]] = []  # (bracket, key it is the value of, start)
    key: str | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':  # a string with no closing quote: it runs to the end of the text
            scan.truncated = True
            return scan
        if token[0] == '"':
            if _COLON.match(text, match.end()) and stack and stack[-1][0] == "{":
                try:
                    key = json.loads(token)
                except ValueError:
                    key = None
            continue
        if token in "{[":
            stack.append((token, key, match.start()))
            key = None
            depth = len(stack)
            if depth == 2 and stack[1][1] == "log" and token == "{":
                scan.in_log = True
            if depth == 4 and _in_entries(stack):
                scan.entries_started += 1
            continue
        if not stack or {"}": "{", "]": "["}[token] != stack[-1][0]:
            return scan  # mismatched bracket: malformed, not truncated
        opener, opened_key, start = stack.pop()
        key = None
        depth = len(stack) + 1
        if depth == 4 and _in_entries(stack):
            scan.entry_spans.append((start, match.end()))
        elif depth == 3 and stack[-1][1] == "log" and opened_key in ("creator", "browser"):
            scan.log_spans[opened_key] = (start, match.end())
    scan.truncated = bool(stack)
    return scan


def _in_entries(stack: list[tuple[str, str | None, int]]) -> bool:
    return (
        len(stack) >= 3 and stack[1][1] == "log" and stack[2][0] == "[" and stack[2][1] == "entries"
    )


def check_har(har: dict[str, Any], name: str) -> dict[str, Any]:
    log = har.get("log")
    if log is None:
        keys = ", ".join(repr(k) for k in list(har)[:6]) or "none"
        hint = ""
        if har.get("record") == "capture" or har.get("format") == "chatkit-lab.capture":
            hint = "; it looks like a chatkit-lab capture: read it with load_captures()"
        raise HarFormatError(
            f"{name}: not a HAR file (no 'log' object at the top level; its keys: {keys}){hint}"
        )
    if not isinstance(log, dict):
        raise HarFormatError(
            f"{name}: not a HAR file ('log' is {json_kind(log)}, expected an object)"
        )
    entries = log.get("entries")
    if entries is None:
        raise HarFormatError(f"{name}: the HAR 'log' has no 'entries' list")
    if not isinstance(entries, list):
        raise HarFormatError(
            f"{name}: the HAR 'log.entries' is {json_kind(entries)}, expected an array"
        )
    return log


def name_version(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts = [value.get("name"), value.get("version")]
    return " ".join(str(part) for part in parts if isinstance(part, str | int | float) and part)


# -- reading the file entry by entry (ijson) ------------------------------------------------------
#
# One pass over the file hands over each of ``log.entries``' items as it is parsed and keeps
# ``log.creator`` and ``log.browser`` wherever they are written (Chrome and Firefox write them
# before the entries). The parser reads in large blocks: with small ones, a long string (an
# event-stream body is one) is reassembled over and over and parsing slows tenfold.

BLOCK = 8 * 1024 * 1024
"""Bytes the parser reads at once."""
MAX_DEPTH = 900
"""Deepest nesting read (a HAR that DevTools writes is a few dozen levels deep); deeper, the
file is read whole, where Python's JSON parser refuses it as nested too deeply."""
NAMED_LEVELS = 4
"""Levels whose prefix is spelled out (``log.entries.item`` is three)."""
HEAD_EVENTS = 200_000
"""Parse events read looking for the start of ``log.entries`` before giving up on streaming."""

_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F]"
)


class StreamFallback(Exception):
    """The file is not one this reader streams: read it whole instead."""


@dataclass
class HarHead:
    """``log.creator`` and ``log.browser`` (raw values), as the stream finds them."""

    creator: Any = None
    browser: Any = None


class _Checked:
    """A binary file that refuses (with :class:`StreamFallback`) a lone surrogate escape.

    The C parser reads ``\\ud800`` alone as ``?`` where :func:`json.loads` keeps it (and the
    import reports it), so a file holding one is read whole. Looked for block by block, with
    the end of each block kept to catch an escape cut in two.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        if _suspect(block) or _suspect(self.tail + block[:12]):
            if _has_lone_surrogate(self.tail + block, bool(block)):
                raise StreamFallback("a lone surrogate escape")
        self.tail = (self.tail + block[-12:])[-12:]
        return block


def _suspect(data: bytes) -> bool:
    return b"\\ud" in data or b"\\uD" in data


def _has_lone_surrogate(window: bytes, more: bool) -> bool:
    for match in _LONE_SURROGATE.finditer(window):
        if more and match.end() > len(window) - 6:
            continue  # its pair may start in the next block
        return True
    return False


def _open(path: Path) -> IO[bytes]:
    """The file, positioned after a UTF-8 byte order mark."""
    handle = path.open("rb")
    start = handle.read(4)
    if start.startswith(_NOT_UTF8):
        handle.close()
        raise StreamFallback("not UTF-8 JSON")
    handle.seek(3 if start.startswith(b"\xef\xbb\xbf") else 0)
    return handle


_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")


def _prefixed(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, str, Any]]:
    """``ijson.parse``'s ``(prefix, event, value)`` from ``ijson.basic_parse``'s events, the
    prefix spelled out only for the top :data:`NAMED_LEVELS` levels (``"..."`` deeper) and the
    nesting bounded by :data:`MAX_DEPTH`.

    ``ijson.parse`` joins the full path for every event: a file nested two million levels deep
    costs gigabytes of prefix strings. Here depth costs one list item per level.
    """
    path: list[Any] = []
    for event, value in events:
        if event == "map_key":
            prefix = _join(path[:-1])
            path[-1] = value
        elif event in _STARTS:
            prefix = _join(path)
            path.append(None if event == "start_map" else "item")
            if len(path) > MAX_DEPTH:
                raise StreamFallback(f"JSON nested more than {MAX_DEPTH} levels deep")
        elif event in _ENDS:
            path.pop()
            prefix = _join(path)
        else:
            prefix = _join(path)
        yield prefix, event, value


def _join(path: list[Any]) -> str:
    if len(path) > NAMED_LEVELS:
        return "..."
    return ".".join(str(part) for part in path)


def _build(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """The value whose first parse event was ``(event, value)``, from the events after it."""
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, kind, item in events:
        builder.event(kind, item)
        if kind in ("start_map", "start_array"):
            depth += 1
        elif kind in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def stream_entries(path: Path, head: HarHead) -> Iterator[Any]:
    """Each item of ``log.entries`` in the HAR at ``path``, as it is parsed; ``head`` gets
    ``log.creator`` and ``log.browser`` as they are met (before or after the entries).

    Raises :class:`StreamFallback` (before any entry, or mid-way) when the file is to be read
    whole instead.
    """
    handle = _open(path)
    in_entries = False
    try:
        events = _prefixed(ijson.basic_parse(_Checked(handle), use_float=True, buf_size=BLOCK))
        for count, (prefix, event, value) in enumerate(events):
            if count == 0 and event != "start_map":
                raise StreamFallback("not a JSON object")
            if prefix == "log.entries.item" and event not in _ENDS and event != "map_key":
                yield _build(events, event, value) if event in _STARTS else value
            elif prefix in ("log.creator", "log.browser") and event not in ("map_key", "end_map"):
                built = _build(events, event, value) if event in _STARTS else value
                setattr(head, prefix[4:], built)
            elif in_entries:
                continue
            elif prefix == "log.entries":
                if event != "start_array":
                    raise StreamFallback("'log.entries' is not an array")
                in_entries = True
            elif prefix == "log" and event not in ("start_map", "map_key", "end_map"):
                raise StreamFallback("'log' is not an object")
            if not in_entries and count > HEAD_EVENTS:
                raise StreamFallback("no 'log.entries' near the start")
    except ijson.JSONError as exc:
        raise StreamFallback(str(exc)) from None
    finally:
        handle.close()
    if not in_entries:
        raise StreamFallback("no 'log.entries' list")


# -- one entry to one capture -------------------------------------------------------------------

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def chatkit_envelope_type(text: str) -> str | None:
    """The ``type`` of a ChatKit envelope ``{"type": ..., "params": {...}}``, else ``None``."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("params"), dict):
        kind = payload.get("type")
        return kind if isinstance(kind, str) else None
    return None


def entry_to_capture(
    entry: dict[str, Any], index: int, problems: list[str], *, creator: str = "", browser: str = ""
) -> Capture | None:
    """One HAR entry as a capture (``None`` when it has no usable request); what is wrong with it
    is appended to ``problems``. Its id is set by :func:`_capture_id` once it is complete."""
    request = entry.get("request")
    if not isinstance(request, dict):
        problems.append("entry has no 'request' object; skipped")
        return None
    method = request.get("method")
    url = request.get("url")
    if not isinstance(url, str) or not url:
        problems.append("request has no URL; skipped")
        return None
    if not isinstance(method, str) or not method:
        problems.append("request has no method; assumed GET")
        method = "GET"
    method = method.upper()
    headers, pseudo = _headers(request.get("headers"), "request", problems)
    body = _request_body(request, method, problems)
    record = RequestRecord(method=method, url=url, headers=headers, body=body)

    notes = [NO_TIMING_NOTE]
    har_meta: dict[str, Any] = {
        "entry": index,
        "startedDateTime": entry.get("startedDateTime"),
        "creator": creator,
        "browser": browser,
    }
    if pseudo:
        har_meta["request_pseudo_headers"] = [list(pair) for pair in pseudo]
    for key, meta_key in (
        ("_resourceType", "resource_type"),
        ("serverIPAddress", "server_ip"),
        ("time", "time_ms"),
        ("pageref", "pageref"),
    ):
        if entry.get(key) is not None:
            har_meta[meta_key] = entry[key]
    initiator = entry.get("_initiator")
    if isinstance(initiator, dict) and isinstance(initiator.get("type"), str):
        har_meta["initiator"] = initiator["type"]
    if isinstance(request.get("httpVersion"), str):
        har_meta["http_version"] = request["httpVersion"]

    capture = Capture(
        request=record,
        label=_label(record),
        target=_origin(url),
        transport="har",
        timing=False,
        id="",  # set from what was imported, once it all is (see _capture_id)
        started_at=_started_at(entry.get("startedDateTime"), problems),
        notes=notes,
        meta={"source": "har", "har": har_meta},
    )
    headers_ns, end_ns = _timings(entry.get("timings"))
    har_meta["timings"] = entry.get("timings") if isinstance(entry.get("timings"), dict) else None

    response = entry.get("response")
    if not isinstance(response, dict):
        problems.append("entry has no 'response' object; imported the request only")
        capture.ending = Ending("error", "the HAR holds no response for this request")
        return capture
    status = response.get("status")
    response_headers, response_pseudo = _headers(response.get("headers"), "response", problems)
    if response_pseudo:
        har_meta["response_pseudo_headers"] = [list(pair) for pair in response_pseudo]
    capture.response_headers = response_headers
    coding = capture.header("content-encoding")
    if codings_of(coding):
        # DevTools saves the body as the page read it: already decoded by the browser.
        body_size = response.get("bodySize")
        capture.content_encoding = {
            "coding": coding,
            "decoded": True,
            "by": "browser",
            "raw_bytes": body_size if isinstance(body_size, int) and body_size >= 0 else None,
        }
    error = response.get("_error")
    if not isinstance(status, int) or isinstance(status, bool) or status <= 0:
        reason = error if isinstance(error, str) and error else "no error recorded"
        capture.status = None
        capture.ending = Ending(
            "error",
            f"no response in the HAR (status {status!r}: blocked, aborted or failed; {reason})",
        )
        notes.append(
            "the browser recorded no response: a CORS failure, an aborted request or "
            "a network error; the console tells which"
        )
        return capture
    capture.status = status
    capture.headers_ns = headers_ns
    no_body = status in (101, 204, 304) or method == "HEAD"
    data, missing = _response_body(response, capture.is_event_stream, no_body, problems)
    if data:
        capture.add_chunk(data, end_ns if end_ns is not None else (headers_ns or 0))
    if missing:
        notes.append(MISSING_BODY_MESSAGE)
        capture.body_missing = True
        capture.ending = Ending("error", MISSING_BODY_MESSAGE, at_ns=end_ns)
    else:
        capture.ending = Ending("complete", at_ns=end_ns)
    if isinstance(error, str) and error:
        notes.append(f"the browser recorded an error for this response: {error}")
    return capture


def _headers(
    raw: Any, which: str, problems: list[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    headers: list[tuple[str, str]] = []
    pseudo: list[tuple[str, str]] = []
    if raw is None:
        problems.append(f"{which} has no 'headers' list")
        return headers, pseudo
    if not isinstance(raw, list):
        problems.append(f"{which} 'headers' is {json_kind(raw)}, not an array; ignored")
        return headers, pseudo
    bad = 0
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            bad += 1
            continue
        name = item["name"]
        value = item.get("value")
        value = "" if value is None else value if isinstance(value, str) else str(value)
        (pseudo if name.startswith(":") else headers).append((name, value))
    if bad:
        problems.append(f"{bad} malformed {which} header(s) (no name) ignored")
    return headers, pseudo


def _request_body(request: dict[str, Any], method: str, problems: list[str]) -> bytes:
    post = request.get("postData")
    size = request.get("bodySize")
    if post is None:
        if method in _BODY_METHODS and not (isinstance(size, int) and size == 0):
            problems.append(
                f"request body not saved in the HAR ({method} without postData); "
                "the request type cannot be told"
            )
        return b""
    if not isinstance(post, dict):
        problems.append(f"request 'postData' is {json_kind(post)}, not an object; ignored")
        return b""
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            return _b64(text, "request body", problems)
        return _encode(text, "request body", problems)
    params = post.get("params")
    if isinstance(params, list) and params:
        pairs = [
            (str(p.get("name", "")), str(p.get("value", ""))) for p in params if isinstance(p, dict)
        ]
        problems.append(
            "request body rebuilt from postData.params (the HAR kept no raw text); "
            "it may differ from what was sent"
        )
        return urlencode(pairs).encode("ascii")
    if not (isinstance(size, int) and size == 0):
        problems.append("request body not saved in the HAR (postData has no text)")
    return b""


def _response_body(
    response: dict[str, Any], event_stream: bool, no_body: bool, problems: list[str]
) -> tuple[bytes, bool]:
    """The body bytes, and whether the body is missing from the HAR.

    ``no_body``: the response has no body by definition (HEAD, 101, 204, 304).
    """
    content = response.get("content")
    if not isinstance(content, dict):
        problems.append("response has no 'content' object")
        return b"", True
    text = content.get("text")
    size = content.get("size")
    known_size = isinstance(size, int) and not isinstance(size, bool) and size >= 0
    if not isinstance(text, str) or (text == "" and known_size and size > 0):
        if text is not None and not isinstance(text, str):
            problems.append(f"response content.text is {json_kind(text)}, not a string")
            return b"", True
        if not no_body and (event_stream or not known_size or size > 0):
            problems.append(MISSING_BODY_MESSAGE)
            return b"", True
        return b"", False
    if text == "" and event_stream:
        problems.append(EMPTY_STREAM_MESSAGE)
    encoding = content.get("encoding")
    if encoding == "base64":
        data = _b64(text, "response body", problems)
    elif encoding:
        problems.append(f"unknown content.encoding {encoding!r}; body read as plain text")
        data = _encode(text, "response body", problems)
    else:
        data = _encode(text, "response body", problems)
    if known_size and 0 < len(data) < size and not content.get("compression"):
        problems.append(
            f"response body holds {len(data)} bytes but content.size says {size}: "
            "the HAR may have cut it short"
        )
    return data, False


def _b64(text: str, what: str, problems: list[str]) -> bytes:
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        pass
    if _URLSAFE_B64.fullmatch(compact):
        try:
            return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            pass
    problems.append(f"{what} is marked base64 but is not valid base64; left empty")
    return b""


def _encode(text: str, what: str, problems: list[str]) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        data = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        problems.append(
            f"{what} holds invalid Unicode (lone surrogate escapes); those characters were "
            "replaced with '?'"
        )
        return text.encode("utf-8", errors="replace")
    problems.append(
        f"{what} is not valid UTF-8 in the HAR file; its raw bytes were kept as they are"
    )
    return data


def _timings(raw: Any) -> tuple[int | None, int | None]:
    """``(headers_ns, end_ns)`` from HAR timings, measured from when the request was sent."""
    if not isinstance(raw, dict):
        return None, None

    def ms(name: str) -> float | None:
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and 0 <= value < 1e12:
                return float(value)
        return None

    wait = ms("wait")
    receive = ms("receive")
    headers_ns = round(wait * 1e6) if wait is not None else None
    if headers_ns is None:
        return None, None
    end_ns = headers_ns + (round(receive * 1e6) if receive is not None else 0)
    return headers_ns, end_ns


def _started_at(value: Any, problems: list[str]) -> str:
    if not isinstance(value, str) or not value:
        problems.append("entry has no startedDateTime")
        return ""
    try:
        return datetime.fromisoformat(value).isoformat(timespec="milliseconds")
    except ValueError:
        problems.append(f"startedDateTime {value!r} is not an ISO 8601 time; kept as text")
        return value


def _label(request: RequestRecord) -> str:
    kind = chatkit_envelope_type(request.body.decode("utf-8", errors="replace"))
    if kind:
        return kind
    path = urlsplit(request.url).path or "/"
    return f"{request.method} {path}"


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _capture_id(capture: Capture, index: int) -> str:
    """A stable id: re-importing the same HAR (as a file, text or object) gives the same ids.

    A digest of the entry's position and of what was imported from it (request, response head
    and body), computed without serialising the entry again: on a large HAR that cost more
    than reading it.
    """
    digest = hashlib.sha1(usedforsecurity=False)
    request = capture.request
    head = [str(index), capture.started_at, request.method, request.url, str(capture.status)]
    for name, value in [*request.headers, ("", ""), *capture.response_headers]:
        head += (name, value)
    digest.update("\0".join(head).encode("utf-8", "surrogatepass"))
    digest.update(b"\0%d\0" % len(request.body))
    digest.update(request.body)
    for chunk in capture.chunks:
        digest.update(chunk.data)
    return "har" + digest.hexdigest()[:9]
