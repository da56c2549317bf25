"""The terminal answer: details first, then the verdict, what the user sees and the fix at the end.

What the command line prints for one diagnosis, laid out by ``rich`` at a width (the terminal's,
or ``COLUMNS``) and, by default, within a height (a terminal screen less the command line and
the prompt): the findings by layer, the screens in words (*modelled*), why, and, at the end where
the eye lands, the verdict, what the user sees and the smallest fix, then how to see more.
When the whole does not fit, the least needed parts go first (the other explanations, then why,
then the findings by layer); ``verbose`` prints every part and every finding whole. Text is
wrapped between words, never cut. The command line redacts and makes it visible on the way out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import redactor_for
from chatkit_lab.report._explain import evidence_words, explain
from chatkit_lab.report._screens import picture, screens_strip

HEIGHT = 22
"""Lines the default answer may take: a 24-line terminal less the command line and the prompt."""
LABEL_W = 12

SHORT_LABELS = {
    "verdict": "Verdict",
    "sees": "You see",
    "why": "Why",
    "blank": "No reply",
    "vanish": "Vanishing",
    "not_cause": "Not the cause",
    "fix": "Fix",
    "without_fetch": "Without\nyour fetch",
}


def render(rows: Sequence[Any], width: int) -> list[str]:
    """``rich`` renderables as plain lines at ``width`` columns (wrapped between words)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=max(width, 30),
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        legacy_windows=False,
    )
    for row in rows:
        console.print(row, overflow="fold", crop=False)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def labelled(pairs: Sequence[tuple[str, str]], width: int, label_w: int = LABEL_W) -> list[str]:
    """``label  text`` rows: labels in a column, each text wrapped under itself."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=label_w, no_wrap=False)
    grid.add_column(ratio=1, overflow="fold")
    for label, text in pairs:
        grid.add_row(label, text)
    return render([grid], width)


def paragraph(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` between words."""
    from rich.text import Text

    return render([Text(text)], width)


def terminal_answer(
    diagnosis: Diagnosis,
    *,
    verbose: bool = False,
    width: int = 80,
    height: int | None = HEIGHT,
) -> list[str]:
    """The answer as lines: details, then the verdict, what the user sees and the fix, last."""
    told = explain(diagnosis)
    scrub = redactor_for(diagnosis)
    verdict = diagnosis.verdict
    label_w = LABEL_W if width >= 60 else 9

    def block(fields: Sequence[str], *, evidence: bool = False) -> list[str]:
        pairs = []
        for name in fields:
            point = getattr(told, name)
            if point is None:
                continue
            label = SHORT_LABELS[name] + ("\n(modelled)" if point.basis == "modelled" else "")
            pairs.append((label, str(point) if evidence else point.text))
        return labelled(pairs, width, label_w) if pairs else []

    # the end: always shown
    if verdict is None:
        head = f"{told.target} PASSES: {told.verdict.text}"
    else:
        where = _where(diagnosis, verdict)
        at = f", at {where}" if where else ""
        head = f"{told.target} FAILS: first broken layer is {verdict.layer} ({verdict.code}){at}."
    end = labelled([("Verdict", head)], width, label_w)
    end += block(("sees", "fix", "without_fetch"), evidence=verbose)
    threads = _threads(diagnosis, width)
    screens = _screens(diagnosis, scrub, width, label_w, every=verbose)
    findings = _findings(diagnosis, width, verbose=verbose, label_w=label_w)
    why = block(("why",), evidence=verbose)
    others = block(("blank", "vanish", "not_cause"), evidence=verbose)
    parts: dict[str, list[str]] = {
        "findings": findings,
        "others": others,
        "screens": screens,
        "why": why,
    }
    if not verbose and height is not None:
        more_room = height - len(end) - len(threads) - 1
        for name in ("others", "findings", "why", "screens"):
            if sum(len(lines) for lines in parts.values()) <= more_room:
                break
            if name == "findings":
                parts[name] = _findings_line(diagnosis, width)
            else:
                parts[name] = []
    lines: list[str] = []
    for name in ("findings", "screens", "why", "others"):
        lines += parts[name]
    lines += threads + end
    if not verbose:
        hidden = [name for name in ("others", "why") if not parts[name] and block_has(told, name)]
        extra = " and explanation" if hidden else ""
        lines += paragraph(
            f"More: -v for every finding{extra}, --out FILE.md for the report.", width
        )
    return lines


def block_has(told: Any, name: str) -> bool:
    fields = ("blank", "vanish", "not_cause") if name == "others" else (name,)
    return any(getattr(told, field) is not None for field in fields)


def _screens(diagnosis: Any, scrub: Any, width: int, label_w: int, *, every: bool) -> list[str]:
    from chatkit_lab.report._explain import screens_of

    shown = picture(screens_of(diagnosis), redact=scrub.redact_text, limit=None if every else 4)
    if not shown.panes:
        return []
    strip = " → ".join(screens_strip(shown))
    if shown.total > len(shown.panes):
        strip += f" (screens 1–{len(shown.panes)} of {shown.total})"
    return labelled([("Screens\n(modelled)", strip)], width, label_w)


def _findings(diagnosis: Any, width: int, *, verbose: bool, label_w: int) -> list[str]:
    findings = [f for f in diagnosis.findings if f.severity != "info" or verbose]
    if verbose:
        # A token a stream sent in two deltas is whole only across two findings' excerpts: the
        # redactor learns it from all of them, so neither excerpt shows its piece.
        every = "\n".join(f"{f.evidence.excerpt or ''} {f.evidence.detail}" for f in findings)
        scrub = redactor_for(diagnosis).learned(every).redact_text
        pairs = []
        for item in findings:
            described = evidence_words(item.evidence, scrub)
            excerpt = item.evidence.excerpt
            if excerpt:
                described += f"; it starts {scrub(' '.join(excerpt.split()))}"
            said = f"{item.code}: {scrub(item.summary)}" + (f"\n{described}" if described else "")
            pairs.append((item.severity, said))
        lines = ["Every finding:", *labelled(pairs, width, 8)] if pairs else []
        return lines + _layers_line(diagnosis, width)
    by_layer: dict[str, dict[str, list[Any]]] = {}
    for item in sorted(findings, key=lambda f: _layer_index(f.layer)):
        by_layer.setdefault(item.layer, {}).setdefault(item.code, []).append(item)
    if not by_layer:
        return _layers_line(diagnosis, width)
    pairs = []
    for layer, codes in by_layer.items():
        state = diagnosis.layers.get(layer, "")
        said = []
        for code, same in codes.items():
            count = sum(1 + len(f.evidence.detail.get("also_in", [])) for f in same)
            short = code.split(".", 1)[1] if code.startswith(layer + ".") else code
            severity = "" if same[0].severity == "error" else f" ({same[0].severity})"
            said.append(f"{short} ×{count}{severity}")
        pairs.append((f"{layer} {state}".strip(), ", ".join(said)))
    passing = [layer for layer, state in diagnosis.layers.items() if state == "pass"]
    if passing:
        pairs.append(("pass", ", ".join(passing)))
    skipped = [layer for layer, state in diagnosis.layers.items() if state == "skip"]
    if skipped:
        pairs.append(("not judged", ", ".join(skipped)))
    head = ["Findings by layer and code (× how many):"]
    return head + labelled(pairs, width, max(label_w + 4, 16))


def _layer_index(layer: str) -> int:
    from chatkit_lab.checks import LAYERS

    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def _findings_line(diagnosis: Any, width: int) -> list[str]:
    failing = [layer for layer, state in diagnosis.layers.items() if state == "fail"]
    codes = {f.code for f in diagnosis.findings if f.severity != "info"}
    if not failing:
        return _layers_line(diagnosis, width)
    return labelled(
        [("Findings", f"{len(codes)} codes; failing layers: {', '.join(failing)}")],
        width,
        LABEL_W if width >= 60 else 9,
    )


def _layers_line(diagnosis: Any, width: int) -> list[str]:
    layers = diagnosis.layers
    if not layers:
        return []
    if all(state == "pass" for state in layers.values()):
        said = f"all {len(layers)} pass: {', '.join(layers)}"
    else:
        said = ", ".join(f"{layer} {state}" for layer, state in layers.items())
    return labelled([("Layers", said)], width, LABEL_W if width >= 60 else 9)


def _threads(diagnosis: Any, width: int) -> list[str]:
    life = diagnosis.lifecycle
    if life is None or not life.created_threads or "://" not in diagnosis.target:
        return []
    created = list(dict.fromkeys(life.created_threads))
    kept = [t for t in created if t not in life.deleted_threads]
    lines = paragraph(f"Threads this run created in the target: {', '.join(created)}", width)
    if life.deleted_threads:
        shown = ", ".join(life.deleted_threads)
        lines += paragraph(f"  deleted again (a load confirmed it): {shown}", width)
    # a delete the load confirmed failed, or none was tried (--keep-threads): still there; a
    # delete whose checking load did not answer not-found cleanly: not confirmed either way
    unsure = [
        t
        for t in kept
        if any(repr(t) in n and "did not answer not-found cleanly" in n for n in life.notes)
    ]
    still = [t for t in kept if t not in unsure]
    if still:
        lines += paragraph(
            f"  still there, a load returns it (delete by hand): {', '.join(still)}", width
        )
    if unsure:
        lines += paragraph(
            f"  not confirmed deleted (no clean not-found on reload): {', '.join(unsure)}", width
        )
    return lines


def _where(diagnosis: Any, verdict: Any) -> str:
    order = diagnosis.step_order()
    position = order.get(verdict.evidence.capture or "")
    life = diagnosis.lifecycle
    if life is None or position is None or position >= len(life.steps):
        return ""
    return f"step {position + 1} ({life.steps[position].name})"


__all__ = ["HEIGHT", "labelled", "paragraph", "render", "terminal_answer"]
