"""The user's own fetch, run as written under Node, against the built-in legacy backend."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab.backends import LEGACY_USER_ID, legacy_app, make_token
from chatkit_lab.client import ClientRequest
from chatkit_lab.client._node_fetch import NodeFetch, NodeFetchError
from chatkit_lab.sources import InProcessTransport

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
SUCRASE = ROOT / "chatkit_lab" / "client" / "js" / "node_modules" / "sucrase"
URL = f"http://chatkit-lab.test/{LEGACY_USER_ID}/chat"
TOKEN_ENV = "CHATKIT_LAB_TEST_FETCH_TOKEN"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the user's fetch runs under Node"
)


def _sucrase_missing() -> str | None:
    """Why the TypeScript transpiler cannot be used here (``None``: installed, from the lock)."""
    if shutil.which("node") is None:
        return "node is not on PATH: the user's fetch runs under Node"
    from chatkit_lab.client.js import NodeError, ensure_node_modules

    try:
        ensure_node_modules()  # `npm ci` from the committed lock file, once
    except NodeError as exc:
        return f"the TypeScript transpiler could not be installed: {exc}"
    return None if SUCRASE.is_dir() else "npm ci did not install sucrase"


_NO_SUCRASE = _sucrase_missing()
needs_sucrase = pytest.mark.skipif(_NO_SUCRASE is not None, reason=_NO_SUCRASE or "")
SAMPLE_FILES = [
    pytest.param("chatprovider_fetch.mjs", marks=needs_node, id="mjs"),
    pytest.param("chatprovider_fetch.ts", marks=[needs_node, needs_sucrase], id="ts"),
]


def chatkit_request(kind: str, params: dict[str, Any]) -> ClientRequest:
    """A ChatKit POST; ``Content-Type`` spelled as the report's fetch spells it (see below)."""
    request = ClientRequest.chatkit(URL, {"type": kind, "params": params, "metadata": {}})
    request.headers.pop("content-type")
    request.headers["Content-Type"] = "application/json"
    return request


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": []}


def streamed_events(body: bytes) -> list[dict[str, Any]]:
    lines = body.decode().split("\n")
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


@pytest.fixture
def env() -> dict[str, str]:
    return {**os.environ, TOKEN_ENV: make_token(LEGACY_USER_ID)}


@pytest.fixture
def transport() -> InProcessTransport:
    return InProcessTransport(legacy_app(attempt=3))


def open_fetch(path: Path, env: dict[str, str], **options: Any) -> Any:
    options.setdefault("timeout_s", 20)
    return NodeFetch.open(path, token_env=TOKEN_ENV, user_id=LEGACY_USER_ID, env=env, **options)


@pytest.mark.parametrize("sample", SAMPLE_FILES)
async def test_the_sample_sends_the_rewritten_body_with_the_jwt_and_hands_back_the_stream(
    sample: str, env: dict[str, str], transport: InProcessTransport
) -> None:
    async with open_fetch(SAMPLES / sample, env) as runner:
        assert runner.shape == "factory"
        create = chatkit_request("threads.create", {"input": user_input("Hello backend")})
        outcome = await runner.fetch(create, transport.send_request)
    assert outcome.error is None
    [wire] = outcome.wire
    assert (wire.request.method, wire.request.url) == ("POST", URL)
    # `conversation_id: undefined` is dropped by JSON.stringify: the key is absent, not null.
    assert wire.request.json == {"message": "Hello backend"}
    assert wire.request.header("authorization") == f"Bearer {env[TOKEN_ENV]}"
    assert wire.status == 200 and wire.is_event_stream
    reply = outcome.handed_back
    assert reply is not None and reply.is_event_stream
    assert reply.body == wire.body
    assert outcome.reply_origin == "rebuilt" and not outcome.built_by_fetch
    assert "threads.create" in outcome.console


@pytest.mark.parametrize("sample", SAMPLE_FILES)
async def test_set_thread_id_is_recorded_with_the_streamed_thread_id(
    sample: str, env: dict[str, str], transport: InProcessTransport
) -> None:
    async with open_fetch(SAMPLES / sample, env) as runner:
        create = chatkit_request("threads.create", {"input": user_input("Hi")})
        outcome = await runner.fetch(create, transport.send_request)
    events = streamed_events(outcome.wire[0].body)
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    calls = [(call.command, call.args) for call in outcome.controls]
    assert calls == [("setThreadId", (thread_id,))]
    assert outcome.controls[0].phase == "during"


@pytest.mark.parametrize("sample", SAMPLE_FILES)
async def test_threads_list_is_answered_by_the_fetch_and_never_reaches_the_wire(
    sample: str, env: dict[str, str], transport: InProcessTransport
) -> None:
    sent: list[ClientRequest] = []

    async def send(request: ClientRequest) -> Any:
        sent.append(request)
        return await transport.send_request(request)

    async with open_fetch(SAMPLES / sample, env) as runner:
        listing = chatkit_request("threads.list", {"limit": 9999, "order": "desc"})
        outcome = await runner.fetch(listing, send)
    assert sent == [] and outcome.wire == []
    assert outcome.built_by_fetch and outcome.reply_origin == "local"
    assert outcome.handed_back is not None
    assert outcome.handed_back.json_body() == {"data": [], "has_more": False}


@pytest.mark.parametrize("sample", SAMPLE_FILES)
async def test_a_thread_load_becomes_a_chat_turn_with_the_parsed_conversation_id(
    sample: str, env: dict[str, str], transport: InProcessTransport
) -> None:
    async with open_fetch(SAMPLES / sample, env) as runner:
        create = chatkit_request("threads.create", {"input": user_input("first")})
        created = await runner.fetch(create, transport.send_request)
        thread_id = created.controls[0].args[0]
        load = chatkit_request("threads.get_by_id", {"thread_id": thread_id})
        loaded = await runner.fetch(load, transport.send_request)
    assert loaded.wire[0].request.json == {"message": "", "conversation_id": int(thread_id)}
    assert loaded.handed_back is not None and loaded.handed_back.is_event_stream


CREATED = b'data: {"type": "thread.created", "thread": {"id": "7"}}\n\n'
STREAM_HEAD = [(b"content-type", b"text/event-stream")]


async def gzip_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [*STREAM_HEAD, (b"content-encoding", b"gzip")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": gzip.compress(CREATED)})


async def cut_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEAD})
    await send({"type": "http.response.body", "body": CREATED, "more_body": True})
    raise RuntimeError("the backend crashed mid-stream")


@needs_node
async def test_a_gzip_encoded_stream_reaches_the_fetch_decoded(env: dict[str, str]) -> None:
    transport = InProcessTransport(gzip_app)
    async with open_fetch(SAMPLES / "chatprovider_fetch.mjs", env) as runner:
        create = chatkit_request("threads.create", {"input": user_input("Hi")})
        outcome = await runner.fetch(create, transport.send_request)
    assert gzip.decompress(outcome.wire[0].body) == CREATED  # the gzip header holds a timestamp
    assert outcome.handed_back is not None and outcome.handed_back.body == CREATED
    assert [(call.command, call.args) for call in outcome.controls] == [("setThreadId", ("7",))]


@needs_node
async def test_a_stream_cut_on_the_wire_is_a_read_error_in_what_chatkit_gets(
    env: dict[str, str],
) -> None:
    transport = InProcessTransport(cut_app)
    async with open_fetch(SAMPLES / "chatprovider_fetch.mjs", env) as runner:
        create = chatkit_request("threads.create", {"input": user_input("Hi")})
        outcome = await runner.fetch(create, transport.send_request)
    assert outcome.wire[0].ending.state != "complete"
    reply = outcome.handed_back
    assert reply is not None and reply.body == CREATED
    assert reply.ending.state == "error" and "terminated" in reply.ending.message
    assert outcome.error is None  # the fetch itself resolved; reading its body failed


@needs_node
async def test_chatkit_s_content_type_is_passed_as_content_type_so_the_spread_does_not_double_it(
    env: dict[str, str], transport: InProcessTransport
) -> None:
    # The report's fetch spreads ChatKit's headers and sets 'Content-Type'; its streams worked,
    # so the iframe spells it that way (modelled: the iframe is closed). The runner passes
    # ChatKit's content type under that name, and the header is not doubled.
    request = ClientRequest.chatkit(URL, {"type": "threads.create", "params": {}})
    async with open_fetch(SAMPLES / "chatprovider_fetch.mjs", env) as runner:
        outcome = await runner.fetch(request, transport.send_request)
    wire = outcome.wire[0]
    assert wire.request.header("content-type") == "application/json"


@needs_node
async def test_without_a_token_the_sample_throws_and_nothing_is_sent(
    transport: InProcessTransport,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    async with open_fetch(SAMPLES / "chatprovider_fetch.mjs", env) as runner:
        create = chatkit_request("threads.create", {"input": user_input("Hi")})
        outcome = await runner.fetch(create, transport.send_request)
    assert outcome.wire == [] and outcome.handed_back is None
    # the error names where the fetch file threw it
    assert outcome.error is not None
    assert outcome.error.startswith("Error: Authentication token not available (")
    assert outcome.error.endswith("chatprovider_fetch.mjs line 21)")


@needs_node
async def test_a_fetch_that_throws_is_an_outcome_with_its_error_and_no_machine_paths(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "throws.mjs"
    script.write_text(
        "export default async function (input, init) {\n"
        "  throw new TypeError(`cannot handle ${JSON.parse(init.body).type}`);\n"
        "}\n"
    )
    async with open_fetch(script, env) as runner:
        assert runner.shape == "fetch"
        outcome = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
        again = await runner.fetch(chatkit_request("items.list", {}), transport.send_request)
    # the error says where in the fetch file it was thrown
    assert outcome.error == "TypeError: cannot handle threads.list (throws.mjs line 2)"
    assert again.error == "TypeError: cannot handle items.list (throws.mjs line 2)"
    assert outcome.thrown is not None and "throws.mjs" in outcome.thrown.stack
    assert str(tmp_path) not in outcome.thrown.stack
    assert str(ROOT) not in outcome.thrown.stack
    assert outcome.handed_back is None


@needs_node
async def test_a_plain_fetch_export_passes_the_wire_response_through(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "auth_only.js"
    script.write_text(
        "export default (input, init) =>\n"
        "  fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer "
        f"{env[TOKEN_ENV]}` }} }});\n"
    )
    body = json.dumps({"message": "plain", "conversation_id": None})
    request = ClientRequest("POST", URL, {"content-type": "application/json"}, body.encode())
    async with open_fetch(script, env) as runner:
        assert runner.shape == "fetch"
        outcome = await runner.fetch(request, transport.send_request)
    assert outcome.reply_origin == "wire"
    assert outcome.wire[0].request.json == {"message": "plain", "conversation_id": None}
    assert outcome.handed_back is not None and outcome.handed_back.body == outcome.wire[0].body


@needs_node
async def test_the_console_output_never_shows_the_token(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "leaky.mjs"
    script.write_text(
        "export default function (ctx) {\n"
        "  return async () => { console.log('token is', ctx.token);\n"
        "    return new Response('{}'); };\n"
        "}\n"
    )
    async with open_fetch(script, env) as runner:
        outcome = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
    assert "token is" in outcome.console
    assert env[TOKEN_ENV] not in outcome.console


@needs_node
async def test_an_error_nobody_catches_is_printed_and_the_fetch_keeps_working(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "sloppy.mjs"
    script.write_text(
        "export default async () => {\n"
        "  setTimeout(() => { throw new RangeError('from a timer'); }, 0);\n"
        "  Promise.reject(new Error('never awaited'));\n"
        "  return new Response('{}');\n"
        "};\n"
    )
    async with open_fetch(script, env) as runner:
        first = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
        second = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
        printed = "\n".join([first.console, second.console, *runner.stderr])
    assert first.error is None and second.error is None
    assert second.handed_back is not None and runner.restarts == 0
    assert "Uncaught RangeError: from a timer" in printed
    assert "Uncaught (in promise) Error: never awaited" in printed


@needs_node
async def test_wire_calls_past_the_cap_are_refused(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "loops.mjs"
    script.write_text(
        "export default async (input, init) => {\n  for (;;) await fetch(input, init);\n};\n"
    )
    async with open_fetch(script, env, max_wire_calls=3) as runner:
        outcome = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
    assert len(outcome.wire) == 3
    assert outcome.error is not None and outcome.error.startswith("TypeError: fetch failed")
    assert any("more than 3 wire calls" in note for note in outcome.notes)


@needs_node
async def test_a_fetch_that_never_answers_times_out_and_node_comes_back(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "stuck.mjs"
    script.write_text(
        "export default async (input, init) => {\n"
        "  if (JSON.parse(init.body).type === 'threads.list') for (;;) {}\n"
        "  return new Response('{\"ok\":true}');\n"
        "};\n"
    )
    async with open_fetch(script, env, timeout_s=1) as runner:
        stuck = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
        fine = await runner.fetch(chatkit_request("items.list", {}), transport.send_request)
    assert stuck.thrown is not None and stuck.thrown.phase == "timeout"
    assert fine.error is None and fine.handed_back is not None
    assert fine.handed_back.json_body() == {"ok": True}
    assert any("restarted" in note for note in fine.notes)


@needs_node
async def test_a_reply_that_never_ends_is_cut_at_the_time_limit_keeping_what_came(
    tmp_path: Path, env: dict[str, str], transport: InProcessTransport
) -> None:
    script = tmp_path / "endless.mjs"
    script.write_text(
        "export default async () => new Response(new ReadableStream({\n"
        "  start(c) { c.enqueue(new TextEncoder().encode('data: {}\\n\\n')); },\n"
        "}), { headers: { 'content-type': 'text/event-stream' } });\n"
    )
    async with open_fetch(script, env, timeout_s=1) as runner:
        outcome = await runner.fetch(chatkit_request("threads.list", {}), transport.send_request)
        assert runner.restarts == 0 and not any("stopped" in note for note in outcome.notes)
    reply = outcome.handed_back
    assert reply is not None and reply.body == b"data: {}\n\n"
    assert reply.ending.state == "timeout"
    assert outcome.thrown is not None and outcome.thrown.phase == "timeout"


@needs_node
async def test_node_is_stopped_when_the_runner_closes(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "idle.mjs"
    script.write_text("export default async () => new Response('{}');\n")
    async with open_fetch(script, env) as runner:
        process = runner._proc
        assert process is not None and process.returncode is None
    assert process.returncode is not None


async def test_a_missing_node_gives_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(NodeFetchError, match="needs Node.js") as caught:
        async with NodeFetch.open(SAMPLES / "chatprovider_fetch.mjs", env={"PATH": str(empty)}):
            pass
    assert caught.value.kind == "node"


async def test_a_missing_fetch_file_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NodeFetchError, match="does not exist") as caught:
        async with NodeFetch.open(tmp_path / "nowhere.mjs"):
            pass
    assert caught.value.kind == "file"


@needs_node
@pytest.mark.parametrize(
    ("name", "source", "kind", "message"),
    [
        ("object.mjs", "export default { fetch: 1 };\n", "shape", "default export is object"),
        ("none.mjs", "export const fetch = 1;\n", "shape", "default export is undefined"),
        ("factory.mjs", "export default (ctx) => 42;\n", "shape", "returned number"),
        ("broken.mjs", "export default (;\n", "import", "cannot be loaded: SyntaxError"),
        ("fails.mjs", "export default (ctx) => { throw new Error('no') };\n", "factory", "no"),
        pytest.param(
            "broken.ts",
            "export default function (x: number {\n",
            "transpile",
            "does not transpile",
            marks=needs_sucrase,
        ),
    ],
)
async def test_a_file_that_cannot_serve_as_a_fetch_gives_a_clear_error(
    tmp_path: Path, env: dict[str, str], name: str, source: str, kind: str, message: str
) -> None:
    script = tmp_path / name
    script.write_text(source)
    with pytest.raises(NodeFetchError, match=message) as caught:
        async with open_fetch(script, env):
            pass
    assert caught.value.kind == kind
    assert str(tmp_path) not in str(caught.value)
