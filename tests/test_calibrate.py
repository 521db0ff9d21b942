"""Calibrating from a report log: a log generated from a known scenario, made messy like a platform export,
gives back that scenario's parameters within the stated intervals; every row is accounted for; hostile
files are one line and exit 2."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from .calib_fixtures import URBAN


# ------------------------------------------------------------------------------------------ the log

def test_every_row_is_used_or_quarantined_with_its_reason(messy, located, tmp_path):
    from dispatch_sim.logs import write_quarantine

    table, injected, _ = messy
    c = located.counts()
    assert c["rows"] == injected["rows"] == len(table)
    assert c["used"] + c["quarantined"] == c["rows"]
    by = c["quarantined_by_reason"]
    assert by["duplicate"] == injected["duplicates"]
    assert by["arrival before report"] == injected["impossible"]
    assert by["no report time"] == injected["no_time"]
    assert by["no usable coordinates"] == injected["bad_coords"]
    assert by["outside the district"] == injected["outside"]
    assert c["quarantined"] == injected["quarantine"]
    q = write_quarantine(located, tmp_path / "q.csv")
    with open(q, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == injected["quarantine"] and all(r["reason"] and int(r["line"]) >= 2 for r in rows)
    # the used rows are exactly the file's data rows minus the quarantined lines (a second count, by line number)
    assert sorted(located.records["line"].tolist() + [int(r["line"]) for r in rows]) == list(range(3, 3 + len(table)))


def test_gbk_utf8_and_xlsx_exports_read_the_same(messy):
    from dispatch_sim.logs import read_log

    logs = {k: read_log(p) for k, p in messy[2].items()}
    assert logs["gbk"].encoding == "gb18030" and logs["xlsx"].encoding == "xlsx"
    ref = logs["gbk"].records.drop(columns="line")
    for k in ("utf8", "xlsx"):
        assert logs[k].counts()["quarantined_by_reason"] == logs["gbk"].counts()["quarantined_by_reason"]
        pd.testing.assert_frame_equal(logs[k].records.drop(columns="line"), ref)


def test_excel_timestamp_forms_give_the_recorded_times(clean_log, located):
    recs = located.records.set_index("report_id")
    ids = recs.index.intersection(clean_log["report_id"])
    ref = clean_log.set_index("report_id").loc[ids]
    got = recs.loc[ids]
    dt = (got["reported_at"] - pd.to_datetime(ref["reported_at"])).abs().dt.total_seconds()
    assert dt.max() <= 0.5  # serial day numbers round to the second
    arr = got["closed_at"].notna() & ref["closed_at"].notna()
    assert (got.loc[arr, "closed_at"] - pd.to_datetime(ref.loc[arr, "closed_at"])).abs().dt.total_seconds().max() <= 0.5


def test_gcj02_is_detected_and_converted_back_to_the_recorded_places(clean_log, located):
    from dispatch_sim.crs import haversine_m

    assert located.crs == "gcj02" and located.crs_how.startswith("detected")
    recs = located.records.set_index("report_id")
    ref = clean_log.set_index("report_id").loc[recs.index]
    d = haversine_m(recs["lon_wgs"], recs["lat_wgs"], ref["lon"], ref["lat"])
    assert np.max(d) < 0.5  # 6 decimals of GCJ-02 and the inverse: well under a metre


def test_bd09_is_detected(clean_log, base_world, tmp_path):
    from dispatch_sim.logs import read_log
    from dispatch_sim.synthlog import make_messy, write_export

    table, _ = make_messy(clean_log.head(300), seed=2, crs="bd09", chinese=False)
    log = read_log(write_export(table, tmp_path / "bd.csv", encoding="utf-8"))
    log.locate(None, extent=base_world.locator.extent, locator=base_world.locator)
    assert log.crs == "bd09"


def test_a_mapping_file_names_unusual_headers(clean_log, tmp_path):
    from dispatch_sim.logs import Mapping, read_log

    t = clean_log.head(50).rename(columns={"reported_at": "受理时刻", "lon": "X坐标值", "lat": "Y坐标值"})
    t.to_csv(tmp_path / "odd.csv", index=False)
    (tmp_path / "map.yaml").write_text("columns: {reported_at: 受理时刻, lon: X坐标值, lat: Y坐标值}\ncrs: wgs84\n", encoding="utf-8")
    log = read_log(tmp_path / "odd.csv", mapping=Mapping.read(tmp_path / "map.yaml"))
    assert log.used == 50 and log.columns["reported_at"] == "受理时刻"


# ------------------------------------------------------------------------------------------ recovery

def test_rate_is_recovered_within_its_interval(cal, clean_log, located, messy):
    injected = messy[1]
    lo, hi = cal["demand"]["reports_per_day_ci95"]
    assert lo <= 30 <= hi
    # second way: the clean log's rows minus the damaged ones, over its calendar days
    days = (clean_log["reported_at"].max().normalize() - clean_log["reported_at"].min().normalize()).days + 1
    used = len(clean_log) - injected["impossible"] - injected["no_time"] - injected["bad_coords"] - injected["outside"]
    assert located.used == used
    assert cal["demand"]["reports_per_day"] == pytest.approx(used / days)


def test_hourly_profile_is_recovered(cal, truth_world):
    from scipy import stats

    from dispatch_sim.scenario import DEFAULT_HOURLY

    true = np.asarray(DEFAULT_HOURLY) / np.mean(DEFAULT_HOURLY)
    band = np.asarray(cal["demand"]["hourly_ci95"])
    inside = (band[:, 0] <= true) & (true <= band[:, 1])
    assert inside.sum() >= 21, (inside, band, true)
    counts = np.asarray(cal["demand"]["hourly_counts"])
    expected = counts.sum() * true / true.sum()
    assert stats.chisquare(counts, expected).pvalue > 0.001  # the raw counts do not contradict the truth


def test_category_mix_and_work_times_are_recovered(cal):
    for name, share, mean, family in (("a", 0.6, 30, "lognormal"), ("b", 0.4, 50, "gamma")):
        c = cal["categories"][name]
        assert c["ci95"][0] <= share <= c["ci95"][1]
        w = cal["work"][name]
        assert w["best"] == family, {f: x["delta_aic"] for f, x in w["fits"].items()}
        assert w["mean_ci95"][0] <= mean <= w["mean_ci95"][1]
        # the chosen family's mean is the sample mean up to the fit (a second way)
        assert w["fits"][family]["fitted_mean"] == pytest.approx(w["mean"], rel=0.03)


def test_dispatch_delay_turnout_and_speed_factors_are_recovered(cal):
    d = cal["dispatch_delay"]
    assert d["best"] == "lognormal" and d["mean_ci95"][0] <= 3 <= d["mean_ci95"][1]
    tr = cal["travel"]
    assert 2.2 <= tr["turnout_mean"] <= 2.8 and tr["turnout_ci95"][1] - tr["turnout_ci95"][0] < 0.45
    # truth against the base: off-peak 1/0.8; peak 0.6 / (0.8 × 0.9)
    for band, f in (("off_peak", 1 / 0.8), ("peak", 0.6 / 0.72)):
        lo, hi = tr["bands"][band]["ci95"]
        assert lo <= f <= hi, (band, tr["bands"][band])
        assert hi - lo < 0.15


def test_turnout_is_the_mean_of_the_turnouts_of_the_records_it_used(generated, located, base_world, cal, truth_world):
    """Turnout is the intercept of arrival − dispatch against the routed time; a second way to the same figure is
    the model's own turnouts of those records (which the log does not hold). On this log they average 2.39 min, not
    the distribution's 2.5: a low draw, not a bias (over 60 such logs the fit averages 2.490, sd 0.074, and its interval
    covers 2.5 in 55: python tools/calibration_coverage.py); the fit must find the 2.39."""
    from dispatch_sim.calibrate import prepare, quarantined_jobs, team_free

    truth = generated[1].set_index("report_id")
    p = prepare(located, base_world)
    team_idx = np.where(p.team >= 0, p.team, np.where(p.township >= 0, p.township, p.home))
    used = team_free(p, base_world, team_idx, quarantined_jobs(located, p, base_world.scenario))
    used &= np.isfinite(p.arrived) & np.isfinite(p.dispatched)
    assert used.sum() == cal["travel"]["n"]
    ids = located.records["report_id"].to_numpy()[used]
    own = float(truth.loc[ids, "turnout_min"].mean())
    lo, hi = cal["travel"]["turnout_ci95"]
    assert lo <= own <= hi and abs(cal["travel"]["turnout_mean"] - own) < 0.1, (own, cal["travel"]["turnout_mean"])
    # what the regression assumes holds exactly in the model: arrival − dispatch − turnout is the fastest drive from
    # the team's base to the report's node in the time band at dispatch (to the second the log is rounded to), so
    # neither the start point nor the band (nor floored edge times) bias the turnout
    r = truth_world.router
    drive = (p.arrived - p.dispatched)[used] - truth.loc[ids, "turnout_min"].to_numpy()
    band = np.array([r.band_at(t) for t in p.dispatched[used]])
    node = np.array([r.index[int(n)] for n in truth.loc[ids, "node"]])
    routed = r.from_base[band, team_idx[used], node] / 60.0
    assert np.abs(drive - routed).max() < 1.5 / 60
    # without the quarantined rows' jobs, records whose crew came straight from a quarantined job's scene pass as free
    naive = team_free(p, base_world, team_idx) & np.isfinite(p.arrived) & np.isfinite(p.dispatched)
    extra = naive & ~used
    assert extra.any()
    e_ids = located.records["report_id"].to_numpy()[extra]
    gap = (p.arrived - p.dispatched)[extra] - truth.loc[e_ids, "turnout_min"].to_numpy()
    e_routed = r.from_base[np.array([r.band_at(t) for t in p.dispatched[extra]]), team_idx[extra],
                           np.array([r.index[int(n)] for n in truth.loc[e_ids, "node"]])] / 60.0
    assert np.abs(gap - e_routed).max() > 1.0  # at least one of them did not start from base


def test_calibrated_scenario_extends_the_base_and_loads(cal, located, base_world, written):
    from dispatch_sim import load_scenario

    out = written["scenario"]
    text = out.read_text(encoding="utf-8")
    assert "extends:" in text and "95% CI" in text
    sc = load_scenario(out)
    assert sc.demand.reports_per_day == pytest.approx(cal["demand"]["reports_per_day"], rel=1e-3)
    assert [c.name for c in sc.demand.categories] == ["a", "b"]
    assert sc.demand.categories[1].work_min.dist == "gamma"
    assert sc.teams == base_world.scenario.teams  # from the base
    page = written["page"].read_text(encoding="utf-8")
    assert "<img" in page and "http://" not in page and "https://" not in page
    assert len(pd.read_csv(written["points"])) == located.used
    # the speeds written are the base's times the fitted factors (off-peak for road classes)
    f = cal["travel"]["bands"]["off_peak"]["speed_factor"]
    assert sc.speeds.urban_kph["primary"] == pytest.approx(URBAN["primary"] * 0.8 * f, abs=0.01)


# ------------------------------------------------------------------------------------------ hostile input

HOSTILE = {
    "empty.csv": b"",
    "blank.csv": b"\n\n\n",
    "header_only.csv": "上报时间,经度,纬度\n".encode("gbk"),
    "wrong_headers.csv": b"name,age,city\nann,3,x\n",
    "binary.csv": bytes(range(256)) * 20,
    "all_bad.csv": "上报时间,经度,纬度\n昨天,abc,\n,120.7,30.7\n2022-08-01 08:00,0,0\n".encode("gbk"),
    "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
    "notxlsx.xlsx": b"PK\x03\x04" + b"\x00" * 100,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_logs_are_one_line_and_exit_2(name, tmp_path, base_files, capsys):
    from dispatch_sim.cli import run_cli

    p = tmp_path / name
    p.write_bytes(HOSTILE[name])
    rc = run_cli(["calibrate", str(p), "--base", str(base_files / "truth.yaml"), "--out", str(tmp_path / "o" / "n.yaml")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err and str(p) in lines[0]
    assert not (tmp_path / "o" / "n.yaml").exists()


def test_a_folder_as_log_is_one_line(tmp_path, base_files, capsys):
    from dispatch_sim.cli import run_cli

    rc = run_cli(["backtest", str(base_files / "truth.yaml"), "--log", str(tmp_path), "--out", str(tmp_path / "bt")])
    err = capsys.readouterr().err
    assert rc == 2 and "is a folder" in err and "Traceback" not in err
