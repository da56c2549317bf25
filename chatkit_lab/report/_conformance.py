"""The conformance table in the terminal and in markdown: one row per scenario.

Each row says pass, fail (with the layer and the check) or skipped (with how the kit knew the
backend does not offer it). Under the table, each failing scenario gets its verdict and fix in
full; with several targets, :func:`conformance_markdown` puts them side by side first, so a team
compares its backend with the reference at a glance.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chatkit_lab.diagnosis import Conformance, compare
from chatkit_lab.redact import shorten
from chatkit_lab.report._inert import md_table, md_text, visible
from chatkit_lab.report._write import destination, write_text

__all__ = [
    "Suite",
    "conformance_lines",
    "conformance_markdown",
    "run_suite",
    "suite_markdown",
    "write_conformance_report",
]

MARK = {"pass": "PASS", "fail": "FAIL", "skip": "skip", "error": "ERROR", "not run": "not run"}


def conformance_lines(
    conformance: Conformance, *, verbose: bool = False, width: int = 80
) -> list[str]:
    """The terminal's conformance table: a headline, one row per scenario, then each failure's
    fix (every finding with ``verbose``). Redacted; the command line makes it visible."""
    scrub = conformance.redactor
    lines = [shorten(conformance.headline(), width)]
    name_w = max(len(r.name) for r in conformance.results) if conformance.results else 8
    for result in conformance.results:
        verdict = result.diagnosis.verdict if result.state == "fail" else None
        detail = f"{verdict.code}: {verdict.summary}" if verdict is not None else result.reason
        row = f"  {result.name:<{name_w}}  {MARK[result.state]:<5}  {scrub.redact_text(detail)}"
        lines.append(shorten(row, width))
    failing = [r for r in conformance.results if r.state in ("fail", "error")]
    fixed: dict[str, str] = {}
    for result in failing:
        verdict = result.diagnosis.verdict
        lines.append("")
        lines.append(shorten(f"{result.name}: {result.scenario.title}", width))
        if verdict is not None:
            lines += _wrapped(f"why: {scrub.redact_text(verdict.summary)}", width)
            if verdict.fix and verdict.fix in fixed:
                lines += _wrapped(f"fix: the same as for {fixed[verdict.fix]}", width)
            elif verdict.fix:
                fixed[verdict.fix] = result.name
                lines += _wrapped(f"fix: {verdict.fix}", width)
        else:
            lines += _wrapped(result.reason, width)
        if verbose:
            for finding in result.diagnosis.findings:
                text = f"{finding.severity} {finding.code}: {finding.summary}"
                lines.append(shorten(f"  - {scrub.redact_text(text)}", width))
    skipped = [r for r in conformance.results if r.state == "skip"]
    if skipped and verbose:
        lines.append("")
        for result in skipped:
            lines += _wrapped(f"{result.name} skipped: {scrub.redact_text(result.reason)}", width)
    return lines


def _wrapped(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ") or [""]


def conformance_markdown(conformances: Sequence[Conformance]) -> list[str]:
    """The conformance section as markdown lines (side-by-side table first when several)."""
    lines = ["## Conformance: every scenario, graded", ""]
    lines += [
        "Each scenario plays one part of the ChatKit protocol as the client does and grades the "
        "backend: **pass**, **fail** (the first failure on its path: layer and check), or "
        "**skip** (the backend does not offer it; the reason says how the kit knew). A skip is "
        "not a failure.",
        "",
    ]
    if len(conformances) > 1:
        lines += [*md_table(compare(list(conformances))), ""]
    for conformance in conformances:
        scrub = conformance.redactor
        lines += [f"### {md_text(conformance.target)}", "", md_text(conformance.headline()), ""]
        lines += [*md_table(conformance.table()), ""]
        for result in conformance.results:
            if result.state == "pass":
                continue
            verdict = result.diagnosis.verdict if result.state == "fail" else None
            lines.append(f"- **{md_text(result.name)}** ({result.state}): ")
            if verdict is not None:
                lines[-1] += md_text(scrub.redact_text(verdict.summary))
                lines.append(f"  Fix: {md_text(verdict.fix)}")
                if verdict.evidence.capture:
                    lines.append(f"  Evidence: capture {md_text(verdict.evidence.capture)}")
            else:
                lines[-1] += md_text(scrub.redact_text(result.reason))
                if result.evidence:
                    lines.append(f"  How the kit knew: capture {md_text(result.evidence)}")
        lines.append("")
    return lines


def write_conformance_report(
    conformances: Sequence[Conformance], path: str | Path, *, title: str = "ChatKit conformance"
) -> Path:
    """Write the conformance report (whole or not at all); return its path."""
    target = destination(path)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {md_text(title)}", "", f"_Generated by chatkit-lab on {stamp}._", ""]
    lines += conformance_markdown(conformances)
    text = "\n".join(lines)
    for conformance in conformances:
        text = conformance.redactor.redact_text(text)
    return write_text(target, visible(text, newlines=True))


@dataclass
class Suite:
    """The reference graded on every scenario, and each faulty variant on its own scenario."""

    reference: Conformance
    variants: list[Conformance] = field(default_factory=list)


async def run_suite(*, loopback: bool = False) -> Suite:
    """Grade ``reference`` on every scenario and each registered ``faulty:<scenario>`` on its
    own (the test suite runs each variant on every scenario, and checks it fails only its own)."""
    from chatkit_lab.diagnosis import diagnose_scenarios
    from chatkit_lab.scenarios import scenarios
    from chatkit_lab.targets import target_names

    reference = await diagnose_scenarios("reference", "all", loopback=loopback)
    known = set(target_names())
    variants = [
        await diagnose_scenarios(f"faulty:{name}", name, loopback=loopback)
        for name in scenarios()
        if f"faulty:{name}" in known
    ]
    return Suite(reference, variants)


def suite_markdown(suite: Suite) -> list[str]:
    """The report's conformance section: the reference's table, then each faulty variant's
    scenario, with the layer and the check that named its fault."""
    lines = conformance_markdown([suite.reference])
    if not suite.variants:
        return lines
    rows = []
    for conformance in suite.variants:
        for result in conformance.results:
            verdict = result.diagnosis.verdict if result.state == "fail" else None
            rows.append(
                {
                    "backend": conformance.target,
                    "scenario": result.name,
                    "state": result.state,
                    "layer": verdict.layer if verdict is not None else "",
                    "check": verdict.code if verdict is not None else "",
                    "why": conformance.redactor.redact_text(
                        verdict.summary if verdict is not None else result.reason
                    ),
                }
            )
    lines += [
        "### One faulty variant per scenario",
        "",
        "Each built-in `faulty:<scenario>` backend is the reference with one bug a custom "
        "backend really has; graded on its own scenario, it fails at the layer the bug is in "
        "(`chatkit-lab diagnose faulty:<scenario> --scenario all` shows it passes every other).",
        "",
        *md_table(rows),
        "",
    ]
    return lines

