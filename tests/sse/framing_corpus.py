"""Every framing body the tests know, each as the chunks it arrives in.

Three sources: the recorded streams in ``tests/streams/``, the bodies the hostile corpus's
servers send (``tests/hostile/``: a scripted app's body messages are its chunks; a raw-socket
case's bytes are the body it must keep), and generated edge cases of line endings, empty data,
lines without a colon, retry-only blocks, BOMs and trailing bytes. Each body is also fed whole
and, when small, one byte at a time, so that every chunk boundary is tried.
"""

from __future__ import annotations

import inspect
import random
import sys
from collections.abc import Sequence
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "hostile"))

from hostile_cases import CASES  # noqa: E402
from hostile_servers import Forever, Pause, Raise  # noqa: E402

BOM = b"\xef\xbb\xbf"
BYTEWISE_LIMIT = 16 * 1024
"""Bodies up to this size are also fed one byte per chunk."""

Corpus = dict[str, list[bytes]]
ACCENTED = "data: Caf\u00e9 \U0001f642\n\n".encode()


def _scripted_chunks(app: object) -> list[bytes] | None:
    """The body messages a hostile ``scripted_app`` sends, in order (``None``: not one)."""
    try:
        body = inspect.getclosurevars(app).nonlocals.get("body")  # type: ignore[arg-type]
    except TypeError:
        return None
    if not isinstance(body, Sequence) or isinstance(body, bytes | str):
        return None
    chunks: list[bytes] = []
    for step in body:
        if isinstance(step, bytes):
            chunks.append(step)
        elif isinstance(step, Forever):
            chunks.extend([step.data] * 3)
        elif isinstance(step, Raise):
            break
        elif not isinstance(step, Pause):
            return None
    return chunks


def hostile_bodies() -> Corpus:
    bodies: Corpus = {}
    for case in CASES:
        chunks = None
        if case.server is not None and not isinstance(case.server, tuple):
            chunks = _scripted_chunks(case.server)
        if chunks is None and case.kept is not None:
            chunks = [case.kept]
        if chunks is None and case.kept_prefix is not None:
            chunks = [case.kept_prefix]
        if chunks is not None:
            bodies[f"hostile/{case.name}"] = chunks
    return bodies


def stream_bodies() -> Corpus:
    return {
        f"streams/{path.name}": [path.read_bytes()]
        for path in sorted((TESTS / "streams").glob("*.sse"))
    }


EDGE_CASES: Corpus = {
    # line endings, also split across chunks
    "edge/crlf-split-after-cr": [b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"],
    "edge/cr-only": [b"data: a\rdata: b\r\r"],
    "edge/cr-then-cr-lf-lf": [b"data: a\r\r\n\n"],
    "edge/empty-chunk-between-cr-and-lf": [b"data: a\r", b"", b"\n\r", b"", b"\n"],
    "edge/mixed-endings": [b"data: a\r\ndata: b\rdata: c\n\r\n"],
    "edge/lf-cr-is-two-lines": [b"data: a\n\r"],
    # empty data
    "edge/empty-data": [b"data:\n\n"],
    "edge/empty-data-with-space": [b"data: \n\n"],
    "edge/empty-then-data": [b"data:\ndata:\ndata: x\ndata:\n\n"],
    "edge/data-then-empties": [b"data: a\ndata:\ndata:\n\n"],
    "edge/only-blank-lines": [b"\n\n\n\r\n\r"],
    "edge/empty-body": [],
    "edge/empty-chunks-only": [b"", b"", b""],
    # lines without a colon
    "edge/no-colon-data": [b"data\ndata: x\n\n"],
    "edge/no-colon-event-and-id": [b"event\nid\ndata: a\n\n"],
    "edge/no-colon-alone": [b"foo\n\n"],
    # comments, spaces, unknown fields
    "edge/comment-only": [b": ping\n\n"],
    "edge/colon-only": [b":\n\n"],
    "edge/two-spaces": [b"data:  two\n\n"],
    "edge/no-space-tab": [b"data:x\ndata:\ty\n\n"],
    "edge/colon-in-value": [b"data: a: b:c\n\n"],
    "edge/unknown-and-cased-fields": [b"foo: 1\nDATA: 2\nEvent: e\ndata: x\n\n"],
    # event, id, retry
    "edge/event-only": [b"event: thread.created\n\n"],
    "edge/event-empty": [b"event:\ndata: a\n\n"],
    "edge/id-then-unset": [b"id: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n"],
    "edge/id-with-nul": [b"id: a\x00b\ndata: x\n\n"],
    "edge/id-only-then-blank": [b"id: 1\n\n\n"],
    "edge/retry-only": [b"retry: 3000\n\n"],
    "edge/retry-negative": [b"retry: -5\n\n"],
    "edge/retry-trailing-junk": [b"retry: 12abc\ndata: a\n\n"],
    "edge/retry-underscore": [b"retry: 1_000\n\n"],
    "edge/retry-not-a-number": [b"retry: abc\ndata: a\n\n"],
    "edge/retry-leading-spaces": [b"retry:   \t7\n\n"],
    "edge/retry-nbsp": ["retry: \u00a09\n\n".encode()],
    "edge/retry-exponent": [b"retry: 1e3\n\n"],
    "edge/retry-decimal": [b"retry: 3.9\n\n"],
    "edge/retry-beyond-2-53": [b"retry: 99999999999999999999\n\n"],
    "edge/retry-overflow": [b"retry: " + b"9" * 400 + b"\n\n"],
    "edge/retry-arabic-digit": ["retry: \u0663\n\n".encode()],
    # BOM
    "edge/bom": [BOM + b"data: a\n\n"],
    "edge/bom-split": [BOM[:1], BOM[1:2], BOM[2:] + b"data: a\n\n"],
    "edge/bom-only": [BOM],
    "edge/bom-blank-line": [BOM + b"\n\ndata: a\n\n"],
    "edge/two-boms": [BOM + BOM + b"data: a\n\n"],
    "edge/bom-in-value": [b"data: " + BOM + b"a\n\n"],
    "edge/bom-before-colon-space": [b"data:" + BOM + b" a\n\n"],
    "edge/bom-mid-stream-line": [b"data: a\n\n" + BOM + b"event: e\ndata: b\n\n"],
    # trailing bytes without a line ending
    "edge/trailing-partial-line": [b"data: a\n\ndata: tail"],
    "edge/trailing-block-no-blank-line": [b"data: a\n\ndata: b\n"],
    "edge/trailing-cr": [b"data: a\r"],
    "edge/trailing-bom": [b"data: a\n\n" + BOM],
    # decoding
    "edge/invalid-utf8": [b"data: a\xff\xed\xa0\x80b\xc0\xaf\n\n"],
    "edge/invalid-utf8-field-name": [b"da\xfft: x\ndata: y\n\n"],
    "edge/multibyte-split": [ACCENTED[:10], ACCENTED[10:]],
    "edge/nul-in-data": [b"data: a\x00b\n\n"],
    "edge/line-separators": ["data: a\u2028b\u2029c\x85d\n\n".encode()],
    # long lines
    "edge/long-line-many-chunks": [b"data: ", *([b"z" * 997] * 40), b"\n\n"],
}

_TOKENS = [
    b"data: x",
    b"data:",
    b"data: ",
    b"data",
    b": c",
    b":",
    b"event: e",
    b"event",
    b"id: 1",
    b"id:",
    b"retry: 5",
    b"retry: 7x",
    b"retry: q",
    b"foo: bar",
    BOM,
    BOM + b"data: b",
    "data: \u00e9".encode(),
    b"data: \xff",
    b"",
]
_ENDINGS = [b"\n", b"\r\n", b"\r"]


def generated_bodies(count: int = 300, seed: int = 13) -> Corpus:
    """Random bodies of edge-case lines and endings, cut at random points (seeded: repeatable)."""
    rng = random.Random(seed)
    bodies: Corpus = {}
    for number in range(count):
        lines = [rng.choice(_TOKENS) + rng.choice(_ENDINGS) for _ in range(rng.randint(0, 20))]
        body = b"".join(lines) + rng.choice([b"", b"", b"data: tail", b"\r", BOM])
        cuts = sorted(rng.randint(0, len(body)) for _ in range(rng.randint(0, 6)))
        edges = [0, *cuts, len(body)]
        bodies[f"generated/{number}"] = [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    return bodies


def framing_corpus() -> Corpus:
    """Every body, as it arrives and also whole and (when small) one byte per chunk."""
    corpus: Corpus = {}
    for name, chunks in {
        **stream_bodies(),
        **hostile_bodies(),
        **EDGE_CASES,
        **generated_bodies(),
    }.items():
        corpus[name] = chunks
        body = b"".join(chunks)
        if len(chunks) > 1:
            corpus[f"{name} (whole)"] = [body]
        if 1 < len(body) <= BYTEWISE_LIMIT:
            corpus[f"{name} (bytewise)"] = [body[i : i + 1] for i in range(len(body))]
    return corpus
