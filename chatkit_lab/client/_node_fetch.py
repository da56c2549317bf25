"""The user's own ``fetch`` (JavaScript or TypeScript), run as written under Node.

:class:`NodeFetch` starts one Node process for a fetch file (``js/fetch_runner.mjs``) and talks
to it in JSON lines over a channel of their own. For each ChatKit request, the user's fetch runs
with a global ``fetch`` that is a bridge back to Python: every wire call it makes is performed
by the ``send`` the caller gives (the kit's transport), and the real response goes back to the
fetch (status, headers, then the body chunk by chunk). A :class:`NodeFetchOutcome` records both
sides: the wire captures, the reply the fetch handed back to ChatKit (read the way ChatKit reads
it), the calls it made to ChatKit's control, its console output and the error it threw, if any.

Node is started with a heap cap and only the environment variables named; the kit talks to it
over a socket pair of their own (Node gets its end as a file descriptor, never fd 1 or 2), so
what the user's module writes to fd 1 or 2 (a logger such as pino writes to fd 1) is the
process's own output: kept, bounded, and unable to swallow or forge the kit's messages. The
outcome of one request extends the client's :class:`~chatkit_lab.client._fetch.FetchOutcome`
with what only a fetch run under Node can tell: where the reply came from, the JavaScript error
with its stack, and when each control call happened.

The module contract (the default export is a fetch, or a factory receiving ``ctx``) is
documented in ``docs/guides/your-fetch.md``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.client._fetch import ClientRequest, ControlCall, FetchOutcome, Send
from chatkit_lab.client._network import status_text
from chatkit_lab.client.js import NodeError, ensure_node_modules
from chatkit_lab.errors import TransformError
from chatkit_lab.redact import redact_obj, redact_text, register_secrets
from chatkit_lab.sources import encoding_info

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


_FRAME = re.compile(
    r"(?P<file>[^\s()]+\.(?:m?js|cjs|mts|ts|tsx|jsx)):(?P<line>\d+):(?P<column>\d+)"
)
"""A frame of a JavaScript stack: ``file:line:column``."""

CONTROL_MAX = 200
"""Control calls kept per request (Node stops recording past it, too) and outside requests."""
CONSOLE_MAX = 64 * 1024
"""Most console text kept per request (characters)."""


class NodeFetchError(TransformError):
    """A fetch file cannot be run: no Node, no file, no transpile, or a wrong default export.

    ``kind`` says which: ``node``, ``file``, ``dependency``, ``transpile``, ``import``,
    ``shape``, ``factory``, ``timeout`` or ``runner``.
    """

    def __init__(self, message: str, kind: str = "runner") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class FetchError:
    """What the user's fetch threw (or what the body stream it returned failed with)."""

    name: str
    message: str
    stack: str = ""
    """The JavaScript stack, with this machine's paths shortened."""
    phase: str = "fetch"
    """``fetch`` (it threw or rejected), ``reply`` (it resolved to something that is not a
    Response), ``body`` (the body stream failed while ChatKit read it), ``timeout`` or ``exit``."""
    cause: FetchError | None = None

    def __str__(self) -> str:
        where = self.where
        return f"{self.name}: {self.message}" + (f" ({where})" if where else "")

    @property
    def where(self) -> str:
        """``file line N`` of the innermost stack frame in the user's own code (not the kit's
        runner, not Node's internals): where to look in the fetch file."""
        for match in _FRAME.finditer(self.stack):
            file = match.group("file")
            if file.startswith(("chatkit-lab/", "node:")) or "/node_modules/" in file:
                continue
            return f"{file.rsplit('/', 1)[-1]} line {match.group('line')}"
        return ""

    @classmethod
    def from_record(cls, record: Any, phase: str, extra: list[str]) -> FetchError:
        record = record if isinstance(record, dict) else {}
        cause = record.get("cause")
        return cls(
            redact_text(str(record.get("name", "Error")), extra=extra),
            redact_text(str(record.get("message", "")), extra=extra),
            redact_text(str(record.get("stack", "")), extra=extra),
            phase,
            cls.from_record(cause, phase, extra) if isinstance(cause, dict) else None,
        )


@dataclass(frozen=True)
class NodeControlCall(ControlCall):
    """A control call, with when it happened relative to the reply ChatKit was reading."""

    after_reply_chunks: int | None = None
    """How many reply chunks ChatKit had read when the call happened."""
    phase: str = "during"
    """``during`` the request, ``after`` it was reported finished, or ``outside`` any request."""

    @classmethod
    def from_record(cls, record: dict[str, Any], extra: list[str]) -> NodeControlCall:
        args = redact_obj(record.get("args") or [], extra=extra)
        return cls(
            str(record.get("name")),
            tuple(args) if isinstance(args, list) else (args,),
            record.get("after_reply_chunks"),
            str(record.get("phase", "during")),
        )


@dataclass
class NodeFetchOutcome(FetchOutcome):
    """A :class:`FetchOutcome` of the Node runner, with the detail only it knows.

    ``handed_back`` is the Response the fetch resolved to, its body read the way ChatKit reads
    it (transport ``node-fetch``, no timing); ``error`` is ``"Name: message"`` of :attr:`thrown`.
    """

    request: ClientRequest | None = None
    """What ChatKit sent to the fetch."""
    reply_origin: str = ""
    """``wire``: the very Response a wire call returned; ``rebuilt``: a Response the fetch
    built after making wire calls (a teed or rewritten stream); ``local``: built without any
    wire call; empty when nothing was handed back."""
    thrown: FetchError | None = None
    console_lines: list[tuple[str, str]] = field(default_factory=list)
    """``(level, text)`` per console call, redacted and bounded."""
    notes: list[str] = field(default_factory=list)


class PendingFetch:
    """One request in flight: what Node reported so far."""

    def __init__(self, request: ClientRequest, send: Send) -> None:
        self.outcome = NodeFetchOutcome(None, request=request)
        self.send = send
        self.done = asyncio.Event()
        self.console_end = asyncio.Event()
        self.tasks: set[asyncio.Future[None]] = set()
        self.wire: dict[int, tuple[ClientRequest, Capture]] = {}
        self.wire_calls = 0
        self.head: dict[str, Any] | None = None
        self.chunks: list[bytes] = []
        self.reply_bytes = 0
        self.truncated = False
        self.reply_ended = False
        self.frozen = False
        """Set at the time limit: what arrives later is not what ChatKit got in time."""
        self.body_error: FetchError | None = None
        self.console_bytes = 0

    def apply(
        self,
        record: dict[str, Any],
        max_body: int,
        extra: list[str],
        hide: Callable[[str], str] = str,
    ) -> None:
        """Take in one record Node sent about this request (reply, error, console, end);
        ``hide`` redacts console text."""
        op = record.get("op")
        if op == "console":
            self.add_console(str(record.get("level", "log")), hide(str(record.get("text", ""))))
        elif op == "console_end":
            self.console_end.set()
        if self.frozen and op != "done":
            return
        if op == "done" and record.get("controls_dropped"):
            self.outcome.notes.append(
                f"chatkit-lab kept the first {CONTROL_MAX} control calls of this request; "
                f"{int(record['controls_dropped'])} more were not recorded"
            )
        if op == "reply_head":
            self.head = record
        elif op == "reply_chunk" and self.head is not None:
            data = base64.b64decode(record.get("data", ""))
            room = max(max_body - self.reply_bytes, 0)
            self.chunks.append(data[:room])
            self.reply_bytes += min(len(data), room)
            self.truncated |= len(data) > room
        elif op == "reply_end":
            self.reply_ended = True
            self.truncated |= bool(record.get("truncated"))
            if record.get("error"):
                self.body_error = FetchError.from_record(record["error"], "body", extra)
        elif op == "threw" and self.outcome.thrown is None:  # a timeout stays the error
            phase = str(record.get("phase", "fetch"))
            self.outcome.thrown = FetchError.from_record(record.get("error"), phase, extra)
        elif op == "done":
            self.done.set()

    def add_console(self, level: str, text: str) -> None:
        if self.console_bytes < CONSOLE_MAX:
            self.console_bytes += len(text)
            self.outcome.console_lines.append((level, text))

    def finish(self) -> NodeFetchOutcome:
        outcome = self.outcome
        calls = [self.wire[k] for k in sorted(self.wire)]
        outcome.wire_requests = [request for request, _ in calls]
        outcome.wire = [capture for _, capture in calls]
        outcome.console = "\n".join(text for _, text in outcome.console_lines)
        if outcome.thrown is not None:
            outcome.error = str(outcome.thrown)
        if self.head is not None and outcome.request is not None:
            outcome.reply_origin = str(self.head.get("origin", "wire"))
            outcome.built_by_fetch = outcome.reply_origin == "local"
            outcome.handed_back = self._capture(outcome.request, outcome.reply_origin)
        return outcome

    def _capture(self, request: ClientRequest, origin: str) -> Capture:
        head = self.head or {}
        error: Any = self.body_error
        state = "error" if error else "limit" if self.truncated else "complete"
        if not self.reply_ended:  # the reading was cut short: timeout, or Node stopped
            thrown = self.outcome.thrown
            state = "timeout" if thrown is not None and thrown.phase == "timeout" else "error"
            error = thrown or "the reply was not read to its end"
        capture = Capture(
            request=RequestRecord(
                request.method, request.url, list(request.headers.items()), request.body
            ),
            status=int(head.get("status", 0)),
            response_headers=[(str(k), str(v)) for k, v in head.get("headers", [])],
            headers_ns=0,
            ending=Ending(state, str(error or ""), 0),
            transport="node-fetch",
            timing=False,
        )
        for chunk in self.chunks:
            capture.add_chunk(chunk, 0)
        capture.meta["reply_origin"] = origin
        capture.answered_locally = origin == "local"
        if head.get("statusText"):
            capture.meta["status_text"] = str(head["statusText"])
        if origin == "local":
            capture.notes.append("built by the user's fetch; the backend never saw this request")
        return capture


def not_run(request: ClientRequest, budget: str) -> NodeFetchOutcome:
    """An outcome for a request the fetch was not given time to run (``budget`` is used up)."""
    outcome = NodeFetchOutcome(None, request=request)
    message = f"{budget} is used up: earlier requests hung; this one was not run"
    outcome.thrown = FetchError("TimeoutError", message, phase="timeout")
    outcome.error = str(outcome.thrown)
    return outcome


RUNNER = Path(__file__).with_name("js") / "fetch_runner.mjs"
SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts")
DEFAULT_TOKEN_ENV = "CHATKIT_TOKEN"
"""The environment variable whose value a factory receives as ``ctx.token``."""
_PIECE = 64 * 1024
_GRACE_S = 2.0
SESSION_FACTOR = 4
"""The fetch's whole-session time is this many times the per-request limit."""
__all__ = [
    "DEFAULT_TOKEN_ENV",
    "FetchError",
    "NodeControlCall",
    "NodeFetch",
    "NodeFetchError",
    "NodeFetchOutcome",
]


class NodeFetch:
    """One Node process running one fetch file; use :meth:`open`.

    ``token_env`` names the environment variable whose value a factory gets as ``ctx.token``
    (the value is never printed); ``user_id`` is ``ctx.userId``; ``timeout_s`` bounds loading
    and each request; ``max_wire_calls`` bounds the wire calls of one request and
    ``max_body_bytes`` every body; Node gets only ``PATH``, locale variables, ``token_env`` and
    ``env_names`` from ``env`` (default: the process's own); ``session_s`` bounds all requests
    together.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        token_env: str = DEFAULT_TOKEN_ENV,
        user_id: str = "",
        timeout_s: float = 30.0,
        max_wire_calls: int = 20,
        max_body_bytes: int = 4 * 1024 * 1024,
        env: Mapping[str, str] | None = None,
        env_names: tuple[str, ...] = (),
        session_s: float | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        self.name = self.path.name
        self.token_env = token_env
        self.user_id = user_id
        self.timeout_s = float(timeout_s)
        self.max_wire_calls = int(max_wire_calls)
        self.max_body_bytes = int(max_body_bytes)
        self.env = named_env(os.environ if env is None else env, token_env, env_names)
        self.session_s = float(session_s) if session_s else SESSION_FACTOR * self.timeout_s
        self._spent_s = 0.0  # the time all requests took so far, against session_s
        token = self.env.get(token_env, "")
        self._extra = [token] if token.strip() else []
        if self._extra:
            register_secrets(self._extra)
        self.shape = ""
        self.node_version = ""
        self.restarts = 0
        self.late: list[NodeControlCall] = []
        """Control calls that arrived after their request's outcome was returned."""
        self.output = ProcessOutput(self._hide)  # what Node writes to fd 1 and 2 itself
        self.stderr = self.output.lines
        self._proc: asyncio.subprocess.Process | None = None
        self._channel: asyncio.StreamWriter | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._pending: dict[int, PendingFetch] = {}
        self._loaded: asyncio.Future[dict[str, Any]] | None = None
        self._write_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._next_id = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: str | Path, **options: Any) -> AsyncIterator[NodeFetch]:
        """Start Node for the fetch file ``path`` (``options`` as :class:`NodeFetch` takes
        them); Node is always stopped on exit. Raises NodeFetchError."""
        runner = cls(path, **options)
        try:
            await runner._start()
            yield runner
        finally:
            await runner.aclose()

    # -- process ---------------------------------------------------------------------------

    def _hide(self, text: str) -> str:
        for prefix, short in ((self.path.parent, ""), (RUNNER.parent, "chatkit-lab/")):
            text = text.replace(f"{prefix}{os.sep}", short)
        return redact_text(text, extra=self._extra)

    async def _start(self) -> None:
        name = self.path.name
        if not self.path.is_file():
            raise NodeFetchError(f"fetch file {name!r} does not exist (or is not a file)", "file")
        if self.path.suffix.lower() not in SUFFIXES:
            raise NodeFetchError(
                f"fetch file {name!r}: expected one of {', '.join(SUFFIXES)}", "file"
            )
        node = shutil.which("node", path=self.env.get("PATH", ""))
        if node is None:
            raise NodeFetchError(
                "running your own fetch needs Node.js 18 or newer, and no 'node' was found on "
                "PATH; install Node, or mirror the fetch in Python with a transform instead",
                "node",
            )
        if self.path.suffix.lower() in (".ts", ".mts"):  # the transpiler comes from npm, once
            try:
                await asyncio.to_thread(ensure_node_modules)
            except NodeError as exc:
                said = f"{name}: TypeScript needs the transpiler: {exc}"
                raise NodeFetchError(said, "dependency") from None
        limit = 2 * self.max_body_bytes + 1024 * 1024
        self._proc, reader, self._channel = await spawn(
            node, RUNNER, self.path.parent, self.env, limit
        )
        self._loaded = asyncio.get_running_loop().create_future()
        self._readers = [
            asyncio.create_task(self._read_channel(self._proc, reader, self._loaded)),
            asyncio.create_task(self.output.drain(self._proc.stdout)),
            asyncio.create_task(self.output.drain(self._proc.stderr)),
        ]
        await self._write(
            {
                "op": "load",
                "path": str(self.path),
                "userId": self.user_id,
                "tokenEnv": self.token_env,
                "maxBodyBytes": self.max_body_bytes,
            }
        )
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._loaded), self.timeout_s)
        except TimeoutError:
            await self._kill()
            late = f"{name} did not load within {self.timeout_s:g} s"
            raise NodeFetchError(late, "timeout") from None
        if ready.get("op") != "ready":
            await self._kill()
            kind = str(ready.get("kind", "runner"))
            raise NodeFetchError(self._hide(str(ready.get("message", "Node failed"))), kind)
        self.shape, self.node_version = str(ready["shape"]), str(ready.get("node", ""))

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        channel, self._channel = self._channel, None
        for task in self._readers:
            task.cancel()
        if channel is not None:
            channel.close()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), _GRACE_S)
        self._readers = []
        for pending in self._pending.values():  # nothing more will come for them
            if not pending.done.is_set() and pending.outcome.thrown is None:
                stopped = "Node was stopped before the fetch finished"
                pending.outcome.thrown = FetchError("NodeStopped", stopped, phase="exit")
            pending.done.set()
            pending.console_end.set()

    async def aclose(self) -> None:
        """Ask Node to exit, and kill it if it has not within a short grace period."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                await self._write({"op": "close"})
                await asyncio.wait_for(proc.wait(), _GRACE_S)
        await self._kill()

    async def _write(self, record: dict[str, Any]) -> None:
        channel = self._channel
        if channel is None or channel.is_closing():
            return
        async with self._write_lock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, RuntimeError, OSError):
                channel.write(json.dumps(record).encode() + b"\n")
                await channel.drain()

    async def _read_channel(
        self, proc: Process, reader: asyncio.StreamReader, loaded: asyncio.Future[dict[str, Any]]
    ) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line over the limit: skip what is buffered
                continue
            except (ConnectionError, OSError):
                break
            if not line:
                break
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict):
                self._dispatch(record, loaded)
        code = await proc.wait()
        if not loaded.done():
            tail = "; ".join(list(self.stderr)[-5:])
            message = f"Node exited (code {code}) before the fetch file loaded"
            loaded.set_result({"op": "fatal", "message": f"{message}: {tail}" if tail else message})
        for pending in self._pending.values():
            if not pending.done.is_set():
                exited = f"the Node process exited (code {code}) during the request"
                if pending.outcome.thrown is None:
                    pending.outcome.thrown = FetchError("NodeExited", exited, phase="exit")
                pending.done.set()
            pending.console_end.set()

    # -- requests --------------------------------------------------------------------------

    def _dispatch(self, record: dict[str, Any], loaded: asyncio.Future[dict[str, Any]]) -> None:
        op = record.get("op")
        if op in ("ready", "fatal"):
            if not loaded.done():
                loaded.set_result(record)
            return
        pending = self._pending.get(record.get("id"))  # type: ignore[arg-type]
        if op == "console" and pending is None:
            self.output.keep(self._hide(str(record.get("text", ""))).encode())
        elif op == "control":
            call = NodeControlCall.from_record(record, self._extra)
            kept = pending.outcome.controls if pending else self.late
            if len(kept) < CONTROL_MAX:
                kept.append(call)
        elif pending is not None and op == "wire":
            self._wire(pending, record)
        elif pending is not None:
            pending.apply(record, self.max_body_bytes, self._extra, self._hide)

    def _wire(self, pending: PendingFetch, record: dict[str, Any]) -> None:
        pending.wire_calls += 1
        call = record.get("call")
        body = base64.b64decode(record["body"]) if record.get("body") else b""
        refusal = ""
        if pending.wire_calls > self.max_wire_calls:
            refusal = f"more than {self.max_wire_calls} wire calls for one request"
        elif len(body) > self.max_body_bytes:
            refusal = f"request body over {self.max_body_bytes} bytes"
        if refusal:
            pending.outcome.notes.append(f"chatkit-lab refused a wire call: {refusal}")
            fail = {"op": "wire_fail", "id": record["id"], "call": call}
            self._spawn(pending, self._write({**fail, "message": f"chatkit-lab: {refusal}"}))
            return
        headers = {str(k): str(v) for k, v in record.get("headers", [])}
        request = ClientRequest(str(record.get("method", "GET")), str(record["url"]), headers, body)
        self._spawn(pending, self._perform(pending, record["id"], call, request))

    def _spawn(self, pending: PendingFetch, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        pending.tasks.add(task)
        task.add_done_callback(pending.tasks.discard)

    async def _perform(
        self, pending: PendingFetch, rid: int, call: Any, request: ClientRequest
    ) -> None:
        where = {"id": rid, "call": call}
        try:
            capture = await pending.send(request)
        except Exception as exc:  # the caller's send failed: the fetch sees a network error
            pending.outcome.notes.append(f"wire call {call} failed: {type(exc).__name__}: {exc}")
            await self._write({"op": "wire_fail", **where, "message": str(exc)})
            return
        pending.wire[int(call)] = (request, capture)
        if capture.status is None:
            reason = capture.ending.message or capture.ending.state
            await self._write({"op": "wire_fail", **where, "message": reason})
            return
        headers = [list(pair) for pair in capture.response_headers]
        coding = encoding_info(capture)
        if coding is not None and coding.get("decoded"):  # the chunks are decoded already
            dropped = ("content-encoding", "content-length")
            headers = [pair for pair in headers if pair[0].lower() not in dropped]
        reason = status_text(capture.status)
        head = {"status": capture.status, "statusText": reason, "headers": headers}
        await self._write({"op": "wire_head", **where, **head})
        for chunk in capture.chunks:
            for at in range(0, len(chunk.data), _PIECE):
                data = base64.b64encode(chunk.data[at : at + _PIECE]).decode()
                await self._write({"op": "wire_chunk", **where, "data": data})
        ending = capture.ending
        error = None if ending.state == "complete" else f"{ending.state}: {ending.message}"
        await self._write({"op": "wire_end", **where, "error": error})

    async def fetch(self, request: ClientRequest, send: Send) -> NodeFetchOutcome:
        """Run the user's fetch on one ChatKit request; its wire calls go through ``send``.

        A fetch that throws, times out or kills Node is an outcome (``outcome.error``), not an
        exception. After a timeout or an exit, Node is restarted for the next request.
        """
        total = getattr(getattr(send, "limits", None), "total_s", None)  # the wire's limit
        per_request = float(total) + 2 * _GRACE_S if total else self.timeout_s
        if self._spent_s >= self.session_s:
            return not_run(request, f"the fetch's time for this session ({self.session_s:g} s)")
        per_request = min(per_request, self.session_s - self._spent_s)
        started = time.monotonic()
        try:
            return await self._fetch(request, send, per_request)
        finally:
            self._spent_s += time.monotonic() - started

    async def _fetch(self, request: ClientRequest, send: Send, limit_s: float) -> NodeFetchOutcome:
        async with self._start_lock:
            restarted = self._proc is None or self._proc.returncode is not None
            if restarted:
                await self._kill()
                await self._start()
                self.restarts += 1
        self._next_id += 1
        rid = self._next_id
        pending = PendingFetch(request, send)
        self._pending[rid] = pending
        outcome = pending.outcome
        if restarted:
            outcome.notes.append("Node was restarted before this request: module state was lost")
        await self._write(
            {
                "op": "fetch",
                "id": rid,
                "url": request.url,
                "method": request.method,
                "headers": [(_as_chatkit_spells(k), v) for k, v in request.headers.items()],
                "body": base64.b64encode(request.body).decode() if request.body else None,
            }
        )
        try:
            await asyncio.wait_for(pending.done.wait(), limit_s)
        except TimeoutError:
            late = f"the fetch did not finish within {limit_s:g} s"
            outcome.thrown = FetchError("TimeoutError", late, phase="timeout")
            pending.frozen = True
            await self._write({"op": "abort", "id": rid, "reason": "timed out"})
            try:
                await asyncio.wait_for(pending.done.wait(), _GRACE_S)
            except TimeoutError:
                outcome.notes.append("Node did not respond to the abort: it was stopped")
                await self._kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.console_end.wait(), _GRACE_S)
        for task in list(pending.tasks):
            task.cancel()
        del self._pending[rid]
        return pending.finish()

    __call__ = fetch


def _as_chatkit_spells(name: str) -> str:
    """The header name as the UI iframe passes it to the fetch.

    Modelled: the iframe is closed. The report's fetch spreads ChatKit's headers and then sets
    ``'Content-Type'``, and its streams worked, so ChatKit must spell that one the same way
    (a lowercase key would have doubled the header, which FastAPI rejects).
    """
    return "Content-Type" if name.lower() == "content-type" else name
