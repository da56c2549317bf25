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
# # 06 · Export: one report to paste into the issue
#
# The last step turns the investigation into a markdown file: the verdicts, the layer matrix,
# per target the findings with evidence and fixes, what the client did and would render, the
# stream-versus-reload diffs, and the plots (a layer grid and the event arrivals of every
# stream) as PNG files next to it, and the conformance table (notebook 07's scenarios). It
# diagnoses the four built-in backends and the fix ladder (notebook 04) and grades the scenarios
# in one go, as `chatkit-lab investigate` does. Secrets (tokens, cookies, keys) are
# masked in every piece of text before it is written.

# %%
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from chatkit_lab import report_markdown
from chatkit_lab.investigation import (
    BUILTIN_RUNS,
    FIX_LADDER,
    INTRO,
    REPORT_SETUP,
    run_all,
    run_suite,
)
from chatkit_lab.report import readable

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())

# %% tags=["parameters"]
report_path = "reports/investigation.md"  # relative to the repository root, or absolute

# %% [markdown]
# ## Diagnose, then write the report
#
# The four built-in backends (notebook 04's matrix) and the fix ladder, each section captioned
# with the change it tests, then the conformance suite (notebook 07): the reference graded on
# every scenario and each faulty variant on its own. `report_markdown` writes the file and its
# plots and returns its path.

# %%
builtins = await run_all(BUILTIN_RUNS, progress=False)
ladder = await run_all(FIX_LADDER, progress=False)
suite = await run_suite()
for diagnosis, run in zip(ladder, FIX_LADDER, strict=True):
    diagnosis.target = run.caption
# the setup the team reported leads the report: attempt 3 behind their custom fetch
setup = next(
    d
    for d, run in zip(builtins, BUILTIN_RUNS, strict=True)
    if (run.target, run.transform) == (REPORT_SETUP, FIX_LADDER[0].transform)
)

target = Path(report_path).expanduser()
target = target if target.is_absolute() else ROOT / target
written = report_markdown(
    builtins + ladder,
    target,
    title="ChatKit investigation: why the UI stays blank",
    intro=INTRO + "\n\nThe last four sections are the fix ladder: the report's setup, then "
    "each fix alone, then both together.",
    suite=suite,
    lead=setup,
    asked="the setup the team reported: their third attempt behind their custom fetch",
)


def shown(path: Path) -> str:
    """A path relative to the repository root when it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


print("report:", shown(written))

# %% [markdown]
# ## The written files
#
# The report, and its plots in a folder named after it.

# %%
plots_dir = written.parent / f"{written.stem}_plots"
files = [written, *sorted(plots_dir.glob("*.png")), *sorted(plots_dir.glob("*.svg"))]
written_files = pd.DataFrame(
    [{"file": shown(path), "bytes": path.stat().st_size} for path in files]
)
display(readable(written_files))

# %% [markdown]
# ## The head of the report
#
# The title, the introduction, the verdict for every target and the layer matrix, rendered as
# they will appear in the issue (the image links are left out here; the grid follows below).

# %%
text = written.read_text(encoding="utf-8")
head = text.split("\n## ")[:2]  # the title and intro, then the "Verdicts" section
head_lines = "\n## ".join(head).splitlines()
display(Markdown("\n".join(line for line in head_lines if not line.startswith("!["))))

# %% [markdown]
# The layer grid the report links to (first red cell from the left is the verdict):

# %%
display(Image(filename=str(plots_dir / "layers.png")))

# %% [markdown]
# ## Check: does the report name the verdict for the report's setup?

# %%
setup_line = next(
    line for line in text.splitlines() if line.split(". ", 1)[-1].startswith("legacy:attempt3 + ")
)
print(setup_line)
print("evidence lines:", text.count("- Evidence:"), "| fix lines:", text.count("- Fix:"))
