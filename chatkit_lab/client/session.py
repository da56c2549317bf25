"""The session model: the ChatKit client as it runs through one whole session.

One :class:`SessionModel` is built once per run from its exchanges, whatever produced them (the
kit playing the client in process or against a URL, a HAR file, a proxy recording, saved
captures), and every verdict, story, screen and fix reads it. It holds three things, each
labelled fact or model:

- per exchange, what ChatKit.js's host script did with the reply (*fact*: the network layer's
  rules in :mod:`chatkit_lab.client._network`), whether a fetch or transform sat in the path,
  whether the request on the wire was still ChatKit's envelope, and whether the reply carried a
  new turn (:class:`Exchange`);
- the screens the user sees, in order, and the messages the UI holds across streams and loads
  (*modelled*: :mod:`chatkit_lab.client._timeline` over :mod:`chatkit_lab.client._model`);
- the first screen that departs from what a working backend gives (:class:`Departure`): the
  message shown on send; a reply drawn while it streams and kept after the stream; both kept
  after a load; no duplicates; an error the user can act on; the backend still answering.

A session whose screens show no reply after a send has a departure: such a run cannot pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.client._fetch import ClientRequest
from chatkit_lab.client._network import JsonReply, StreamOpen, json_reply, stream_open
from chatkit_lab.client._steps import (
    NOT_A_TURN,
    Lifecycle,
    Step,
    body_shape,
    carries_turn,
    path_of,
)
from chatkit_lab.client._timeline import Screen, Shown, Timeline, timeline
from chatkit_lab.client.protocol import KNOWN_TYPES, NON_STREAMING_TYPES, STREAMING_TYPES

__all__ = [
    "NOT_A_TURN",
    "Departure",
    "Exchange",
    "SessionModel",
    "build_session",
    "carries_turn",
    "lifecycle_of_captures",
]


def is_envelope(body: bytes) -> bool:
    """Whether a request body is ChatKit's envelope ``{type, params}`` with a known type."""
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(payload, dict) and payload.get("type") in KNOWN_TYPES


@dataclass(frozen=True)
class Exchange:
    """One request of the session and what became of it (fact)."""

    step: str
    """The step's name (the capture's name)."""
    client_type: str
    """What ChatKit asked for (empty when a recording shows no ChatKit envelope)."""
    on_the_wire: str
    """What reached the backend: ``METHOD /path type-or-body-shape``, or ``answered locally``."""
    status: int | None
    host_did: str
    """What ChatKit.js's host script did with the reply (fact)."""
    through_fetch: bool
    """A custom fetch or transform sat between ChatKit and the backend for this request."""
    rewritten: bool
    """The request on the wire is not the envelope ChatKit sent (or, from a recording, not a
    ChatKit envelope at all): something between ChatKit and the backend rewrote it."""
    carries_turn: bool
    """The reply carries a new turn (see :func:`carries_turn`)."""
    answered: bool
    """Some response arrived (``False``: refused, reset or timed out before any head)."""
    file: str = ""
    """The file this exchange's capture was saved in (empty until saved)."""


@dataclass(frozen=True)
class Departure:
    """The first screen where what the user sees departs from what a working backend gives."""

    screen: int
    """The screen's number (1-based)."""
    step: str
    """The step behind the screen."""
    kind: str
    """``message not shown``, ``no reply``, ``reply lost``, ``messages lost``, ``duplicate``,
    ``send failed``, ``load failed`` or ``stopped answering``."""
    sees: str
    """What the user sees there, against what a working backend gives (modelled)."""


@dataclass
class SessionModel:
    """The ChatKit client through one whole session: exchanges, screens, the first departure."""

    target: str
    lifecycle: Lifecycle
    exchanges: list[Exchange] = field(default_factory=list)
    screens: Timeline = field(default_factory=Timeline)
    fetch_in_path: bool = False
    """A custom fetch or transform was configured between ChatKit and the backend."""
    recorded: bool = False
    """Built from a recording (HAR, proxy, saved captures), not from the kit playing the client."""

    # -- reading it --------------------------------------------------------------------------

    def exchange(self, step: str) -> Exchange | None:
        return next((item for item in self.exchanges if item.step == step), None)

    @property
    def held(self) -> tuple[Shown, ...]:
        """What the UI holds at the end of the session (modelled)."""
        return self.screens.screens[-1].items if self.screens.screens else ()

    @property
    def sends(self) -> int:
        """Sends that opened a screen (first attempts only)."""
        return sum(1 for screen in self.screens.screens if screen.moment == "after send")

    @property
    def shows_reply(self) -> bool:
        """Some screen shows an assistant-side item."""
        return any(_has_reply(screen) for screen in self.screens.screens)

    @property
    def rewritten(self) -> list[Exchange]:
        return [item for item in self.exchanges if item.rewritten]

    @property
    def departure(self) -> Departure | None:
        """The first screen that departs from what a working backend gives (``None``: none)."""
        screens = self.screens.screens
        sends = 0
        for number, screen in enumerate(screens, start=1):
            found = self._departs(screen, number, screens, sends)
            if screen.moment == "after send":
                sends += 1
            if found is not None:
                return found
        return self._stopped_answering(len(screens))

    def _departs(
        self, screen: Screen, number: int, screens: list[Screen], sends: int
    ) -> Departure | None:
        def at(kind: str, sees: str) -> Departure:
            return Departure(number, screen.step, kind, sees)

        if screen.moment == "after send" and not any(i.role == "user" for i in screen.items):
            return at("message not shown", "the message the user sent is not on screen")
        if screen.moment == "after the send failed":
            return at("send failed", f"the send fails with “{screen.error or 'an error'}”")
        # an error event (or a warning notice) the UI shows is a reply the user can act on
        if screen.moment == "after the stream" and not screen.error:
            if not _has_reply(screen):
                during = _streaming_screen(screens, number)
                if during is not None and _has_reply(during):
                    return at("reply lost", "the reply drawn while streaming is gone after it")
                return at("no reply", "no reply is drawn while streaming or after the stream")
        if screen.lost:
            gone = "; ".join(text[:60] for text in screen.lost[:3])
            return at("messages lost", f"messages on screen before are gone: {gone}")
        if screen.moment == "after the thread load" and screen.error:
            return at("load failed", f"the thread load fails with “{screen.error}”")
        users = sum(1 for item in screen.items if item.role == "user")
        if users > max(sends, 1) and screen.moment == "after the thread load":
            return at(
                "duplicate",
                f"{users} user messages on screen after {max(sends, 1)} send(s): a duplicate",
            )
        return None

    def _stopped_answering(self, screens: int) -> Departure | None:
        """A request that got no response after earlier ones did: the backend stopped answering."""
        answered = False
        for item in self.exchanges:
            if item.answered:
                answered = True
            elif answered and item.host_did != "answered by the custom fetch":
                return Departure(
                    screens,
                    item.step,
                    "stopped answering",
                    f"the backend stopped answering at {item.step}",
                )
        return None

    def stopped_after(self) -> tuple[Exchange, Exchange] | None:
        """``(the last answered request, the first unanswered one after it)``, if any."""
        previous: Exchange | None = None
        for item in self.exchanges:
            if item.answered:
                previous = item
            elif previous is not None:
                return previous, item
        return None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per exchange, for tables."""
        return [
            {
                "step": item.step,
                "client sends": item.client_type or "(not a ChatKit envelope)",
                "on the wire": item.on_the_wire,
                "status": item.status,
                "host script did (fact)": item.host_did,
                "fetch in path": item.through_fetch,
                "rewritten": item.rewritten,
                "new turn": item.carries_turn,
                "file": item.file,
            }
            for item in self.exchanges
        ]

    def with_files(self, files: dict[str, str]) -> None:
        """Record the file each capture was saved in (capture name -> file)."""
        self.exchanges = [
            _replace_file(item, files.get(item.step, item.file)) for item in self.exchanges
        ]


def _replace_file(item: Exchange, file: str) -> Exchange:
    from dataclasses import replace

    return replace(item, file=file)


def _has_reply(screen: Screen) -> bool:
    return any(item.role != "user" for item in screen.items)


def _streaming_screen(screens: list[Screen], number: int) -> Screen | None:
    before = screens[number - 2] if number >= 2 else None
    return before if before is not None and before.moment == "while streaming" else None


# -- building it -----------------------------------------------------------------------------


def _host_did(step: Step) -> str:
    network = step.network
    if step.answered_locally:
        return "answered by the custom fetch"
    if step.fetch_error:
        return f"the custom fetch threw: {step.fetch_error}"
    if isinstance(network, StreamOpen):
        if network.verdict == "open":
            return f"opened the stream and dispatched {len(step.seen_by_chatkit.events)} events"
        return f"open check failed ({network.verdict}): {network.reason}"
    if isinstance(network, JsonReply):
        if not network.ok:
            return f"raised an HttpError: {network.error}"
        if not network.parsed:
            return "the reply is not JSON: handed the UI {}"
        return "handed the UI the JSON reply"
    return "nothing recorded"


def _exchange(step: Step, fetch_in_path: bool, recorded: bool) -> Exchange:
    capture = step.capture
    if step.answered_locally:
        wire = "answered locally"
    else:
        request = capture.request
        shape = capture.request_type or (body_shape(request.body) if request.body else "")
        wire = f"{request.method} {path_of(request.url)} {shape}".rstrip()
    if recorded:
        rewritten = (
            not step.answered_locally
            and capture.request.method == "POST"
            and bool(capture.request.body)
            and not is_envelope(capture.request.body)
        )
    else:
        rewritten = (
            step.wire_request is not None
            and not step.answered_locally
            and step.client_type in KNOWN_TYPES
            and capture.request_type != step.client_type
        )
    return Exchange(
        step=step.name,
        client_type=step.client_type,
        on_the_wire=wire,
        status=capture.status,
        host_did=_host_did(step),
        through_fetch=fetch_in_path,
        rewritten=rewritten,
        carries_turn=any(carries_turn(item) for item in (step.wire or [capture])),
        answered=step.answered_locally or capture.status is not None,
    )


def build_session(
    lifecycle: Lifecycle,
    *,
    fetch_in_path: bool = False,
    recorded: bool = False,
    target: str = "",
) -> SessionModel:
    """The session model of a finished lifecycle (the kit's own run, or one read from captures
    with :func:`lifecycle_of_captures`)."""
    steps = [step for step in lifecycle.steps if not step.capture.cleanup and not step.capture.kit]
    exchanges = [_exchange(step, fetch_in_path, recorded) for step in steps]
    return SessionModel(
        target=target or lifecycle.target,
        lifecycle=lifecycle,
        exchanges=exchanges,
        screens=timeline(lifecycle),
        fetch_in_path=fetch_in_path,
        recorded=recorded,
    )


def _expects(capture: Capture, kind: str) -> str:
    if kind in STREAMING_TYPES:
        return "stream"
    if kind in NON_STREAMING_TYPES:
        return "json"
    if capture.status is not None and capture.status < 300 and capture.is_event_stream:
        return "stream"
    return "json"


def recorded_step(capture: Capture, expects: str | None = None) -> Step:
    """A step for a recorded capture, judged by the host script's rules as the client would."""
    kind = capture.client_type or capture.request_type or ""
    request = ClientRequest(
        capture.request.method,
        capture.request.url,
        dict(capture.request.headers),
        capture.request.body,
    )
    wants = expects or _expects(capture, kind)
    step = Step(
        capture.name,
        kind,
        wants,
        request,
        capture,
        None,
        capture.answered_locally,
    )
    step.wire = [capture]
    if wants == "stream":
        step.network = stream_open(capture.status, capture.header("content-type"))
    else:
        step.network = json_reply(capture.status, capture.body)
    return step


def lifecycle_of_captures(captures: Iterable[Capture], target: str = "captures") -> Lifecycle:
    """A lifecycle read from recorded captures: one step per exchange, in recorded order."""
    return Lifecycle(target, [recorded_step(capture) for capture in captures])
