"""A finding's evidence in words: where it was seen, then its details as short phrases.

Never a Python ``repr``: a list reads ``a, b, c and 4 more``, a mapping ``key: value; key:
value``, a key's underscores become spaces. Plain text (the terminal); the report makes it
inert. Redacting is the caller's (``redact`` is applied to every text taken from the evidence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chatkit_lab.redact import shorten

LISTED = 3
"""Items of a list that are named (the rest are counted)."""
PAIRS = 4
"""Entries of a mapping that are named (the rest are counted)."""


def words_of(value: Any, limit: int | None = 160) -> str:
    """``value`` as a phrase: a list joined with "and N more", a mapping as ``k: v`` pairs;
    cut to ``limit`` characters (``None``: whole)."""
    inner = None if limit is None else 80
    if isinstance(value, Mapping):
        items = list(value.items())
        said = [f"{k}: {words_of(v, inner)}" for k, v in items[:PAIRS]]
        rest = len(items) - PAIRS
        text = "; ".join(said) + (f"; and {rest} more" if rest > 0 else "")
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        names = [words_of(item, inner) for item in value]
        text = ", ".join(names[:LISTED])
        if len(names) > LISTED:
            text += f" and {len(names) - LISTED} more"
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return text if limit is None else shorten(text, limit)


def _key(key: object) -> str:
    return str(key).replace("_", " ")


def evidence_words(
    evidence: Any, redact: Callable[[str], str] | None = None, *, limit: int | None = None
) -> str:
    """Where a finding was seen and what proves it, as phrases joined by ``;`` (each detail
    cut to ``limit`` characters; ``None``: whole)."""
    scrub = redact or (lambda text: text)
    parts: list[str] = []
    if getattr(evidence, "capture", None):
        parts.append(f"capture {scrub(str(evidence.capture))}")
    if getattr(evidence, "event_index", None) is not None:
        parts.append(f"event {evidence.event_index}")
    if getattr(evidence, "frame_index", None) is not None and evidence.event_index is None:
        parts.append(f"frame {evidence.frame_index}")
    if getattr(evidence, "byte_range", None) is not None:
        parts.append(f"bytes {evidence.byte_range[0]}..{evidence.byte_range[1]}")
    for key, value in list((getattr(evidence, "detail", None) or {}).items())[:8]:
        parts.append(f"{_key(key)}: {scrub(words_of(value, limit))}")
    return "; ".join(parts)


__all__ = ["evidence_words", "words_of"]
