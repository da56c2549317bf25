"""What the Node runner reports for one request: the outcome types and their builder.

Kept apart from :mod:`chatkit_lab.client._node_fetch` (the process and its protocol) so each
stays small. The outcome extends the client's :class:`~chatkit_lab.client._fetch.FetchOutcome`
with what only a fetch run under Node can tell: where the reply came from, the JavaScript
error with its stack, and when each control call happened.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.client._fetch import ControlCall, FetchOutcome, Send
from chatkit_lab.client._transform import ClientRequest
from chatkit_lab.errors import TransformError
from chatkit_lab.redact import redact_obj, redact_text

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
        capture.meta.update(reply_origin=origin, answered_locally=origin == "local")
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
