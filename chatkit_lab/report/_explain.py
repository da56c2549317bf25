"""The answer in plain words: what the user sees, why, what is not the cause, and the fix.

:func:`explain` reads a diagnosis (its verdict, its layer states, the UI timeline of its session
and the lifecycle's facts) and says, in a sentence or two each (a :class:`Point`):

- what the user sees, screen by screen (*modelled*: the closed UI iframe's rendering, from
  :func:`chatkit_lab.client.timeline`);
- why: the verdict's cause (*fact*: the captures and what ChatKit.js's host script did with
  them);
- why no reply is drawn and why messages vanish, each from the finding or the host script's
  verdict on the step behind the screen;
- what is not the cause (the layers that pass);
- the smallest fix: the verdict check's fix text, whole.

Every sentence carries pointers to its evidence (a capture, a screen, a finding code), and a
finding's evidence reads as words (:func:`evidence_words`): never a Python ``repr``, a list
``a, b, c and 4 more``, a mapping ``key: value; key: value``. Nothing here is written per
target: the words come from the timeline, the findings and the checks' declarations. Text is
redacted and made :func:`~chatkit_lab.report._inert.visible` (no control characters), and holds
no markdown: the report escapes it, the terminal prints it as it is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
from chatkit_lab.redact import Redactor, redactor_for, shorten
from chatkit_lab.report._inert import visible

Basis = Literal["fact", "modelled"]


@dataclass(frozen=True)
class Point:
    """One plain sentence (or two) of the explanation, and where its evidence is."""

    text: str
    evidence: tuple[str, ...] = ()
    """Pointers: ``capture <name>``, ``screen <n>``, ``finding <code>``, ``layers ...``."""
    basis: Basis = "fact"

    @property
    def pointer(self) -> str:
        """The evidence as one short parenthesis-free phrase (``findings a, b; capture c``)."""
        groups: dict[str, list[str]] = {}
        for item in self.evidence:
            kind, _, name = item.partition(" ")
            groups.setdefault(kind if name else "", []).append(name or kind)
        parts = []
        for kind, names in groups.items():
            plural = kind + "s" if kind and len(names) > 1 and not kind.endswith("s") else kind
            parts.append(f"{plural} {', '.join(names)}".strip())
        return "; ".join(parts)

    def __str__(self) -> str:
        return f"{self.text} ({self.pointer})" if self.evidence else self.text


def pointers_of(item: Finding) -> tuple[str, ...]:
    out = [f"finding {item.code}"]
    if item.evidence.capture:
        out.append(f"capture {item.evidence.capture}")
    if item.evidence.event_index is not None:
        out.append(f"event {item.evidence.event_index}")
    return tuple(out)


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is a name (``HTTP``, ``ChatKit``)."""
    head = text.split(" ", 1)[0]
    if len(head) > 1 and any(ch.isupper() for ch in head[1:]):
        return text
    return text[:1].lower() + text[1:]


def join_words(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


LISTED = 3
"""Items of a list that are named (the rest are counted)."""
PAIRS = 4
"""Entries of a mapping that are named (the rest are counted)."""


def words_of(value: Any, limit: int | None = 160) -> str:
    """``value`` as a phrase: a list joined with "and N more", a mapping as ``k: v`` pairs;
    cut to ``limit`` characters (``None``: whole)."""
    inner = None if limit is None else 80
    if isinstance(value, Mapping):
        items = list(value.items())
        said = [f"{k}: {words_of(v, inner)}" for k, v in items[:PAIRS]]
        rest = len(items) - PAIRS
        text = "; ".join(said) + (f"; and {rest} more" if rest > 0 else "")
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        names = [words_of(item, inner) for item in value]
        text = ", ".join(names[:LISTED])
        if len(names) > LISTED:
            text += f" and {len(names) - LISTED} more"
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return text if limit is None else shorten(text, limit)


def _key(key: object) -> str:
    return str(key).replace("_", " ")


def evidence_words(
    evidence: Any, redact: Callable[[str], str] | None = None, *, limit: int | None = None
) -> str:
    """Where a finding was seen and what proves it, as phrases joined by ``;`` (each detail
    cut to ``limit`` characters; ``None``: whole)."""
    return "; ".join(evidence_parts(evidence, redact, limit=limit))


def evidence_parts(
    evidence: Any, redact: Callable[[str], str] | None = None, *, limit: int | None = None
) -> list[str]:
    """The phrases of :func:`evidence_words`: capture, event, frame, bytes, then the details."""
    scrub = redact or (lambda text: text)
    parts: list[str] = []
    if getattr(evidence, "capture", None):
        parts.append(f"capture {scrub(str(evidence.capture))}")
    if getattr(evidence, "event_index", None) is not None:
        parts.append(f"event {evidence.event_index}")
    if getattr(evidence, "frame_index", None) is not None and evidence.event_index is None:
        parts.append(f"frame {evidence.frame_index}")
    if getattr(evidence, "byte_range", None) is not None:
        parts.append(f"bytes {evidence.byte_range[0]}..{evidence.byte_range[1]}")
    for key, value in list((getattr(evidence, "detail", None) or {}).items())[:8]:
        parts.append(f"{_key(key)}: {scrub(words_of(value, limit))}")
    return parts


def passes(diagnosis: Diagnosis) -> str:
    """``every layer passes``, naming the layers that warn."""
    warned = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "warn"]
    return "every layer passes" + (f" (warnings in {', '.join(warned)})" if warned else "")


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


FACT = "fact: the captures, and what ChatKit.js's host script did with them"
MODELLED = "modelled: what the closed UI iframe draws"

PASSING = {
    "request": "every request reached the backend as ChatKit sent it",
    "transport": "every reply arrived whole with the content type its request needs",
    "framing": "ChatKit's parser dispatched every message",
    "decoding": "every event is a JSON object",
    "schema": "every event is a valid ChatKit event",
    "ordering": "the events come in an order ChatKit accepts",
    "rendering": "the client model draws every reply",
    "persistence": "the thread loads back as it was streamed",
}
"""What a passing layer rules out, in the words of its checks' expectations."""

LABELS: dict[str, str] = {
    "verdict": "Verdict",
    "sees": "What the user sees",
    "why": "Why",
    "blank": "Why no reply is drawn",
    "vanish": "Why the messages vanish",
    "not_cause": "Not the cause",
    "fix": "The smallest fix",
    "without_fetch": "Without your fetch",
}


@dataclass(frozen=True)
class Explanation:
    """The answer for one diagnosis, field by field (``None``: nothing to say)."""

    target: str
    verdict: Point
    sees: Point | None = None
    why: Point | None = None
    blank: Point | None = None
    vanish: Point | None = None
    not_cause: Point | None = None
    fix: Point | None = None
    without_fetch: Point | None = None

    def points(self, fields: Sequence[str] | None = None) -> list[tuple[str, Point]]:
        """``(label, point)`` for each field that has something to say, in reading order."""
        chosen = fields or tuple(LABELS)
        out = []
        for name in chosen:
            point = getattr(self, name)
            if point is not None:
                label = LABELS[name] + (" (modelled)" if point.basis == "modelled" else "")
                out.append((label, point))
        return out

    def lines(
        self, width: int = 80, *, fields: Sequence[str] | None = None, evidence: bool = True
    ) -> list[str]:
        """The explanation wrapped to ``width`` columns: each field one paragraph, label first.

        ``fields`` picks and orders fields (default: all); ``evidence=False`` leaves the
        pointers out. Continuation lines are indented by two spaces.
        """
        out: list[str] = []
        for label, point in self.points(fields):
            text = str(point) if evidence else point.text
            out += textwrap.wrap(
                f"{label}: {text}",
                width=max(width, 20),
                subsequent_indent="  ",
                break_on_hyphens=False,
            )
        return out


def explain(diagnosis: Diagnosis, redactor: Redactor | None = None) -> Explanation:
    """The plain-words answer for ``diagnosis`` (redacted, no control characters, no markdown)."""
    scrub = redactor or redactor_for(diagnosis)

    def say(point: Point | None) -> Point | None:
        if point is None:
            return None
        return Point(
            visible(scrub.redact_text(point.text)),
            tuple(visible(scrub.redact_text(_filed(item, diagnosis))) for item in point.evidence),
            point.basis,
        )

    screens = screens_of(diagnosis)
    verdict = diagnosis.verdict
    turn = first_turn(screens)
    no_reply = blank(diagnosis, turn)
    if no_reply is not None and verdict is not None and _same_evidence(no_reply, verdict):
        no_reply = None  # the verdict already says it
    return Explanation(
        target=visible(scrub.redact_text(diagnosis.target)),
        verdict=say(_verdict(diagnosis)) or Point(""),
        sees=say(sees(screens, turn, diagnosis.session.departure if diagnosis.session else None)),
        why=say(_why(verdict)),
        blank=say(no_reply),
        vanish=say(vanish(diagnosis, screens)),
        not_cause=say(_not_cause(diagnosis)),
        fix=say(_fix(verdict)),
        without_fetch=say(_without_fetch(diagnosis)),
    )


# -- the fields ------------------------------------------------------------------------------


def _filed(pointer: str, diagnosis: Diagnosis) -> str:
    """A pointer to a capture names the file it was saved in, when the run saved it."""
    if pointer.startswith("capture "):
        name = pointer[len("capture ") :]
        if name in diagnosis.saved:
            return f"{pointer} (file {diagnosis.saved[name]})"
    return pointer


def _without_fetch(diagnosis: Diagnosis) -> Point | None:
    """The counterfactual run: the same session with the fetch replaced by a pass-through."""
    other = diagnosis.counterfactual
    if other is None:
        return None
    return Point(capital(other.line()), ("run without the fetch",))


def _same_evidence(point: Point, verdict: Finding) -> bool:
    codes = [item for item in point.evidence if item.startswith("finding ")]
    return (
        bool(codes)
        and codes[0] == f"finding {verdict.code}"
        and (f"capture {verdict.evidence.capture}" in point.evidence)
    )


def _verdict(diagnosis: Diagnosis) -> Point:
    verdict = diagnosis.verdict
    if verdict is None:
        return Point(f"{passes(diagnosis)}.", ("layers",))
    return Point(
        f"the first broken layer is {verdict.layer} ({verdict.code}).",
        pointers_of(verdict),
        "modelled" if verdict.layer == "rendering" else "fact",
    )


def _why(verdict: Finding | None) -> Point | None:
    if verdict is None:
        return None
    return Point(
        sentence(verdict.summary),
        pointers_of(verdict),
        "modelled" if verdict.layer == "rendering" else "fact",
    )


def _fix(verdict: Finding | None) -> Point | None:
    if verdict is None or not verdict.fix:
        return None
    return Point(verdict.fix, (f"check {verdict.code}",))


def _not_cause(diagnosis: Diagnosis) -> Point | None:
    passing = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "pass"]
    if not passing or diagnosis.verdict is None:
        return None
    said = [f"{layer} ({PASSING[layer]})" for layer in passing[:3] if layer in PASSING]
    rest = passing[3:]
    text = f"{join_words(said)} {'passes' if len(passing) == 1 else 'pass'}"
    if rest:
        text += f"; so {'does' if len(rest) == 1 else 'do'} {join_words(rest)}"
    skipped = [layer for layer in LAYERS if diagnosis.layers.get(layer, "skip") == "skip"]
    if skipped:
        text += f"; not judged: {', '.join(skipped)}"
    return Point(capital(text) + ".", ("layers " + ", ".join(passing),))
