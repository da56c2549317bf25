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
# # 03 · Store behaviour: do the messages survive a reload?
#
# The report's second symptom is that messages "disappear after streaming completes". In ChatKit
# what stays on screen after a stream is what the backend returns when the client (re)loads the
# thread: `threads.get_by_id` and `items.list`, answered from the server's store. This notebook
# watches the store of the reference backend during a conversation, diffs each reload against
# what was streamed, breaks the store on purpose to see how that shows up, and then looks at
# what the report's custom fetch does to those reload requests.

# %%
import textwrap

import pandas as pd
from IPython.display import Markdown, display
from pandas.io.formats.style import Styler

from chatkit_lab import diagnose, diagnose_target, open_app_target
from chatkit_lab.backends import reference_app
from chatkit_lab.backends.faults import DropAssistantStore, RenamingStore, ReversedOrderStore
from chatkit_lab.checks import Reload
from chatkit_lab.report import findings_table, readable, screens_picture, table


def short(text: object, width: int = 60) -> object:
    """``text`` cut at a word to at most ``width`` characters, with an ellipsis if cut."""
    return textwrap.shorten(text, width, placeholder=" …") if isinstance(text, str) else text


# %% [markdown]
# ## The store's call log during one conversation
#
# The reference backend wraps its SQLite store in a `RecordingStore` that logs every call. We
# run the client's lifecycle against it: `threads.list` on mount, `threads.create` (first
# message), load the thread, `threads.add_user_message` (second message), reload.

# %%
app = reference_app()
async with open_app_target(app, "/chatkit", name="reference") as target:
    reference = await diagnose_target(target, keep_threads=True)

steps = table(reference.lifecycle)[["step", "name", "on_the_wire", "status", "content_type"]]
display(readable(steps))

# %% [markdown]
# And the store calls those requests caused. Items enter the store only through
# `add_thread_item` (on `thread.item.done`). The client's loads read them back with
# `load_thread_items`, oldest first (`order=asc`); the `order=desc` reads are the server
# fetching recent history for the model before it answers.

# %%
calls = table(app.state.store.rows())
columns = ["call", "method", "thread_id", "item_ids", "params", "result"]
display(readable(calls[columns], wrap=("item_ids",)))
display(readable(calls["method"].value_counts().rename("calls").reset_index()))

# %% [markdown]
# ## Reload versus stream
#
# For each load, every streamed item is looked up in what the reload returned: same id, same
# position, same text. With a correct store the `same` column is true on every row. An item
# the reload does not return has an empty `reload_position`; one the reload returns under an
# id nobody streamed gets a row of its own, with that id in `reload_id`.


# %%
def reload_table(reload: Reload) -> Styler:
    """The diff of one load: positions as whole numbers, texts cut at a word with an ellipsis."""
    diff = table(reload)
    streamed = {view.id: view.text for view in reload.streamed}
    reloaded = {view.id: view.text for view in reload.thread_items or []}
    reload_key = diff["streamed_id"]
    if "reload_id" in diff:
        reload_key = diff["reload_id"].fillna(reload_key)
    diff = diff.assign(
        streamed_text=diff["streamed_id"].map(streamed).map(short),
        reload_position=diff["reload_position"].astype("Int64"),
        reload_text=reload_key.map(reloaded).map(short),
    )
    return readable(diff, wrap=("streamed_text", "reload_text"))


for reload in reference.reloads:
    display(Markdown(f"**{reload.name}**"))
    display(reload_table(reload))
print(reference.headline())

# %% [markdown]
# ## A faulty store
#
# Three wrappers each break one rule the client relies on: returning items newest first,
# never persisting assistant messages, and handing back items under new ids. The streams stay
# perfect, so only the persistence layer can catch them. This is what "messages disappear after
# streaming" looks like when the cause is the store.

# %%
faulty = {}
for store in (ReversedOrderStore(), DropAssistantStore(), RenamingStore()):
    name = type(store).__name__
    async with open_app_target(reference_app(store=store), "/chatkit", name=name) as target:
        faulty[name] = await diagnose_target(target)

caught = pd.DataFrame(
    [
        {
            "store": name,
            "stream layers": "pass"
            if all(d.layers[layer] == "pass" for layer in ("schema", "ordering", "rendering"))
            else "fail",
            "persistence": d.layers["persistence"],
            "verdict": d.verdict.code if d.verdict else "",
            "summary": d.verdict.summary if d.verdict else "",
        }
        for name, d in faulty.items()
    ]
)
display(readable(caught, wrap=("summary",)))

# %% [markdown]
# The first reload of each faulty store, diffed against the stream:

# %%
for name, d in faulty.items():
    display(Markdown(f"**{name}**"))
    display(reload_table(d.reloads[0]))

# %% [markdown]
# ## What the report's custom fetch does to a reload
#
# Now the report's setup: backend attempt 3 behind the custom fetch. The fetch answers
# `threads.list` itself and rewrites every other request, whatever its type, into
# `POST /user-1/chat` with `{message, conversation_id}`. The lifecycle table shows what the
# client asked for and what went on the wire.

# %%
legacy = await diagnose("legacy:attempt3", transform="legacy-fetch")
wire = table(legacy.lifecycle)[["step", "client_sends", "on_the_wire", "status", "content_type"]]
display(readable(wire))

# %% [markdown]
# The reload in detail: ChatKit asks for the thread, the fetch sends an empty chat message, and
# the backend answers with a new event stream instead of the thread's items. (Only the header
# names are shown: the value of the JWT the fetch adds never is.)

# %%
load = legacy.step("threads.get_by_id", "load")
print("client sends:  ", load.client_request.body.decode())
print("on the wire:   ", load.capture.request.method, load.capture.request.url)
print("wire body:     ", load.capture.request.body.decode())
print("wire headers:  ", ", ".join(sorted(name for name, _ in load.capture.request.headers)))
print("reply:         ", load.capture.status, load.capture.content_type)
print("reply events:  ", ", ".join(event.type for event in load.capture.events[:3]), "…")

# %% [markdown]
# ## What the user sees, screen by screen
#
# The report says the message and the loading dots appear, and everything vanishes after the
# stream. Here is that sequence replayed from what was captured. What reached ChatKit at each
# moment is *fact* (the events its host script dispatched, and what it handed the UI for the
# thread load: `{}` for a body that is not JSON); what the closed UI iframe draws from it is
# *modelled* (the optimistic message and the dots on send, the client model's items, a loaded
# thread replacing the screen). First as pictures, one small pane per screen (the first loss
# outlined in red), then as a table for those who would rather read.

# %%
display(screens_picture(legacy))
strip = legacy.session.screens  # the session model: the screens every output renders
screens = pd.DataFrame(strip.rows())[["screen", "moment", "user sees", "lost", "fact"]]
display(readable(screens, wrap=("user sees", "fact")))
loss = strip.first_loss
display(
    Markdown(
        f"The first screen that loses a message is screen "
        f"**{strip.screens.index(loss) + 1} ({loss.moment})**: {loss.fact}."
        if loss is not None
        else "No screen loses a message."
    )
)

# %% [markdown]
# ## Conclusion on persistence

# %%
rewritten = [
    step.name
    for step in legacy.lifecycle.steps
    if step.client_type in ("threads.get_by_id", "items.list")
    and not step.answered_locally
    and step.capture.request_type is None
]
persistence = findings_table(legacy).query("layer == 'persistence'")
display(
    Markdown(
        f"The reference store keeps every streamed item (persistence: "
        f"**{reference.layers['persistence']}**); a faulty store is caught at the persistence "
        f"layer ({', '.join(d.verdict.code for d in faulty.values())}). In the report's setup "
        f"the store never gets a chance: all {len(rewritten)} thread loads "
        f"({', '.join(rewritten[:2])}, …) leave the browser as chat messages, so ChatKit gets "
        f"an event stream where it needs the thread's items "
        f"(persistence: **{legacy.layers['persistence']}**, "
        f"{', '.join(sorted(set(persistence['code'])))})."
    )
)
