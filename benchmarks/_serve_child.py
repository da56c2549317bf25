"""Serve a benchmark app in a process of its own until standard input closes.

``python -m benchmarks._serve_child backend EVENTS FIRST_GAP_S GAP_S`` serves reference events
(the first after ``FIRST_GAP_S``, the others ``GAP_S`` apart); ``python -m
benchmarks._serve_child proxy UPSTREAM`` serves a :class:`RecordingProxy` in front of
``UPSTREAM``. Each prints its URL on one line once it accepts connections, and stops when the
parent closes its standard input. A server in a process of its own keeps the client, the proxy
and the backend from sharing one interpreter lock, as a browser, a proxy and a backend do not.
"""

from __future__ import annotations

import sys
from typing import Any


def _app(argv: list[str]) -> Any:
    kind = argv[0]
    if kind == "backend":
        from ._streams import ChunkApp, reference_chunks

        events, first_gap, gap = int(argv[1]), float(argv[2]), float(argv[3])
        chunks = reference_chunks(max(events, 8))[:events]
        return ChunkApp(chunks, [first_gap] + [gap] * (len(chunks) - 1))
    if kind == "proxy":
        from chatkit_lab.sources import RecordingProxy

        return RecordingProxy(argv[1], trust_env=False).app
    raise SystemExit(f"unknown app {kind!r}")


def main(argv: list[str]) -> int:
    from chatkit_lab.sources import LoopbackServer

    with LoopbackServer(_app(argv)) as server:
        print(server.url, flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
