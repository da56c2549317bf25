"""What the user sees and why, told from the UI timeline of a diagnosis's session.

The screens are *modelled* (the closed UI iframe's rendering, :func:`chatkit_lab.client.timeline`);
why no reply is drawn and why messages vanish is told from the finding or the host script's
verdict (*fact*) on the step behind the screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatkit_lab.checks import LAYERS, Finding
from chatkit_lab.client import (
    Departure,
    JsonReply,
    Lifecycle,
    Screen,
    Step,
    StreamOpen,
    Timeline,
    timeline,
)
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.report._points import Point, capital, lower_first, sentence

STREAM_LAYERS = ("framing", "decoding", "schema", "ordering", "rendering")


# -- what the user sees ----------------------------------------------------------------------


def screens_of(diagnosis: Diagnosis) -> Timeline:
    """The screens of the diagnosis's session model (the one every output renders)."""
    if diagnosis.session is not None:
        return diagnosis.session.screens
    life = diagnosis.lifecycle
    return timeline(life) if life is not None else Timeline()


def first_turn(screens: Timeline) -> list[tuple[int, Screen]]:
    """The numbered screens of the first send, up to (not including) the next send."""
    numbered = list(enumerate(screens.screens, start=1))
    turn: list[tuple[int, Screen]] = []
    for number, screen in numbered:
        if screen.moment == "after send" and turn:
            break
        turn.append((number, screen))
    return turn


def _has_reply(screen: Screen) -> bool:
    return any(item.role != "user" for item in screen.items)


def sees(
    screens: Timeline, turn: list[tuple[int, Screen]], departure: Departure | None = None
) -> Point | None:
    """What the user sees in the first turn; ``departure`` (the session model's first screen
    that departs from a working backend) is pointed at."""
    if not turn:
        return None
    parts: list[str] = []
    by_moment: dict[str, list[Screen]] = {}
    for _, screen in turn:
        by_moment.setdefault(screen.moment, []).append(screen)
    sent = by_moment.get("after send", [])
    if sent:
        mine = any(item.role == "user" for item in sent[0].items)
        dots = " and the loading dots" if sent[0].loading else ""
        parts.append(
            f"your message{dots} appear{'' if dots else 's'} on send"
            if mine
            else "nothing appears on send"
        )
    streaming = by_moment.get("while streaming", [])
    after = by_moment.get("after the stream", [])
    if streaming or after:
        during = any(_has_reply(screen) for screen in streaming)
        ended = any(_has_reply(screen) for screen in after)
        if during and (ended or not after):
            parts.append("the reply streams in")
        elif ended:
            parts.append("the reply appears only when the stream ends")
        elif during:
            parts.append("the reply shows while streaming and is gone after the stream")
        else:
            parts.append(
                "no reply appears while streaming or after the stream"
                if streaming
                else "no reply appears after the stream"
            )
    for screen in by_moment.get("after the send failed", [])[:1]:
        parts.append(f"the send fails with the error “{screen.error or 'unknown'}”")
    for screen in by_moment.get("after the thread load", [])[:1]:
        parts.append(_after_load(screen))
    last = turn[-1][0]
    pointers = [f"screens 1–{last}" if last > 1 else "screen 1"]
    loss = screens.first_loss
    text = capital("; ".join(parts)) + "."
    if loss is not None:
        number = screens.screens.index(loss) + 1
        if number > last:
            text += f" The first message is lost at screen {number} ({loss.moment})."
        pointers.append(f"first loss: screen {number}")
    if departure is not None:
        pointers.append(f"departs: screen {departure.screen}, {departure.kind}")
    return Point(text, tuple(pointers), "modelled")


def _after_load(screen: Screen) -> str:
    if screen.error:
        return f"after the thread load it shows the error “{screen.error}”"
    if not screen.items:
        gone = " (your message is gone)" if screen.lost else ""
        return f"after the thread load the screen is blank{gone}"
    count = len(screen.items)
    gone = f", {len(screen.lost)} earlier one(s) gone" if screen.lost else ""
    return f"after the thread load it shows {count} message(s){gone}"


# -- why no reply, why they vanish -----------------------------------------------------------


def _step(life: Lifecycle | None, name: str) -> Step | None:
    return life.step(name) if life is not None else None


def _on(diagnosis: Diagnosis, capture: str, layers: Sequence[str]) -> list[Finding]:
    """Errors found on one capture in ``layers``, lowest layer first."""
    found = [
        item
        for item in diagnosis.findings
        if item.evidence.capture == capture and item.layer in layers and item.severity == "error"
    ]
    return sorted(found, key=lambda item: LAYERS.index(item.layer))


def blank(diagnosis: Diagnosis, turn: list[tuple[int, Screen]]) -> Point | None:
    life = diagnosis.lifecycle
    if life is None:
        return _blank_without_session(diagnosis)
    for number, screen in turn:
        if screen.moment == "after the send failed":
            step = _step(life, screen.step)
            return _failed_send(diagnosis, life, step, number)
    after = [(n, s) for n, s in turn if s.moment == "after the stream"]
    if not after or _has_reply(after[-1][1]):
        return None
    number, screen = after[-1]
    causes = _on(diagnosis, screen.step, STREAM_LAYERS)
    pointers = [f"capture {screen.step}", f"screen {number}"]
    if not causes:
        return Point(
            f"The stream of {screen.step} ended without an assistant message the client model "
            "can draw.",
            tuple(pointers),
            "modelled",
        )
    first = causes[0]
    codes = list(dict.fromkeys(item.code for item in causes))
    pointers += [f"finding {code}" for code in codes[:3]]
    return Point(
        f"The reply stream reached ChatKit, but {lower_first(sentence(first.summary))}",
        tuple(pointers),
        "modelled" if first.layer == "rendering" else "fact",
    )


def _failed_send(
    diagnosis: Diagnosis, life: Lifecycle, step: Step | None, number: int
) -> Point | None:
    if step is None:
        return None
    network = step.network
    retried = [s for s in life.retries if s.client_type == step.client_type]
    reason = network.reason if isinstance(network, StreamOpen) else (step.fetch_error or "")
    text = f"ChatKit's host script gave up on {step.client_type}: {reason or 'it failed'}"
    if retried:
        text += f", after re-sending it {len(retried)} time(s)"
    causes = _on(diagnosis, step.capture.name, ("request", "transport"))
    pointers = [f"capture {step.capture.name}", f"screen {number}"]
    pointers += [f"finding {code}" for code in dict.fromkeys(item.code for item in causes)]
    return Point(sentence(text), tuple(pointers[:5]))


def _blank_without_session(diagnosis: Diagnosis) -> Point | None:
    """Loose captures: name the first stream the client model draws nothing from."""
    for name, analysis in diagnosis.analyses.items():
        if getattr(analysis, "renders_nothing", False):
            causes = _on(diagnosis, name, STREAM_LAYERS)
            if causes:
                return Point(
                    f"In {name}, {lower_first(sentence(causes[0].summary))}",
                    (f"capture {name}", f"finding {causes[0].code}"),
                    "modelled" if causes[0].layer == "rendering" else "fact",
                )
    return None


def vanish(diagnosis: Diagnosis, screens: Timeline) -> Point | None:
    loss = screens.first_loss
    life = diagnosis.lifecycle
    if loss is None or life is None:
        return None
    number = screens.screens.index(loss) + 1
    step = _step(life, loss.step)
    pointers = [f"screen {number}", f"capture {loss.step}"]
    if step is None or step.client_type != "threads.get_by_id":
        return Point(sentence(f"At {loss.moment}, {loss.fact}"), tuple(pointers))
    why = (
        "The custom fetch called setThreadId, so ChatKit loaded the thread"
        if life.thread_id_set_by_fetch
        else "ChatKit loaded the thread"
    )
    network = step.network
    if isinstance(network, JsonReply) and not network.ok:
        got = f"the load failed and the UI got the error “{network.error}”"
    elif isinstance(network, JsonReply) and not network.parsed:
        kind = step.capture.content_type or "no content type"
        got = (
            f"the reply was not JSON ({kind}), so the host script handed the UI {{}}: "
            "an empty thread replaced the screen"
        )
    else:
        got = "the thread it returned does not hold the messages on screen"
    if step.ran_a_turn:
        turns = len(life.turns_for_non_sends)
        got += f"; the load itself became a chat turn ({turns} request(s) that were not sends did)"
    codes = [item.code for item in _on(diagnosis, step.capture.name, LAYERS)]
    pointers += [f"finding {code}" for code in dict.fromkeys(codes)]
    return Point(f"{why}; {got}.", tuple(pointers[:5]))


__all__ = ["STREAM_LAYERS", "blank", "first_turn", "screens_of", "sees", "vanish"]
