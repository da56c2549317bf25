"""Reading a HAR file: from a path, text, bytes or a parsed object to its ``log``.

The whole file is either usable or rejected with a :class:`HarFormatError` naming the file and,
for JSON errors, the line and column. A file cut off mid-way (a crashed export, a size-limited
upload) is salvaged: every entry complete before the cut is kept, and the cut is reported.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit_lab.errors import HarFormatError

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
    if isinstance(source, str) and source.lstrip("\ufeff \t\r\n")[:1] in ("{", "["):
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


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
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
            f"{name}: the HAR 'log.entries' is {json_kind(entries)}, expected a list"
        )
    return log


def json_kind(value: Any) -> str:
    """``an object``, ``a list``, ... for messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def name_version(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    parts = [value.get("name"), value.get("version")]
    return " ".join(str(part) for part in parts if isinstance(part, str | int | float) and part)
