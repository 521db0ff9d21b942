"""How often calibration's 95% intervals cover the truth (python tools/calibration_coverage.py [--seeds N]).

The setting of tests/test_calibrate.py, repeated over log seeds: a known scenario (3 teams on a small stand-in,
turnout uniform 1-4 min, peak factor 0.6) generates a 40-day log, make_messy damages it (GCJ-02, duplicates,
impossible rows...), and it is calibrated against a base whose speeds are 0.8x and peak factor 0.9. For each seed:
the fitted turnout and speed factors with their intervals, and the mean of the model's own turnouts of the
records the fit used (which the log does not hold). Prints coverage per quantity and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatch_sim import World, scenario_from_dict  # noqa: E402
from dispatch_sim.calibrate import calibrate, prepare, quarantined_jobs, team_free  # noqa: E402
from dispatch_sim.logs import read_log  # noqa: E402
from dispatch_sim.synthlog import make_messy, simulate_log, write_export  # noqa: E402
from tests.calib_fixtures import DAYS, truth_dict, wrong_base_dict  # noqa: E402

TRUE = {"turnout": 2.5, "off_peak": 1 / 0.8, "peak": 0.6 / 0.72}


def one(seed: int, tw, bw, d: Path) -> dict:
    clean, truth = simulate_log(tw.scenario, days=DAYS, seed=seed, world=tw, with_truth=True)
    table, _ = make_messy(clean, seed=seed)
    log = read_log(write_export(table, d / f"log{seed}.csv", encoding="gbk"))
    log.locate(None, extent=bw.locator.extent, locator=bw.locator)
    cal = calibrate(log, bw, seed=seed)
    p = prepare(log, bw)
    team_idx = np.where(p.team >= 0, p.team, np.where(p.township >= 0, p.township, p.home))
    used = team_free(p, bw, team_idx, quarantined_jobs(log, p, bw.scenario)) & np.isfinite(p.arrived) & np.isfinite(p.dispatched)
    own = float(truth.set_index("report_id").loc[log.records["report_id"].to_numpy()[used], "turnout_min"].mean())
    tr = cal["travel"]
    return {"seed": seed, "turnout": tr["turnout_mean"], "turnout_ci95": tr["turnout_ci95"], "own_turnout": own,
            **{b: tr["bands"][b]["speed_factor"] for b in ("off_peak", "peak")},
            **{f"{b}_ci95": tr["bands"][b]["ci95"] for b in ("off_peak", "peak")}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=60)
    args = ap.parse_args(argv)
    tw = World(scenario_from_dict(truth_dict()))
    bw = World(scenario_from_dict(wrong_base_dict()))
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(1, args.seeds + 1):
            rows.append(one(seed, tw, bw, Path(d)))
    out = {"seeds": len(rows)}
    for k, true in TRUE.items():
        v = np.array([r[k] for r in rows])
        cov = np.mean([r[f"{k}_ci95"][0] <= true <= r[f"{k}_ci95"][1] for r in rows])
        width = np.mean([r[f"{k}_ci95"][1] - r[f"{k}_ci95"][0] for r in rows])
        out[k] = {"truth": round(true, 4), "mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)), 4),
                  "coverage": round(float(cov), 3), "mean_ci_width": round(float(width), 4)}
        print(f"{k}: truth {true:.4f}, fitted mean {v.mean():.4f} (sd {v.std(ddof=1):.4f}), 95% interval covers the truth "
              f"in {cov:.0%} of {len(rows)} logs (mean width {width:.3f})")
    own = np.array([r["own_turnout"] for r in rows])
    fit = np.array([r["turnout"] for r in rows])
    out["turnout_minus_own"] = {"mean": round(float((fit - own).mean()), 4), "sd": round(float((fit - own).std(ddof=1)), 4)}
    print(f"turnout fitted - mean of the used records' own turnouts: {(fit - own).mean():+.4f} (sd {(fit - own).std(ddof=1):.4f})")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
