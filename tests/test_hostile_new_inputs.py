"""Hostile inputs on the new surfaces (staffing, planned inspections, referrals, joint checks, boundaries,
report logs): each class of crash found in the hostile pass stays one clear line, exit 2, never a traceback."""

from __future__ import annotations

import pytest

from dispatch_sim.errors import DispatchSimError

HEADER = "事件编号,上报时间,事件类型,所属镇街,经度,纬度,派遣时间,到场时间,办结时间,处置队伍"


def test_log_with_every_point_outside_the_district_is_bad_input_not_a_crash(tmp_path):
    """Every row screened out by locate() left an empty log; calibrate then crashed on NaT (monday_of)."""
    from dispatch_sim.logs import read_log

    rows = [f"NH{i},2022-07-{1 + i % 28:02d} {i % 24:02d}:02:39,市容环境,余新镇,116.4,39.9,,,,"
            for i in range(20)]
    p = tmp_path / "outside.csv"
    p.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    log = read_log(p)
    with pytest.raises(DispatchSimError) as e:
        log.locate("wgs84", extent=(120.65, 30.60, 120.98, 30.85))
    msg = str(e.value)
    assert "outside.csv" in msg and "none of the 20 rows is usable" in msg and "outside the district" in msg
    assert "\n" not in msg


def test_backtest_figures_with_no_observed_arrival_do_not_crash():
    """A log without arrival times has no area with observed arrivals: the response-CDF grid divided by 0."""
    from types import SimpleNamespace

    from dispatch_sim.logpages import backtest_figures

    bt = {"areas": [{"area": "district", "reports": 5, "observed_arrivals": 0}], "obs_response": [], "home": [],
          "promise": [], "flagged_areas": [], "target_min": 30, "sim_response": {}, "demand": {}, "days": 3}
    figs = backtest_figures(bt, SimpleNamespace(teams=[]), "en")
    assert "response_cdf.png" not in figs and "on_time.png" not in figs


def test_backtest_of_a_log_spanning_a_century_is_bad_input():
    """A log whose report times span more than run.horizon_days allows: the error named the base scenario's
    run.horizon_days instead of the log."""
    from datetime import datetime
    from types import SimpleNamespace

    import numpy as np

    from dispatch_sim.backtest import _replay_world

    p = SimpleNamespace(created=np.array([0.0, 100 * 365 * 1440.0]), closed=np.array([np.nan, np.nan]),
                        t0=datetime(1922, 1, 2))
    with pytest.raises(DispatchSimError) as e:
        _replay_world(SimpleNamespace(scenario=None), p, "--log: x.csv")
    msg = str(e.value)
    assert msg.startswith("--log: x.csv: reported_at:") and "at most 3,660 days" in msg and "\n" not in msg


def test_a_joint_check_needing_more_crews_than_a_team_ever_has_is_refused_in_one_line():
    """Two crews from a team of one would keep the report waiting for ever: bad input, not a silent run."""
    from dispatch_sim import scenario_from_dict
    from dispatch_sim.errors import ScenarioError

    from .conftest import small_scenario

    data = small_scenario(demand={"reports_per_day": 30, "categories": [
        {"name": "check", "share": 1, "joint": {"home": 1, "C": 2}}]})
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(data)
    msg = str(exc.value)
    assert "demand.categories[0].joint: C needs 2 crews at once" in msg and "at most 1" in msg
    data["demand"]["categories"][0]["joint"] = {"home": 1, "C": 1}
    scenario_from_dict(data)  # one crew of C is possible
