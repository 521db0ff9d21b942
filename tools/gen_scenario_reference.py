"""Regenerate docs/scenario_reference.md from the scenario schema (python tools/gen_scenario_reference.py)."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dispatch_sim import scenario as S  # noqa: E402

SECTIONS = [("(top level)", S.Scenario), ("run", S.RunConfig), ("graph", S.GraphConfig), ("speeds", S.SpeedConfig),
            ("speeds.time_bands[]", S.TimeBandConfig), ("teams[]", S.Team), ("teams[].base / any point", S.Point),
            ("teams[].shifts[]", S.Shift), ("dispatch", S.DispatchConfig), ("durations (…_min distributions)", S.Distribution),
            ("demand", S.Demand), ("demand.categories[]", S.Category), ("demand.where[] kind: road_length", S.WhereRoadLength),
            ("demand.where[] kind: township", S.WhereTownship), ("demand.where[] kind: hotspot", S.WhereHotspot),
            ("demand.where[] kind: polygons", S.WherePolygons), ("demand.where[] kind: points", S.WherePoints),
            ("demand.surges[]", S.Surge), ("targets", S.Targets), ("targets.per_team.<team>", S.TeamTargets)]


def _type(ann) -> str:
    text = str(ann).replace("typing.", "").replace("dispatch_sim.scenario.", "").replace("<class '", "").replace("'>", "")
    return text.replace("NoneType", "None")


def render() -> str:
    out = ["# Scenario reference", "",
           "Generated from the schema in `dispatch_sim/scenario.py` by `tools/gen_scenario_reference.py`; "
           "a test fails when it is out of date. Units are in field names (`_min` minutes, `_kph` km/h, `_m` metres, "
           "`_per_day`). Paths are relative to the file they are written in; `extends: base.yaml` merges a variant onto "
           "a base (mappings merge, lists replace). Unknown keys are errors.", ""]
    for title, model in SECTIONS:
        out += [f"## `{title}`", "", (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "), "",
                "| field | type | default | meaning |", "|---|---|---|---|"]
        for name, f in model.model_fields.items():
            if f.exclude:
                continue
            if f.is_required():
                default = "**required**"
            elif f.default_factory is not None:
                d = f.default_factory()
                default = f"`{d}`" if not isinstance(d, BaseModel) else "see section"
                default = default if len(default) < 60 else "see below"
            else:
                default = f"`{f.default}`"
            out.append(f"| `{name}` | {_type(f.annotation)} | {default} | {f.description or ''} |")
        out.append("")
    out += ["## Example", "", "See `scenarios/nanhu_baseline.yaml` (every section used, with comments) and its variants.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    (ROOT / "docs" / "scenario_reference.md").write_text(render(), encoding="utf-8")
    print("wrote docs/scenario_reference.md")
