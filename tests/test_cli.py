"""The installed CLI, run the way a planner and a CI pipeline run it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from .conftest import ROOT, small_scenario

def _cli(*args, cwd=None):
    """Run ``python -m dispatch_sim`` from this checkout (not whatever ``dispatch-sim`` is on PATH)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "dispatch_sim", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.fixture()
def scenario_file(tmp_path):
    data = small_scenario(targets={"on_time_rate_min": 0.2, "p90_response_max_min": 400})
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    return p


def test_run_writes_every_output(scenario_file, tmp_path):
    out = tmp_path / "out"
    r = _cli("run", scenario_file, "--out", out, "--workers", "1")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "seed", "replications", "graph", "reports", "on_time", "response_min", "by_team", "late_causes"):
        assert key in s
    assert {"kind", "nodes", "edges", "source"} <= s["graph"].keys() and s["graph"]["kind"] == "stand-in"
    assert {"total", "served", "open_at_horizon"} <= s["reports"].keys()
    assert s["reports"]["total"] == s["reports"]["served"] + s["reports"]["open_at_horizon"]
    assert {"target_min", "rate", "ci95"} <= s["on_time"].keys()
    assert {"p50", "p90", "p95", "max"} <= s["response_min"].keys()
    assert "utilization" in s["by_team"]["A"]
    with open(out / "incidents.csv", encoding="utf-8-sig") as fh:  # UTF-8 with BOM, as Excel reads it
        rows = list(csv.DictReader(fh))
    need = ("replication report_id created_min dispatched_min arrived_min cleared_min team crew home_team category "
            "priority on_time late_cause travel_min wait_min snap_m").split()
    assert set(need) <= rows[0].keys() and len(rows) == s["reports"]["total"]
    html = (out / "report.html").read_text()
    assert "STAND-IN" in html and "data:image/png;base64" in html and "http" not in html.split("<body>")[0]
    for fig in ("map.png", "response_cdf.png", "on_time_by_hour.png", "utilization.png", "cells.png"):
        assert (out / "figures" / fig).stat().st_size > 5000
    cells = json.loads((out / "cells.geojson").read_text())
    assert cells["type"] == "FeatureCollection" and cells["features"]
    assert sum(f["properties"]["reports"] for f in cells["features"]) == s["on_time"]["known_outcome"]
    assert "Where the circle breaks" in html and "Help across township lines" in html
    assert "STAND-IN" in r.stdout + r.stderr


def test_run_is_reproducible_from_file_and_seed(scenario_file, tmp_path):
    for d in ("a", "b"):
        assert _cli("run", scenario_file, "--out", tmp_path / d, "--seed", 99, "--workers", "1").returncode == 0
    assert (tmp_path / "a/incidents.csv").read_text() == (tmp_path / "b/incidents.csv").read_text()


def test_check_passes_and_fails_with_junit(scenario_file, tmp_path):
    junit = tmp_path / "j.xml"
    r = _cli("check", scenario_file, "--junit", junit, "--workers", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ET.parse(junit).getroot().get("failures") == "0"
    data = yaml.safe_load(scenario_file.read_text())
    data["targets"] = {"on_time_rate_min": 0.999, "p90_response_max_min": 1}
    hard = tmp_path / "hard.yaml"
    hard.write_text(yaml.safe_dump(data, allow_unicode=True))
    r = _cli("check", hard, "--junit", junit, "--workers", "1")
    assert r.returncode == 1 and "FAIL" in r.stdout
    root = ET.parse(junit).getroot()
    # one case per area (district + 3 townships) x target (2): all missed
    assert root.get("tests") == "8" and root.get("failures") == "8" and root.find("testcase/failure") is not None


def test_validate_ok_and_bad(scenario_file, tmp_path):
    assert _cli("validate", ROOT / "scenarios/nanhu_baseline.yaml").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    r = _cli("validate", bad)
    assert r.returncode == 2 and "teams: required field is missing" in r.stderr


def test_route_json(scenario_file):
    r = _cli("route", scenario_file, "--from", "120.72,30.72", "--to", "120.77,30.74", "--at", "08:00", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["minutes"] > 0 and len(j["snap_m"]) == 2 and j["from_node"] != j["to_node"] and j["standin"]
    r2 = _cli("route", scenario_file, "--from", "120.72,30.72", "--to", "120.77,30.74", "--crs", "gcj02", "--json")
    assert json.loads(r2.stdout)["minutes"] > 0
    assert _cli("route", scenario_file, "--from", "x", "--to", "1,2").returncode == 2


def test_helsinki_real_osm_example_runs(tmp_path):
    r = _cli("run", ROOT / "scenarios/examples/helsinki_real_osm.yaml", "--out", tmp_path / "h", "--workers", "1",
             "--replications", "2")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "h/summary.json").read_text())
    assert s["graph"]["kind"] == "file" and not s["graph"]["standin"]
    assert "OpenStreetMap" in s["graph"]["attribution"]
    assert "OpenStreetMap contributors" in (tmp_path / "h/report.html").read_text()


def test_stress_finds_a_breaking_point_and_maps_where(scenario_file, tmp_path):
    out = tmp_path / "stress"
    r = _cli("stress", scenario_file, "--out", out, "--loads", "0.5,8", "--replications", "2", "--workers", "1",
             "--cell-m", "1000")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "stress.json").read_text())
    bp = s["breaking_point"]
    assert 0.5 <= bp["max_load_meeting_target"] < bp["first_load_failing"] <= 8
    assert [row["load"] for row in s["sweep"]] == sorted(row["load"] for row in s["sweep"])
    assert len(s["sweep"]) > 2  # bisection added points between the two swept loads
    for ld in (bp["max_load_meeting_target"], bp["first_load_failing"]):
        assert (out / f"cells_load_{ld:g}.geojson").exists() and (out / "figures" / f"cells_load_{ld:g}.png").exists()
    assert (out / "figures" / "stress.png").stat().st_size > 5000
    assert "holds up to load" in r.stdout
    # per township on the console, from the same judgement as stress.json
    for team, b in s["townships"].items():
        assert f"  {team}: " in r.stdout
        if b["first_load_missed"] is not None:
            row = next(x for x in s["sweep"] if x["load"] == b["first_load_missed"])
            assert row["by_team"][team]["status"] == "missed"
    first_bad = next(x for x in s["sweep"] if x["load"] == bp["first_load_failing"])
    assert first_bad["failing_townships"] == bp["failing_townships_at_first_failing_load"]


def test_stress_that_never_breaks_says_so_and_owns_its_folder(scenario_file, tmp_path):
    out = tmp_path / "stress"
    (out / "figures").mkdir(parents=True)
    (out / "cells_load_99.geojson").write_text("{}")
    (out / "figures" / "cells_load_99.png").write_bytes(b"x")
    r = _cli("stress", scenario_file, "--out", out, "--loads", "0.2,0.4", "--replications", "2", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "does not break within ×0.2–×0.4" in r.stdout and "None" not in r.stdout
    s = json.loads((out / "stress.json").read_text())
    assert s["breaking_point"]["first_load_failing"] is None
    assert not (out / "cells_load_99.geojson").exists() and not (out / "figures" / "cells_load_99.png").exists()


def test_coverage_writes_reach_per_band(scenario_file, tmp_path):
    out = tmp_path / "cov"
    r = _cli("coverage", scenario_file, "--out", out, "--minutes", "5")
    assert r.returncode == 0, r.stderr
    c = json.loads((out / "coverage.json").read_text())
    band = c["bands"]["off_peak"]
    assert 0 < band["demand_share_own_base"] <= band["demand_share_any_base"] <= 1
    # the promise adds dispatch delay and turnout to the drive: never more reach than the drive alone
    assert band["promise_reach90_share_own_base"] <= band["promise_reach50_share_own_base"] <= band["demand_share_own_base"]
    gj = json.loads((out / "coverage_off_peak.geojson").read_text())
    assert {f["properties"]["team"] for f in gj["features"]} == {"A", "B", "C"}
    assert not (out / "coverage.geojson").exists()


def test_compare_reports_paired_difference_and_help_hours(scenario_file, tmp_path):
    data = yaml.safe_load(scenario_file.read_text())
    data["demand"]["reports_per_day"] = 120
    data["name"] = "home"
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(data, allow_unicode=True))
    data["dispatch"] = {"policy": "home_then_mutual_aid", "mutual_aid_threshold_min": 10}
    data["name"] = "aid"
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(data, allow_unicode=True))
    r = _cli("compare", a, b, "--out", tmp_path / "cmp", "--workers", "1")
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    d = c["difference_b_minus_a"]["on_time_rate"]
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert c["mutual_aid_in_a"]["reports"] == 0 and c["mutual_aid_in_b"]["crew_hours"] > 0
    assert "crew-hours" in r.stdout
    # levels, verdicts and graph kind are there; per-township paired differences recomputed by hand
    assert c["graph"]["kind"] == "stand-in" and c["a"]["verdict"]["status"] in ("HOLDS", "BREAKS", "UNDECIDED")
    assert "A: home" in r.stdout and "B: aid" in r.stdout
    assert (tmp_path / "cmp" / "figures" / "compare.png").stat().st_size > 5000
    from dispatch_sim import World, load_scenario, run_scenario
    from dispatch_sim.metrics import mean_ci

    runs = [run_scenario(World(load_scenario(f)), replications=c["replications"]) for f in (a, b)]
    for team in ("A", "B", "C"):
        per = []
        for run in runs:
            inc = run.incidents
            inc = inc[~inc["warmup"] & inc["promise"] & inc["on_time"].notna() & (inc["home_team"] == team)]
            per.append(inc.groupby("replication")["on_time"].mean().astype(float).to_numpy())
        m, lo, hi = mean_ci(per[1] - per[0])
        got = c["by_township"][team]["difference_b_minus_a"]
        assert got["mean"] == pytest.approx(m) and got["ci95"] == pytest.approx([lo, hi])
        assert got["significant"] == (lo > 0 or hi < 0)


def test_compare_of_a_scenario_with_itself_is_no_significant_difference(scenario_file, tmp_path):
    r = _cli("compare", scenario_file, scenario_file, "--out", tmp_path / "same", "--workers", "1")
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "same" / "compare.json").read_text())
    assert c["difference_b_minus_a"]["on_time_rate"]["mean"] == 0 and not c["decision"]["significant"]
    assert "no significant difference" in r.stdout


def test_place_recommends_only_a_significant_gain_with_no_township_worse():
    from dispatch_sim.placement import recommend
    from dispatch_sim.results import Comparison, Decision

    prop = {"changes": [{"action": "move", "team": "凤桥镇", "site": "node 1"}]}

    def ver(mean, lo, hi, worse=()):
        sig = lo > 0 or hi < 0
        return Comparison(a={}, b={}, graph={}, replications=5, seed=1, by_township={}, mutual_aid_in_a=None,
                          mutual_aid_in_b=None,
                          difference_b_minus_a={"on_time_rate": {"mean": mean, "ci95": [lo, hi], "significant": sig}},
                          decision=Decision(text="", significant=sig, townships_better=[], townships_worse=list(worse)))

    r = recommend(prop, ver(0.008, -0.006, 0.022))
    assert not r["recommended"] and r["text"].startswith("no change recommended") and "凤桥镇" in r["text"]
    assert "not significant" in r["text"]
    r = recommend(prop, ver(0.02, 0.01, 0.03, worse=["余新镇"]))
    assert not r["recommended"] and "余新镇 would be significantly worse" in r["text"]
    assert recommend(prop, ver(0.02, 0.01, 0.03))["recommended"]
    assert not recommend(prop, None)["recommended"]
    assert not recommend({"changes": []}, None)["recommended"]


def test_place_proposes_verifies_and_writes_a_runnable_variant(scenario_file, tmp_path):
    out = tmp_path / "place"
    cands = tmp_path / "sites.csv"
    cands.write_text("name,lon,lat\ntown hall,120.79,30.71\n")
    r = _cli("place", scenario_file, "--add", "1", "--candidates", cands, "--sample", "50", "--out", out,
             "--replications", "2", "--workers", "1")
    assert r.returncode == 0, r.stderr
    p = json.loads((out / "placement.json").read_text())
    assert p["candidates"] == {"base": 3, "listed": 1, "road node": 50}
    assert len(p["changes"]) == 1 and p["solver"]["status"] == "Optimal"
    assert p["demand_share_covered"]["after"] >= p["demand_share_covered"]["before"]
    assert "difference_b_minus_a" in p["verification"]
    variant = out / "placement_variant.yaml"
    assert "extends:" in variant.read_text()
    assert _cli("validate", variant).returncode == 0
    assert (out / "figures" / "placement.png").stat().st_size > 5000


@pytest.mark.parametrize("args, needle", [
    (["--add", "1", "--relocate"], "exactly one of --add K or --relocate"),
    (["--add", "1", "--band", "rush"], "--band: 'rush' is not a time band"),
    (["--add", "1", "--candidates", "missing.csv"], "missing.csv: file not found"),
])
def test_place_bad_input_is_one_clear_line(scenario_file, tmp_path, args, needle):
    r = _cli("place", scenario_file, *args, "--out", tmp_path / "p", cwd=tmp_path)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_candidate_csv_errors_name_row_and_field(tmp_path):
    from dispatch_sim.errors import DispatchSimError
    from dispatch_sim.placement import read_candidates

    bad = tmp_path / "c.csv"
    bad.write_text("name,lon,lat\nok,120.7,30.7\nbroken,east,30.7\n")
    with pytest.raises(DispatchSimError, match=r"c.csv: row 3: lon/lat"):
        read_candidates(bad)
    bad.write_text("name,x,y\n")
    with pytest.raises(DispatchSimError, match="missing column"):
        read_candidates(bad)


def test_candidate_outside_the_graph_names_file_and_row(scenario_file, tmp_path):
    far = tmp_path / "sites.csv"
    far.write_text("name,lon,lat\nbeijing,116.4,39.9\n")
    r = _cli("place", scenario_file, "--add", "1", "--candidates", far, "--no-verify", "--out", tmp_path / "p")
    assert r.returncode == 2 and "sites.csv: row 2 (beijing)" in r.stderr and "outside the road graph" in r.stderr
    assert "Traceback" not in r.stderr
