# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
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
# # 05 · Staging: the same diagnosis against a real endpoint
#
# Everything so far ran against re-creations of the backends. This notebook runs the whole
# capture and diagnosis against any ChatKit endpoint URL, for example the team's staging server
# once the fixes are in, and saves the captures as evidence.
#
# It is meant to be run with papermill, which overrides the parameters below:
#
# ```bash
# CHATKIT_TOKEN=… papermill notebooks/05_staging.ipynb out.ipynb \
#     -p target_url https://staging.example.com/chatkit -p transform none
# ```
#
# With `target_url` left empty it starts a built-in backend on 127.0.0.1 and diagnoses that, so
# the notebook always runs. The token is read from the environment variable named by
# `token_env`, never from a parameter, and the kit keeps it out of everything it prints, shows
# or saves.
#
# **In an interactive kernel** (JupyterLab), give the token the same way: set the variable in
# the shell that starts JupyterLab, before starting it (`export CHATKIT_TOKEN=…`, then
# `jupyter lab`), so the kernel inherits it. The credentials cell below reads it with
# `secrets_from_env` and registers it with `register_secrets`: from then on every table, message
# and saved file of this kernel has it scrubbed. Never paste a token into a cell: the notebook
# file would keep it, and its outputs too.

# %%
import json
from datetime import UTC, datetime
from pathlib import Path

from IPython.display import Markdown, display

from chatkit_lab import (
    LoopbackServer,
    diagnose,
    diagnose_captures,
    load_captures,
    load_har,
    register_secrets,
    save_captures,
    secrets_from_env,
)
from chatkit_lab.backends import make_backend
from chatkit_lab.report import (
    layers_by_target,
    lifecycle_notes,
    lifecycle_table,
    md_code,
    md_text,
    readable,
    reload_tables,
    screens_picture,
    summary_by_code,
    table,
)

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())

# %% tags=["parameters"]
target_url = ""  # ChatKit endpoint URL; empty: start `builtin` on 127.0.0.1
token_env = "CHATKIT_TOKEN"  # name of the environment variable holding the bearer token
transform = "none"  # client transform (custom fetch): none, legacy-auth, legacy-fetch, module:fn
message = "Hello from chatkit-lab! Please answer with one short sentence."
keep_threads = False  # keep the threads this run creates in the target (deleted by default)
out_dir = "data/captures/staging"  # where captures are saved (relative to the repository root)
builtin = "reference"  # the built-in backend used when target_url is empty

# %% [markdown]
# ## Credentials and target
#
# The token goes into an `Authorization: Bearer` header, the way the frontend's fetch adds it.
# Registering it makes the kit scrub its value wherever it might show up in this kernel
# (headers, bodies, error messages, tables, saved files), not only in the header it was put in.
# (This cell has no `await`: what it registers stays registered for the cells after it.)

# %%
secrets = secrets_from_env(token_env)
register_secrets(secrets)
headers = {"Authorization": f"Bearer {secrets[0]}"} if secrets else {}
print(f"{token_env}: {'set' if secrets else 'not set (requests go without Authorization)'}")
print("headers sent:", ", ".join(headers) or "(none)")

out = Path(out_dir).expanduser()
out = out if out.is_absolute() else ROOT / out

# %% [markdown]
# ## Run the client's lifecycle and diagnose it
#
# The same session as in the other notebooks: `threads.list`, `threads.create`, load the thread,
# a second message, reload. Threads created in a remote target are deleted at the end unless
# `keep_threads` is set. The verdict line names the target.

# %%
server = None
url = target_url.strip()
if not url:
    backend = make_backend(builtin)
    server = LoopbackServer(backend.app).start()
    url = server.url + backend.path
    print(f"no target_url given: diagnosing the built-in {builtin!r} backend on loopback")
print("transform:", transform)

try:
    diagnosis = await diagnose(
        url, headers=headers, transform=transform, message=message, keep_threads=keep_threads
    )
finally:
    if server is not None:
        server.stop()

display(Markdown(f"**{diagnosis.headline()}**"))
display(screens_picture(diagnosis))
display(readable(table(diagnosis)))

# %% [markdown]
# ## What the client did
#
# One row per request: what ChatKit sent, what went on the wire, and what came back. The tables
# come from the kit's report functions, which scrub every cell before they cut it short.

# %%
display(readable(lifecycle_table(diagnosis)))
notes = lifecycle_notes(diagnosis)
if notes:
    display(Markdown("\n".join(f"- {md_text(note)}" for note in notes)))

# %% [markdown]
# ## Findings
#
# Grouped by check; empty when every layer passes.

# %%
display(readable(summary_by_code(diagnosis)))
for name, diff in reload_tables(diagnosis):
    display(Markdown(f"**stream vs {md_text(name)}**"))
    display(readable(diff))

# %% [markdown]
# ## Save the evidence
#
# All captures of the session go to one JSON Lines file under `out_dir`, with the secrets
# scrubbed as they are written (the saved copy keeps chunk boundaries and arrival times), with
# the diagnosis beside it. Reading the file back proves the token is not in it.

# %%
stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
captures_path = save_captures(diagnosis.captures, out / f"{stamp}_captures.jsonl")
diagnosis_path = out / f"{stamp}_diagnosis.json"
diagnosis_path.write_text(json.dumps(diagnosis.to_json(), indent=2), encoding="utf-8")

saved_text = captures_path.read_text(encoding="utf-8") + diagnosis_path.read_text("utf-8")
leaked = [s for s in secrets if s in saved_text]
reloaded = load_captures(captures_path)
first = next((c for c in reloaded if c.transport != "local"), reloaded[0])
print(f"saved {len(reloaded)} captures ({captures_path.stat().st_size} bytes)")
for path in (captures_path, diagnosis_path):
    print("  ", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name)
print("request headers as saved:")
for name, value in first.request.headers:
    print(f"   {name}: {value}")
print("token found in the saved files:", "YES, do not share them" if leaked else "no")

# %% [markdown]
# ## What the real browser sent: a HAR export and proxy recordings
#
# The kit's client only plays ChatKit.js. To see what the real frontend (and its custom fetch)
# sends in staging, take the captures from the browser itself, either way:
#
# - export a HAR from DevTools (Network tab, "Save all as HAR") and import it with `load_har`;
#   a HAR keeps no per-chunk timing, so timing checks are skipped for it;
# - or point the frontend's `api.url` at `chatkit-lab proxy --upstream <backend>`, which streams
#   every reply through unchanged and saves each exchange, secrets scrubbed, as a capture file.
#
# Both sit *after* the custom fetch: they see the rewritten requests, not what ChatKit meant to
# send, so the request type of a rewritten reload is unknown to them. The samples in
# `data/samples/` are the report's setup recorded both ways (`make_samples.py` re-creates them).

# %%
samples = ROOT / "data" / "samples"
har = load_har(samples / "firefox_legacy.har")
print(f"HAR: {len(har.captures)} captures, {len(har.problems)} problems")
for problem in har.problems:
    print("  ", problem)
from_har = diagnose_captures(har.captures, target="firefox_legacy.har")
recorded = load_captures(samples / "legacy_attempt3_via_proxy.jsonl")
from_proxy = diagnose_captures(recorded, target="proxy recording")
display(readable(layers_by_target([from_har, from_proxy])))
said = []
for diagnosis_ in (from_har, from_proxy):
    said.append(f"- **{md_text(diagnosis_.headline())}**")
    for skip in diagnosis_.skipped[:3]:
        said.append(f"  - skipped {md_code(skip.code or skip.layer)}: {md_text(skip.reason)}")
display(Markdown("\n".join(said)))
