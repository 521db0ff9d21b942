"""Backtesting: the recovered scenario agrees with its log; a wrong scenario is flagged where it is wrong."""

from __future__ import annotations

import copy
import json

import pytest

from .calib_fixtures import RURAL, URBAN, located_for, truth_dict

REPS = 20


def test_holm_matches_a_hand_computation():
    from dispatch_sim.backtest import holm

    # p sorted: 0.01 (×3), 0.02 (×2 → 0.04), 0.04 (×1 → max(0.04, 0.04)); back in the given order
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


def test_recovered_scenario_agrees_with_its_log(recovered, messy):
    from dispatch_sim.backtest import backtest

    world, _ = recovered
    bt = backtest(world, located_for(world, messy[2]["gbk"]), replications=REPS, seed=3)
    assert bt["agrees"], bt["disagreements"]
    tested = [a for a in bt["areas"] if a.get("status") == "tested"]
    assert {a["area"] for a in tested} == {"district", "A", "B", "C"}
    d = bt["areas"][0]
    # observed on-time rate recomputed from the log directly (a second way)
    log = located_for(world, messy[2]["gbk"])
    r = (log.records["arrived_at"] - log.records["reported_at"]).dt.total_seconds() / 60
    assert d["on_time_observed"] == pytest.approx(float((r[r.notna()] <= 30).mean()))
    assert d["on_time_simulated_pi95"][0] - 0.03 <= d["on_time_observed"] <= d["on_time_simulated_pi95"][1] + 0.03


def test_slower_roads_are_flagged_in_every_township(truth_world, messy):
    from dispatch_sim import World, scenario_from_dict
    from dispatch_sim.backtest import backtest

    d = copy.deepcopy(truth_dict())
    d["speeds"].update(urban_kph={k: v * 0.6 for k, v in URBAN.items()}, rural_kph={k: v * 0.6 for k, v in RURAL.items()})
    world = World(scenario_from_dict(d))
    bt = backtest(world, located_for(world, messy[2]["gbk"]), replications=REPS, seed=3)
    assert not bt["agrees"]
    assert set(bt["flagged_areas"]) == {"district", "A", "B", "C"}
    assert all(x["on_time_simulated"] < x["on_time_observed"] for x in bt["areas"] if x.get("status") == "tested")
    assert not any(t["beyond_chance"] for t in bt["tests"] if t["test"] == "report_count")  # demand is right


def test_one_townships_doubled_rate_is_flagged_on_that_township(truth_world, messy):
    from dispatch_sim import World, scenario_from_dict
    from dispatch_sim.backtest import backtest

    d = copy.deepcopy(truth_dict())
    d["demand"]["surges"] = [{"name": "B doubled", "start_day": 0, "end_day": 3000, "factor": 2, "teams": ["B"]}]
    world = World(scenario_from_dict(d), G=truth_world.G, router=truth_world.router)
    bt = backtest(world, located_for(world, messy[2]["gbk"]), replications=REPS, seed=3)
    counts = {t["area"]: t for t in bt["tests"] if t["test"] == "report_count"}
    assert counts["B"]["beyond_chance"] and bt["demand"]["B"]["ratio"] == pytest.approx(0.5, abs=0.08)
    assert not counts["A"]["beyond_chance"] and not counts["C"]["beyond_chance"]
    assert "B" in bt["flagged_areas"] and "A" not in bt["flagged_areas"] and "C" not in bt["flagged_areas"]


def test_backtest_command_writes_json_and_an_offline_page(recovered, messy, tmp_path, capsys):
    from dispatch_sim.cli import run_cli

    _, path = recovered
    rc = run_cli(["backtest", str(path), "--log", str(messy[2]["xlsx"]), "--out", str(tmp_path / "bt"),
                  "--replications", "5", "--lang", "en"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    bt = json.loads((tmp_path / "bt" / "backtest.json").read_text(encoding="utf-8"))
    assert bt["log"]["used"] + bt["log"]["quarantined"] == bt["log"]["rows"]
    page = (tmp_path / "bt" / "backtest.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and page.count("<img") >= 3
    assert "quarantined" in out.out and (tmp_path / "bt" / "quarantine.csv").exists()
