"""The fetch template: a fetch pasted verbatim from a React component runs, with the closure's
usual names provided by the template, and a name it lacks is reported as an error in the file.

The pasted entry below is written for these tests in the shape such components have (a token
ref, ``setThreadId`` from ``useChatKit``, a state setter and a ref written from the fetch); it
is pasted into the template between the PASTE lines, as the guide says, and nothing else edited.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatkit_lab.client import undefined_names
from chatkit_lab.diagnosis import diagnose

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "data" / "templates"
SAMPLES = ROOT / "data" / "samples"
MARK = "    // ---- PASTE your `fetch: ...` entry below this line"

needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not on PATH: the user's fetch runs under Node"
)

ENTRY = """\
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const current = tokenRef.current;
        if (!current) {
          throw new Error('no token yet');
        }
        let payload: any = {};
        if (init?.body) {
          try {
            const envelope = JSON.parse(init.body as string);
            if (envelope.type === 'threads.list') {
              return new Response(JSON.stringify({ data: [], has_more: false }), {
                status: 200,
                headers: { 'Content-Type': 'application/json' },
              });
            }
            const part = envelope.params?.input?.content?.find(
              (p: any) => p.type === 'input_text'
            );
            const id = envelope.params?.thread_id
              ? parseInt(envelope.params.thread_id, 10)
              : undefined;
            payload = { message: part?.text || '', conversation_id: id };
            if (payload.message) {
              setMessages((prev: any[]) => [...prev, { role: 'user', content: payload.message }]);
            }
            pendingUserMessageRef.current = payload.message;
          } catch (e) {
            console.error('could not read the request body', e);
            payload = init.body;
          }
        }
        const response = await fetch(input, {
          ...init,
          body: JSON.stringify(payload),
          headers: {
            ...init?.headers,
            Authorization: `Bearer ${current}`,
            'Content-Type': 'application/json',
          },
        });
        const type = response.headers.get('content-type');
        if (type?.includes('text/event-stream') && response.body) {
          const [shown, watched] = response.body.tee();
          (async () => {
            const reader = watched.getReader();
            const decoder = new TextDecoder();
            let rest = '';
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              rest += decoder.decode(value, { stream: true });
              const lines = rest.split('\\n');
              rest = lines.pop() || '';
              for (const line of lines) {
                if (!line.startsWith('data: ')) continue;
                try {
                  const evt = JSON.parse(line.slice(6));
                  if (evt.type === 'thread.created' && evt.thread?.id) {
                    setThreadId(evt.thread.id);
                  }
                } catch {
                  // not JSON
                }
              }
            }
          })();
          return new Response(shown, {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          });
        }
        return response;
      },
"""


def pasted(tmp_path: Path, entry: str = ENTRY, template: str = "your_fetch.ts") -> Path:
    text = (TEMPLATES / template).read_text()
    assert MARK in text
    head, tail = text.split(MARK, 1)
    first, rest = tail.split("\n", 1)
    path = tmp_path / template
    path.write_text(head + MARK + first + "\n" + entry + rest)
    return path


def test_the_template_lists_the_closure_names_the_guide_lists() -> None:
    guide = (ROOT / "docs" / "guides" / "your-fetch.md").read_text()
    for template in ("your_fetch.ts", "your_fetch.mjs"):
        text = (TEMPLATES / template).read_text()
        block = text.split("// ---- the component's names", 1)[1].split("const api = {", 1)[0]
        for name in (
            "tokenRef",
            "setThreadId",
            "setMessages",
            "pendingUserMessageRef",
            "userIdRef",
            "useRef",
            "useState",
        ):
            assert name in block, (template, name)
            assert f"`{name}`" in guide, name


def test_a_reference_error_printed_by_the_fetch_names_the_missing_name_and_line() -> None:
    console = (
        "could not read the request body ReferenceError: tokenRef is not defined\n"
        "    at fetchForChatKit (your_fetch.ts:81:9)\n"
        "    at chatkit-lab/fetch_runner.mjs:240:21\n"
    )
    assert undefined_names(console) == ["tokenRef (your_fetch.ts line 81)"]
    assert undefined_names("nothing wrong here") == []


@needs_node
@pytest.mark.parametrize("template", ["your_fetch.ts", "your_fetch.mjs"])
async def test_an_empty_template_says_where_to_paste(tmp_path: Path, template: str) -> None:
    path = tmp_path / template
    path.write_text((TEMPLATES / template).read_text())
    from chatkit_lab.client._node_fetch import NodeFetch, NodeFetchError

    with pytest.raises(NodeFetchError, match="paste your fetch between the PASTE lines"):
        async with NodeFetch.open(path):
            pass


@needs_node
async def test_a_component_fetch_pasted_verbatim_tells_the_report_s_story(
    tmp_path: Path,
) -> None:
    sample = await diagnose("legacy:attempt3", fetch_file=SAMPLES / "chatprovider_fetch.mjs")
    result = await diagnose("legacy:attempt3", fetch_file=pasted(tmp_path))
    codes = {finding.code for finding in result.findings}
    assert result.verdict.layer == sample.verdict.layer == "request"
    assert codes == {finding.code for finding in sample.findings}
    assert "request.fetch_threw" not in codes
    assert "request.fetch_name_undefined" not in codes
    assert any(
        call.command == "setThreadId" for step in result.lifecycle.steps for call in step.controls
    )


@needs_node
async def test_a_name_the_template_lacks_is_an_error_in_the_file_with_its_line(
    tmp_path: Path,
) -> None:
    entry = ENTRY.replace("pendingUserMessageRef.current", "draftRef.current")
    path = pasted(tmp_path, entry)
    line = next(
        number
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if "draftRef.current" in text
    )
    result = await diagnose("legacy:attempt3", fetch_file=path)
    said = {finding.code: finding.summary for finding in result.findings}
    assert "request.fetch_name_undefined" in said, said
    assert f"draftRef (your_fetch.ts line {line})" in said["request.fetch_name_undefined"]
    assert not any("cannot reach" in text for text in said.values())


@needs_node
async def test_a_name_missing_outside_a_catch_is_the_fetch_s_error_with_its_line(
    tmp_path: Path,
) -> None:
    entry = ENTRY.replace(
        "const current = tokenRef.current;", "const current = sessionRef.current;"
    )
    result = await diagnose("legacy:attempt3", fetch_file=pasted(tmp_path, entry))
    said = {finding.code: finding.summary for finding in result.findings}
    assert "request.fetch_threw" in said, said
    assert (
        "ReferenceError: sessionRef is not defined (your_fetch.ts line"
        in said["request.fetch_threw"]
    )


@needs_node
def test_the_terminal_names_the_fetch_file_that_ran() -> None:
    from typer.testing import CliRunner

    from chatkit_lab.cli import app

    result = CliRunner().invoke(
        app, ["diagnose", "legacy:attempt3", "--fetch", str(SAMPLES / "chatprovider_fetch.mjs")]
    )
    assert "fetch chatprovider_fetch.mjs runs between the client and legacy:attempt3" in (
        result.output
    )
