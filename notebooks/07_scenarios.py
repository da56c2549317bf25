# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Scenarios: does the backend keep what the user saw when they press stop?
#
# Notebooks 01 to 04 followed one conversation: two messages and their reloads. A ChatKit UI
# does more: the user stops a reply, retries it, runs a client tool, presses a widget's button,
# attaches a file. The kit plays each of these as a **scenario** and grades it `pass`, `fail`
# or `skip`, the way a conformance suite does. This notebook walks through one of them step by
# step, `cancel` (the stop button), first against the reference `ChatKitServer`, then against
# `faulty:cancel`, the same backend served by the route the SDK's documentation shows; then it
# grades every scenario and puts the reference beside two faulty variants.
#
# What is fact and what is modelled: the requests, the bytes that came back, what ChatKit's
# host script dispatched and what the SDK's own server saved and returned on reload are fact;
# that the UI offers a stop button (read from the stream's `stream_options`) and what the
# closed UI draws before and after the stop are modelled.

# %%
import json
import textwrap

import pandas as pd
from IPython.display import Markdown, display

from chatkit_lab import Capture, analyze_capture
from chatkit_lab.checks import checks_of
from chatkit_lab.diagnosis import (
    ScenarioResult,
    diagnose_scenarios,
    open_run,
    run_scenarios,
)
from chatkit_lab.report import compare, readable, table, wrapped
from chatkit_lab.scenarios import item_text, scenarios

CANCEL = scenarios()["cancel"]


def short(text: object, width: int = 70) -> object:
    """``text`` cut at a word to at most ``width`` characters, with an ellipsis if cut."""
    return textwrap.shorten(text, width, placeholder=" …") if isinstance(text, str) else text


# %% [markdown]
# ## The scenario
#
# A scenario is declared once, in its own module: what it does in plain words, the requests it
# sends, and the messages it sends, by role (a backend that needs other words gets them with
# `--prompt cancel.long=...`).

# %%
print(f"{CANCEL.name}: {CANCEL.title}")
print(textwrap.fill(CANCEL.description, 96))
print("requests:", ", ".join(CANCEL.requests))
for role, text in CANCEL.prompts.items():
    print(f"prompt {role!r}: {text}")

# %% [markdown]
# ## Playing it against the reference
#
# `run_scenarios` plays the scenario as ChatKit's client on an open target (`open_run` opens a
# built-in backend or a URL); `diagnose_scenarios` does both in one call, as the command line's
# `--scenario` does. Here we keep the target open a moment longer to read the backend's store
# log afterwards.


# %%
async def play_cancel(target: str) -> tuple[ScenarioResult, pd.DataFrame]:
    """The cancel scenario against a built-in backend: its result, and the store's call log."""
    async with open_run(target) as run:
        played = await run_scenarios(run.target, [CANCEL])
        return played.result("cancel"), table(run.target.store.rows())


reference, reference_store = await play_cancel("reference")
steps = table(reference.diagnosis.lifecycle)
display(readable(steps[["step", "name", "client_sends", "status", "content_type", "ended"]]))

# %% [markdown]
# ## The request the client sends
#
# The first message of a new thread: `threads.create`, asking for a reply long enough to stop.

# %%
send = reference.diagnosis.step("threads.create", "send")
request = send.client_request
print(request.method, request.url)
print(json.dumps(json.loads(request.body), indent=2))

# %% [markdown]
# ## The stream as it arrived, and the stop
#
# One row per event ChatKit's host script dispatched, with its arrival time; the last row is
# the moment the client stopped reading. The kit stops after the first three text deltas and
# closes the connection, as ChatKit does when the user presses stop (it aborts the request).


# %%
def arrivals(capture: Capture) -> pd.DataFrame:
    """Each dispatched event (type, item, delta text) and, last, where the client stopped."""
    rows = []
    for event in capture.events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
        update = payload.get("update") if isinstance(payload.get("update"), dict) else {}
        rows.append(
            {
                "event": event.index,
                "arrived_ms": event.arrived_ns / 1e6,
                "type": event.type,
                "item": item.get("type") or payload.get("item_id") or "",
                "update": str(update.get("type") or "").removeprefix("assistant_message."),
                "text": update.get("delta") or item_text(item) or "",
            }
        )
    ending = capture.ending
    if ending.state == "stopped" and ending.at_ns is not None:
        rows.append(
            {
                "event": None,
                "arrived_ms": ending.at_ns / 1e6,
                "type": "(stopped)",
                "item": "",
                "update": "",
                "text": ending.message,
            }
        )
    table = pd.DataFrame(rows)
    return table.assign(event=table["event"].astype("Int64"), text=table["text"].map(short))


display(readable(arrivals(send.capture), wrap=("text",)))
seen = reference.facts["seen"]
print("the capture ended:", send.capture.ending.state, "-", send.capture.ending.message)
print("stream_options:", seen["stream_options"])
print("text the user saw:", seen["streaming_text"])

# %% [markdown]
# `stream_options.allow_cancel: true` is what makes the UI show its stop button (modelled from
# the SDK's `StreamOptions`; a backend that says `false` gets the scenario skipped, with that
# event as the reason). What the client model holds at the moment of the stop (modelled):

# %%
print(wrapped(analyze_capture(send.capture).final.transcript(), indent=4))

# %% [markdown]
# ## The reload
#
# Half a second later the client loads the thread again (`threads.get_by_id`, `items.list`):
# this is what the UI shows from now on. A conforming server ran the SDK's
# `handle_stream_cancelled` when the client went away: it saved the assistant message with the
# text it had (it may hold a few words more than the user saw) and left nothing pending.


# %%
def reload_table(result: ScenarioResult) -> pd.DataFrame:
    """The items the reload returned, oldest first, each with its text."""
    return pd.DataFrame(
        [
            {
                "position": position,
                "type": item.get("type"),
                "id": item.get("id"),
                "status": item.get("status"),
                "text": short(item_text(item)),
            }
            for position, item in enumerate(result.facts.get("reload", []))
        ],
        columns=["position", "type", "id", "status", "text"],
    )


display(readable(reload_table(reference), wrap=("text",)))

# %% [markdown]
# Then the user sends another message. The SDK's hidden note ("the user cancelled the stream")
# keeps the next reply from continuing the cancelled one; it must be an ordinary reply.

# %%
after = reference.diagnosis.step("threads.add_user_message", "send after stop")
print(wrapped(analyze_capture(after.capture).final.transcript(), indent=4))

# %% [markdown]
# ## The scenario's checks
#
# Three checks judge what only this sequence can show, each declared in the scenario's module
# with its layer, expectation and fix. Every exchange also went through every layer's checks;
# the two that judge how a stream ends are skipped for the stopped one (the client ended it,
# not the server), and the run says so.


# %%
def check_outcomes(result: ScenarioResult) -> pd.DataFrame:
    """Each of the scenario's own checks: its layer, what it expects, and how it came out."""
    found = {finding.code for finding in result.diagnosis.findings}
    skipped = {item.code for item in result.diagnosis.skipped}
    return pd.DataFrame(
        [
            {
                "check": declared.code,
                "layer": declared.spec.layer,
                "expects": declared.spec.expectation,
                "outcome": "fail"
                if declared.code in found
                else "skip"
                if declared.code in skipped
                else "pass",
            }
            for declared in checks_of(CANCEL.checks)
        ]
    )


display(readable(check_outcomes(reference), wrap=("expects",)))
display(readable(table(reference.diagnosis)))
skips = pd.DataFrame(
    [{"layer": s.layer, "check": s.code, "reason": s.reason} for s in reference.diagnosis.skipped]
)
display(readable(skips, wrap=("reason",)))
print(f"cancel against the reference: {reference.state} ({reference.reason})")

# %% [markdown]
# ## The same against `faulty:cancel`: the SDK's documented route
#
# `faulty:cancel` is the reference with one change: its endpoint returns the stream the way the
# SDK's documentation shows, `StreamingResponse(result, media_type="text/event-stream")`, and
# its store writes go through the event loop as an async database driver's do. The stream is
# the same; watch the reload.

# %%
faulty, faulty_store = await play_cancel("faulty:cancel")
faulty_send = faulty.diagnosis.step("threads.create", "send")
ending = faulty_send.capture.ending
print("the capture ended:", ending.state, "-", ending.message)
print("text the user saw:", faulty.facts.get("seen", {}).get("streaming_text"))
display(readable(reload_table(faulty), wrap=("text",)))
display(readable(check_outcomes(faulty), wrap=("expects",)))

# %% [markdown]
# The verdict, with its evidence and the check's fix:

# %%
verdict = faulty.diagnosis.verdict
if verdict is not None:
    display(
        Markdown(
            f"**{faulty.diagnosis.headline()}**\n\n"
            f"- layer: `{verdict.layer}`, check: `{verdict.code}`\n"
            f"- evidence: {verdict.evidence.describe()}\n"
            f"- fix: {verdict.fix}"
        )
    )
else:
    display(Markdown(f"`faulty:cancel` was graded **{faulty.state}**: {faulty.reason}"))

# %% [markdown]
# ## Why: the store's call log
#
# The backend's store logs every call it gets. After the stop the SDK did what it should: it
# called `add_thread_item` for the partial assistant message. Against the reference that call
# returns and is followed by the hidden note (`sdk_hidden_context`); against `faulty:cancel` it
# starts and never returns, and the note is never written. Starlette's `StreamingResponse`
# stops the response by cancelling an anyio cancel scope, and anyio cancellation is
# level-triggered: every `await` inside that scope is cancelled again, the SDK's own saves
# included. (A store whose writes run in a worker thread, as the reference's SQLite store's do,
# hides this some of the time: the thread may finish a write whose caller was cancelled. A
# store on an async driver, such as asyncpg or SQLAlchemy's asyncio engine, loses it every
# time.)


# %%
def writes_after_stop(store: pd.DataFrame, result: ScenarioResult) -> pd.DataFrame:
    """The store writes of the stopped turn: from the streamed assistant message up to the next
    user message, each with whether it returned (the log records a result when a call returns
    and an error when it raises; a call cancelled while it waits leaves neither)."""
    seen = result.facts.get("seen", {}).get("streaming_text", {})
    writes = store[store["method"] == "add_thread_item"].reset_index(drop=True)
    first = writes.index[writes["item_ids"].isin(list(seen))]
    if len(first) == 0:
        return writes.head(0)
    after_stop = writes.iloc[first[0] :]
    user_again = after_stop.index[after_stop["params"] == "type=user_message"]
    end = user_again[0] if len(user_again) else len(writes)
    rows = writes.iloc[first[0] : end]
    returned = [
        "yes" if row.result else f"raised {row.error}" if row.error else "no, never returned"
        for row in rows.itertuples()
    ]
    return rows[["t_ms", "method", "item_ids", "params"]].assign(returned=returned)


for name, store, result in (
    ("reference", reference_store, reference),
    ("faulty:cancel", faulty_store, faulty),
):
    display(Markdown(f"**{name}**: the writes after the stop"))
    display(readable(writes_after_stop(store, result)))

# %% [markdown]
# The fix is in the route, not in `handle_stream_cancelled`: run the SDK's stream in an asyncio
# task of its own, outside the response's cancel scope, feed the response from it, and when the
# response ends early cancel that task **once** and wait for it (shielded, a few seconds at
# most). asyncio's cancellation is edge-triggered, so the SDK's handler then runs its saves to
# the end. That is how the reference serves its streams (`ChatKitStreamingResponse` in
# `chatkit_lab/backends/_streaming.py`, in place of `StreamingResponse`); the SDK's default
# `handle_stream_cancelled` stays as it is. See `docs/concepts/scenarios.md`.
#
# ## Every scenario against the reference
#
# `diagnose_scenarios("reference", "all")` is `chatkit-lab diagnose reference --scenario all`:
# one row per scenario, `pass`, `fail` with the failing layer and check, or `skip` with how the
# kit knew the backend does not offer it.

# %%
reference_all = await diagnose_scenarios("reference", "all")
print(reference_all.headline())
display(readable(table(reference_all), wrap=("why",)))

# %% [markdown]
# ## The reference beside two faulty variants
#
# Each `faulty:<scenario>` target is the reference with one bug a custom backend really has;
# it breaks its own scenario and leaves every other one passing. `compare` puts the targets
# side by side: `faulty:cancel` (the documented route) and `faulty:retry` (a store whose
# `delete_thread_item` does nothing, so a retried answer comes back on reload).

# %%
faulty_all = [await diagnose_scenarios(name, "all") for name in ("faulty:cancel", "faulty:retry")]
side_by_side = compare([reference_all, *faulty_all])
display(readable(side_by_side))

# %% [markdown]
# ## Conclusion

# %%
saved = [row for row in reload_table(reference).itertuples() if row.type == "assistant_message"]
kept = [row for row in reload_table(faulty).itertuples() if row.type == "assistant_message"]
counts = reference_all.counts()
lines = [
    f"- **reference**: cancel **{reference.state}**; after the stop the reload shows "
    f"{len(saved)} assistant message(s)"
    + (f' ("{saved[0].text}")' if saved else "")
    + f". Against every scenario: {counts['pass']} of {len(reference_all.results)} pass"
    + (f", {counts['skip']} skipped" if counts["skip"] else "")
    + (f", {counts['fail'] + counts['error']} fail" if reference_all.failed else "")
    + ".",
    f"- **faulty:cancel** (the SDK's documented `StreamingResponse` route): cancel "
    f"**{faulty.state}**"
    + (f" with `{verdict.code}`" if verdict is not None else "")
    + f"; the reload shows {len(kept)} assistant message(s).",
]
for conformance in faulty_all:
    broken = [r.name for r in conformance.results if r.state in ("fail", "error")]
    others = [r for r in conformance.results if r.name not in broken]
    lines.append(
        f"- **{conformance.target}** against every scenario: fails "
        f"{', '.join(broken) or 'nothing'}; of the other {len(others)}, "
        f"{sum(r.state == 'pass' for r in others)} pass."
    )
if reference.state == "pass" and faulty.state == "fail":
    lines.append(
        "\nThe stop button keeps what the user read only when the SDK's stream is served "
        "outside the response's cancel scope: with the documented route the SDK's own saves are "
        "cancelled, and after a reload the partial reply is gone. The next message still gets a "
        "normal reply: only a reload shows the loss."
    )
display(Markdown("\n".join(lines)))
