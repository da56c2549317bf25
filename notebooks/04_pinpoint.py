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
# # 04 · Pinpoint: the first broken layer, and the smallest fix
#
# The earlier notebooks looked at one layer each. Here the whole diagnosis runs for every
# built-in backend: each layer gets `pass`, `warn`, `fail` or `skip`, and the verdict is the first
# layer that fails, in the order a request travels (request, transport, framing, decoding,
# schema, ordering, rendering, persistence). Then we take the report's setup and apply the fixes
# one at a time to find the smallest set of changes that makes the client render and keep the
# messages.

# %%
import pandas as pd
from IPython.display import Markdown, display

from chatkit_lab.investigation import BUILTIN_RUNS, FIX_LADDER, REPORT_SETUP, run_all
from chatkit_lab.report import (
    layers_by_target,
    readable,
    screens_picture,
    summary_by_code,
    table,
    verdict_lines,
    wrapped,
)

# %% [markdown]
# ## Every built-in backend, every layer
#
# The reference `ChatKitServer` without a custom fetch, and the report's three attempts behind
# the report's fetch. One column per target, one row per layer in the order a reply passes
# through them; the last row is the verdict.

# %%
builtins = await run_all(BUILTIN_RUNS, progress=False)
matrix = layers_by_target(builtins)


def colour(value: object) -> str:
    palette = {"pass": "#c8e6c9", "warn": "#ffe082", "fail": "#ef9a9a", "skip": "#e0e0e0"}
    return f"background-color: {palette.get(str(value), 'white')}"


display(readable(matrix).map(colour))

# %% [markdown]
# Framing and decoding pass everywhere (notebook 01). The legacy attempts fail at schema and
# rendering (notebook 02) and at persistence (notebook 03), but the first red cell of each of
# their columns is higher up: the request layer.
#
# ## The verdict for the report's setup
#
# Attempt 3 (the report's current backend) behind its custom fetch. The verdict comes with the
# evidence it rests on (the capture and the payload excerpt) and the fix; then what the user
# sees, screen by screen (modelled), and the layer states.

# %%
setup = next(d for d, run in zip(builtins, BUILTIN_RUNS, strict=True) if run.target == REPORT_SETUP)
verdict = setup.verdict
display(Markdown("\n".join(verdict_lines(setup))))
display(screens_picture(setup))
display(readable(table(setup)))

# %% [markdown]
# All findings of that run, one row per check (a fault repeated on every event is counted, not
# listed fourteen times), with the first example and the whole fix:

# %%
display(readable(summary_by_code(setup), wrap=("example", "fix")))

# %% [markdown]
# ## The fix ladder
#
# Two changes are on the table:
#
# 1. **the custom fetch** adds the JWT and rewrites nothing (`legacy-auth` instead of
#    `legacy-fetch`), so every ChatKit request keeps its type and envelope;
# 2. **the backend** serves the ChatKit protocol (`ChatKitServer.process` behind one endpoint,
#    the reference backend) instead of the Responses-style chat endpoint.
#
# We run the report's setup, each fix alone, and both together.

# %%
ladder = await run_all(FIX_LADDER, progress=False)


def _reply_after_first_send(diagnosis) -> str:
    """From the session model's screens: does the first send end with a reply on screen?"""
    for screen in diagnosis.session.screens.screens:
        if screen.moment in ("after the stream", "after the send failed"):
            return "yes" if any(item.role != "user" for item in screen.items) else "no"
    return "no"


rows = []
for run, d in zip(FIX_LADDER, ladder, strict=True):
    rows.append(
        {
            "setup": run.caption,
            "backend": run.target,
            "fetch": run.transform,
            "first broken layer": d.verdict.layer if d.verdict else "none",
            "verdict": d.verdict.code if d.verdict else "all pass",
            "reply shown after the first send": _reply_after_first_send(d),
            "streamed items unchanged on the last reload": (
                int(table(d.reloads[-1])["same"].sum())
                if d.reloads and not table(d.reloads[-1]).empty
                else 0
            ),
        }
    )
ladder_table = pd.DataFrame(rows)
display(readable(ladder_table, wrap=("setup",)))

# %% [markdown]
# Layer by layer, the same four runs:

# %%
steps = layers_by_target(ladder, [run.caption for run in FIX_LADDER])
display(readable(steps).map(colour))

# %% [markdown]
# What the user would see in the last run (both fixes), screen by screen, from its session model
# (the same screens the command line and the report show), and what the client renders after the
# first send:

# %%
both = ladder[-1]
display(screens_picture(both))
display(
    readable(
        pd.DataFrame(both.session.screens.rows())[["screen", "moment", "user sees"]],
        wrap=("user sees",),
    )
)
print(wrapped(both.analysis("threads.create").final.transcript(), indent=4))

# %% [markdown]
# ## Conclusion

# %%


def _after_first_stream(diagnosis):
    return next(
        screen
        for screen in diagnosis.session.screens.screens
        if screen.moment == "after the stream"
    )


passing = [run.caption for run, d in zip(FIX_LADDER, ladder, strict=True) if d.verdict is None]
lines = [
    f"The report's setup breaks first at the **{verdict.layer}** layer (`{verdict.code}`).",
    "",
]
for run, d in zip(FIX_LADDER[1:3], ladder[1:3], strict=True):
    lines.append(f"- {run.caption}: still broken, {d.headline().split(': ', 1)[1]}")
if passing:
    lines += [
        "",
        f"Only **{passing[0]}** passes every layer: after the first send the user sees "
        f"{len(_after_first_stream(both).items)} messages and "
        f"the reload returns all {len(table(both.reloads[-1]))} streamed items unchanged. "
        "Neither change alone is enough; both together are the smallest fix.",
    ]
display(Markdown("\n".join(lines)))
