"""docs/scenario_reference.md explains every field; a field added without a description fails here."""

from __future__ import annotations

import importlib.util

import pytest

from .conftest import ROOT

#: Fields that had no description when this test was written (``Model.field`` in dispatch_sim/scenario.py).
#: Write the description in scenario.py and delete the line here; the test fails both when a new field
#: has no description and when a field listed here has gained one (so this list only shrinks).
UNDOCUMENTED_ALLOWED = {
    "Scenario.name",
    "Scenario.description",
    "Scenario.run",
    "Scenario.graph",
    "Scenario.speeds",
    "Scenario.teams",
    "Scenario.dispatch",
    "Scenario.demand",
    "Scenario.targets",
    "RunConfig.horizon_days",
    "RunConfig.warmup_days",
    "RunConfig.replications",
    "RunConfig.seed",
    "GraphConfig.source",
    "GraphConfig.place",
    "GraphConfig.bbox",
    "GraphConfig.polygon",
    "GraphConfig.file",
    "GraphConfig.graphml",
    "GraphConfig.standin_nodes",
    "GraphConfig.standin_seed",
    "GraphConfig.urban_centres",
    "Point.lon",
    "Point.lat",
    "Point.crs",
    "SpeedConfig.urban_kph",
    "SpeedConfig.rural_kph",
    "SpeedConfig.use_maxspeed",
    "SpeedConfig.maxspeed_factor",
    "SpeedConfig.time_bands",
    "TimeBandConfig.name",
    "TimeBandConfig.start",
    "TimeBandConfig.end",
    "TimeBandConfig.weekdays_only",
    "Team.name",
    "Team.name_en",
    "Team.base",
    "Team.shifts",
    "Team.backup",
    "Team.source",
    "Team.confidence",
    "Team.unverified",
    "Shift.start",
    "Shift.end",
    "Shift.crews",
    "Shift.days",
    "DispatchConfig.dispatch_delay_min",
    "DispatchConfig.turnout_min",
    "Distribution.dist",
    "Distribution.value_min",
    "Distribution.mean_min",
    "Distribution.sd_min",
    "Distribution.low_min",
    "Distribution.high_min",
    "Distribution.values_min",
    "Demand.hourly_profile",
    "Demand.weekly_profile",
    "Demand.surges",
    "Demand.where",
    "Demand.categories",
    "Surge.name",
    "Surge.start_day",
    "Surge.end_day",
    "Surge.start",
    "Surge.end",
    "Surge.factor",
    "Surge.teams",
    "WhereRoadLength.kind",
    "WhereRoadLength.weight",
    "WhereTownship.kind",
    "WhereTownship.weight",
    "WhereHotspot.kind",
    "WhereHotspot.weight",
    "WhereHotspot.lon",
    "WhereHotspot.lat",
    "WhereHotspot.crs",
    "WhereHotspot.radius_m",
    "WherePolygons.kind",
    "WherePolygons.weight",
    "WherePolygons.path",
    "WherePolygons.weight_property",
    "WherePoints.kind",
    "WherePoints.weight",
    "Category.name",
    "Category.work_min",
    "Targets.on_time_rate_min",
    "Targets.p90_response_max_min",
    "Targets.p95_response_max_min",
    "Targets.per_team",
    "TeamTargets.on_time_rate_min",
    "TeamTargets.p90_response_max_min",
}


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
