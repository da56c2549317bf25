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
# # 02 · Events and ordering: does the client understand what arrives?
#
# Notebook 01 showed that every message arrives and is dispatched. The next question is what the
# client makes of each event. ChatKit keys every event on the JSON `type` field and validates it
# against its own event types (`chatkit.types.ThreadStreamEvent` in the server SDK). The report
# tried three formats borrowed from other OpenAI APIs; here we put each event next to the
# ChatKit event it should have been, check the order of the events that are valid, and step
# through what the client would render after each one.
#
# The client model used below follows the openai-chatkit server SDK's semantics and the protocol
# notes, not ChatKit.js source (which is closed).

# %%
import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML, Markdown, display
from pandas.io.formats.style import Styler

from chatkit_lab import analyze_events, decode_messages, diagnose, dispatch_bytes
from chatkit_lab.report import findings_table, readable, table

# %% [markdown]
# ## One conversation per backend
#
# `diagnose` plays the ChatKit client against each backend (the legacy attempts behind the
# report's custom fetch) and keeps an event analysis for every stream it received. We use the
# first stream of each: the reply to `threads.create`.

# %%
names = ["reference", "legacy:attempt1", "legacy:attempt2", "legacy:attempt3"]
diagnoses = {name: await diagnose(name) for name in names}
analyses = {name: d.analysis("threads.create") for name, d in diagnoses.items()}
summaries = pd.DataFrame(
    [{"backend": name, "first stream": analysis.summary()} for name, analysis in analyses.items()]
)
display(readable(summaries, wrap=("first stream",)))

# %% [markdown]
# ## Dialects: whose protocol is each stream speaking?
#
# Each event is classified: `chatkit` (valid), `chatkit-invalid` (a ChatKit name with wrong
# fields), `assistants` (Assistants API `thread.message.*`), `responses` (Responses API
# `response.*`, `conversation.item.*`) or `invented` (a name nobody defines). Only the reference
# server speaks ChatKit.

# %%
dialects = pd.DataFrame({name: a.dialects for name, a in analyses.items()}).fillna(0)
display(readable(dialects.astype(int).rename_axis("dialect").reset_index()))

# %% [markdown]
# ## Schema: the report's attempt 3, then the reference
#
# First what attempt 3 sends, one row per event: its `type`, the protocol that name comes from,
# whether it validates as a ChatKit event, and `should_be`, the ChatKit event it should have
# been: the answer to the report's question "what format does ChatKit expect?".
# `messages shown` is the number of messages the client would show after that event.

# %%
SCHEMA = {
    "index": "event",
    "type": "type",
    "dialect": "dialect",
    "valid": "valid",
    "should_be": "should_be",
    "ui_items_after": "messages shown",
}


def schema_table(name: str, columns: dict[str, str]) -> Styler:
    """One stream's events with the chosen columns, renamed for reading."""
    shown = table(analyses[name])[list(columns)].rename(columns=columns)
    return readable(shown, wrap=("should_be",) if "should_be" in columns else ())


display(Markdown("**legacy:attempt3**: what the report's backend sends"))
display(schema_table("legacy:attempt3", SCHEMA))

# %% [markdown]
# Below it, what the reference `ChatKitServer` sends for the same request. Every event is a
# valid ChatKit event (so there is nothing it should have been instead): the user message
# arrives finished, the assistant message is added, grows with each `thread.item.updated`, and
# is closed by the last `thread.item.done`.

# %%
REFERENCE = {
    "index": "event",
    "type": "type",
    "valid": "valid",
    "item_id": "item",
    "ui_items_after": "messages shown",
}
display(Markdown("**reference**: what `ChatKitServer` sends"))
display(schema_table("reference", REFERENCE))

# %% [markdown]
# Why the other two attempts fail, event by event: attempt 1 invents `thread.item.*_message`
# event names, attempt 2 puts the name in the SSE `event:` line and leaves `type` out of the
# JSON, which the client never reads.

# %%
OTHERS = {
    "index": "event",
    "sse_event": "SSE event",
    "type": "type",
    "errors": "errors",
    "should_be": "should_be",
}
for name in ("legacy:attempt1", "legacy:attempt2"):
    display(Markdown(f"**{name}**"))
    shown = table(analyses[name])[list(OTHERS)].rename(columns=OTHERS)
    display(readable(shown, wrap=("errors", "should_be")))

# %% [markdown]
# ## Ordering
#
# The ordering check follows the item lifecycle the SDK uses: thread first, the user message as
# a finished item, then per item `added` → `updated`* → `done`, unique ids, nothing left open.
# It only judges valid ChatKit events (the schema layer already reports the rest), so it has
# nothing to say about the legacy streams, and the reference stream is in order:

# %%
ordering = pd.DataFrame(
    [
        {
            "stream": name,
            "valid ChatKit events": int(table(analysis)["valid"].sum()),
            "ordering findings": sum(f.layer == "ordering" for f in analysis.findings),
        }
        for name, analysis in analyses.items()
    ]
)
display(readable(ordering))

# %% [markdown]
# To see what an ordering fault looks like, we scramble the reference stream: the user message
# before `thread.created`, and the assistant message's final `thread.item.done` dropped. The
# events stay valid one by one, but the order is wrong.

# %%
reference_events = analyses["reference"].events
first_user = next(e for e in reference_events if e.type == "thread.item.done")
last_done = [e for e in reference_events if e.type == "thread.item.done"][-1]
scrambled = [first_user] + [
    e for e in reference_events if e.index not in (first_user.index, last_done.index)
]
body = b"".join(f"data: {e.data}\n\n".encode() for e in scrambled)
scrambled_analysis = analyze_events(
    decode_messages(dispatch_bytes(body)), "threads.create", "scrambled reference"
)
scrambled_findings = findings_table(scrambled_analysis).query("layer == 'ordering'")
display(readable(scrambled_findings[["code", "summary"]], wrap=("summary",)))

# %% [markdown]
# ## Step through what the client would show
#
# Move the slider to replay a stream event by event; the panel shows what the stream's events
# alone put in the thread (the modelled client state after that event). With the reference
# stream the server's copy of the user message arrives with the first `thread.item.done` and the
# reply grows with each `thread.item.updated`; with any legacy attempt the events add nothing to
# the end. The screen the user looks at holds more than the stream: ChatKit shows the message
# the user typed as soon as it is sent, so what the user sees is their own message and no reply
# (the screens below, the same as notebook 03 and the command line). (The slider needs a live
# kernel; the final states are also shown below it.)

# %%
choice = widgets.Dropdown(options=names, value="legacy:attempt3", description="stream")
step = widgets.IntSlider(min=0, max=0, description="event")
caption = widgets.HTML()
panel = widgets.HTML()


def show(_change: object = None) -> None:
    analysis = analyses[choice.value]
    step.max = max(len(analysis.states) - 1, 0)
    index = min(step.value, step.max)
    event = analysis.events[index] if analysis.events else None
    kind = (event.type or f"(no type; SSE event {event.sse_event})") if event else "(none)"
    caption.value = f"<b>event {index}</b>: <code>{kind}</code>"
    panel.value = analysis.states[index].to_html() if analysis.states else ""


choice.observe(show, names="value")
step.observe(show, names="value")
show()
display(widgets.VBox([choice, step, caption, panel]))

# %% [markdown]
# ## Final state after each stream
#
# The same panel after the last event, for the report's setup and the reference.

# %%
for name in ("legacy:attempt3", "reference"):
    display(Markdown(f"**{name}**"))
    display(HTML(analyses[name].final.to_html()))

# %% [markdown]
# ## What the user sees, screen by screen
#
# The screens of each run's session model: the one every output of the kit renders (the
# command line, the report, notebooks 03 and 04). What reached ChatKit is *fact*; what the
# closed UI iframe draws from it is *modelled*.

# %%
for name in ("legacy:attempt3", "reference"):
    display(Markdown(f"**{name}**"))
    screens = pd.DataFrame(diagnoses[name].session.screens.rows())
    shown = screens[["screen", "moment", "user sees", "fact"]]
    display(readable(shown, wrap=("user sees", "fact")))

# %% [markdown]
# ## Conclusion on events

# %%
blank = [name for name, a in analyses.items() if a.renders_nothing]
foreign = {name: table(a)["valid"].eq(False).sum() for name, a in analyses.items()}
display(
    Markdown(
        f"No event of the first stream adds anything to the thread for {', '.join(blank)} ("
        + ", ".join(f"{foreign[n]} of {len(analyses[n].events)} events invalid" for n in blank)
        + "): the user sees the message they typed (ChatKit shows it on send) and no reply. "
        "The reference stream is valid and in order, and draws "
        f"{len(analyses['reference'].final.visible_items)} messages. Whatever the formats were "
        "modelled on, none of the three attempts sends ChatKit events."
    )
)
