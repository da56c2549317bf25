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
# # 01 · Framing: do the bytes arrive as SSE frames a browser would dispatch?
#
# The report lists "SSE format issue" as its first unexplored cause: maybe ChatKit needs an
# `event:` prefix, an `id:` field or other line endings. This notebook settles that with
# captured bytes. We send one streaming `threads.create` to the reference `ChatKitServer` and to
# each of the report's three backend attempts, record every chunk with its arrival time, cut the
# body into SSE frames the way a browser does, and ask a second parser (`httpx-sse`) for its
# opinion.
#
# The backends sleep a little between events (`delay_s`) so the arrival times show streaming
# rather than one burst.

# %%
import json

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from pandas.io.formats.style import Styler

from chatkit_lab import HTTPTransport, InProcessTransport, LoopbackServer
from chatkit_lab.backends import legacy_app, legacy_fetch, reference_app
from chatkit_lab.checks import check_framing
from chatkit_lab.client import ClientRequest
from chatkit_lab.sse import crosscheck_httpx_sse

DELAY_S = 0.01
MESSAGE = "Hello! What can you do?"
WRAP = "white-space: normal; overflow-wrap: anywhere; text-align: left; min-width: 14em"


def readable(frame: pd.DataFrame, wrap: tuple[str, ...] = ()) -> Styler:
    """A table for reading: no row numbers, blank where a value is missing, times to 0.1 ms,
    text escaped, and the ``wrap`` columns wrapped and left-aligned instead of widening the
    table."""
    styler = frame.style.hide(axis="index").format(na_rep="", precision=1, escape="html")
    styler = styler.set_table_styles([{"selector": "td", "props": "vertical-align: top"}])
    columns = {column: [{"selector": "", "props": WRAP}] for column in wrap}
    return styler.set_table_styles(columns, overwrite=False)


# %% [markdown]
# ## The request ChatKit sends
#
# ChatKit posts one JSON envelope per action to a single URL. For the first message of a new
# conversation that is `threads.create` with the user's input. The reference backend receives it
# as is; the report's backend only ever sees what its custom fetch turns it into, so we pass the
# same request through `legacy_fetch` (the fetch from the report, re-created) before sending it.

# %%
ENVELOPE = {
    "type": "threads.create",
    "params": {
        "input": {
            "content": [{"type": "input_text", "text": MESSAGE}],
            "attachments": [],
            "inference_options": {},
        }
    },
    "metadata": {},
}


def chatkit_request(base_url: str, path: str = "/chatkit") -> ClientRequest:
    """The POST ChatKit.js sends for ENVELOPE to ``base_url + path``."""
    return ClientRequest.chatkit(base_url + path, ENVELOPE)


rewritten = legacy_fetch(chatkit_request("http://backend.test"))
print("ChatKit sends:      ", json.dumps(ENVELOPE)[:90], "…")
print("the backend receives:", rewritten.method, rewritten.url, rewritten.body.decode())

# %% [markdown]
# ## Capture one stream per backend
#
# `InProcessTransport` drives the FastAPI app in this event loop and records each body message
# the moment the app sends it (unlike `httpx.ASGITransport`, which hands over the whole body at
# the end and loses all timing). The last capture goes through a real socket: the reference app
# served by uvicorn on 127.0.0.1 (`LoopbackServer`) and read with `HTTPTransport`.

# %%
captures = {}

transport = InProcessTransport(reference_app(delay_s=DELAY_S))
captures["reference"] = await transport.send_request(
    chatkit_request(transport.base_url), label="reference"
)

for attempt in (1, 2, 3):
    transport = InProcessTransport(legacy_app(attempt=attempt, delay_s=DELAY_S))
    wire = legacy_fetch(chatkit_request(transport.base_url))
    captures[f"legacy attempt {attempt}"] = await transport.send_request(
        wire, label=f"legacy attempt {attempt}"
    )

with LoopbackServer(reference_app(delay_s=DELAY_S)) as server:
    captures["reference (loopback)"] = await HTTPTransport().send_request(
        chatkit_request(server.url), label="reference (loopback)"
    )

summary = pd.DataFrame([capture.summary() for capture in captures.values()])
display(readable(summary.drop(columns=["target"])))

# %% [markdown]
# Every exchange is a `200` with `text/event-stream` that ended cleanly: the transport layer is
# fine, as the report says.
#
# ## Chunks: what arrived, and when
#
# One row per body chunk: its arrival offset from the request, the gap since the previous chunk
# and the first bytes (a line break shows as `\n`, so the blank line that ends a frame reads
# `\n\n`). Here is attempt 3, the report's current backend.

# %%
display(readable(captures["legacy attempt 3"].chunks_df()))

# %% [markdown]
# ## Frames: how a browser cuts the bytes
#
# A browser's `EventSource` parser (WHATWG rules) splits the body at blank lines, reads `data:`,
# `event:`, `id:` and `retry:` fields, and dispatches a frame only if it is complete and has data.
# The table shows each frame's byte range, the chunks it spans, its line ending, its fields and
# whether it would be dispatched (`fields` already shows whether a frame has an `id:`, and the
# conclusion below checks that every frame is complete). Attempt 2 uses `event:` names; the
# others send bare `data:` lines like the reference server does.

# %%
FRAME_COLUMNS = ["frame", "bytes", "chunks", "arrived_ms", "line_ending", "fields", "event"]
for name in ("legacy attempt 2", "reference"):
    display(Markdown(f"**{name}**"))
    frames = captures[name].frames_df().head(6)[[*FRAME_COLUMNS, "dispatched", "data"]]
    display(readable(frames, wrap=("data",)))

# %% [markdown]
# ## Timeline of arrivals
#
# Each step is one dispatched event. The lines rise steadily over time: events reach the client
# one by one while the backend produces them, nothing is held back until the end. The loopback
# capture (a real TCP socket) follows the same shape as the in-process one. The reference's
# longer pause after its first few events is the agent starting its model call before the reply
# streams; it is the backend thinking, not the transport holding bytes back.

# %%
fig, ax = plt.subplots(figsize=(9, 3.5))
for name, capture in captures.items():
    times = [event.arrived_ns / 1e6 for event in capture.events]
    ax.step(times, range(1, len(times) + 1), where="post", label=name)
ax.set_xlabel("arrival (ms since the request was sent)")
ax.set_ylabel("events dispatched")
ax.set_title("Event arrivals per backend")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the data
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Second opinion: a browser versus `httpx-sse`
#
# `crosscheck_httpx_sse` feeds the same chunks to `httpx-sse` and lists every event where the
# two disagree (with the reason). Agreement means both parsers dispatch the same events with the
# same names and data.

# %%
checks = {name: crosscheck_httpx_sse(capture) for name, capture in captures.items()}
agreement = pd.DataFrame(
    [
        {
            "capture": name,
            "browser dispatches": len(result.browser),
            "httpx-sse yields": len(result.httpx_sse),
            "agree": result.agree,
            "notes": "; ".join(result.notes),
        }
        for name, result in checks.items()
    ]
)
display(readable(agreement, wrap=("notes",)))

# %% [markdown]
# What a disagreement looks like: a hand-made stream with a keep-alive comment and a block that
# only sets `retry:`. A browser ignores both; `httpx-sse` yields the `retry:` block as an empty
# event. The kit names that difference instead of hiding it, which is why the framing verdict
# rests on the browser rules and `httpx-sse` only serves as a cross-check.

# %%
odd = b': ping\n\nretry: 1000\n\ndata: {"type":"thread.created"}\n\n'
demo = crosscheck_httpx_sse(odd)
print(demo)
display(readable(demo.table[["kind", "browser", "httpx_sse", "why"]], wrap=("why",)))

# %% [markdown]
# ## Conclusion on framing
#
# The verdict below is computed from the captures: every frame complete and dispatched, no
# framing finding, and `httpx-sse` agreeing.

# %%
framing_findings = {name: check_framing(capture) for name, capture in captures.items()}
frames_total = sum(len(capture.frames) for capture in captures.values())
bad_frames = [
    (name, frame.index)
    for name, capture in captures.items()
    for frame in capture.frames
    if not (frame.complete and frame.dispatched)
]
errors = [f for found in framing_findings.values() for f in found if f.severity == "error"]
disagreements = [name for name, result in checks.items() if not result.agree]

if not bad_frames and not errors and not disagreements:
    conclusion = (
        f"**Framing is not the cause:** all {frames_total} frames of the {len(captures)} "
        "captures (the reference and every legacy attempt) are complete, well-formed and "
        "dispatched, and httpx-sse agrees on every event. `event:` lines or their absence "
        "make no difference: the client reads the JSON `type` inside `data:`."
    )
else:
    conclusion = (
        f"**Framing needs a look:** {len(bad_frames)} frame(s) not dispatched, "
        f"{len(errors)} framing error(s), httpx-sse disagrees on {disagreements or 'nothing'}."
    )
display(Markdown(conclusion))
