"""``client-tool``: a reply that asks the browser to run a tool, and the answer going back.

A ChatKit server asks the client to run a tool by ending its reply with a ``client_tool_call``
item (status ``pending``); the page's ``onClientTool`` runs it (a fact of ChatKit.js's host
script: with no ``onClientTool`` the UI raises a ``chatkit.error``), and the client sends the
result with ``threads.add_client_tool_output``. The SDK then marks the call ``completed`` with
that output, saves it, and streams the continuation. So after a reload the call is resolved
(completed, with the output) and the continuation is there. The kit plays ``onClientTool`` and
answers with a fixed result; when the continuation asks for another client tool, it answers that
one too (a chain), at most ``MAX_CHAIN`` times: a tool answer that brings back the same pending
call every time is a loop the user cannot leave.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Found, Skip, check
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    done_items,
    finished,
    item_text,
    reload_thread,
    require_items,
)

RESULT = {"text": "hello from the editor"}
"""What the kit's stand-in for ``onClientTool`` returns."""
RELOAD = "reload after the tool output"
MAX_CHAIN = 4
"""Tool outputs the kit sends for one chain of client tool calls before calling it a loop."""


async def play(session: Session) -> None:
    create = await session.create_thread(session.prompt("ask"))
    thread_id = session.require_thread(create)
    calls = finished(create, "client_tool_call")
    require_items(session, create, calls, "client_tool_call", "offers no client tools")
    call = calls[-1]
    chain = [_link(call, create.capture.name)]
    name = "tool output: threads.add_client_tool_output"
    for number in range(1, MAX_CHAIN + 1):
        output = await session.send(
            name,
            "threads.add_client_tool_output",
            {"thread_id": thread_id, "result": RESULT},
            "stream",
        )
        continuation = done_items(output.seen_by_chatkit)
        calls = finished(output, "client_tool_call")
        pending = [i for i in calls if i.get("status", "pending") == "pending"]
        if not pending:
            break
        # a chain of tool calls: the page runs each one, as onClientTool would
        chain.append(_link(pending[-1], output.capture.name))
        name = f"tool output {number + 1}: threads.add_client_tool_output"
    session.facts.update(
        call=call,
        chain=chain,
        continuation=continuation,
        continuation_capture=output.capture.name,
    )
    await reload_thread(session, thread_id, RELOAD)


def unsaved_tool_output(method: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """``faulty:client-tool``: ``save_item`` ignores ``client_tool_call`` items.

    The bug: a store whose ``save_item`` writes only the item types it has tables for
    (messages, widgets) and drops the rest, while ``add_thread_item`` keeps everything. The
    pending call is stored when it streams; ``threads.add_client_tool_output`` marks it
    completed and saves it, which is dropped. The SDK then finds the stored call still pending
    and deletes it as dangling (``ChatKitServer._cleanup_pending_client_tool_call``), and runs
    the continuation on a thread without the call or its output: the reply still streams, but
    the model never sees what the tool returned. What the user sees: an answer that ignores the
    tool, and after a reload the tool call is gone.
    """
    return [] if method == "save_item" and item.get("type") == "client_tool_call" else [item]


def _link(call: dict[str, Any], capture: str) -> dict[str, Any]:
    return {
        "id": call.get("id"),
        "name": call.get("name"),
        "arguments": call.get("arguments"),
        "capture": capture,
    }


SCENARIO = Scenario(
    name="client-tool",
    title="Run a client tool",
    description="The reply ends with a client_tool_call; the client runs the tool and sends "
    "threads.add_client_tool_output; the continuation must stream and, on reload, the call must "
    "be completed with the output.",
    requests=(
        "threads.create",
        "threads.add_client_tool_output",
        "threads.get_by_id",
        "items.list",
    ),
    play=play,
    checks=__name__,
    prompts={"ask": "What text is selected in my editor?"},
    judged_loads=(RELOAD,),
    replies={
        "ask": Reply(
            "client-tool",
            'The text selected in your editor is "{tool_output}".',
            tool="get_selected_text",
        )
    },
    faulty=Fault(
        "the reference backend on a store whose save_item ignores client tool calls: the "
        "completed call is never saved, so on reload it is gone",
        writes=unsaved_tool_output,
    ),
)


# -- the checks ----------------------------------------------------------------------------


@check(
    code="persistence.client_tool_unresolved",
    layer="persistence",
    severity="error",
    description="After the client sends a tool's output, the reload shows the call resolved.",
    expectation="The client_tool_call item is on the reload with status 'completed' and the "
    "output the client sent (ChatKitServer saves it before streaming the continuation).",
    fix="On threads.add_client_tool_output set the pending call's output and status "
    "'completed' and save it (store.save_item); ChatKitServer does, if your Store implements "
    "save_item.",
)
def unresolved(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    call = ctx.facts.get("call")
    reload = ctx.facts.get("reload")
    if not isinstance(call, dict) or not isinstance(reload, list):
        yield Skip("no client tool call was answered")
        return
    twin = next((i for i in reload if str(i.get("id")) == str(call.get("id"))), None)
    pending = [
        i for i in reload if i.get("type") == "client_tool_call" and i.get("status") == "pending"
    ]
    if twin is None:
        yield Found(
            f"client_tool_call {call.get('id')!r} ({call.get('name')!r}) is not on the reload: "
            "after a reload the tool call and its answer are gone",
            ctx.evidence(item_id=call.get("id"), pending=[i.get("id") for i in pending]),
        )
    elif twin.get("status") != "completed" or twin.get("output") != RESULT:
        yield Found(
            f"client_tool_call {call.get('id')!r} is on the reload with status "
            f"{twin.get('status')!r} and output {twin.get('output')!r}, not completed with "
            f"{RESULT!r}: the UI shows the call as still waiting for the tool",
            ctx.evidence(item_id=call.get("id"), status=twin.get("status")),
        )


@check(
    code="rendering.client_tool_no_continuation",
    layer="rendering",
    severity="error",
    description="After the client sends a tool's output, the reply continues.",
    expectation="threads.add_client_tool_output streams the continuation: at least one finished "
    "assistant-side item (a message, a widget, another tool call).",
    fix="Respond to threads.add_client_tool_output (ChatKitServer calls respond with no input "
    "message: run the agent on the thread, whose last item is now the completed call).",
)
def no_continuation(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    continuation = ctx.facts.get("continuation")
    if not isinstance(continuation, list):
        yield Skip("no client tool call was answered")
        return
    replies = [i for i in continuation if i.get("type") not in ("user_message", None)]
    if not replies:
        yield Found(
            "the tool output was sent, and the reply finished no item: the UI waits after the "
            "tool ran",
            ctx.evidence(ctx.facts.get("continuation_capture")),
        )
    elif not any(item_text(i).strip() or i.get("type") != "assistant_message" for i in replies):
        yield Found(
            "the continuation after the tool output is an empty assistant message",
            ctx.evidence(ctx.facts.get("continuation_capture")),
        )


@check(
    code="rendering.client_tool_loop",
    layer="rendering",
    severity="error",
    description="Answering a client tool call moves the conversation on.",
    expectation="After threads.add_client_tool_output the continuation does not ask again for "
    "the same client tool with the same arguments, time after time: a chain of different calls "
    "is fine, and ends.",
    fix="On threads.add_client_tool_output mark the pending call completed with its output "
    "before responding (ChatKitServer does), and feed the output to the model, so it does not "
    "ask for the same tool again.",
)
def tool_loop(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    chain = ctx.facts.get("chain")
    if not isinstance(chain, list):
        yield Skip("no client tool call was answered")
        return
    if len(chain) <= MAX_CHAIN:
        return  # the chain ended within the bound
    first = chain[0]
    same = all(
        link.get("name") == first.get("name") and link.get("arguments") == first.get("arguments")
        for link in chain
    )
    if same:
        yield Found(
            f"each answer to client tool {first.get('name')!r} brought back the same pending "
            f"call ({len(chain) - 1} times in a row): the page runs the tool again and again and "
            "the user never gets a reply",
            ctx.evidence(chain[-1].get("capture"), calls=[link.get("id") for link in chain]),
        )
