"""The terminal answer: the verdict and the plain explanation first, then one line per code.

What the command line prints for one diagnosis, fitted to a width (80 columns by default): the
verdict line, what the user sees, why, and the smallest fix within the first lines, then the
other explanations, one line per finding code with its count, and the layer states. The
command line makes it visible and redacted on the way out.
"""

from __future__ import annotations

import textwrap
from typing import Any

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import shorten
from chatkit_lab.report._explain import explain


def terminal_answer(diagnosis: Diagnosis, *, verbose: bool = False, width: int = 80) -> list[str]:
    """The verdict and the plain explanation first, then one line per finding code."""
    lines: list[str] = []
    verdict = diagnosis.verdict
    if verdict is None:
        lines.append(_fit(width, f"{diagnosis.target}: PASS, every layer passes"))
    else:
        head = f"{diagnosis.target}: FAIL, first broken layer is {verdict.layer} ({verdict.code})"
        lines.append(_fit(width, head))
        where = _where(diagnosis, verdict)
        if where:
            lines.append(_fit(width, f"  on the user's path at {where}"))
    told = explain(diagnosis)
    first = told.lines(width, fields=("sees", "why", "fix"))
    if len(first) > 10:
        first = told.lines(width, fields=("sees", "why", "fix"), evidence=False)
    lines += first
    lines += told.lines(
        width, fields=("vanish", "blank", "not_cause", "without_fetch"), evidence=False
    )
    lines.append("")
    findings = [f for f in diagnosis.findings if f.severity != "info" or verbose]
    if findings:
        lines.append(
            "Every finding:" if verbose else "Findings (one line per code; -v lists every finding):"
        )
    if verbose:
        for item in findings:
            lines.append(_fit(width, f"  {item.severity:<7} {item.code}: {item.summary}"))
            if item.evidence.describe():
                lines.append(_fit(width, f"          {item.evidence.describe()}"))
    else:
        counts: dict[str, list[Any]] = {}
        for item in findings:
            counts.setdefault(item.code, []).append(item)
        for code, same in counts.items():
            # folded findings (one per custom-fetch rewrite) list the other exchanges in also_in
            count = sum(1 + len(f.evidence.detail.get("also_in", [])) for f in same)
            head = f"  {same[0].severity:<7} {code} x{count}: "
            lines.append(head + shorten(same[0].summary, max(10, width - len(head))))
    states = " ".join(f"{layer}={state}" for layer, state in diagnosis.layers.items())
    lines += textwrap.wrap(f"Layers: {states}", width, subsequent_indent="  ")
    life = diagnosis.lifecycle
    if life is not None and life.created_threads and not _is_builtin(diagnosis):
        created = list(dict.fromkeys(life.created_threads))
        kept = [t for t in created if t not in life.deleted_threads]
        lines.append(_fit(width, f"Threads this run created in the target: {', '.join(created)}"))
        if life.deleted_threads:
            shown = ", ".join(life.deleted_threads)
            lines.append(_fit(width, f"  deleted again (a load confirmed it): {shown}"))
        if kept:
            lines.append(_fit(width, f"  still there (delete by hand): {', '.join(kept)}"))
    return lines


def _is_builtin(diagnosis: Any) -> bool:
    return "://" not in diagnosis.target


def _where(diagnosis: Any, verdict: Any) -> str:
    order = diagnosis.step_order()
    position = order.get(verdict.evidence.capture or "")
    life = diagnosis.lifecycle
    if life is None or position is None or position >= len(life.steps):
        return ""
    return f"step {position + 1} ({life.steps[position].name})"


def _fit(width: int, text: str) -> str:
    return shorten(text, width)
