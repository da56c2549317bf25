"""The Node process a fetch file runs in, kept apart from the kit.

Node is started with a heap cap and only the environment variables named; the kit talks to it
over a socket pair of their own (Node gets its end as a file descriptor, never fd 1 or 2), so
what the user's module writes to fd 1 or 2 (a logger such as pino writes to fd 1) is the
process's own output: kept, bounded, and unable to swallow or forge the kit's messages.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

Process = asyncio.subprocess.Process

HEAP_MB = 512
"""Node's heap cap (``--max-old-space-size``): a fetch that allocates more is stopped by Node
("JavaScript heap out of memory") and the request fails as the fetch's fault."""
OUTPUT_LINE_MAX = 2000
"""Characters kept of one line the process writes to fd 1 or 2 itself."""
OUTPUT_MAX = 256 * 1024
"""Characters kept in all of the process's own output; the rest is counted, not kept."""
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
"""The only variables of the caller's environment Node gets, with the token variable and the
names given in ``env_names``: nothing else (cloud keys, other tokens) reaches the fetch."""


def named_env(given: Mapping[str, str], token_env: str, names: tuple[str, ...]) -> dict[str, str]:
    """The variables of ``given`` Node gets: :data:`PASSED_ENV`, ``token_env`` and ``names``."""
    wanted = (*PASSED_ENV, token_env, *names)
    return {name: given[name] for name in wanted if name in given}


async def spawn(
    node: str, runner: Path, cwd: Path, env: dict[str, str], limit: int
) -> tuple[Process, asyncio.StreamReader, asyncio.StreamWriter]:
    """Start ``node runner <fd>`` with the heap cap; the process and the kit's channel to it."""
    ours, theirs = socket.socketpair()
    try:
        proc = await asyncio.create_subprocess_exec(
            node,
            f"--max-old-space-size={HEAP_MB}",
            str(runner),
            str(theirs.fileno()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(cwd),
            pass_fds=(theirs.fileno(),),
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    reader, writer = await asyncio.open_connection(sock=ours, limit=limit)
    return proc, reader, writer


class ProcessOutput:
    """What the process writes to fd 1 or 2 itself, and console calls outside any request:
    redacted by ``hide``, each line and the whole bounded, always drained."""

    def __init__(self, hide: Callable[[str], str]) -> None:
        self.hide = hide
        self.lines: deque[str] = deque(maxlen=200)
        self.chars = 0
        self.dropped = 0
        """Bytes not kept (past :data:`OUTPUT_MAX`)."""

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        """Read ``stream`` to its end, line by line, keeping what the bounds allow."""
        if stream is None:
            return
        partial = b""
        while True:
            try:
                data = await stream.read(64 * 1024)
            except (ConnectionError, OSError):
                return
            if not data:
                if partial:
                    self.keep(partial)
                return
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            if len(partial) > OUTPUT_LINE_MAX:
                self.keep(partial)
                partial = b""
            for line in lines:
                self.keep(line)

    def keep(self, line: bytes) -> None:
        if self.chars >= OUTPUT_MAX:
            self.dropped += len(line)
            return
        text = line[: OUTPUT_LINE_MAX * 4].decode("utf-8", "replace").rstrip("\r")
        if len(text) > OUTPUT_LINE_MAX:
            text = text[:OUTPUT_LINE_MAX] + "..."
        self.chars += len(text)
        self.lines.append(self.hide(text))
