"""What the user sees, over time: the screens of one session, in order.

Each :class:`Screen` is a moment the report's team describes ("after send", "while streaming",
"after the stream", "after the thread load"). What reached ChatKit at that moment is *fact*: the
events the host script dispatched, the value it handed the UI for a load (``{}`` for a body that
did not parse), the error it raised. What the closed iframe draws from it is *modelled*: the
optimistic user message and the loading indicator on send, the items of the client model
(:mod:`chatkit_lab.client._model`), a loaded thread replacing what was on screen. Every screen
says which part is which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.client._model import ClientModel
from chatkit_lab.client._network import SOURCE, JsonReply, StreamOpen
from chatkit_lab.client._steps import SEND_TYPES, Lifecycle, Step

MODELLED = "modelled: what the closed UI iframe draws from it"


@dataclass(frozen=True)
class Shown:
    """One message on screen."""

    key: str
    """The item id, or ``optimistic:<n>`` for the message the UI shows before the server's."""
    role: str
    text: str
    pending: bool = False


@dataclass(frozen=True)
class Screen:
    """What the user sees at one moment."""

    moment: str
    step: str
    items: tuple[Shown, ...]
    loading: bool = False
    error: str | None = None
    fact: str = ""
    """What reached ChatKit (fact, from the host script's network layer and the capture)."""
    model: str = MODELLED
    lost: tuple[str, ...] = ()
    """Texts of messages on the previous screen that are gone from this one."""

    @property
    def messages(self) -> list[str]:
        return [f"{item.role}: {item.text}" for item in self.items]


@dataclass
class Timeline:
    """The screens of one session; :attr:`first_loss` is the first screen that loses a message."""

    screens: list[Screen] = field(default_factory=list)

    @property
    def first_loss(self) -> Screen | None:
        return next((screen for screen in self.screens if screen.lost), None)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per screen, for tables."""
        first = self.first_loss
        return [
            {
                "screen": number,
                "moment": screen.moment,
                "step": screen.step,
                "user sees": _describe(screen),
                "lost": "; ".join(screen.lost),
                "first loss": screen is first,
                "fact": screen.fact,
            }
            for number, screen in enumerate(self.screens, start=1)
        ]


def _describe(screen: Screen) -> str:
    parts = [f"{item.role}: {item.text or '(empty)'}" for item in screen.items]
    if screen.loading:
        parts.append("(loading dots)")
    if screen.error:
        parts.append(f"(error: {screen.error})")
    return " | ".join(parts) if parts else "(blank)"


def _input_text(step: Step) -> str:
    payload = step.client_request.json
    params = payload.get("params") if isinstance(payload, dict) else None
    content = (params or {}).get("input", {}).get("content", []) if isinstance(params, dict) else []
    return (
        "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if isinstance(content, list)
        else ""
    )


class _Screenplay:
    """Builds screens step by step, keeping what is on screen between them."""

    def __init__(self) -> None:
        self.shown: dict[str, Shown] = {}
        self.screens: list[Screen] = []
        self.optimistic = 0

    def snap(
        self, moment: str, step: Step, fact: str, *, loading: bool = False, error: str | None = None
    ) -> None:
        items = tuple(self.shown.values())
        before = {item.text for item in self.screens[-1].items} if self.screens else set()
        now = {item.text for item in items}
        lost = tuple(text for text in before if text and text not in now)
        self.screens.append(Screen(moment, step.name, items, loading, error, fact, lost=lost))

    def send(self, step: Step) -> None:
        """A send: the optimistic message and loading dots; on a retry only the stream."""
        if step.attempt == 0:
            self.optimistic += 1
            key = f"optimistic:{self.optimistic}"
            self.shown[key] = Shown(key, "user", _input_text(step), pending=True)
            self.snap("after send", step, f"ChatKit sent {step.client_type}", loading=True)
        key = f"optimistic:{self.optimistic}"
        network = step.network
        if not isinstance(network, StreamOpen) or network.verdict != "open":
            return
        events = step.seen_by_chatkit.events
        model = ClientModel()
        states = [model.apply(event) for event in events]
        if len(states) >= 2:
            self._merge(states[-2], key)
            self.snap(
                "while streaming",
                step,
                f"{SOURCE} dispatched {len(events) - 1} of {len(events)} events",
                loading=True,
            )
        final = states[-1] if states else None
        if final is not None:
            self._merge(final, key)
        shown = [n for n in (final.notices if final else ()) if not n.startswith("info:")]
        self.snap(
            "after the stream",
            step,
            f"the stream ended after {len(events)} events "
            f"({final.events_understood if final else 0} understood by the model)",
            error=shown[-1] if shown else None,
        )

    def failed_send(self, step: Step) -> None:
        network = step.network
        error = network.ui_error if isinstance(network, StreamOpen) else None
        error = error or step.fetch_error or "the request failed"
        self.snap(
            "after the send failed",
            step,
            f"{SOURCE} gave up on {step.client_type}: {network.reason if network else error}",
            error=error,
        )

    def _merge(self, state: Any, optimistic: str) -> None:
        server_user = False
        for item in state.visible_items:
            role = item.role or item.type
            if item.type == "user_message":
                server_user = True
            self.shown[item.id] = Shown(item.id, role, item.text, pending=item.streaming)
        if server_user:
            self.shown.pop(optimistic, None)

    def load(self, step: Step, why: str) -> None:
        network = step.network
        if isinstance(network, JsonReply) and not network.ok:
            self.shown = {}
            self.snap(
                "after the thread load",
                step,
                f"{why}; {SOURCE} raised an HttpError: {network.error}",
                error=network.error,
            )
            return
        value = step.ui_value
        items = value.get("items") if isinstance(value, dict) else None
        data = items.get("data") if isinstance(items, dict) else None
        self.shown = {}
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict) and item.get("type") in ("user_message", "assistant_message"):
                role = "user" if item["type"] == "user_message" else "assistant"
                key = str(item.get("id"))
                self.shown[key] = Shown(key, role, item_text(item))
        if isinstance(network, JsonReply) and not network.parsed:
            fact = f"{why}; the reply was not JSON, so {SOURCE} handed the UI {{}}"
        else:
            fact = f"{why}; the UI got a thread with {len(self.shown)} message(s)"
        self.snap("after the thread load", step, fact)


def item_text(item: dict[str, Any]) -> str:
    """The visible text of a thread item payload (message content parts joined)."""
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(
        part.get("text", "")
        for part in content
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def timeline(life: Lifecycle) -> Timeline:
    """The screens of a session: every send, its stream, and every thread load, in order."""
    play = _Screenplay()
    steps = [step for step in life.steps if not step.capture.cleanup]
    for index, step in enumerate(steps):
        later = steps[index + 1] if index + 1 < len(steps) else None
        if step.client_type in SEND_TYPES and step.expects == "stream":
            retried_next = later is not None and later.attempt > step.attempt
            play.send(step)
            network = step.network
            opened = isinstance(network, StreamOpen) and network.verdict == "open"
            if not opened and not retried_next:
                play.failed_send(step)
        elif step.client_type == "threads.get_by_id":
            why = (
                "the custom fetch called setThreadId, so ChatKit loaded the thread"
                if life.thread_id_set_by_fetch
                else "ChatKit loaded the thread"
            )
            play.load(step, why)
    return Timeline(play.screens)


__all__ = ["MODELLED", "Screen", "Shown", "Timeline", "timeline"]
