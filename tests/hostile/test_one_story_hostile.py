"""Every hostile exchange tells one story: the answer never clears the layer that caused what
the user sees, and the screens of its session model agree with the verdict."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hostile_cases import CASES, Case
from test_hostile_corpus import diagnosed, produce

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from one_story import assert_one_story  # noqa: E402

CAPTURED = [case for case in CASES if case.raises is None]
"""The cases that end in a capture (the others end in a documented error, nothing to tell)."""


@pytest.mark.parametrize("case", CAPTURED, ids=[case.name for case in CAPTURED])
async def test_each_hostile_exchange_tells_one_story(case: Case) -> None:
    outcome = await produce(case)
    assert outcome.capture is not None, outcome
    assert_one_story(diagnosed(outcome.capture))
