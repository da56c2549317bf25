"""The recipes of ``docs/architecture.md`` work as written: a check, a scenario and a source are
each added in one place, and everything above them picks them up.

The test follows each recipe once, in a temporary copy of the package (for the check, which lives
in its layer's module) and a temporary module of its own (for the scenario, declared in
``tests/scenarios/test_toy_scenario.py``, and the source, each registered with one call), then
drives them through the public API in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")

TOY_CHECK = """

@check(
    code="transport.toy_header",
    layer="transport",
    severity="warning",
    description="The reply carries the toy header.",
    expectation="No reply carries an x-toy header.",
    fix="Drop the x-toy header.",
)
def toy_header(exchange: ExchangeContext) -> Iterator[Found]:
    if exchange.capture.header("x-toy") is not None:
        yield Found("the reply carries x-toy", Evidence(capture=exchange.capture.name))
"""

TOY_PLUGIN = '''
"""A scenario and a source, each declared in one place and registered with one call."""

from pathlib import Path

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.scenarios import register_scenario
from chatkit_lab.sources import FileSource, register_source
from test_toy_scenario import TOY  # the declaration: play, check, reply and fault in one value

SCENARIO = register_scenario(TOY)


class ToySource:
    """A ``.toy`` file: one line, the body of a reply to ``threads.list``."""

    name = "toy recording"

    def sniff(self, path: Path) -> bool:
        return path.suffix == ".toy"

    def read(self, path: Path, *, url_contains: str | None = None) -> FileSource:
        request = RequestRecord(
            "POST", "https://example.test/chatkit", [("content-type", "application/json")],
            b'{"type": "threads.list", "params": {}}',
        )
        capture = Capture(
            request=request,
            status=200,
            response_headers=[("content-type", "application/json"), ("x-toy", "1")],
        )
        capture.add_chunk(path.read_bytes(), 1_000)
        return FileSource(self.name, path, [capture])


SOURCE = register_source(ToySource())
'''

DRIVE = """
import asyncio, json, sys
from pathlib import Path

import chatkit_lab
import toy_plugin
from chatkit_lab.backends import faulty_app, reference_app
from chatkit_lab.checks import check_specs
from chatkit_lab.diagnosis import diagnose_captures, run_scenarios
from chatkit_lab.scenarios import resolve_scenarios
from chatkit_lab.sources import read_captures
from chatkit_lab.targets import open_app_target


async def grade(app):
    async with open_app_target(app, "/chatkit", name="toy") as target:
        conformance = await run_scenarios(target, resolve_scenarios("toy"))
    return conformance.result("toy").state


read = read_captures(Path(sys.argv[1]))
diagnosis = diagnose_captures(read.captures)
print(json.dumps({
    "package": chatkit_lab.__file__,
    "check": check_specs()["transport.toy_header"].layer,
    "source": read.kind,
    "codes": sorted({finding.code for finding in diagnosis.findings}),
    "reference": asyncio.run(grade(reference_app(store="memory"))),
    "faulty": asyncio.run(grade(faulty_app("toy", store="memory"))),
}))
"""


def test_the_architecture_page_gives_the_three_recipes() -> None:
    for heading in ("## How to add a check", "## How to add a scenario", "## How to add a source"):
        assert heading in ARCHITECTURE
    assert "register_scenario" in ARCHITECTURE and "register_source" in ARCHITECTURE


def test_a_check_scenario_and_source_added_as_the_recipes_say_are_picked_up(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(
        ROOT / "chatkit_lab", copy / "chatkit_lab", ignore=shutil.ignore_patterns("__pycache__")
    )
    # The check: one function with its declaration, in its layer's module.
    layer = copy / "chatkit_lab" / "checks" / "transport.py"
    layer.write_text(layer.read_text(encoding="utf-8") + TOY_CHECK, encoding="utf-8")
    # The scenario and the source: one module of their own, each registered with one call.
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "toy_plugin.py").write_text(textwrap.dedent(TOY_PLUGIN), encoding="utf-8")
    recording = tmp_path / "session.toy"
    recording.write_text('{"data": [], "has_more": false}', encoding="utf-8")

    paths = [copy, plugin, ROOT / "tests" / "scenarios"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in paths)}
    done = subprocess.run(
        [sys.executable, "-c", DRIVE, str(recording)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(copy)
    assert result["check"] == "transport"
    assert result["source"] == "toy recording"
    assert "transport.toy_header" in result["codes"]
    assert result["reference"] == "pass"
    assert result["faulty"] == "fail"
