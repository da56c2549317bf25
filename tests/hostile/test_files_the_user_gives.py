"""Files the user gives: HARs nested deep, out of time order or without ChatKit traffic, and
``--out`` pointing at an input, a symlink, or a place nothing can be written.

What must hold: a clear error with exit code 2 (bad input) or an honest diagnosis, no input
overwritten, nothing sent before ``--out`` is known to be writable, bounded time and memory.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from har_builder import har_entry, write_har
from hostile_cases import VALID
from hostile_servers import thread
from typer.testing import CliRunner

from chatkit_lab.cli import app
from chatkit_lab.sources import load_har, read_captures

ENDPOINT = "https://api.example.test/chatkit"
HELLO = {
    "type": "threads.create",
    "params": {"input": {"content": [{"type": "input_text", "text": "Hello"}]}},
}


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=80)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def turn(first: str, second: str) -> list[dict]:
    """A streamed turn, then a thread load that lost both items (a persistence fault)."""
    create = har_entry(first, ENDPOINT, HELLO, "text/event-stream", VALID.decode())
    load = har_entry(
        second,
        ENDPOINT,
        {"type": "threads.get_by_id", "params": {"thread_id": "thr_1"}},
        "application/json",
        json.dumps(thread()),
    )
    return [create, load]


@pytest.mark.parametrize(
    "times",
    [
        ("2026-01-01T10:00:01.000Z", "2026-01-01T10:00:05.000Z"),
        ("2026-01-01T15:00:01.000+05:00", "2026-01-01T10:00:05.000Z"),
        ("2026-01-01T10:00:01.000000Z", "2026-01-01T10:00:01.500000Z"),
    ],
    ids=["utc", "mixed-offsets", "half-a-second-apart"],
)
def test_a_har_written_newest_first_gives_the_same_verdict_as_in_time_order(
    tmp_path: Path, times: tuple[str, str]
) -> None:
    forward = write_har(tmp_path / "forward.har", turn(*times))
    backward = write_har(tmp_path / "backward.har", list(reversed(turn(*times))))
    code_forward, said_forward = run_cli("diagnose", str(forward))
    code_backward, said_backward = run_cli("diagnose", str(backward))
    assert code_forward == code_backward == 1
    assert "persistence" in said_backward
    imported = load_har(backward)
    assert [c.request_type for c in imported.captures] == ["threads.create", "threads.get_by_id"]
    assert any("not in time order" in str(problem) for problem in imported.problems)


def test_a_har_in_time_order_gets_no_note_about_order(tmp_path: Path) -> None:
    path = write_har(tmp_path / "ok.har", turn("2026-01-01T10:00:01Z", "2026-01-01T10:00:02Z"))
    assert not any("time order" in str(p) for p in load_har(path).problems)


@pytest.mark.parametrize(
    "entries",
    [
        [
            har_entry(
                "2026-01-01T10:00:00Z",
                "https://site.example/favicon.ico",
                None,
                "text/html",
                "<h1>Not found</h1>",
                status=404,
            )
        ],
        [
            har_entry(
                "2026-01-01T10:00:00Z",
                "https://site.example/api/user",
                {"id": 1},
                "application/json",
                '{"name": "x"}',
            )
        ],
        [har_entry("2026-01-01T10:00:00Z", "https://site.example/", None, "text/html", "<p>")] * 3,
    ],
    ids=["favicon-404", "another-json-api", "pages-only"],
)
def test_a_recording_without_chatkit_traffic_is_bad_input(tmp_path: Path, entries: list) -> None:
    path = write_har(tmp_path / "elsewhere.har", entries)
    for command in (["diagnose", str(path)], ["har", str(path)]):
        code, output = run_cli(*command)
        assert code == 2, output
        assert "no ChatKit traffic here" in output
        assert "Traceback" not in output


def test_a_capture_file_without_chatkit_traffic_is_bad_input(tmp_path: Path) -> None:
    from chatkit_lab import Capture
    from chatkit_lab.capture import RequestRecord

    capture = Capture(request=RequestRecord("GET", "https://site.example/favicon.ico"), status=404)
    saved = capture.save(tmp_path / "one.jsonl")
    with pytest.raises(Exception, match="no ChatKit traffic here"):
        read_captures(saved)


DEEP = {
    "arrays-in-an-entry": lambda n: (
        '{"log":{"version":"1.2","entries":[{"x":' + "[" * n + "]" * n + "}]}}"
    ),
    "objects-after-the-entries": lambda n: (
        '{"log":{"version":"1.2","entries":[],"y":' + '{"a":' * n + "1" + "}" * n + "}}"
    ),
    "before-the-entries": lambda n: (
        '{"log":{"version":"1.2","z":' + "[" * n + "]" * n + ',"entries":[]}}'
    ),
}


@pytest.mark.parametrize("name", list(DEEP))
def test_a_har_nested_two_million_levels_deep_is_refused_in_bounded_memory(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / f"{name}.har"
    path.write_text(DEEP[name](2_000_000))
    probe = (
        "import resource, sys\n"
        "from chatkit_lab.sources import load_har\n"
        "from chatkit_lab.errors import HarFormatError\n"
        "try:\n"
        f"    load_har({str(path)!r})\n"
        "    print('read')\n"
        "except HarFormatError as exc:\n"
        "    print('refused:', exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    limit = 2 * 1024**3

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, preexec_fn=cap
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said, peak_kb = done.stdout.splitlines()
    assert "nested too deeply" in said
    assert int(peak_kb) < 1024 * 1024, peak_kb


def test_a_har_a_few_hundred_levels_deep_is_still_read(tmp_path: Path) -> None:
    entry = har_entry("2026-01-01T10:00:00Z", ENDPOINT, HELLO, "text/event-stream", VALID.decode())
    entry["_initiator"] = json.loads("[" * 300 + "]" * 300)
    path = write_har(tmp_path / "ok.har", [entry])
    imported = load_har(path)
    assert len(imported.captures) == 1


# -- --out -------------------------------------------------------------------------------------


@pytest.fixture
def har(tmp_path: Path) -> Path:
    return write_har(tmp_path / "session.har", turn("2026-01-01T10:00:01Z", "2026-01-01T10:00:02Z"))


@pytest.mark.parametrize("command", ["diagnose", "har"])
def test_out_equal_to_the_har_being_read_is_refused_and_the_har_is_kept(
    har: Path, command: str
) -> None:
    before = har.read_bytes()
    code, output = run_cli(command, str(har), "--out", str(har))
    assert code == 2 and "would overwrite it" in output
    assert har.read_bytes() == before


def test_out_equal_to_the_input_through_another_spelling_is_refused(har: Path) -> None:
    before = har.read_bytes()
    other = har.parent / "." / ".." / har.parent.name / har.name
    code, output = run_cli("diagnose", str(har), "--out", str(other))
    assert code == 2, output
    link = har.parent / "link.md"
    link.symlink_to(har)
    code, output = run_cli("diagnose", str(har), "--out", str(link))
    assert code == 2, output
    assert har.read_bytes() == before


def test_out_equal_to_the_capture_file_being_read_is_refused(tmp_path: Path, har: Path) -> None:
    saved = load_har(har).save(tmp_path / "captures.jsonl")
    before = saved.read_bytes()
    code, output = run_cli("diagnose", str(saved), "--out", str(saved))
    assert code == 2, output
    assert saved.read_bytes() == before


def test_out_inside_the_recording_folder_being_read_is_refused(tmp_path: Path, har: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    saved = load_har(har).save(folder / "0001.jsonl")
    code, output = run_cli("diagnose", str(folder), "--out", str(folder / "0002.jsonl"))
    assert code == 2, output
    assert [p.name for p in folder.iterdir()] == [saved.name]


def test_out_equal_to_the_fetch_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    fetch = tmp_path / "fetch.mjs"
    fetch.write_text("export default fetch;\n")
    code, output = run_cli("diagnose", "reference", "--fetch", str(fetch), "--out", str(fetch))
    assert code == 2, output
    assert fetch.read_text() == "export default fetch;\n"


def test_a_symlink_at_out_is_kept_and_the_file_it_names_is_replaced(
    tmp_path: Path, har: Path
) -> None:
    real = tmp_path / "reports" / "real.md"
    real.parent.mkdir()
    real.write_text("old report\n")
    link = tmp_path / "latest.md"
    link.symlink_to(real)
    code, output = run_cli("diagnose", str(har), "--out", str(link))
    assert code == 1, output
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text().startswith("# ")
    assert [p.name for p in real.parent.iterdir() if p.name.endswith(".part")] == []


def test_an_out_that_cannot_be_written_is_refused_before_any_request(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, output = run_cli(
        "diagnose", "http://127.0.0.1:9/chatkit", "--out", str(blocker / "report.md")
    )
    assert code == 2, output
    assert "bad --out" in output
    assert "cannot reach" not in output  # nothing was sent


def test_an_out_in_a_folder_still_to_be_made_is_accepted(tmp_path: Path, har: Path) -> None:
    out = tmp_path / "new" / "deeper" / "report.md"
    code, output = run_cli("diagnose", str(har), "--out", str(out))
    assert code == 1, output
    assert out.is_file()


# -- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mebibytes", "coding"), [("2048", "gzip"), ("512", "deflate")], ids=["gzip-2gib", "deflate"]
)
def test_a_compression_bomb_on_a_thread_load_is_cut_at_the_size_bound_in_bounded_memory(
    mebibytes: str, coding: str
) -> None:
    """A thread load answering gigabytes of compressed JSON (a few MB on the wire): the kit
    keeps the first 32 MiB, says the limit was reached, and stays far below 2 GB."""
    probe = Path(__file__).with_name("bomb_probe.py")
    limit = 3 * 1024**3

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, probe.name, mebibytes, coding],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
        cwd=probe.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    codes, peak_kb = done.stdout.splitlines()[-2:]
    assert "transport.incomplete" in codes.split()
    assert int(peak_kb) < 1024 * 1024, f"peak {int(peak_kb) // 1024} MiB"


@pytest.mark.parametrize("other", ["thr_2", "THR_1", "thr_1 "], ids=["another", "case", "space"])
def test_a_thread_load_that_answers_another_thread_is_flagged(tmp_path: Path, other: str) -> None:
    from chatkit_lab.diagnosis import diagnose_captures

    create, load = turn("2026-01-01T10:00:01Z", "2026-01-01T10:00:02Z")
    answered = {**thread(), "id": other}
    load["response"]["content"]["text"] = json.dumps(answered)
    path = write_har(tmp_path / "other.har", [create, load])
    found = {f.code: f.summary for f in diagnose_captures(load_har(path).captures).findings}
    assert "persistence.load_other_thread" in found, found
    assert repr(other) in found["persistence.load_other_thread"]
