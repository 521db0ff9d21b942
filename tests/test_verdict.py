"""The promise is per township: the verdict rule, computed by hand and from the output files."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import yaml

from dispatch_sim import scenario_from_dict
from dispatch_sim.metrics import wilson
from dispatch_sim.results import Metrics
from dispatch_sim.verdict import default_min_reports, judge, verdict_json

from .conftest import small_scenario
from .test_cli import _cli


def _block(k, n, p90=20.0):
    lo, hi = wilson(k, n) if n else (None, None)
    return {"reports": n, "known_outcome": n, "on_time": k, "rate": k / n if n else None,
            "ci95": [lo, hi] if n else None, "ci95_between_replications": None,
            "response_min": {"p90": p90, "p90_ci95": [p90 - 1, p90 + 1], "p95": p90 + 2, "p95_ci95": [p90, p90 + 4]}}


def _summary(blocks: dict, district=(950, 1000)) -> Metrics:
    k, n = district
    return Metrics(on_time={"target_min": 30, "known_outcome": n, "on_time": k, "rate": k / n,
                            "ci95": list(wilson(k, n)), "ci95_between_replications": None},
                   response_min={"p90": 20, "p90_ci95": [19, 21], "p95": 22, "p95_ci95": [21, 23]},
                   reports={"per_replication": {0: n}}, by_team=blocks, by_hour=[], late_causes={},
                   crew_utilization={}, crew_committed={}, utilization_note="", wait_min={}, move_ups=None,
                   mutual_aid=None)


def _scenario(**targets):
    return scenario_from_dict(small_scenario(targets={"on_time_rate_min": 0.9, **targets}))


def test_default_min_reports_is_the_fewest_a_perfect_record_needs():
    n = default_min_reports(0.9, "lower_bound")
    assert wilson(n, n)[0] >= 0.9 > wilson(n - 1, n - 1)[0]
    assert n == 35
    assert default_min_reports(0.9, "point") == 20


def test_a_failing_township_breaks_a_district_that_holds():
    sc = _scenario()
    s = _summary({"A": _block(334, 400), "B": _block(398, 400), "C": _block(199, 200)})
    v = judge(s, sc)
    assert v.status == "BREAKS" and v.failing_townships() == ["A"]
    district = [r for r in v.rows if r.area == "district"][0]
    assert district.status == "met"  # 95% district-wide: the average hides A
    text = verdict_json(v, s)["text"]
    assert text.startswith("BREAKS in 1 of 3 townships: A 83.5%")
    lo, hi = wilson(334, 400)
    assert f"({lo * 100:.1f}–{hi * 100:.1f}%)" in text


def test_a_township_with_too_few_reports_is_undecided_never_a_silent_pass():
    sc = _scenario()
    s = _summary({"A": _block(12, 12), "B": _block(398, 400), "C": _block(199, 200)})
    v = judge(s, sc)
    assert v.status == "HOLDS" and v.townships["A"]["status"] == "undecided"
    assert v.townships["A"]["reports"] == 12
    assert "not enough reports" in v.townships["A"]["targets"]["on_time_rate"]["reason"]
    assert "1 undecided, not enough reports: A (12)" in verdict_json(v, s)["text"]
    # a township with zero reports too
    s0 = _summary({"A": _block(0, 0), "B": _block(398, 400), "C": _block(199, 200)})
    assert judge(s0, sc).townships["A"]["status"] == "undecided"


def test_lower_bound_judging_marks_not_shown_and_point_judging_passes_it():
    s = _summary({"A": _block(94, 100), "B": _block(398, 400), "C": _block(199, 200)})
    v = judge(s, _scenario())
    row = [r for r in v.rows if r.area == "A"][0]
    assert row.status == "missed" and row.value == pytest.approx(wilson(94, 100)[0]) and "not shown" in row.reason
    assert judge(s, _scenario(judge="point")).status == "HOLDS"


def test_district_scope_judges_the_district_only_but_keeps_per_team_targets():
    s = _summary({"A": _block(334, 400), "B": _block(398, 400), "C": _block(150, 200)})
    assert judge(s, _scenario(scope="district")).status == "HOLDS"
    v = judge(s, _scenario(scope="district", per_team={"C": {"on_time_rate_min": 0.8}}))
    assert v.status == "BREAKS" and v.failing_townships() == ["C"]


def test_per_team_target_replaces_the_township_default():
    s = _summary({"A": _block(334, 400), "B": _block(398, 400), "C": _block(199, 200)})
    assert wilson(334, 400)[0] > 0.75
    assert judge(s, _scenario(per_team={"A": {"on_time_rate_min": 0.75}})).status == "HOLDS"


def _one_team_starved(tmp_path, **targets):
    """Team C has no crew and no neighbour may help: its reports are never served."""
    data = small_scenario(targets={"on_time_rate_min": 0.5, **targets}, run={"replications": 2, "horizon_days": 3},
                          demand={"reports_per_day": 16, "where": [
                              {"kind": "township", "shares": {"A": 0.45, "B": 0.45, "C": 0.1}}]})
    data["teams"][0]["crews"] = data["teams"][1]["crews"] = 2
    data["teams"][2]["crews"] = 0
    p = tmp_path / "starved.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    return p


def test_check_fails_a_township_the_district_average_hides(tmp_path):
    p = _one_team_starved(tmp_path)
    junit = tmp_path / "j.xml"
    r = _cli("check", p, "--junit", junit, "--workers", "1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL" in r.stdout and "C.on_time_rate" in r.stdout and "PASS" in r.stdout  # district passes
    root = ET.parse(junit).getroot()
    failed = {tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None}
    assert failed == {"C.on_time_rate"}
    names = {tc.get("name") for tc in root.iter("testcase")}
    assert {"on_time_rate", "A.on_time_rate", "B.on_time_rate", "C.on_time_rate"} <= names
    p2 = _one_team_starved(tmp_path, scope="district")
    assert _cli("check", p2, "--workers", "1").returncode == 0


def test_run_verdict_agrees_with_incidents_csv(tmp_path):
    """Per-township rates and statuses in summary.json, recomputed from incidents.csv by hand."""
    p = _one_team_starved(tmp_path)
    out = tmp_path / "out"
    r = _cli("run", p, "--out", out, "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "BREAKS in 1 of 3 townships: C" in r.stdout
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    df = pd.read_csv(out / "incidents.csv", encoding="utf-8-sig")
    post = df[~df["warmup"] & df["promise"] & df["on_time"].notna()]
    for team in ("A", "B", "C"):
        sub = post[post["home_team"] == team]
        k, n = int(sub["on_time"].astype(bool).sum()), len(sub)
        tw = s["verdict"]["townships"][team]
        assert tw["reports"] == n
        assert tw["rate"] == pytest.approx(k / n)
        assert tw["ci95"] == pytest.approx(list(wilson(k, n)))
        lo = wilson(k, n)[0]
        expected = "undecided" if n < default_min_reports(0.5, "lower_bound") else ("met" if lo >= 0.5 else "missed")
        assert tw["status"] == expected, team
    assert s["verdict"]["failing_townships"] == ["C"] and s["verdict"]["holds"] is False
    # the wait tail per township, recomputed from the table
    for team in ("A", "B"):
        w = df[~df["warmup"] & df["promise"] & (df["home_team"] == team)]["wait_min"].dropna().to_numpy()
        got = s["by_team"][team]["wait_min"]
        assert got["p99"] == pytest.approx(float(np.quantile(w, 0.99)), abs=1e-3)
        assert got["max"] == pytest.approx(float(w.max()), abs=1e-3)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "BREAKS in 1 of 3 townships" in html and "<tr class='missed'><td>C" in html


def test_zero_reports_is_a_clean_summary_not_a_crash(tmp_path):
    data = small_scenario(targets={"on_time_rate_min": 0.9})
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data))
    out = tmp_path / "o"
    r = _cli("run", p, "--out", out, "--load", "0.001", "--replications", "1", "--workers", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "NO REPORTS" in r.stdout
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["reports"]["total"] == 0 and s["verdict"]["status"] == "NO REPORTS"
    with open(out / "incidents.csv", encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 0
    assert (out / "report.html").exists()


def test_min_reports_follow_each_area_goal_and_quantile():
    from dispatch_sim.verdict import min_reports_quantile

    assert min_reports_quantile(0.9, "lower_bound") == 36 and min_reports_quantile(0.95, "lower_bound") == 72
    assert 1 - 0.9 ** 36 >= 0.975 > 1 - 0.9 ** 35
    # a township held to 95%: a perfect record of 50 reports cannot show it: undecided, not missed
    sc = _scenario(per_team={"A": {"on_time_rate_min": 0.95}})
    s = _summary({"A": _block(50, 50), "B": _block(398, 400), "C": _block(199, 200)})
    assert judge(s, sc).townships["A"]["status"] == "undecided"
    # a p90 target with only 20 reports: undecided, not met on the largest of them
    sc2 = _scenario(on_time_rate_min=None, p90_response_max_min=30)
    s2 = _summary({"A": _block(20, 20, p90=12.0), "B": _block(398, 400), "C": _block(199, 200)})
    assert judge(s2, sc2).townships["A"]["targets"]["p90_response"]["status"] == "undecided"


def test_one_replication_leaves_no_between_replication_interval():
    from dispatch_sim.metrics import _block as block

    out = block(np.ones(40), np.zeros(40, dtype=int), np.full(40, 10.0), 40, [0, 1, 2, 3, 4])
    assert out["ci95_between_replications"] is None
    assert out["rate"] == 1.0 and out["known_outcome"] == 40 and out["reports"] == 40
