"""The user's fetch misbehaving under Node: writing to fd 1, reading the environment, eating
memory, flooding ChatKit's control, hanging, resolving to something that is not a Response.

What must hold: the kit's own channel is never disturbed, Node sees only the environment the
user names, every size and time is bounded, and a fetch that misbehaves is a finding about the
fetch (``request.fetch_threw``), never "cannot reach" a target it never contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab.backends import LEGACY_USER_ID, legacy_app, make_token
from chatkit_lab.client import ClientRequest
from chatkit_lab.client._node_fetch import CONTROL_MAX, NodeFetch
from chatkit_lab.diagnosis import diagnose
from chatkit_lab.errors import ChatKitLabError
from chatkit_lab.sources import InProcessTransport, Limits

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the user's fetch runs under Node"
)

URL = f"http://chatkit-lab.test/{LEGACY_USER_ID}/chat"
TOKEN_ENV = "CHATKIT_LAB_TEST_FETCH_TOKEN"
PLANTED = "AKIA-planted-secret-0123456789"


def request(kind: str = "threads.list") -> ClientRequest:
    return ClientRequest.chatkit(URL, {"type": kind, "params": {}, "metadata": {}})


@pytest.fixture
def env() -> dict[str, str]:
    return {
        **os.environ,
        TOKEN_ENV: make_token(LEGACY_USER_ID),
        "AWS_SECRET_ACCESS_KEY": PLANTED,
        "DATABASE_URL": f"postgres://admin:{PLANTED}@db/prod",
    }


@pytest.fixture
def transport() -> InProcessTransport:
    return InProcessTransport(legacy_app(attempt=3))


def fetch_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def runner(path: Path, env: dict[str, str], **options: Any) -> Any:
    options.setdefault("timeout_s", 10)
    return NodeFetch.open(path, token_env=TOKEN_ENV, user_id=LEGACY_USER_ID, env=env, **options)


PASS_THROUGH = "  return fetch(input, init);\n};\n"


@pytest.mark.parametrize(
    "writes",
    [
        "process.stdout.write('x');",
        'import(\'node:fs\').then((fs) => fs.writeSync(1, \'{"op":"ready","shape":"fake"}\\n\'));',
        'process.stdout.write(\'{"op":"fatal","message":"forged"}\\n\');',
        'process.stderr.write(\'\\x1e{"id":1,"end":true}\\n\');'
        " process.stdout.write('a'.repeat(1e6));",
    ],
    ids=["one-byte", "a-forged-ready-record-via-fd-1", "a-forged-fatal-record", "a-megabyte"],
)
async def test_what_the_module_writes_to_fd_1_or_2_never_reaches_the_kit_s_channel(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport, writes: str
) -> None:
    path = fetch_file(
        tmp_path, "noisy.mjs", f"{writes}\nexport default async (input, init) => {{\n{PASS_THROUGH}"
    )
    async with runner(path, env) as node:
        assert node.shape == "fetch"
        outcome = await node.fetch(request(), transport.send_request)
    assert outcome.error is None and outcome.handed_back is not None
    assert outcome.handed_back.status == outcome.wire[0].status  # the backend's own answer
    assert sum(len(line) for line in node.stderr) <= 300_000


async def test_node_gets_only_the_environment_the_user_names(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    path = fetch_file(
        tmp_path,
        "env.mjs",
        "export default async (input, init) => {\n"
        "  const seen = JSON.stringify(process.env);\n"
        "  return fetch(input, { ...init, headers: { ...init.headers, 'x-env': seen } });\n"
        "};\n",
    )
    async with runner(path, env) as node:
        outcome = await node.fetch(request(), transport.send_request)
    sent = dict(outcome.wire_requests[0].headers)["x-env"]
    seen = json.loads(sent)
    assert PLANTED not in sent
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "DATABASE_URL" not in seen
    assert TOKEN_ENV in seen and "PATH" in seen


async def test_a_variable_the_user_names_is_passed(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    path = fetch_file(
        tmp_path,
        "named.mjs",
        "export default async (input, init) => new Response(JSON.stringify("
        "{ region: process.env.APP_REGION ?? null }));\n",
    )
    async with runner(path, {**env, "APP_REGION": "eu"}, env_names=("APP_REGION",)) as node:
        outcome = await node.fetch(request(), transport.send_request)
    assert outcome.handed_back is not None
    assert outcome.handed_back.json_body() == {"region": "eu"}


async def test_a_fetch_that_eats_memory_is_stopped_by_the_heap_cap(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    path = fetch_file(
        tmp_path,
        "hungry.mjs",
        "const kept = [];\n"
        "export default async () => {\n"
        "  for (;;) kept.push(new Array(1e6).fill({ a: Math.random() }));\n"
        "};\n",
    )
    started = time.monotonic()
    async with runner(path, env, timeout_s=60) as node:
        outcome = await node.fetch(request(), transport.send_request)
    assert time.monotonic() - started < 60
    assert outcome.thrown is not None and outcome.thrown.phase == "exit"
    assert outcome.handed_back is None


async def test_control_calls_past_the_cap_are_counted_not_kept(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    path = fetch_file(
        tmp_path,
        "chatty.mjs",
        "export default (ctx) => async (input, init) => {\n"
        "  for (let i = 0; i < 200000; i++) ctx.control.setThreadId('thr_' + 'x'.repeat(1000));\n"
        + PASS_THROUGH,
    )
    async with runner(path, env) as node:
        outcome = await node.fetch(request(), transport.send_request)
    assert len(outcome.controls) == CONTROL_MAX
    assert any("more were not recorded" in note for note in outcome.notes)
    assert outcome.handed_back is not None


async def test_each_request_follows_the_wire_time_limit_and_the_session_is_bounded(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    path = fetch_file(tmp_path, "hangs.mjs", "export default () => new Promise(() => {});\n")
    limits = Limits(connect_s=0.5, read_s=0.5, total_s=0.5)

    async def send(request: ClientRequest) -> Any:
        return await transport.send_request(request, limits=limits)

    send.limits = limits  # type: ignore[attr-defined]
    started = time.monotonic()
    async with runner(path, env, timeout_s=30, session_s=12) as node:
        outcomes = [await node.fetch(request(), send) for _ in range(6)]
    took = time.monotonic() - started
    assert took < 25, took
    assert all(o.thrown is not None and o.thrown.phase == "timeout" for o in outcomes)
    assert "did not finish within 4.5 s" in str(outcomes[0].thrown)
    assert "used up" in str(outcomes[-1].thrown)


MISBEHAVING = {
    "resolves-to-a-string": "export default async () => 'not a response';\n",
    "resolves-to-undefined": "export default async () => undefined;\n",
    "throws-a-hostile-object": (
        "export default async () => { throw { toString() { throw new Error('boom'); } }; };\n"
    ),
    "throws-null": "export default async () => { throw null; };\n",
    "a-name-missing-from-the-closure": (
        "export default async (input, init) => {\n"
        "  const token = tokenRef.current;\n"
        "  return fetch(input, init);\n"
        "};\n"
    ),
    "never-resolves": "export default () => new Promise(() => {});\n",
}


@pytest.mark.parametrize("name", list(MISBEHAVING))
async def test_a_misbehaving_fetch_is_a_finding_about_the_fetch_not_an_unreachable_target(
    tmp_path: Path, name: str
) -> None:
    path = fetch_file(tmp_path, f"{name}.mjs", MISBEHAVING[name])
    started = time.monotonic()
    try:
        result = await diagnose(
            "legacy:attempt3", fetch_file=path, limits=Limits(read_s=1, total_s=1)
        )
    except ChatKitLabError as exc:
        pytest.fail(f"the run was refused instead of diagnosed: {exc}")
    assert time.monotonic() - started < 90
    codes = {finding.code for finding in result.findings}
    assert "request.fetch_threw" in codes, codes
    said = " ".join(finding.summary for finding in result.findings)
    assert "cannot reach" not in said
    if name == "a-name-missing-from-the-closure":
        assert "tokenRef is not defined" in said
        assert f"{name}.mjs line 2" in said


async def test_a_body_that_errors_after_two_frames_is_judged_as_chatkit_got_it(
    tmp_path: Path,
) -> None:
    """The wire carries a whole stream; the fetch hands ChatKit a stream that errors after two
    frames. The diagnosis must say ChatKit got a broken stream, not pass on the wire's."""
    path = fetch_file(
        tmp_path,
        "breaks.mjs",
        "export default (ctx) => async (input, init) => {\n"
        "  const wire = await fetch(input, {\n"
        "    ...init, headers: { ...init.headers, Authorization: `Bearer ${ctx.token}` } });\n"
        "  if (!(wire.headers.get('content-type') || '').includes('event-stream')) return wire;\n"
        "  const reader = wire.body.getReader();\n"
        "  let frames = 0;\n"
        "  const broken = new ReadableStream({\n"
        "    async pull(controller) {\n"
        "      if (frames++ >= 2) {\n"
        "        controller.error(new TypeError('the stream broke'));\n"
        "        return;\n"
        "      }\n"
        "      const { done, value } = await reader.read();\n"
        "      if (done) controller.close(); else controller.enqueue(value);\n"
        "    },\n"
        "  });\n"
        "  return new Response(broken, { status: wire.status, headers: wire.headers });\n"
        "};\n",
    )
    result = await diagnose("reference", fetch_file=path)
    found = {finding.code: finding.summary for finding in result.findings}
    assert "request.fetch_body_failed" in found, found
    assert "the stream broke" in found["request.fetch_body_failed"]
    assert result.failed
