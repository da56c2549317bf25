"""Prefixed key formats: tokens whose first characters say what they are (``ghp_``, ``xoxb-``).

A scan only runs the families whose prefix is in the text (a substring test costs next to
nothing), so a long body without any of them is not searched letter by letter. A prefix counts
when nothing glues it to the text before (``/`` does not glue: ``/cb/ghp_.../x`` holds a token).
"""

from __future__ import annotations

import re
from functools import lru_cache

_B = r"[A-Za-z0-9_+-]"
"""A character that glues a prefix to the text before or after it."""
GLUE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-")

_FAMILIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gh",), rf"gh(?<!{_B}gh)[pousr]_[A-Za-z0-9]{{30,}}"),
    (("github_pat_",), rf"github_pat_(?<!{_B}github_pat_)[A-Za-z0-9_]{{30,}}"),
    (("xox", "xapp-"), rf"x(?<!{_B}x)(?:ox[abposr]-[A-Za-z0-9-]{{10,}}|app-[A-Za-z0-9-]{{20,}})"),
    (("AKIA", "ASIA", "AIza"), rf"A(?<!{_B}A)(?:(?:KIA|SIA)[0-9A-Z]{{16}}|Iza[0-9A-Za-z_-]{{35}})"),
    (("glpat-",), rf"glpat-(?<!{_B}glpat-)[0-9A-Za-z_-]{{20,}}"),
    (("npm_",), rf"npm_(?<!{_B}npm_)[A-Za-z0-9]{{36}}"),
    (("hf_",), rf"hf_(?<!{_B}hf_)[A-Za-z0-9]{{30,}}"),
    (("k_live_", "k_test_"), rf"[sr]k_(?<!{_B}[sr]k_)(?:live|test)_[0-9A-Za-z]{{16,}}"),
    (("pypi-",), rf"pypi-(?<!{_B}pypi-)AgE[A-Za-z0-9_-]{{50,}}"),
)
_END = rf"(?!{_B})"

PREFIXED = re.compile("(?:" + "|".join(pattern for _, pattern in _FAMILIES) + ")" + _END)
"""Well-known prefixed key formats: GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
``github_pat_``), Slack (``xoxb-``, ``xoxp-``, ``xoxa-``, ``xoxs-``, ``xapp-``), AWS access key
ids (``AKIA``, ``ASIA``), Google (``AIza``), GitLab (``glpat-``), npm (``npm_``), Hugging Face
(``hf_``), Stripe (``sk_live_``, ``rk_test_``...) and PyPI (``pypi-``). ``sk-`` keys (OpenAI's
``sk-proj-``, Anthropic's ``sk-ant-``) are found by their own pattern."""

_TRUNCATED = re.compile(
    r"(?:gh[pousr]_|github_pat_|xox[abposr]-|xapp-|AKIA|ASIA|AIza|glpat-|npm_|hf_"
    r"|[sr]k_(?:live|test)_|pypi-|sk-|eyJ)[A-Za-z0-9_-]{4,}"
)
_ELLIPSIS = re.compile(r"…|\.\.\.")
_RUN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_RUN = 4096


@lru_cache(maxsize=64)
def _scanner(families: tuple[int, ...]) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(_FAMILIES[i][1] for i in families) + ")" + _END)


def prefixed_spans(text: str) -> list[tuple[int, int]]:
    """Where the prefixed tokens in ``text`` are."""
    present = tuple(
        number
        for number, (needles, _) in enumerate(_FAMILIES)
        if any(needle in text for needle in needles)
    )
    if not present:
        return []
    return [(found.start(), found.end()) for found in _scanner(present).finditer(text)]


def truncated_spans(text: str) -> list[tuple[int, int]]:
    """The start of a shaped token cut off right before an ellipsis (``ghp_abc…``).

    What is left of a token that a text was shortened through before it was redacted; it counts
    when nothing glues it to the text before it.
    """
    if "…" not in text and "..." not in text:
        return []
    found = []
    for ellipsis in _ELLIPSIS.finditer(text):
        end = ellipsis.start()
        start = end
        while start > 0 and end - start < _MAX_RUN and text[start - 1] in _RUN:
            start -= 1
        if end - start < 7 or (start and text[start - 1] in GLUE):
            continue
        if _TRUNCATED.fullmatch(text, start, end):
            found.append((start, end))
    return found
