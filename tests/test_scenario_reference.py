"""docs/scenario_reference.md explains every field; a field added without a description fails here."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import ROOT

#: Fields allowed to have no description: none. Every scenario field says what it means, in its
#: ``Field(description=...)`` or in ``scenario._DESCRIPTIONS``.
UNDOCUMENTED_ALLOWED: set[str] = set()


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_scenario_reference", ROOT / "tools" / "gen_scenario_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_new_field_without_a_description(gen):
    missing = set(gen.undocumented())
    new = sorted(missing - UNDOCUMENTED_ALLOWED)
    assert not new, f"scenario fields without a description (Field(description=...) in scenario.py): {new}"
    fixed = sorted(UNDOCUMENTED_ALLOWED - missing)
    assert not fixed, f"these now have a description (or are gone): delete them from UNDOCUMENTED_ALLOWED: {fixed}"


def test_undocumented_finds_every_model_field(gen):
    """The walk reaches every model of the schema (a section it missed would hide its fields)."""
    from pydantic import BaseModel

    from dispatch_sim import scenario as S

    models = {m for _p, m, _u in gen.walk()}
    defined = {v for v in vars(S).values() if isinstance(v, type) and issubclass(v, BaseModel)
               and v.__module__ == S.__name__ and v.model_fields}
    assert defined <= models, sorted(m.__name__ for m in defined - models)


def test_reference_states_type_unit_default_and_meaning_in_words(gen):
    text = gen.render()
    assert "dict[" not in text and "Annotated" not in text and "FieldInfo" not in text
    row = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
           for line in text.splitlines() if line.startswith("| `")}
    # a few rows, checked against the schema by hand
    assert row["`horizon_days`"][:3] == ["number > 0 and ≤ 3,660", "days", "`28`"]
    assert row["`crs`"][0] == "one of: wgs84, gcj02, bd09"
    assert row["`shares`"][0] == "mapping of team name → number ≥ 0"
    assert row["`hourly_profile`"][0] == "list of numbers ≥ 0 and ≤ 1,000,000,000"  # limits from issue 15
    assert row["`reports_per_day`"][1:3] == ["per day", "**required**"]
    assert row["`radius_m`"][1] == "metres" and row["`urban_kph`"][1] == "km/h"
    assert row["`on_time_rate_min`"][1] == "share (0–1)"  # a minimum rate, not minutes
    assert row["`target_min`"][3] == "the on-site promise: minutes from report to arrival"
