"""Bad scenario input: one clear line naming the file, the field and what is allowed; exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dispatch_sim.errors import ScenarioError
from dispatch_sim.scenario import load_scenario

from .conftest import ROOT, small_scenario

SCEN = ROOT / "scenarios"


def _write(tmp_path, data, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _validate(path):
    return subprocess.run([sys.executable, "-m", "dispatch_sim", "validate", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("name", ["nanhu_baseline", "nanhu_peak_load", "nanhu_mutual_aid", "nanhu_night", "examples/helsinki_real_osm"])
def test_bundled_scenarios_are_valid(name):
    sc = load_scenario(SCEN / f"{name}.yaml")
    assert sc.teams and sc.demand.reports_per_day > 0


def test_baseline_has_11_township_teams_with_provenance():
    sc = load_scenario(SCEN / "nanhu_baseline.yaml")
    assert len(sc.township_teams) == 11
    assert all(t.source for t in sc.teams)
    unverified = {t.name for t in sc.teams if t.unverified}
    assert unverified == {"建设街道", "新嘉街道", "南湖街道", "新兴街道"} | ({"南湖街道"} & unverified)
    assert all("UNVERIFIED" in t.source for t in sc.teams if t.unverified)


def test_extends_merges_and_resolves_paths_relative_to_each_file():
    aid = load_scenario(SCEN / "nanhu_mutual_aid.yaml")
    assert aid.dispatch.policy == "home_then_mutual_aid" and aid.run.load == 6
    assert len(aid.teams) == 11 and aid.demand.surges
    assert Path(aid.graph.graphml).is_absolute() and Path(aid.graph.graphml).parent.name == "data"


def test_broken_yaml_gives_line_and_column(tmp_path):
    p = _write(tmp_path, "name: x\nteams: [\n  - {name: a\n")
    r = _validate(p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{p}: line " in r.stderr and "column" in r.stderr and "YAML syntax error" in r.stderr


def test_wrong_type_names_field(tmp_path):
    data = small_scenario()
    data["demand"]["reports_per_day"] = "many"
    r = _validate(_write(tmp_path, data))
    assert r.returncode == 2
    assert "demand.reports_per_day" in r.stderr and "'many'" in r.stderr and "Traceback" not in r.stderr


def test_unknown_key_gets_did_you_mean(tmp_path):
    data = small_scenario()
    data["teams"][0]["crew"] = 2
    data["dispatch"]["polcy"] = "nearest"
    with pytest.raises(ScenarioError) as e:
        load_scenario(_write(tmp_path, data))
    lines = e.value.problems
    assert any("teams[0].crew: unknown key; did you mean 'crews'?" in ln for ln in lines)
    assert any("dispatch.polcy: unknown key; did you mean 'policy'?" in ln for ln in lines)


def test_negative_crews(tmp_path):
    data = small_scenario()
    data["teams"][1]["crews"] = -1
    r = _validate(_write(tmp_path, data))
    assert r.returncode == 2 and "teams[1].crews" in r.stderr and "greater than or equal to 0" in r.stderr


def test_bad_policy_lists_allowed_values(tmp_path):
    data = small_scenario(dispatch={"policy": "closest"})
    r = _validate(_write(tmp_path, data))
    assert r.returncode == 2 and "dispatch.policy" in r.stderr and "home_then_mutual_aid" in r.stderr


def test_every_problem_is_reported_once_per_line(tmp_path):
    data = small_scenario()
    data["run"]["horizon_days"] = -3
    data["teams"][0]["base"]["lat"] = 123
    r = _validate(_write(tmp_path, data))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and all(ln.startswith(str(tmp_path)) for ln in lines)


def test_base_outside_graph_is_one_clear_error(tmp_path):
    data = small_scenario()
    data["teams"][2]["base"] = {"lon": 120.835, "lat": 30.74}  # ~3.4 km east of the graph: inside the bbox margin
    p = _write(tmp_path, data)
    r = subprocess.run([sys.executable, "-m", "dispatch_sim", "run", str(p), "--out", str(tmp_path / "o"), "--workers", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "teams[2].base" in r.stderr and "outside the road graph" in r.stderr
    assert not (tmp_path / "o" / "summary.json").exists()


def test_missing_graph_file_is_one_clear_error(tmp_path):
    data = small_scenario(graph={"source": "graphml", "graphml": "nowhere.graphml"})
    p = _write(tmp_path, data)
    r = subprocess.run([sys.executable, "-m", "dispatch_sim", "run", str(p), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "graph.graphml: " in r.stderr and "nowhere.graphml: file not found" in r.stderr  # caught by validation


def test_gcj02_base_is_converted_before_snapping(small_world):
    from dispatch_sim import World, scenario_from_dict
    from dispatch_sim.crs import from_wgs84

    data = small_scenario()
    lon, lat = from_wgs84(120.72, 30.72, "gcj02")
    data["teams"][0]["base"] = {"lon": lon, "lat": lat, "crs": "gcj02"}
    w = World(scenario_from_dict(data), G=small_world.G)
    assert w.base_nodes[0] == small_world.base_nodes[0]


def test_scenario_reference_doc_is_up_to_date():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_scenario_reference.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "docs" / "scenario_reference.md").read_text(encoding="utf-8") == gen.render(), \
        "run: python tools/gen_scenario_reference.py"
