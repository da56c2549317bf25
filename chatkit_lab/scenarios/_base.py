"""What a scenario is: a named sequence of client requests, and the checks that judge it.

A :class:`Scenario` is declared once, in its own module (``chatkit_lab/scenarios/<name>.py``):
its name, what it does in plain words, the request types it sends, the coroutine that plays it
(:attr:`Scenario.play`, given a :class:`Session`), and the module whose ``@check`` declarations
judge what the play recorded (:class:`ScenarioContext`). Every request goes through the
lifecycle runner, so through the client's fetch and the host script's rules, and every exchange
is judged by the same per-layer checks as the message lifecycle; the scenario's own checks add
what only that sequence can show (a reload after a stop, a retried answer, a resolved tool call).

A play that finds the backend does not offer what it exercises raises :class:`NotOffered` with
the reason and the evidence it read: the scenario is *skipped*, which is not a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from chatkit_lab.capture import Capture
from chatkit_lab.checks import item_text
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
    "NotOffered",
    "Scenario",
    "ScenarioContext",
    "Session",
    "done_items",
    "item_text",
    "items_of",
]


class NotOffered(Exception):  # noqa: N818 - a typed outcome, not an error
    """The backend does not offer what the scenario exercises: the scenario is skipped."""

    def __init__(self, reason: str, *, evidence: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence
        """The capture that showed it (``None`` when the kit knew it before sending)."""


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

    def prompt(self, role: str) -> str:
        return self.prompts[role]

    @property
    def context(self) -> ScenarioContext:
        return ScenarioContext(self.scenario.name, self.life, self.facts)

    def not_offered(self, reason: str, step: Step | None = None) -> NoReturn:
        """Skip the scenario: the backend does not offer what it exercises."""
        raise NotOffered(reason, evidence=step.capture.name if step is not None else None)

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
        """One ChatKit request as the client makes it (retries included); its last step."""
        return await self.runner.request(
            self.life, name, envelope(kind, params), expects, stop=stop
        )

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
        """The JSON value the UI got for ``step``, or skip when the backend refused it."""
        network = step.network
        if isinstance(network, JsonReply) and network.ok:
            return network.value
        status = step.capture.status
        if isinstance(network, JsonReply) and network.error:
            reason = network.error
        else:
            reason = step.capture.ending.message or "no reply"
        self.not_offered(
            f"{what}: {step.client_type} answered {status or 'nothing'} ({reason})", step
        )


def items_of(page: Any) -> list[dict[str, Any]] | None:
    """The item dicts of a ChatKit page (``{"data": [...]}``), or ``None`` when it is not one."""
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        return None
    return [item for item in page["data"] if isinstance(item, dict)]


def done_items(capture: Capture) -> list[dict[str, Any]]:
    """The items a stream finished (``thread.item.done``), in order."""
    found: list[dict[str, Any]] = []
    for event in capture.events:
        payload = event.payload
        if (
            isinstance(payload, dict)
            and payload.get("type") == "thread.item.done"
            and isinstance(payload.get("item"), dict)
        ):
            found.append(payload["item"])
    return found
