"""A file source from an installed plugin: its ``chatkit_lab.plugins`` entry point calls
``registry.add_source(...)`` and ``chatkit-lab diagnose FILE`` reads that file's format."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = '''
"""A toy recording format: one ChatKit request envelope per file, answered by an empty list."""

from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.sources import FileSource


class ToySource:
    name = "toy recording"

    def sniff(self, path):
        return path.suffix == ".toy"

    def read(self, path, *, url_contains=None):
        request = RequestRecord("POST", "https://example.test/chatkit", [], path.read_bytes())
        capture = Capture(
            request=request,
            status=200,
            response_headers=[("content-type", "application/json")],
        )
        capture.add_chunk(b'{"data": [], "has_more": false, "after": null}', 1_000_000)
        return FileSource(self.name, path, [capture])


def register(registry):
    registry.add_source(ToySource())
'''


def _install_plugin(site: Path) -> None:
    """A package as pip leaves it: the module and its ``dist-info`` with the entry point."""
    site.mkdir()
    (site / "toy_chatkit_plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = site / "toy_chatkit_plugin-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: toy-chatkit-plugin\nVersion: 0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[chatkit_lab.plugins]\ntoy = toy_chatkit_plugin:register\n", encoding="utf-8"
    )


def test_an_installed_plugin_adds_a_source_the_command_line_reads(tmp_path: Path) -> None:
    _install_plugin(tmp_path / "site")
    recording = tmp_path / "session.toy"
    recording.write_text('{"type": "threads.list", "params": {}}', encoding="utf-8")
    paths = [str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chatkit_lab.cli", "diagnose", str(recording)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert f"read toy recording {recording}: 1 capture(s)" in done.stderr, done.stderr[-2000:]
    assert done.returncode in (0, 1), done.stderr[-2000:]
    # loading the plugins to read a file builds no backend: no app module is imported
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not {name for name in imported if name.startswith("chatkit_lab.backends.")} - {
        "chatkit_lab.backends._util",
        "chatkit_lab.backends.legacy_format",
    }
