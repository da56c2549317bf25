"""Applying spans: to one text, and to a body received in pieces (the chunk-boundary engine).

A body is redacted as a whole, so a token split across two chunks is still found, and cut
again at the original boundaries, mapped through the replacements: a replacement straddling a
boundary goes wholly into the piece where it starts (the next piece shrinks, possibly to
nothing). Piece count is kept; bytes that are not UTF-8 are kept as they are.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from chatkit_lab.redact._shapes import marker
from chatkit_lab.redact._spans import Span

SURROGATE = "surrogateescape"
"""How bodies are decoded for redaction: bytes that are not UTF-8 survive the round trip."""


def apply_spans(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span (sorted, non-overlapping) replaced by its marker."""
    out: list[str] = []
    position = 0
    for span in spans:
        out.append(text[position : span.start])
        out.append(marker(text[span.start : span.end], span.kind, span.style))
        position = span.end
    out.append(text[position:])
    return "".join(out)


def redact_pieces_once(
    parts: list[bytes], spans_of: Callable[[str], list[Span]]
) -> list[bytes] | None:
    """One pass over the joined pieces; ``None`` when there was nothing to replace."""
    joined = b"".join(parts)
    if not joined:
        return None
    text = joined.decode("utf-8", errors=SURROGATE)
    spans = spans_of(text)
    if not spans:
        return None
    out = bytearray()
    starts: list[int] = []
    ends: list[tuple[int, int]] = []  # (old end, new end) of each replacement
    byte_pos = 0
    char_pos = 0
    for span in spans:
        byte_start = byte_pos + len(text[char_pos : span.start].encode("utf-8", SURROGATE))
        byte_end = byte_start + len(text[span.start : span.end].encode("utf-8", SURROGATE))
        out += joined[byte_pos:byte_start]
        out += marker(text[span.start : span.end], span.kind, span.style).encode("utf-8")
        starts.append(byte_start)
        ends.append((byte_end, len(out)))
        byte_pos, char_pos = byte_end, span.end
    out += joined[byte_pos:]

    def moved(boundary: int) -> int:
        where = bisect.bisect_left(starts, boundary) - 1
        if where < 0:
            return boundary
        old_end, new_end = ends[where]
        return new_end if boundary < old_end else new_end + boundary - old_end

    pieces: list[bytes] = []
    old_boundary = 0
    new_boundary = 0
    for part in parts:
        old_boundary += len(part)
        cut = moved(old_boundary) if old_boundary < len(joined) else len(out)
        pieces.append(bytes(out[new_boundary:cut]))
        new_boundary = cut
    return pieces
