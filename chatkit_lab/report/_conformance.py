"""The conformance table in the terminal and in markdown: one row per scenario.

Each row says pass, fail (with the layer and the check) or skipped (with how the kit knew the
backend does not offer it). Under the table, each failing scenario gets its verdict and fix in
full; with several targets, :func:`conformance_markdown` puts them side by side first, so a team
compares its backend with the reference at a glance.

For CI, :func:`junit_xml` writes the same grades as JUnit XML, one test case per scenario, as
h2spec writes its results: a passing scenario is a plain test case; a failing one carries a
``<failure>`` whose message is the verdict and whose text holds the verdict, the fix and every
error finding; a skipped one a ``<skipped>`` with the reason; a scenario that could not run an
``<error>``. Every text is redacted by the run's redactor and made visible (XML 1.0 cannot hold
control characters).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chatkit_lab.diagnosis import Conformance
from chatkit_lab.report._inert import inert, md_table, visible
from chatkit_lab.report._tables import compare, table
from chatkit_lab.report._write import destination, write_text

MARK = {"pass": "PASS", "fail": "FAIL", "skip": "skip", "error": "ERROR", "not run": "not run"}


def conformance_lines(
    conformance: Conformance, *, verbose: bool = False, width: int = 80
) -> list[str]:
    """The terminal's conformance table: a headline, one row per scenario, then each failure's
    fix (every finding with ``verbose``), wrapped between words by ``rich``. Redacted; the
    command line makes it visible."""
    from rich.padding import Padding
    from rich.table import Table

    from chatkit_lab.report._terminal import labelled, paragraph, render

    scrub = conformance.redactor
    lines = paragraph(conformance.headline(), width)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for result in conformance.results:
        verdict = result.diagnosis.verdict if result.state == "fail" else None
        detail = f"{verdict.code}: {verdict.summary}" if verdict is not None else result.reason
        grid.add_row(result.name, MARK[result.state], scrub.redact_text(detail))
    if conformance.results:
        lines += render([Padding(grid, (0, 0, 0, 2))], width)
    failing = [r for r in conformance.results if r.state in ("fail", "error")]
    fixed: dict[str, str] = {}
    for result in failing:
        verdict = result.diagnosis.verdict
        lines.append("")
        lines += paragraph(f"{result.name}: {result.scenario.title}", width)
        pairs: list[tuple[str, str]] = []
        if verdict is not None:
            pairs.append(("  why", scrub.redact_text(verdict.summary)))
            if verdict.fix and verdict.fix in fixed:
                pairs.append(("  fix", f"the same as for {fixed[verdict.fix]}"))
            elif verdict.fix:
                fixed[verdict.fix] = result.name
                pairs.append(("  fix", verdict.fix))
        else:
            pairs.append(("  why", scrub.redact_text(result.reason)))
        if verbose:
            for finding in result.diagnosis.findings:
                text = f"{finding.code}: {finding.summary}"
                pairs.append((f"  {finding.severity}", scrub.redact_text(text)))
        lines += labelled(pairs, width, 9)
    skipped = [r for r in conformance.results if r.state == "skip"]
    if skipped and verbose:
        lines.append("")
        for result in skipped:
            lines += paragraph(f"{result.name} skipped: {scrub.redact_text(result.reason)}", width)
    return lines


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
        lines += [f"### {inert(conformance.target)}", "", inert(conformance.headline()), ""]
        lines += [*md_table(table(conformance)), ""]
        for result in conformance.results:
            if result.state == "pass":
                continue
            verdict = result.diagnosis.verdict if result.state == "fail" else None
            lines.append(f"- **{inert(result.name)}** ({result.state}): ")
            if verdict is not None:
                lines[-1] += inert(scrub.redact_text(verdict.summary))
                lines.append(f"  Fix: {inert(verdict.fix)}")
                if verdict.evidence.capture:
                    lines.append(f"  Evidence: capture {inert(verdict.evidence.capture)}")
            else:
                lines[-1] += inert(scrub.redact_text(result.reason))
                if result.evidence:
                    lines.append(f"  How the kit knew: capture {inert(result.evidence)}")
        lines.append("")
    return lines


def write_conformance_report(
    conformances: Sequence[Conformance], path: str | Path, *, title: str = "ChatKit conformance"
) -> Path:
    """Write the conformance report (whole or not at all); return its path."""
    target = destination(path)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {inert(title)}", "", f"_Generated by chatkit-lab on {stamp}._", ""]
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


def suite_markdown(suite: Suite) -> list[str]:
    """The report's conformance section: the reference's table, then each faulty variant's
    scenario, with the layer and the check that named its fault."""
    lines = conformance_markdown([suite.reference])
    if not suite.variants:
        return lines
    rows = []
    whys = []
    for conformance in suite.variants:
        for result in conformance.results:
            verdict = result.diagnosis.verdict if result.state == "fail" else None
            rows.append(
                {
                    "backend": conformance.target,
                    "scenario": result.name,
                    "state": result.state,
                    "check": verdict.code if verdict is not None else "",
                }
            )
            why = verdict.summary if verdict is not None else result.reason
            scrub = conformance.redactor.redact_text
            whys.append(
                f"- {inert(conformance.target, redact=scrub, code=True)}: "
                f"{inert(why, redact=scrub)}"
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
        "Why each one fails, in its own words:",
        "",
        *whys,
        "",
    ]
    return lines


def junit_xml(conformances: Sequence[Conformance] | Conformance) -> str:
    """The JUnit XML document (``<testsuites>``, one ``<testsuite>`` per target)."""
    if isinstance(conformances, Conformance):
        conformances = [conformances]
    root = ET.Element("testsuites", name="chatkit-lab conformance")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for conformance in conformances:
        scrub = conformance.redactor

        def clean(text: str, scrub=scrub) -> str:  # noqa: ANN001 - bound per suite
            return visible(scrub.redact_text(text), newlines=True)

        counts = conformance.counts()
        suite = ET.SubElement(
            root,
            "testsuite",
            name=clean(f"chatkit-lab conformance: {conformance.target}"),
            tests=str(len(conformance.results)),
            failures=str(counts.get("fail", 0)),
            errors=str(counts.get("error", 0)),
            skipped=str(counts.get("skip", 0)),
        )
        totals["tests"] += len(conformance.results)
        totals["failures"] += counts.get("fail", 0)
        totals["errors"] += counts.get("error", 0)
        totals["skipped"] += counts.get("skip", 0)
        for result in conformance.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=clean(f"chatkit-lab.{conformance.target}"),
                name=clean(f"{result.name}: {result.scenario.title}"),
            )
            if result.state == "fail":
                verdict = result.diagnosis.verdict
                message = (
                    f"first broken layer is {verdict.layer} ({verdict.code}): {verdict.summary}"
                    if verdict is not None
                    else result.reason
                )
                body = [f"Verdict: {message}"]
                if verdict is not None and verdict.fix:
                    body.append(f"Fix: {verdict.fix}")
                errors = [f for f in result.diagnosis.findings if f.severity == "error"]
                if errors:
                    body.append("Findings:")
                    body += [f"- {f.code}: {f.summary}" for f in errors[:50]]
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=clean(message),
                    type=verdict.code if verdict is not None else "fail",
                )
                failure.text = clean("\n".join(body))
            elif result.state == "skip":
                reason = result.reason
                if result.evidence:
                    reason += f" (evidence: {result.evidence})"
                ET.SubElement(case, "skipped", message=clean(reason))
            elif result.state == "error":
                error = ET.SubElement(case, "error", message=clean(result.reason))
                error.text = clean(result.reason)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = clean(result.reason)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(conformances: Sequence[Conformance] | Conformance, path: Path) -> Path:
    """Write :func:`junit_xml` to ``path`` (whole or not at all); the path written."""
    target = destination(path)
    write_text(target, junit_xml(conformances))
    return target
