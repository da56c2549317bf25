"""The answer in plain words: what the user sees, why, what is not the cause, and the fix.

:func:`explain` reads a diagnosis (its verdict, its layer states, the UI timeline of its session
and the lifecycle's facts) and says, in a sentence or two each:

- what the user sees, screen by screen (*modelled*: the closed UI iframe's rendering, from
  :func:`chatkit_lab.client.timeline`);
- why: the verdict's cause (*fact*: the captures and what ChatKit.js's host script did with
  them);
- why no reply is drawn and why messages vanish, each from the finding or the host script's
  verdict on the step behind it (:mod:`chatkit_lab.report._story`);
- what is not the cause (the layers that pass);
- the smallest fix: the verdict check's fix text, whole.

Every sentence carries pointers to its evidence (a capture, a screen, a finding code). Nothing
here is written per target: the words come from the timeline, the findings and the checks'
declarations. Text is redacted and made :func:`~chatkit_lab.report._inert.visible` (no control
characters), and holds no markdown: the report escapes it, the terminal prints it as it is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from chatkit_lab.checks import LAYERS, Finding
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor
from chatkit_lab.report._inert import visible
from chatkit_lab.report._points import Point, capital, join_words, pointers_of, sentence
from chatkit_lab.report._story import blank, first_turn, screens_of, sees, vanish
from chatkit_lab.report._tables import redactor_for

FACT = "fact: the captures, and what ChatKit.js's host script did with them"
MODELLED = "modelled: what the closed UI iframe draws"

PASSING = {
    "request": "every request reached the backend as ChatKit sent it",
    "transport": "every reply arrived whole with the content type its request needs",
    "framing": "every frame was dispatched",
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
        warned = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "warn"]
        extra = f" (warnings in {', '.join(warned)})" if warned else ""
        return Point(f"every layer passes{extra}.", ("layers",))
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


__all__ = ["FACT", "LABELS", "MODELLED", "Explanation", "Point", "explain", "screens_of"]
