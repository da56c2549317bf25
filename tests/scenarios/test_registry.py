"""The scenario list: names resolve in table order, prompts are checked, codes never collide."""

from __future__ import annotations

import inspect

import pytest

from chatkit_lab.checks import all_checks, checks_of
from chatkit_lab.errors import ScenarioError
from chatkit_lab.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIO_MODULES,
    Scenario,
    resolve_prompts,
    resolve_scenarios,
    scenario_checks,
    scenarios,
)

NAMES = list(scenarios())


def names(spec: str | list[str]) -> list[str]:
    return [scenario.name for scenario in resolve_scenarios(spec)]


def test_all_resolves_to_every_scenario_in_table_order() -> None:
    assert names("all") == NAMES
    assert NAMES == [module.SCENARIO.name for module in SCENARIO_MODULES]
    assert len(set(NAMES)) == len(NAMES)


def test_all_among_other_names_still_means_every_scenario() -> None:
    assert names(f"{NAMES[-1]},all") == NAMES


def test_a_comma_list_resolves_in_table_order_whatever_order_it_is_given_in() -> None:
    first, second, third = NAMES[1], NAMES[3], NAMES[-1]
    assert names(f" {third}, {first},{second} ") == [first, second, third]
    assert names([third, first]) == [first, third]


def test_a_name_given_twice_runs_once() -> None:
    assert names(f"{NAMES[2]},{NAMES[2]}") == [NAMES[2]]


def test_the_default_scenario_is_a_known_one() -> None:
    assert DEFAULT_SCENARIO in NAMES


@pytest.mark.parametrize("spec", ["nope", f"{NAMES[0]},nope", "Cancel"])
def test_an_unknown_name_is_refused_with_the_known_ones_named(spec: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        resolve_scenarios(spec)
    message = str(refused.value)
    assert "unknown scenario" in message
    assert repr(spec.split(",")[-1]) in message
    assert all(name in message for name in NAMES)
    assert "\n" not in message


@pytest.mark.parametrize("spec", ["", " , ", []])
def test_no_name_at_all_is_refused_with_the_known_ones_named(spec: str | list[str]) -> None:
    with pytest.raises(ScenarioError) as refused:
        resolve_scenarios(spec)
    assert all(name in str(refused.value) for name in NAMES)


def test_a_prompt_override_for_a_declared_role_is_kept_by_scenario() -> None:
    scenario = next(s for s in scenarios().values() if s.prompts)
    role = next(iter(scenario.prompts))
    got = resolve_prompts([f"{scenario.name}.{role}=Say it my way = please"])
    assert got == {scenario.name: {role: "Say it my way = please"}}


def test_several_prompt_overrides_are_grouped_by_scenario() -> None:
    cancel = scenarios()["cancel"]
    long, next_ = list(cancel.prompts)
    got = resolve_prompts([f"cancel.{long}=A", f"cancel.{next_}=B", "widget.ask=C"])
    assert got == {"cancel": {long: "A", next_: "B"}, "widget": {"ask": "C"}}


@pytest.mark.parametrize(
    "pair",
    [
        "nope.ask=text",  # unknown scenario
        "widget.nope=text",  # unknown role
        "widget=text",  # no role
        "widget.ask",  # no text at all
        "messages.second.extra=text",  # a role that is not declared
    ],
)
def test_a_prompt_override_naming_no_declared_role_is_refused_with_the_roles(pair: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        resolve_prompts([pair])
    message = str(refused.value)
    assert repr(pair) in message and "SCENARIO.ROLE=TEXT" in message
    for scenario in scenarios().values():
        for role in scenario.prompts:
            assert f"{scenario.name}.{role}" in message


@pytest.mark.parametrize("text", ["", "   "])
def test_a_prompt_override_with_empty_text_is_refused(text: str) -> None:
    with pytest.raises(ScenarioError, match="the text is empty"):
        resolve_prompts([f"widget.ask={text}"])


@pytest.mark.parametrize("module", SCENARIO_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_scenario_module_declares_its_scenario_and_says_what_it_does(module) -> None:
    declared = module.SCENARIO
    assert isinstance(declared, Scenario)
    assert inspect.getdoc(module) and len(inspect.getdoc(module)) > 80
    assert declared.title.strip() and declared.description.strip() and declared.requests
    assert declared.checks == module.__name__
    assert inspect.iscoroutinefunction(declared.play)
    assert module.__name__.rsplit(".", 1)[-1] == declared.name.replace("-", "_")
    for prefix in declared.judged_loads:
        assert prefix.strip()


def test_every_scenario_check_is_declared_in_its_scenario_module_with_words() -> None:
    for scenario in scenarios().values():
        for declared in checks_of(scenario.checks):
            spec = declared.spec
            assert declared.__module__ == scenario.checks
            assert spec.description and spec.expectation and spec.fix


def test_scenario_check_codes_are_unique_and_never_collide_with_the_layer_checks() -> None:
    codes = [declared.code for declared in scenario_checks()]
    assert len(codes) == len(set(codes))
    layer_codes = {declared.code for declared in all_checks()}
    assert not set(codes) & layer_codes
    per_module = [c.code for s in scenarios().values() for c in checks_of(s.checks)]
    assert sorted(per_module) == sorted(codes)


def test_scenario_check_codes_start_with_their_layer() -> None:
    for declared in scenario_checks():
        assert declared.code.startswith(f"{declared.spec.layer}.")


def test_codes_a_scenario_provokes_on_purpose_are_real_layer_checks() -> None:
    layer_codes = {declared.code for declared in all_checks()}
    for scenario in scenarios().values():
        assert set(scenario.intended) <= layer_codes
