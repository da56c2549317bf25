"""What a scenario is: a named sequence of client requests, and the checks that judge it.

A :class:`Scenario` is declared once, in its own module (``chatkit_lab/scenarios/<name>.py``):
its name, what it does in plain words, the request types it sends, the coroutine that plays it
(:attr:`Scenario.play`, given a :class:`Session`), and the module whose ``@check`` declarations
judge what the play recorded (:class:`ScenarioContext`). Every request goes through the
lifecycle runner, so through the client's fetch and the host script's rules, and every exchange
is judged by the same per-layer checks as the message lifecycle; the scenario's own checks add
what only that sequence can show (a reload after a stop, a retried answer, a resolved tool call).

A play that finds the backend does not offer what it exercises raises :class:`NotOffered` with
the reason and the evidence it read: the scenario is *skipped*, which is not a failure. A skip
needs positive evidence: a 404, 405 or 501 for the request type, or an error body that says the
feature is not supported (quoted in the reason); any other refusal stops the play as
:class:`CannotGoOn`, and the error findings of the exchange grade the scenario. A request that
gets no answer at all (the connection refused or reset) raises :class:`StoppedAnswering`: the
backend stopped answering after the request before it, and nothing later is run.

The declaration also holds, as plain data the kit's own backends read (the core never imports
them), what the reference backend answers to each prompt (:class:`Reply`) and the scenario's
faulty variant (:class:`Fault`): one declaration registers everything a scenario is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from chatkit_lab.capture import Capture
from chatkit_lab.checks import Evidence, item_text
from chatkit_lab.client import (
    JsonReply,
    Lifecycle,
    LifecycleRunner,
    Step,
    adopt_thread_id,
    envelope,
    user_input,
)
from chatkit_lab.sources import StopReading

__all__ = [
    "CannotGoOn",
    "Fault",
    "NotOffered",
    "Reply",
    "StoppedAnswering",
    "not_offered_evidence",
    "stopped_answering",
    "Scenario",
    "ScenarioContext",
    "Session",
    "done_items",
    "error_events",
    "item_text",
    "items_of",
]


class NotOffered(Exception):  # noqa: N818 - a typed outcome, not an error
    """The backend does not offer what the scenario exercises: the scenario is skipped."""

    def __init__(self, reason: str, *, evidence: str | None = None, refusal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence
        """The capture that showed it (``None`` when the kit knew it before sending)."""
        self.refusal = refusal
        """``True`` when the evidence is the backend refusing the request type (a 404, 405,
        501, or an error body saying so): that refusal's HTTP error is the skip, not a fault."""


class CannotGoOn(NotOffered):
    """A reply the scenario needs was refused without saying the feature is missing (a 400, a
    500, a reply that is not ChatKit's): the play stops there. Not a skip: the exchange's own
    findings (an HTTP error, a schema fault) grade the scenario, and with none it is an error."""


class StoppedAnswering(Exception):  # noqa: N818 - a typed outcome, not an error
    """A request got no answer at all (the connection refused or reset): the backend stopped
    answering, after the request before it; nothing later in the run can be judged."""

    def __init__(self, reason: str, *, evidence: str | None = None, after: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence
        self.after = after
        """The request before the one that got no answer (``None``: it was the run's first)."""


NOT_OFFERED_STATUSES = (404, 405, 501)
"""Statuses that say the endpoint does not serve the request type."""
NOT_OFFERED_WORDS = (
    "not supported",
    "unsupported",
    "not implemented",
    "notimplemented",
    "not available",
    "not enabled",
    "unknown request type",
    "no attachment store",
    "not configured",
)
"""Words of an error body that say the backend does not offer what was asked (lower case)."""
MAX_QUOTE = 160


def _quote(body: bytes) -> str:
    text = " ".join(body[:2000].decode("utf-8", "replace").split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "\u2026"


def not_offered_evidence(status: int | None, body: bytes) -> str | None:
    """Why a refused reply shows the backend does not offer the request (``None``: it does not
    show that). Positive evidence only: a 404, 405 or 501, or an error body saying so."""
    if status is None or status < 400:
        return None
    if status in NOT_OFFERED_STATUSES:
        quoted = _quote(body)
        return f"HTTP {status}" + (f": {quoted!r}" if quoted else "")
    lowered = body[:2000].decode("utf-8", "replace").lower()
    if any(word in lowered for word in NOT_OFFERED_WORDS):
        return f"HTTP {status}: {_quote(body)!r}"
    return None


def stopped_answering(capture: Capture) -> bool:
    """``True`` when the request got no answer at all: the connection was refused, reset or
    closed before a response head (the backend is down or crashed)."""
    if capture.status is not None:
        return False
    ending = capture.ending
    message = ending.message.lower()
    return ending.state == "reset" or (
        ending.state == "error"
        and ("cannot connect" in message or "closed the connection" in message)
    )


@dataclass(frozen=True)
class Reply:
    """What the kit's reference backend answers to one of a scenario's prompts: plain data.

    The reference backend looks the prompt up exactly (case, spacing and a final full stop
    aside) among the prompts the scenarios declare, and plays the reply declared for it; a real
    backend answers the same words its own way, and a ``--prompt`` override is sent as given.
    ``text`` may hold ``{answer}`` (how many responses the thread has had, this one included),
    ``{attachments}`` (a sentence naming the files the message carries) and ``{tool_output}``
    (what the client tool returned).
    """

    name: str
    """The scripted turn's name (``cancel``, ``error-retry``)."""
    text: str = ""
    """What the model says (empty: the backend's plain scripted reply). After a client
    ``tool``, the answer to the tool's output."""
    tool: str | None = None
    """A function tool of the reference the model calls first (``show_weather_card``,
    ``plan_trip``), or its client tool (``get_selected_text``), which ends the reply until the
    client sends the tool's output."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    pause_s: float = 0.0
    """Seconds between two text deltas: a slow reply, so that a stop lands half-way."""
    notice: tuple[str, str] | None = None
    """(title, message) of a ``notice`` event sent before the reply."""
    error: str | None = None
    """The message of an ``error`` event that ends the turn, in place of a reply."""
    allow_retry: bool = False
    """The ``error`` event's ``allow_retry``."""
    with_files: bool = False
    """Also the answer to any message that carries files and matches no prompt."""


@dataclass(frozen=True)
class Fault:
    """The scenario's faulty variant, the target ``faulty:<scenario>``: the reference backend with
    one bug that breaks this scenario alone, declared as data the backends build it from."""

    description: str
    """One line for the target list: the bug and what it breaks."""
    skips: tuple[str, ...] = ()
    """Store methods that do nothing (``delete_thread_item``)."""
    writes: Callable[[str, dict[str, Any]], list[dict[str, Any]]] | None = None
    """What the store really writes for ``add_thread_item`` or ``save_item``: given the method
    and the item (as JSON), the items written (none: the write is dropped)."""
    events: Callable[[dict[str, Any]], Any] | None = None
    """Each streamed event (a JSON object) in, the event, or a list of events, sent instead."""
    saved_as_streamed: bool = False
    """The store writes what the rewritten stream says (an item an ``add_thread_item`` writes
    goes through ``events`` as ``thread.item.done``, one ``save_item`` writes as
    ``thread.item.replaced``), as in a backend written that way: stream and store tell one
    story."""
    route: str = "reference"
    """``documented``: streams served the way the SDK's docs show, ``StreamingResponse(result)``,
    on a store whose calls await the event loop (an async driver)."""


@dataclass(frozen=True)
class Scenario:
    """One conformance scenario, declared in its own module."""

    name: str
    title: str
    """A few words for tables: ``Stop a reply half-way``."""
    description: str
    """What the client does and what a conforming backend does, in plain words."""
    requests: tuple[str, ...]
    """The ChatKit request types it sends."""
    play: Callable[[Session], Awaitable[None]]
    checks: str
    """The module whose ``@check`` declarations judge the play (usually the scenario's own)."""
    prompts: Mapping[str, str] = field(default_factory=dict)
    """The messages it sends, by role (a real backend may need other words: see ``--prompt``)."""
    judged_loads: tuple[str, ...] = ()
    """Load points (step name prefixes) the scenario's own checks judge: a stop or a retry
    changes what a load must show, so the stream-vs-reload diff skips them (it compares every
    other load point with what its thread had streamed)."""
    intended: tuple[str, ...] = ()
    """Codes the scenario provokes on purpose (the ``error`` events it asks for): not faults
    here, so they are left out of its grade (the facts still show what arrived)."""
    replies: Mapping[str, Reply] = field(default_factory=dict)
    """What the reference backend answers to each prompt, by role (a role without one gets the
    backend's plain scripted reply)."""
    faulty: Fault | None = None
    """Its faulty variant ``faulty:<name>`` (``None``: none)."""


@dataclass
class ScenarioContext:
    """What the scenario's checks read: the session's steps and the facts its play recorded."""

    scenario: str
    lifecycle: Lifecycle
    facts: dict[str, Any]

    @property
    def name(self) -> str:
        return self.scenario

    def step(self, name: str) -> Step | None:
        return self.lifecycle.step(name)

    def evidence(self, capture: str | None = None, **detail: Any) -> Evidence:
        """Evidence in ``capture``, else in the reload the play recorded (``reload_capture``)."""
        return Evidence(capture=capture or self.facts.get("reload_capture"), detail=detail)


class Session:
    """One run of one scenario: the runner, the lifecycle it fills, the facts the checks read."""

    def __init__(
        self,
        scenario: Scenario,
        runner: LifecycleRunner,
        *,
        prompts: Mapping[str, str] | None = None,
        upload_url: str | None = None,
        custom_fetch: bool = False,
        sync_action: bool = False,
        upload_type: str | None = None,
        before: str | None = None,
        met_errors: list[dict[str, Any]] | None = None,
        errors_upstream: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.runner = runner
        self.life = Lifecycle(runner.target)
        self.facts: dict[str, Any] = {}
        self.prompts = {**scenario.prompts, **(prompts or {})}
        self.upload_url = upload_url
        """Where ChatKit would upload files directly (``None``: not known for this target)."""
        self.custom_fetch = custom_fetch
        """``True`` when the requests go through the user's own fetch under Node."""
        self.sync_action = sync_action
        """Also send ``threads.sync_custom_action`` (ChatKit.js's host script does not)."""
        self.upload_type = upload_type
        """The MIME type to upload (``None``: plain text, or what the backend says it takes)."""
        self.before = before
        """The last request of the run before this session (to name when the backend stops
        answering at this session's first request)."""
        self.met_errors = list(met_errors or [])
        """The ``error`` events earlier scenarios of the run met (``scenario``, ``capture``,
        ``payload``): real failures, which the ``errors`` scenario judges too."""
        self.errors_upstream = errors_upstream
        """Where the ``errors`` scenario serves a failing model upstream (``None``: it asks for
        errors in plain words instead); the backend was started with its model pointed there."""
        self.held: dict[str, set[str]] = {}
        """The item ids each thread holds, as the client has them (streams and loads)."""

    def prompt(self, role: str) -> str:
        return self.prompts[role]

    @property
    def context(self) -> ScenarioContext:
        return ScenarioContext(self.scenario.name, self.life, self.facts)

    def not_offered(
        self, reason: str, step: Step | None = None, *, refusal: bool = False
    ) -> NoReturn:
        """Skip the scenario: the backend does not offer what it exercises."""
        evidence = step.capture.name if step is not None else None
        raise NotOffered(reason, evidence=evidence, refusal=refusal)

    # -- requests, through the client's fetch -----------------------------------------------

    async def send(
        self,
        name: str,
        kind: str,
        params: dict[str, Any],
        expects: str = "json",
        *,
        stop: StopReading | None = None,
    ) -> Step:
        """One ChatKit request as the client makes it (retries included); its last step.

        Each capture records the item ids its thread held before it (so a stream is judged with
        the thread's earlier streams); a request that got no answer raises
        :class:`StoppedAnswering`."""
        thread_id = params.get("thread_id")
        held = sorted(self.held.get(thread_id, ())) if isinstance(thread_id, str) else []
        count = len(self.life.steps)
        after = self.last_request()
        step = await self.runner.request(
            self.life, name, envelope(kind, params), expects, stop=stop
        )
        for made in self.life.steps[count:]:
            if held:
                made.capture.thread_items_before = held
        if stopped_answering(step.capture):
            raise StoppedAnswering(
                f"the backend stopped answering: {kind} got no response "
                f"({step.capture.ending.message or 'no response head'})"
                + (f"; the request before it was {after}" if after else ""),
                evidence=step.capture.name,
                after=after,
            )
        if isinstance(thread_id, str):
            self._hold(thread_id, step)
        return step

    def last_request(self) -> str | None:
        """The last request of the run so far, in words (``None`` before the first)."""
        steps = [*self.life.steps, *self.life.kit_steps]
        if not steps:
            return self.before
        last = max(steps, key=lambda s: s.capture.started_at)
        status = last.capture.status
        return f"{last.name} ({last.client_type}, answered {status or 'nothing'})"

    def _hold(self, thread_id: str, step: Step) -> None:
        held = self.held.setdefault(thread_id, set())
        for item in done_items(step.seen_by_chatkit, ("thread.item.added",)):
            if isinstance(item.get("id"), str):
                held.add(item["id"])

    async def create_thread(
        self,
        text: str,
        name: str = "send: threads.create",
        *,
        stop: StopReading | None = None,
    ) -> Step:
        """``threads.create`` with a message; the thread id the client adopts is in
        ``facts["thread_id"]`` (``None`` when the reply gave none)."""
        step = await self.send(
            name, "threads.create", {"input": user_input(text)}, "stream", stop=stop
        )
        thread_id, _ = adopt_thread_id(step.seen_by_chatkit)
        if step.network is not None and step.network.verdict != "open":
            thread_id = None
        if thread_id is not None:
            self._hold(thread_id, step)
            self.life.created_threads.append(thread_id)
            self.life.thread_id = self.life.thread_id or thread_id
        self.facts.setdefault("threads", []).append(thread_id)
        self.facts["thread_id"] = thread_id
        return step

    async def say(self, thread_id: str, text: str, name: str, **input_extra: Any) -> Step:
        """``threads.add_user_message`` with a text message (and ``input_extra``, such as
        ``attachments``)."""
        given = user_input(text) | input_extra
        return await self.send(
            name, "threads.add_user_message", {"thread_id": thread_id, "input": given}, "stream"
        )

    async def load(self, thread_id: str, prefix: str) -> list[dict[str, Any]]:
        """Load the thread as the client does; the items the UI then shows (oldest first)."""
        await self.runner.load(self.life, thread_id, prefix, page_size=100)
        step = self.life.step(f"{prefix}: items.list")
        items = items_of(step.ui_value if step is not None else None)
        if items is None:
            got = self.life.step(f"{prefix}: threads.get_by_id")
            value = got.ui_value if got is not None else None
            inner = value.get("items") if isinstance(value, dict) else None
            items = items_of(inner) or []
        self.held.setdefault(thread_id, set()).update(
            str(item["id"]) for item in items if isinstance(item.get("id"), str)
        )
        return items

    def capture_of(self, step_name: str) -> str | None:
        """The capture name of the step ``step_name`` (``None`` when there is no such step)."""
        step = self.life.step(step_name)
        return step.capture.name if step is not None else None

    def require_thread(self, step: Step) -> str:
        """The thread id the last ``threads.create`` gave, or skip: without one nothing follows
        (the message lifecycle scenario names that fault)."""
        thread_id = self.facts.get("thread_id")
        if not isinstance(thread_id, str):
            self.not_offered(
                "threads.create gave no thread id the client could adopt, so the scenario cannot "
                "go on (the messages scenario names why)",
                step,
            )
        return thread_id

    def require_ok(self, step: Step, what: str) -> Any:
        """The JSON value the UI got for ``step``; when the backend refused it, skip if the
        refusal says the feature is not offered (``what`` names it), else stop the play
        (:class:`CannotGoOn`: the exchange's own findings grade the scenario)."""
        network = step.network
        if isinstance(network, JsonReply) and network.ok:
            return network.value
        self.refused(step, what)

    def refused(self, step: Step, what: str) -> NoReturn:
        """Stop the play at a refused ``step``: a skip when the reply says the feature is not
        offered (quoted), else :class:`CannotGoOn`."""
        capture = step.capture
        said = not_offered_evidence(capture.status, capture.body)
        if said is not None:
            self.not_offered(f"{what}: {step.client_type} answered {said}", step, refusal=True)
        network = step.network
        if isinstance(network, JsonReply) and network.error:
            reason = network.error
        else:
            reason = capture.ending.message or _quote(capture.body) or "no reply"
        raise CannotGoOn(
            f"{step.client_type} answered {capture.status or 'nothing'} ({reason}), which does "
            "not say the feature is missing, so the scenario could not go on",
            evidence=capture.name,
        )


def error_events(life: Lifecycle, scenario: str) -> list[dict[str, Any]]:
    """The ``error`` events the streams of ``life`` carried, as :attr:`Session.met_errors`."""
    met: list[dict[str, Any]] = []
    for step in life.steps:
        for event in step.seen_by_chatkit.events:
            payload = event.payload
            if isinstance(payload, dict) and payload.get("type") == "error":
                met.append(
                    {
                        "scenario": scenario,
                        "capture": step.capture.name,
                        "event": event.index,
                        "payload": payload,
                    }
                )
    return met


def items_of(page: Any) -> list[dict[str, Any]] | None:
    """The item dicts of a ChatKit page (``{"data": [...]}``), or ``None`` when it is not one."""
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        return None
    return [item for item in page["data"] if isinstance(item, dict)]


def done_items(capture: Capture, also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The items a stream finished (``thread.item.done``, and ``thread.item.replaced``), in
    order; ``also`` adds other item events (``thread.item.added``)."""
    kinds = ("thread.item.done", "thread.item.replaced", *also)
    found: list[dict[str, Any]] = []
    for event in capture.events:
        payload = event.payload
        if (
            isinstance(payload, dict)
            and payload.get("type") in kinds
            and isinstance(payload.get("item"), dict)
        ):
            found.append(payload["item"])
    return found


# -- play steps several scenarios share: the items of one type a reply finished, the skip when
# the reply held none, and the reload whose items and capture the scenario's checks read.


def finished(step: Step, kind: str, also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The items of type ``kind`` the stream of ``step`` finished, in order (``also`` adds other
    item events, as :func:`done_items`)."""
    return [i for i in done_items(step.seen_by_chatkit, also) if i.get("type") == kind]


def require_items(
    session: Session, step: Step, items: list[dict[str, Any]], item: str, lacks: str
) -> None:
    """Skip the scenario when the reply to its ``ask`` prompt held no ``item`` (``lacks`` says
    what the backend then does not offer)."""
    if not items:
        session.not_offered(
            f"the reply held no {item} item: the backend {lacks}, or needs other words "
            f"(--prompt {session.scenario.name}.ask=...)",
            step,
        )


async def reload_thread(session: Session, thread_id: str, prefix: str) -> list[dict[str, Any]]:
    """Load the thread as the client does, for the checks: the items the UI shows go to
    ``facts["reload"]``, the ``items.list`` capture to ``facts["reload_capture"]``."""
    items = await session.load(thread_id, prefix)
    session.facts["reload"] = items
    session.facts["reload_capture"] = session.capture_of(f"{prefix}: items.list")
    return items
