"""Credentials the user gave never leak, in any form: each is planted, run through a path, and
searched for (whole and in 8-character pieces) in every written file and on the terminal.

The backend (``credential_backend``) reflects what it is sent, decoded and bare, where no secret
name points at it; the HARs and event streams that carry planted secrets come from
``credential_inputs``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from credential_backend import (
    SERVER_SESSION,
    leaks,
    leaks_in_files,
    reflecting_backend,
    written,
)
from credential_inputs import (
    BASIC,
    BASIC_PASSWORD,
    BASIC_USER,
    BEARER,
    COOKIE_A,
    COOKIE_B,
    HAR_SECRETS,
    PREFIXED_TOKENS,
    envelope,
    har_file,
    split_reply,
    stream_capture,
)
from hostile_servers import valid_events
from typer.testing import CliRunner

from chatkit_lab import (
    Capture,
    LoopbackServer,
    RecordingProxy,
    Redactor,
    analyze_capture,
    diagnose_captures,
    load_har,
    report_markdown,
)
from chatkit_lab.capture import save_captures
from chatkit_lab.cli import app as cli_app
from chatkit_lab.redact import (
    MAX_SECRETS,
    clear_registered_secrets,
    current_redactor,
    header_secrets,
    redact_url,
    redacting,
    url_secrets,
)
from chatkit_lab.report import findings_table, table


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    """A HAR import registers its credentials in the context: no test sees another's."""
    clear_registered_secrets()
    yield
    clear_registered_secrets()


def _cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output + (result.stderr or "")


def _outputs(capture: Capture, root: Path, redactor: Redactor | None = None) -> dict[str, str]:
    """Everything the kit writes or prints about one capture: file, report, JSON, tables."""
    capture.save(root / "capture.jsonl", redactor=redactor)
    diagnosis = diagnose_captures([capture], target=capture.request.url)
    if redactor is not None:
        diagnosis.redactor = redactor
    report_markdown([diagnosis], root / "report.md")
    shown = {
        "json": json.dumps(diagnosis.to_json()),
        "headline": diagnosis.headline(),
        "findings": findings_table(diagnosis).to_string(),
        "layers": table(diagnosis).to_string(),
    }
    return shown | written(root)


# -- header_secrets / url_secrets: every form is registered ------------------------------------


def test_header_secrets_gives_each_cookie_value_and_the_decoded_basic_credential() -> None:
    found = header_secrets(
        [
            ("Cookie", f"a={COOKIE_A}; b={COOKIE_B}; theme=dark"),
            ("Authorization", f"Basic {BASIC}"),
            ("Set-Cookie", f"sid={SERVER_SESSION}; Path=/; HttpOnly"),
            ("Accept", "text/event-stream"),
        ]
    )
    for value in (COOKIE_A, COOKIE_B, BASIC, f"{BASIC_USER}:{BASIC_PASSWORD}", BASIC_PASSWORD):
        assert value in found
    assert SERVER_SESSION in found
    assert "Path=/" not in found and "text/event-stream" not in found


def test_url_secrets_gives_the_userinfo_password_and_the_basic_credential_sent_for_it() -> None:
    url = f"https://{BASIC_USER}:{BASIC_PASSWORD}@staging.example/chatkit?access_token={BEARER}"
    found = url_secrets(url)
    for value in (BASIC_PASSWORD, f"{BASIC_USER}:{BASIC_PASSWORD}", BASIC, BEARER):
        assert value in found
    assert BASIC_USER not in found


# -- -H values and URLs given to the CLI --------------------------------------------------------


def test_each_cookie_value_given_with_h_is_redacted_when_the_backend_echoes_it_alone(
    tmp_path: Path,
) -> None:
    with LoopbackServer(reflecting_backend()) as backend:
        code, shown = _cli(
            [
                "diagnose",
                f"{backend.url}/chatkit",
                "-H",
                f"Cookie: a={COOKIE_A}; b={COOKIE_B}",
                "--json",
                "--out",
                str(tmp_path / "report.md"),
            ]
        )
    assert code in (0, 1), shown
    planted = {"cookie a": COOKIE_A, "cookie b": COOKIE_B}
    assert leaks(shown, planted) == []
    assert (tmp_path / "report.md").exists()
    assert leaks_in_files(tmp_path, planted) == {}


def test_the_decoded_user_and_password_of_basic_auth_given_with_h_never_leak(
    tmp_path: Path,
) -> None:
    with LoopbackServer(reflecting_backend()) as backend:
        code, shown = _cli(
            [
                "diagnose",
                f"{backend.url}/chatkit",
                "-H",
                f"Authorization: Basic {BASIC}",
                "--json",
                "--out",
                str(tmp_path / "report.md"),
            ]
        )
    assert code in (0, 1), shown
    planted = {"basic": BASIC, "password": BASIC_PASSWORD}
    assert leaks(shown, planted) == []
    assert f"{BASIC_USER}:" not in shown
    assert BASIC_PASSWORD[-4:] not in shown, "a password's marker keeps no tail"
    assert leaks_in_files(tmp_path, planted) == {}


def test_the_credentials_in_url_userinfo_never_leak_in_any_form(tmp_path: Path) -> None:
    with LoopbackServer(reflecting_backend()) as backend:
        host = backend.url.split("://", 1)[1]
        target = f"http://{BASIC_USER}:{BASIC_PASSWORD}@{host}/chatkit"
        code, shown = _cli(["diagnose", target, "--json", "--out", str(tmp_path / "report.md")])
    assert code in (0, 1, 2), shown
    planted = {"basic": BASIC, "password": BASIC_PASSWORD}
    assert leaks(shown, planted) == []
    assert leaks_in_files(tmp_path, planted) == {}


def test_a_token_in_a_url_path_segment_is_redacted_in_the_url_and_on_the_terminal(
    tmp_path: Path,
) -> None:
    token = PREFIXED_TOKENS["ghp"]
    assert token not in redact_url(f"https://staging.example/cb/{token}/x")
    with LoopbackServer(reflecting_backend()) as backend:
        code, shown = _cli(
            ["diagnose", f"{backend.url}/cb/{token}/x", "--out", str(tmp_path / "r.md")]
        )
    assert code in (0, 1), shown
    assert leaks(shown, {"path token": token}) == []
    assert leaks_in_files(tmp_path, {"path token": token}) == {}


# -- prefixed token shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PREFIXED_TOKENS))
def test_a_well_known_prefixed_token_is_redacted_in_every_output(kind: str, tmp_path: Path) -> None:
    token = PREFIXED_TOKENS[kind]
    events = valid_events(f"here is {token} for you")
    events.insert(1, {"type": "notice", "level": "info", "message": f"key={token}"})
    capture = stream_capture(events, f"http://127.0.0.1:9/cb/{token}/x?q={token}")
    shown = _outputs(capture, tmp_path)
    assert {name: leaks(text, {kind: token}) for name, text in shown.items()} == {
        name: [] for name in shown
    }


# -- HAR imports --------------------------------------------------------------------------------


def test_the_credentials_in_a_hars_own_request_headers_never_reach_the_cli_output(
    tmp_path: Path,
) -> None:
    har = har_file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, shown = _cli(["har", str(har), "--json", "--out", str(out / "report.md")])
    assert code in (0, 1), shown
    assert json.loads(shown[shown.index("{") :]) is not None
    assert leaks(shown, HAR_SECRETS) == []
    assert (out / "report.md").exists()
    assert leaks_in_files(out, HAR_SECRETS) == {}


def test_a_har_import_registers_its_credentials_before_anything_is_saved(tmp_path: Path) -> None:
    imported = load_har(har_file(tmp_path))
    assert imported.captures and BEARER in imported.captures[0].body.decode()
    out = tmp_path / "out"
    imported.save(out / "captures.jsonl")
    diagnosis = diagnose_captures(imported.captures, target="session.har")
    report_markdown([diagnosis], out / "report.md")
    (out / "diagnosis.json").write_text(json.dumps(diagnosis.to_json()))
    assert leaks_in_files(out, HAR_SECRETS) == {}
    assert leaks(table(imported).to_string(), HAR_SECRETS) == []


def test_a_har_with_thousands_of_distinct_credentials_registers_a_bounded_number(
    tmp_path: Path,
) -> None:
    har = json.loads(har_file(tmp_path).read_text())
    entry = har["log"]["entries"][0]
    entries = []
    for number in range(3 * MAX_SECRETS):
        copy = json.loads(json.dumps(entry))
        copy["request"]["headers"][0]["value"] = f"Bearer {number:05d}-{BEARER}"
        entries.append(copy)
    har["log"]["entries"] = entries
    started = time.monotonic()
    imported = load_har(har)
    body = imported.captures[-1].body
    redacted = current_redactor().redact_bytes(body)
    assert time.monotonic() - started < 30
    assert len(imported.captures) == 3 * MAX_SECRETS
    assert 0 < len(current_redactor().secrets) <= MAX_SECRETS
    assert BEARER.encode() not in redacted


# -- the recording proxy ------------------------------------------------------------------------


async def test_the_proxy_redacts_the_upstreams_echo_of_the_clients_credentials(
    tmp_path: Path,
) -> None:
    planted = {"bearer": BEARER, "cookie a": COOKIE_A, "session set by upstream": SERVER_SESSION}
    with LoopbackServer(reflecting_backend()) as backend:
        proxy = RecordingProxy(backend.url, out_dir=tmp_path / "proxy")
        with LoopbackServer(proxy.app) as front:
            async with httpx.AsyncClient(timeout=10) as client:
                reply = await client.post(
                    f"{front.url}/chatkit",
                    headers={"authorization": f"Bearer {BEARER}", "cookie": f"a={COOKIE_A}"},
                    content=envelope(),
                )
            assert BEARER in reply.text, "the proxy hands the client the upstream's bytes as is"
            deadline = time.monotonic() + 5
            while not proxy.saved and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
    assert proxy.saved
    assert leaks_in_files(tmp_path, planted) == {}


# -- streams: pieces of a secret ----------------------------------------------------------------


def test_a_registered_secret_split_across_two_deltas_leaves_no_piece_in_any_excerpt(
    tmp_path: Path,
) -> None:
    redactor = Redactor([BEARER])
    capture = stream_capture(split_reply(BEARER))
    with redacting(redactor):
        shown = _outputs(capture, tmp_path, redactor)
    assert "schema.invalid_event" in shown["json"], "the delta events must be quoted"
    assert {name: leaks(text, {"bearer": BEARER}) for name, text in shown.items()} == {
        name: [] for name in shown
    }


def test_a_shaped_token_split_across_two_deltas_leaves_no_piece_in_any_excerpt(
    tmp_path: Path,
) -> None:
    token = PREFIXED_TOKENS["ghp"]
    capture = stream_capture(split_reply(token))
    shown = _outputs(capture, tmp_path)
    assert "schema.invalid_event" in shown["json"], "the delta events must be quoted"
    assert {name: leaks(text, {"ghp": token}) for name, text in shown.items()} == {
        name: [] for name in shown
    }


@pytest.mark.parametrize("name", ["ghp", "xoxb", "aws"])
def test_the_verbose_terminal_answer_shows_no_piece_of_a_token_split_across_two_deltas(
    tmp_path: Path, name: str
) -> None:
    token = PREFIXED_TOKENS[name]
    recording = tmp_path / "recording.jsonl"
    save_captures([stream_capture(split_reply(token))], recording, redact=False)
    result = CliRunner().invoke(cli_app, ["diagnose", str(recording), "-v"], env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1), result.output
    assert "schema.invalid_event" in result.stdout, "the delta events must be quoted"
    assert leaks(result.stdout + result.stderr, {name: token}) == []


def test_an_excerpt_cut_inside_a_secret_keeps_no_piece_of_it(tmp_path: Path) -> None:
    token = PREFIXED_TOKENS["ghp"]
    redactor = Redactor([BEARER])
    events = []
    for secret in (token, BEARER):
        # The kit keeps the first 2,000 characters of an event as its excerpt: the secret
        # straddles that cut.
        event = {"type": "made.up.event", "pad": "", "note": secret}
        head = len(json.dumps(event, separators=(",", ":")).split(secret)[0])
        event["pad"] = "x" * (2000 - head - len(secret) // 2)
        events.append(event)
    capture = stream_capture(valid_events("hello") + events)
    with redacting(redactor):
        shown = _outputs(capture, tmp_path, redactor)
    planted = {"ghp": token, "bearer": BEARER}
    assert {name: leaks(text, planted) for name, text in shown.items()} == {
        name: [] for name in shown
    }


# -- notebook displays --------------------------------------------------------------------------


def test_the_notebook_displays_of_an_analysis_hold_no_registered_secret() -> None:
    events = valid_events(f"ab {BEARER} cd")
    events.insert(1, {"type": "notice", "level": "info", "message": f"token {BEARER}"})
    events[0]["thread"]["title"] = f"about {BEARER}"
    capture = stream_capture(events)
    with redacting(Redactor([BEARER])):
        analysis = analyze_capture(capture)
        final = analysis.final
        shown = {
            "_repr_html_": analysis._repr_html_(),
            "repr": repr(analysis),
            "to_html": final.to_html(),
            "_repr_html_ of the state": final._repr_html_(),
            "transcript": final.transcript(),
            "table": table(analysis).to_string(),
            "findings": findings_table(analysis).to_string(),
        }
    assert BEARER in final.assistant_text, "the model must have the planted text to hide"
    assert {name: leaks(text, {"bearer": BEARER}) for name, text in shown.items()} == {
        name: [] for name in shown
    }


def test_the_notebook_displays_hide_a_shaped_token_split_across_two_deltas() -> None:
    token = PREFIXED_TOKENS["github_pat"]
    analysis = analyze_capture(stream_capture(split_reply(token)))
    shown = {
        "_repr_html_": analysis._repr_html_(),
        "to_html": analysis.final.to_html(),
        "transcript": analysis.final.transcript(),
        "findings": findings_table(analysis).to_string(),
    }
    assert {name: leaks(text, {"pat": token}) for name, text in shown.items()} == {
        name: [] for name in shown
    }
