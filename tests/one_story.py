"""One story per run: what an answer must never say against another part of itself.

:func:`assert_one_story` reads a diagnosis the way a user reads its answer (the verdict, the
explanation, the screens of its session model) and fails on any contradiction:

- "Not the cause" never holds a layer whose fact caused a screen: the verdict's layer, a layer
  with an error, transport when ChatKit's host script refused a 2xx stream at its open check,
  request when the backend answered an HTTP error;
- the screens agree with the verdict: a session whose screens depart from a working backend
  (no reply after a send, a lost message, a failed send or load) fails; a passing run showed a
  reply; a verdict that says no reply was drawn sits on a stream whose screen shows none;
- claims only what was observed: "became a chat turn" only when a reply to a request that was
  not a send carried a new turn; "the custom fetch" only when a fetch or transform was in the
  path.
"""

from __future__ import annotations

import re

from chatkit_lab.checks import LAYERS
from chatkit_lab.client import SEND_TYPES
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.report import explain

NO_REPLY_CODES = ("rendering.nothing_rendered", "rendering.no_assistant_text")


def not_cause_layers(diagnosis: Diagnosis) -> set[str]:
    told = explain(diagnosis)
    if told.not_cause is None:
        return set()
    pointer = next(item for item in told.not_cause.evidence if item.startswith("layers "))
    return {name.strip() for name in pointer[len("layers ") :].split(",")}


def every_text(diagnosis: Diagnosis) -> str:
    told = explain(diagnosis)
    said = [point.text for _, point in told.points()]
    said += [finding.summary for finding in diagnosis.findings]
    said += [finding.fix for finding in diagnosis.findings]
    return "\n".join(said)


def assert_one_story(diagnosis: Diagnosis) -> None:
    name = diagnosis.target
    verdict = diagnosis.verdict
    session = diagnosis.session
    assert session is not None, f"{name}: no session model was built"
    cleared = not_cause_layers(diagnosis)

    # "Not the cause" never holds the cause.
    if verdict is not None:
        assert verdict.layer not in cleared, f"{name}: {verdict.layer} is both cause and not"
    failing = {f.layer for f in diagnosis.findings if f.severity == "error"}
    assert not (failing & cleared), f"{name}: {failing & cleared} fail and are 'not the cause'"
    for exchange in session.exchanges:
        refused = exchange.host_did.startswith("open check failed")
        if refused and exchange.status is not None and 200 <= exchange.status < 300:
            assert "transport" not in cleared, f"{name}: {exchange.step} refused, transport cleared"
            assert "transport" in failing, f"{name}: {exchange.step} refused, no transport error"
        if exchange.status is not None and exchange.status >= 400:
            assert "request" not in cleared, f"{name}: {exchange.step} HTTP error, request cleared"

    # The screens agree with the verdict.
    departure = session.departure
    if departure is not None:
        assert diagnosis.failed, f"{name}: screen {departure.screen} {departure.kind}, yet PASS"
    if verdict is None:
        assert departure is None, f"{name}: PASS with a departing screen"
        if session.sends:
            assert session.shows_reply, f"{name}: PASS, yet no screen shows a reply"
        sees = explain(diagnosis).sees
        assert sees is None or "no reply appears" not in sees.text, f"{name}: PASS, no reply"
    if verdict is not None and verdict.code in NO_REPLY_CODES:
        after = [
            screen
            for screen in session.screens.screens
            if screen.step == verdict.evidence.capture and screen.moment == "after the stream"
        ]
        for screen in after:
            assert not any(item.role != "user" for item in screen.items), (
                f"{name}: the verdict says no reply, the screen shows one"
            )
    if verdict is not None:
        assert verdict.layer in LAYERS

    # Claims only what was observed.
    text = every_text(diagnosis)
    if "became a chat turn" in text:
        turned = [
            item
            for item in session.exchanges
            if item.carries_turn and item.client_type not in SEND_TYPES
        ]
        assert turned, f"{name}: says a request became a chat turn; no reply carried one"
    if re.search(r"\bthe custom fetch\b", text, re.IGNORECASE):
        assert session.fetch_in_path, f"{name}: names the custom fetch, none was in the path"
