"""`dispatch-sim staff`: the fewest crews that keep every township on target, checked independently."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from dispatch_sim import World, load_scenario, run_scenario, scenario_from_dict
from dispatch_sim.staffing import apply_counts, lower_bound, propose, slots
from dispatch_sim.verdict import judge

from .conftest import small_scenario
from .test_cli import _cli


def _data():
    data = small_scenario(run={"horizon_days": 4, "warmup_days": 0.5, "replications": 3, "seed": 11},
                          demand={"reports_per_day": 70}, targets={"on_time_rate_min": 0.7})
    data["teams"][0]["shifts"] = [{"start": "08:00", "end": "20:00", "crews": 3},
                                  {"start": "20:00", "end": "08:00", "crews": 2}]
    data["teams"][0].pop("crews")
    return data


def test_staffing_holds_and_every_single_removal_breaks_it(small_world):
    w = World(scenario_from_dict(_data()), G=small_world.G, router=small_world.router)
    res = propose(w)
    assert res["holds"] and res["minimal_wrt_single_removals"]
    sl = slots(w.scenario)
    counts = [r["proposed"] for r in res["table"]]
    # independently: the proposal holds, and one crew fewer in any slot does not
    def verdict(c):
        sc = apply_counts(w.scenario, sl, c)
        run = run_scenario(World(sc, G=w.G, router=w.router))
        return judge(run.summary, sc).status
    assert verdict(counts) == "HOLDS"
    for j in range(len(sl)):
        if counts[j] > 0:
            fewer = counts[:j] + [counts[j] - 1] + counts[j + 1:]
            assert verdict(fewer) != "HOLDS", sl[j]
    hours = sum(s.hours_per_day * c for s, c in zip(sl, counts))
    assert res["crew_hours_per_day"]["proposed"] == pytest.approx(hours, abs=0.01)


def test_queueing_lower_bound_by_hand(small_world):
    w = World(scenario_from_dict(_data()), G=small_world.G, router=small_world.router)
    run = run_scenario(w)
    sl = slots(w.scenario)
    counts, offered = lower_bound(run, sl, w.scenario.run.horizon_days - w.scenario.run.warmup_days)
    inc = run.incidents[~run.incidents["warmup"]]
    mine = inc[inc["home_team"] == "B"]
    serv = float((mine["cleared_min"] - mine["dispatched_min"]).mean())
    per_hour = (mine["created_min"] // 60 % 24).astype(int).value_counts() / (3 * 3.5)
    a = float(per_hour.max() * serv / 60.0)
    j = next(i for i, s in enumerate(sl) if s.team_name == "B")
    assert offered["00:00-24:00@B"] == pytest.approx(a, abs=1e-3)
    assert counts[j] == math.floor(a) + 1


def test_staff_cli_writes_a_variant_every_command_runs(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(_data(), allow_unicode=True))
    out = tmp_path / "staff"
    r = _cli("staff", p, "--out", out, "--load", "1.5", "--night-cost", "1.5")
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((out / "staffing.json").read_text(encoding="utf-8"))
    assert s["load"] == 1.5 and s["evaluations"] > 0 and "crew-hours a day" in r.stdout
    assert (out / "figures" / "staffing.png").stat().st_size > 5000
    v = load_scenario(out / "staffing_variant.yaml")
    assert v.run.load == 1.5
    assert [t.crews for t in v.teams][1:] == [row["proposed"] for row in s["table"] if row["team"] in ("B", "C")]
    assert _cli("validate", out / "staffing_variant.yaml").returncode == 0


def test_candidates_evaluated_side_by_side_give_the_serial_answer(small_world):
    """Two processes evaluating candidates give the proposal, the steps and the evaluation count of
    one; what a worker evaluated ahead is only handed out (and counted) when the search asks for it."""
    from dispatch_sim.staffing import Evaluator, current_counts

    w = World(scenario_from_dict(_data()), G=small_world.G, router=small_world.router)

    def doc(res):
        return json.dumps({k: v for k, v in res.items() if k != "scenario_obj"}, sort_keys=True, default=str)

    assert doc(propose(w, workers=2)) == doc(propose(w, workers=1))
    sl = slots(w.scenario)
    counts = current_counts(w.scenario, sl)
    kw = dict(replications=2, seed=3, load=1.0, scheduler=None)
    ev = Evaluator(w, sl, workers=2, **kw)
    try:
        ev(counts)
        cands = [counts[:j] + [counts[j] + 1] + counts[j + 1:] for j in range(2)]
        ev.prefetch(cands)
        assert set(ev.ready) == {tuple(c) for c in cands} and ev.runs == 1
        v, summary = ev(cands[1])
        assert ev.runs == 2 and tuple(cands[1]) not in ev.ready
    finally:
        ev.close()
    v1, summary1 = Evaluator(w, sl, workers=1, **kw)(cands[1])
    assert v.status == v1.status and summary.on_time == summary1.on_time and summary.by_team == summary1.by_team
