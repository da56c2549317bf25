"""JSON as the browser's ``JSON.parse`` reads it, and strict JSON for what the kit writes.

Python's :mod:`json` and a browser's ``JSON.parse`` accept different documents and give
different values for some of those both accept. The differences that matter for a ChatKit
stream or reply:

* ``NaN``, ``Infinity`` and ``-Infinity`` are accepted by Python and rejected by ``JSON.parse``;
* a number too large for a double (``1e400``, a 400-digit integer) is ``Infinity`` in the
  browser; Python gives ``inf`` for the float and refuses integers of more than 4,300 digits
  (``ValueError``);
* an integer beyond 2**53 loses precision in the browser (``9007199254740993`` is read as
  ``9007199254740992``); Python keeps it exact;
* V8's ``JSON.parse`` (Chrome, Node) accepts any nesting depth; Python's decoder stops at its
  recursion limit (``RecursionError``);
* an escaped lone surrogate (``"\\ud800"``) is a valid string for both, but a Python string
  holding one cannot be encoded as UTF-8, so anything that later writes it fails.

:func:`parse_browser_json` judges a document as ``JSON.parse`` would and says what differs:
rejected constants are errors, numbers the browser reads differently and lone surrogates are
:class:`JsonIssue` entries. The value it returns keeps Python's numbers (an exact integer stays
exact; a number of more than 4,300 digits becomes ``inf``, the browser's value) and replaces
lone surrogates with U+FFFD, so that later stages can write it; each replacement is an issue.

:func:`strict_json` and :func:`dumps_strict` are for the kit's own output: JSON that every
parser accepts (no bare ``NaN``/``Infinity``, no lone surrogates).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Literal

from pydantic_core import from_json

from chatkit_lab.redact import shorten
from chatkit_lab.sse._dispatch import MAX_SAFE_INTEGER, text_decode

__all__ = [
    "json_kind",
    "MAX_SAFE_INTEGER",
    "BrowserJson",
    "JsonIssue",
    "browser_json_body",
    "dumps_strict",
    "parse_browser_json",
    "strict_json",
]

MAX_ISSUES = 20
"""Issues kept per document at most (the count of all of them is kept too)."""

_SUSPECT_NUMBER = re.compile(r"[0-9](?:[0-9]{15}|[eE][+-]?[0-9]{3}|\.[0-9]*[eE][+-]?[0-9]{3})")
"""What a number the browser reads otherwise looks like: a run of 16 digits (an integer past
2**53 has at least that many) or a three-digit exponent. Written to fail fast on most text."""
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_MAX_INT_DIGITS = 4300
"""Python's default limit on the digits of an integer read from text."""

IssueKind = Literal["number", "surrogate"]


@dataclass(frozen=True, slots=True)
class JsonIssue:
    """One place where the browser's reading of a document differs from Python's, or is unsafe."""

    kind: IssueKind
    """``number`` (the browser reads another value) or ``surrogate`` (a lone surrogate)."""
    path: str
    """Where in the document, as ``item.content[0].text`` (``$`` is the whole document)."""
    literal: str
    """The number as written, or the string as JSON (escaped, shortened)."""
    browser: str
    """What ``JSON.parse`` gives (``Infinity``, the rounded integer), or what the kit did."""

    def describe(self) -> str:
        if self.kind == "number":
            return f"{self.path} = {self.literal}: the browser reads {self.browser}"
        return f"{self.path} = {self.literal}: {self.browser}"

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "path": self.path,
            "literal": self.literal,
            "browser": self.browser,
        }


@dataclass(slots=True)
class BrowserJson:
    """A document judged as ``JSON.parse`` would judge it."""

    value: Any = None
    """The decoded value (``None`` when it did not decode; lone surrogates replaced)."""
    error: str | None = None
    """Why it did not decode (``None`` when it did)."""
    error_kind: Literal["syntax", "constant", "depth"] | None = None
    """``syntax``: not JSON; ``constant``: ``NaN``/``Infinity``, which ``JSON.parse`` rejects;
    ``depth``: nested deeper than Python can decode (``JSON.parse`` in V8 accepts it)."""
    issues: tuple[JsonIssue, ...] = ()
    """Numbers the browser reads differently and lone surrogates (at most :data:`MAX_ISSUES`)."""
    issue_count: int = 0
    """How many issues there were in all."""

    @property
    def ok(self) -> bool:
        return self.error is None


class _RejectedConstant(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def json_kind(value: Any) -> str:
    """What JSON calls a parsed value, for messages: ``an object``, ``an array``, ``null``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _reject_constant(name: str) -> Any:
    raise _RejectedConstant(name)


class _HugeNumber(float):
    """``inf`` for a number too large for a double, remembering the literal it was read from."""

    __slots__ = ("literal",)
    literal: str


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        huge = _HugeNumber(value)
        huge.literal = text
        return huge
    return value


def _parse_int(text: str) -> int | float:
    if len(text) <= _MAX_INT_DIGITS:
        return int(text)
    return _parse_float(text)  # more digits than Python reads: surely beyond a double, too


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{shorten(text, limit - 12)}({len(text):,} chars)"


def _nesting(text: str) -> int:
    """How deep the document nests (brackets outside strings), for the error message."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    steps = (1 if char in "[{" else -1 for char in brackets)
    return max(accumulate(steps))


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return key if path == "$" else f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _clean_string(text: str, path: str, found: list[JsonIssue]) -> str:
    found.append(
        JsonIssue(
            "surrogate",
            path,
            _shorten(json.dumps(text)),
            "holds a lone UTF-16 surrogate: the browser keeps it, the kit reads it as U+FFFD",
        )
    )
    return _SURROGATE.sub("\ufffd", text)


def _number_issue(value: int | float, path: str) -> JsonIssue | None:
    if isinstance(value, _HugeNumber):
        return JsonIssue(
            "number", path, _shorten(value.literal), "Infinity" if value > 0 else "-Infinity"
        )
    if isinstance(value, float):
        return None
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return None
    try:
        rounded = float(value)
    except OverflowError:
        return JsonIssue(
            "number", path, _shorten(str(value)), "Infinity" if value > 0 else "-Infinity"
        )
    if int(rounded) == value:
        return None
    return JsonIssue("number", path, str(value), f"{int(rounded)} (past 2**53, rounded)")


def _walk(root: Any) -> tuple[Any, list[JsonIssue]]:
    """Find number and surrogate issues; replace lone surrogates and huge-number markers."""
    found: list[JsonIssue] = []
    holder = [root]
    stack: list[tuple[Any, Any, str]] = [(holder, 0, "$")]
    while stack:
        parent, key, path = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            if _SURROGATE.search(value):
                parent[key] = _clean_string(value, path, found)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            issue = _number_issue(value, path)
            if issue is not None:
                found.append(issue)
            if isinstance(value, _HugeNumber):
                parent[key] = float(value)
        elif isinstance(value, list):
            indexes = reversed(range(len(value)))
            stack.extend((value, index, _child_path(path, index)) for index in indexes)
        elif isinstance(value, dict):
            if any(_SURROGATE.search(name) for name in value):
                cleaned = {}
                for name, item in value.items():
                    if _SURROGATE.search(name):
                        name = _clean_string(name, _child_path(path, name) + " (key)", found)
                    cleaned[name] = item
                value.clear()
                value.update(cleaned)
            names = list(value)
            stack.extend((value, name, _child_path(path, name)) for name in reversed(names))
    return holder[0], found


def slow_json(text: str) -> BrowserJson:
    """:func:`parse_browser_json` without the fast path (for what :func:`fast_json` declined)."""
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except _RejectedConstant as exc:
        return BrowserJson(
            error=f"`{exc.name}` is not a JSON value (JSON.parse rejects it; Python's json "
            "accepts it)",
            error_kind="constant",
        )
    except json.JSONDecodeError as exc:
        return BrowserJson(
            error=f"{exc.msg} at line {exc.lineno} column {exc.colno}", error_kind="syntax"
        )
    except RecursionError:
        return BrowserJson(
            error=f"nested too deeply to decode ({_nesting(text):,} levels: Python's json "
            "stops at its recursion limit; V8's JSON.parse, as in Chrome, accepts it)",
            error_kind="depth",
        )
    except ValueError as exc:  # anything else json refuses
        return BrowserJson(error=str(exc), error_kind="syntax")
    value, found = _walk(value)
    return BrowserJson(value, None, None, tuple(found[:MAX_ISSUES]), len(found))


def parse_browser_json(text: str) -> BrowserJson:
    """Decode ``text`` as ``JSON.parse`` would, saying where Python and the browser differ.

    Never raises: a document the browser rejects (or the kit cannot decode) comes back with
    ``error`` set. The common document (no long numbers, no escaped surrogates) takes
    pydantic-core's parser, which gives the same values as :func:`json.loads` and shares
    repeated short strings; everything else, and every error, goes through :func:`json.loads`
    with hooks, so error messages are ``json``'s.
    """
    value = fast_json(text)
    return slow_json(text) if value is SLOW else BrowserJson(value)


SLOW: Any = object()
"""What :func:`fast_json` returns when the document needs :func:`parse_browser_json`'s care."""


def fast_json(text: str) -> Any:
    """The value of a common document (no long number, no surrogate, valid), else :data:`SLOW`."""
    if _SUSPECT_NUMBER.search(text) is None and (
        "\\u" not in text or _ESCAPED_SURROGATE.search(text) is None
    ):
        return plain_json(text)
    return SLOW


_CLASSES = bytes(
    ord("0") if byte in b"0123456789" else {ord("E"): ord("e"), ord("-"): ord("+")}.get(byte, byte)
    for byte in range(256)
)
"""Byte classes for :func:`may_differ`: every digit is ``0``, ``E`` is ``e``, ``-`` is ``+``."""
_ESCAPED_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def may_differ(body: bytes) -> bool:
    """Whether any JSON document inside ``body`` could hold something the browser reads otherwise.

    A whole-body test at the speed of a byte scan: ``False`` means no document in it has a
    16-digit run, a three-digit exponent or an escaped surrogate, so :func:`fast_json` need not
    look for them document by document.
    """
    classes = body.translate(_CLASSES)
    if b"0000000000000000" in classes or b"e000" in classes or b"e+000" in classes:
        return True
    return b"\\u" in body and _ESCAPED_SURROGATE_BYTES.search(body) is not None


def plain_json(text: str) -> Any:
    """:func:`fast_json` for a document known to hold no long number or escaped surrogate."""
    try:  # a raw surrogate in ``text`` is a TypeError here
        return from_json(text, allow_inf_nan=False)
    except (ValueError, TypeError):
        return SLOW


def browser_json_body(body: bytes) -> BrowserJson:
    """``Response.json()`` as a browser does it: UTF-8 (bad bytes as U+FFFD, one BOM dropped)."""
    return parse_browser_json(text_decode(body))


def strict_json(value: Any) -> Any:
    """``value`` made safe for strict JSON: what every parser accepts, UTF-8 encodable.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; lone
    surrogates in strings and keys become U+FFFD; tuples become lists. Containers are copied
    (iteratively: any depth); other values are returned as they are.
    """
    holder: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(holder, 0)]
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, float):
            if math.isnan(item):
                parent[key] = "NaN"
            elif math.isinf(item):
                parent[key] = "Infinity" if item > 0 else "-Infinity"
        elif isinstance(item, str):
            if _SURROGATE.search(item):
                parent[key] = _SURROGATE.sub("\ufffd", item)
        elif isinstance(item, dict):
            copied = {
                (_SURROGATE.sub("\ufffd", name) if isinstance(name, str) else name): inner
                for name, inner in item.items()
            }
            parent[key] = copied
            stack.extend((copied, name) for name in copied)
        elif isinstance(item, list | tuple):
            copied_list = list(item)
            parent[key] = copied_list
            stack.extend((copied_list, index) for index in range(len(copied_list)))
    return holder[0]


def dumps_strict(value: Any, **options: Any) -> str:
    """``json.dumps`` of :func:`strict_json` (``value``) with ``allow_nan=False``.

    ``options`` go to :func:`json.dumps` (``indent``, ``default``, ``sort_keys``, ...).
    """
    return json.dumps(strict_json(value), allow_nan=False, **options)
