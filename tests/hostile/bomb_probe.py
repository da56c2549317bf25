"""Run by ``test_files_the_user_gives``: diagnose a backend whose thread load answers with a
gzip bomb, in a process of its own; print the finding codes and the peak memory (KiB)."""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import sys
import zlib
from typing import Any

from hostile_servers import valid_stream

from chatkit_lab import LoopbackServer
from chatkit_lab.diagnosis import diagnose

MEMBER = gzip.compress(b" " * (1 << 20), 9)
"""One gzip member of a MiB of spaces (about a kilobyte): members concatenated are one body."""


HEAD = b'{"id":"thr_1","items":{"data":[],"has_more":false},"pad":"'


def bomb(mebibytes: int, coding: str) -> bytes:
    """``mebibytes`` MiB of JSON padding, compressed as ``coding`` (gzip: concatenated members;
    deflate: one zlib stream)."""
    if coding == "gzip":
        return gzip.compress(HEAD) + MEMBER * mebibytes + gzip.compress(b'"}')
    packer = zlib.compressobj(1)
    block = b" " * (1 << 20)
    parts = [packer.compress(HEAD), *(packer.compress(block) for _ in range(mebibytes))]
    return b"".join([*parts, packer.compress(b'"}'), packer.flush()])


CODING = sys.argv[2] if len(sys.argv) > 2 else "gzip"
BOMB = bomb(int(sys.argv[1]), CODING)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    kind = json.loads(body or b"{}").get("type", "")
    if kind in ("threads.create", "threads.add_user_message"):
        head, reply = [(b"content-type", b"text/event-stream")], valid_stream()
    elif kind == "threads.get_by_id":
        head = [(b"content-type", b"application/json"), (b"content-encoding", CODING.encode())]
        reply = BOMB
    else:
        head, reply = [(b"content-type", b"application/json")], b'{"data":[],"has_more":false}'
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": reply})


if __name__ == "__main__":
    with LoopbackServer(app) as server:
        result = asyncio.run(diagnose(server.url + "/chatkit"))
    print(" ".join(sorted({finding.code for finding in result.findings})))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
