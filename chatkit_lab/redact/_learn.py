"""Secrets a stream sent in pieces: found in the joined deltas, then redacted piece by piece.

A streamed reply arrives as deltas, each in its own event (``"delta":"ghp_abc"`` then
``"delta":"def…"``): no single event, excerpt or table cell holds the whole token, so neither its
shape nor a literal finds it there. Before redacting a body, a JSON-like object or a table, the
redactor joins the ``delta`` string values it holds, in order, looks for secrets in the joined
text, and learns those that span two deltas or more: as literal secrets, whose pieces are then
redacted wherever they stand alone (:mod:`chatkit_lab.redact._literals`).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chatkit_lab.redact._spans import Span

_DELTA = re.compile(r'"(?:[A-Za-z]+_)?delta"[ \t]*:[ \t]*"((?:[^"\\\r\n]|\\.){1,65536})"')
"""A JSON ``delta`` field (``delta``, ``text_delta``...) holding a string."""
_WORD = "delta"
_MAX_TEXTS = 100_000
"""The most strings of one object looked at (the rest is redacted, not learned from)."""


def split_secrets(text: str, spans_of: Callable[[str], list[Span]]) -> list[str]:
    """The secrets that span two ``delta`` values or more in ``text`` (each once, in order)."""
    if _WORD not in text:
        return []
    values: list[str] = _DELTA.findall(text)
    if len(values) < 2:
        return []
    ends: list[int] = []
    total = 0
    for value in values:
        total += len(value)
        ends.append(total)
    joined = "".join(values)
    found: dict[str, None] = {}
    for span in spans_of(joined):
        if span.kind == "part":
            continue
        first = bisect.bisect_right(ends, span.start)
        if first < len(ends) and ends[first] < span.end:  # it runs past the end of a delta
            found.setdefault(joined[span.start : span.end].strip())
    return [value for value in found if value]


def texts_in(value: Any) -> Iterator[str]:
    """The strings inside JSON-like data, dataclasses and pandas objects that mention deltas."""
    stack = [value]
    seen = 0
    while stack and seen < _MAX_TEXTS:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            if _WORD in item:
                yield item
        elif isinstance(item, bytes | bytearray):
            if _WORD.encode() in item:
                yield bytes(item).decode("utf-8", "replace")
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(reversed(list(item)))
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(reversed([getattr(item, f.name, None) for f in dataclasses.fields(item)]))
        elif hasattr(item, "to_numpy") and (hasattr(item, "dtype") or hasattr(item, "dtypes")):
            stack.extend(reversed(_cells(item)))


def _cells(frame: Any) -> list[Any]:
    try:
        values = frame.to_numpy().ravel().tolist()
    except (TypeError, ValueError, AttributeError):
        return []
    return [cell for cell in values if isinstance(cell, str | bytes)]
