"""Reading a HAR file entry by entry, in bounded memory (ijson, an incremental JSON parser).

A HAR of hundreds of megabytes parsed whole is several times its size in Python objects; read
entry by entry, the reader holds one entry at a time (and what the import keeps of it). Only a
well-formed UTF-8 file is streamed: anything unusual (not UTF-8, a ``NaN``, a lone surrogate
escape, a cut-off or malformed file, no ``log.entries`` list) raises :class:`StreamFallback`,
and the caller reads the file whole instead, which gives the exact error or salvages what came
before a cut. An entry the stream already handed over is then read again from the whole file,
so the result is the same either way.

Two passes over the file: a short one over its head for ``log.creator`` and ``log.browser``
(Chrome and Firefox write them before the entries; when the creator is not there, one more
pass looks for both after the entries), then one that hands over each of ``log.entries``'
items as it is parsed. The parser reads in large blocks: with small ones, a long string (an
event-stream body is one) is reassembled over and over and parsing slows tenfold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

__all__ = ["HarHead", "StreamFallback", "stream_entries"]

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
    """What comes before the entries: ``log.creator`` and ``log.browser`` (raw values)."""

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


def _open(path: Path) -> tuple[IO[bytes], int]:
    """The file, positioned after a UTF-8 byte order mark, and where its JSON starts."""
    handle = path.open("rb")
    start = handle.read(4)
    if (
        start[:2] in (b"\xff\xfe", b"\xfe\xff")
        or start[:2] == b"\x1f\x8b"
        or start == b"PK\x03\x04"
    ):
        handle.close()
        raise StreamFallback("not UTF-8 JSON")
    offset = 3 if start.startswith(b"\xef\xbb\xbf") else 0
    handle.seek(offset)
    return handle, offset


def _read_head(path: Path) -> tuple[HarHead, bool]:
    """``log.creator``/``log.browser`` before the entries, and whether the head is complete.

    It is when ``log.creator`` came before the entries: every browser writes it first, and
    ``log.browser`` (optional, which Chrome leaves out) with it.
    """
    head = HarHead()
    seen: set[str] = set()
    handle, _ = _open(path)
    try:
        events = _prefixed(ijson.basic_parse(_Checked(handle), use_float=True))
        first = True
        for count, (prefix, event, value) in enumerate(events):
            if first:
                if event != "start_map":
                    raise StreamFallback("not a JSON object")
                first = False
            if prefix in ("log.creator", "log.browser") and event in ("start_map", "start_array"):
                built = _build(events, event, value)
                setattr(head, prefix[4:], built)
                seen.add(prefix)
            elif prefix in ("log.creator", "log.browser") and event not in ("map_key", "end_map"):
                setattr(head, prefix[4:], value)
                seen.add(prefix)
            elif prefix == "log.entries":
                if event != "start_array":
                    raise StreamFallback("'log.entries' is not a list")
                return head, "log.creator" in seen
            elif prefix == "log" and event not in ("start_map", "map_key", "end_map"):
                raise StreamFallback("'log' is not an object")
            if count > HEAD_EVENTS:
                raise StreamFallback("no 'log.entries' near the start")
    except ijson.JSONError as exc:
        raise StreamFallback(str(exc)) from None
    finally:
        handle.close()
    raise StreamFallback("no 'log.entries' list")


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


def _items(events: Iterator[tuple[str, str, Any]], prefix: str) -> Iterator[Any]:
    """Each value whose prefix is ``prefix`` (``ijson.items`` on :func:`_prefixed` events)."""
    for here, event, value in events:
        if here != prefix or event in _ENDS or event == "map_key":
            continue
        yield _build(events, event, value) if event in _STARTS else value


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


def _find(path: Path, prefix: str) -> Any:
    handle, _ = _open(path)
    try:
        events = ijson.basic_parse(handle, use_float=True, buf_size=BLOCK)
        for value in _items(_prefixed(events), prefix):
            return value
    except (ijson.JSONError, StreamFallback):
        return None
    finally:
        handle.close()
    return None


def stream_entries(path: Path) -> tuple[HarHead, Iterator[Any]]:
    """The head of the HAR at ``path`` and an iterator over its entries.

    Raises :class:`StreamFallback` (at once, or from the iterator) when the file is to be
    read whole instead. Once the entries are all read, ``head`` holds ``log.creator`` and
    ``log.browser`` even when the file writes them after the entries.
    """
    head, complete = _read_head(path)
    return head, _entries(path, head, complete)


def _entries(path: Path, head: HarHead, complete: bool) -> Iterator[Any]:
    handle, _ = _open(path)
    try:
        events = ijson.basic_parse(_Checked(handle), use_float=True, buf_size=BLOCK)
        yield from _items(_prefixed(events), "log.entries.item")
    except ijson.JSONError as exc:
        raise StreamFallback(str(exc)) from None
    finally:
        handle.close()
    if not complete:
        if head.creator is None:
            head.creator = _find(path, "log.creator")
        if head.browser is None:
            head.browser = _find(path, "log.browser")
