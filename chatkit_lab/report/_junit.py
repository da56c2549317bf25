"""Conformance as JUnit XML, for CI: one test case per scenario, as h2spec writes its results.

A passing scenario is a plain test case; a failing one carries a ``<failure>`` whose message is
the verdict and whose text holds the verdict, the fix and every error finding; a skipped one a
``<skipped>`` with the reason (the backend does not offer it); a scenario that could not run an
``<error>``. Every text is redacted by the run's redactor and made visible (XML 1.0 cannot hold
control characters).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from chatkit_lab.diagnosis import Conformance
from chatkit_lab.report._inert import visible
from chatkit_lab.report._write import destination, write_text


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


__all__ = ["junit_xml", "write_junit"]
