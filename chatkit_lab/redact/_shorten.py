"""The kit's one text shortener, for excerpts and table cells.

Shorten only text that is already redacted: a cut applied to raw text can split a token so that
the piece left no longer looks like one. The cut never falls inside a redaction marker, so a
shortened excerpt still says what was removed.
"""

from __future__ import annotations

from chatkit_lab.redact._shapes import TEXT_MARK, URL_MARK

ELLIPSIS = "…"
_LONGEST_MARK = 128
"""Markers are shorter than this (``[REDACTED `` + at most 80 characters + ``]``)."""


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when it was cut.

    A marker (``[REDACTED jwt alg=HS256 …abcd]``, ``REDACTED-jwt-HS256-abcd``) that would be cut
    is left out whole instead.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = limit - len(ELLIPSIS)
    window = max(0, cut - _LONGEST_MARK)
    for pattern in (TEXT_MARK, URL_MARK):
        for found in pattern.finditer(text, window, cut + _LONGEST_MARK):
            if found.start() < cut < found.end():
                cut = found.start()
    return text[:cut] + ELLIPSIS
