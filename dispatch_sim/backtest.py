"""Backtest: replay a report log through the model and say where model and record disagree beyond chance.

:func:`backtest` takes a scenario's World and a located report log and

1. **replays** the logged reports (times, places and categories as recorded) through the model
   ``replications`` times; dispatch delay, turnout and on-scene work are drawn from the scenario, so
   what is tested is the scenario's account of everything after the report;
2. **compares outcomes** per township (the home team of the report's place) and for the district, on
   the reports whose arrival the log records: the on-time rate (observed with its Wilson interval;
   simulated with its predictive interval across replications), p50/p90 response times, and the
   response-time distributions (two-sample Kolmogorov–Smirnov distance);
3. **compares demand**: the scenario's expected number of reports in each township over the log's days
   (its demand model drawn ``replications`` times) against the count in the log (exact Poisson test);
4. reports utilisation where the log allows (dispatch to close, per team, against on-duty time).

Why these tests
---------------
Within one replication the outcomes of reports are correlated (a busy afternoon delays many), so
binomial or classical KS p-values would be far too small. Each test therefore compares the observed
figure with the spread of the same figure across replications of the same reports: the on-time count
by a predictive z-score (``(k_obs − mean) / (sd·sqrt(1 + 1/R))``), the KS distance against the distances
of each replication to the pool of the others (a log-normal fitted to those gives a continuous p-value).
All p-values of a backtest (areas × tests) are adjusted together by Holm's method; a disagreement
"beyond chance" is an adjusted p below 0.05 (family-wise). The price: with few reports in a township
nothing is flagged there, and the page says "too few to tell" rather than "agrees".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .calibrate import Prepared, prepare
from .demand import Reports
from .distributions import sample_durations
from .errors import DispatchSimError
from .logs import ReportLog, category_lookup

ALPHA = 0.05
#: Fewest observed arrivals in an area to test its outcomes.
MIN_AREA = 10


def holm(p: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (same order)."""
    pv = np.asarray(p, dtype=float)
    m = len(pv)
    if m == 0:
        return []
    order = np.argsort(pv)
    adj = np.empty(m)
    run = 0.0
    for rank, i in enumerate(order):
        run = max(run, min(1.0, (m - rank) * pv[i]))
        adj[i] = run
    return adj.tolist()


#: Longest log a backtest replays (the scenario's run.horizon_days limit).
MAX_REPLAY_DAYS = 3660


def _replay_world(world, p: Prepared, label: str = "--log"):
    from .model import World

    sc = world.scenario
    horizon = float(math.ceil((np.nanmax(np.r_[p.created, p.closed]) + 1440.0) / 1440.0))
    if horizon > MAX_REPLAY_DAYS:
        raise DispatchSimError(f"{label}: reported_at: the log spans {horizon:,.0f} days from "
                               f"{p.t0:%Y-%m-%d}; allowed: at most {MAX_REPLAY_DAYS:,} days (10 years): "
                               "check the report times or split the log")
    sc2 = sc.with_overrides(horizon_days=horizon, warmup_days=0.0, start_date=p.t0.strftime("%Y-%m-%d"))
    return World(sc2, G=world.network, router=world.router)  # the network as loaded, not a networkx rebuild


def replay_reports(world, p: Prepared, cat: np.ndarray, rep: int, seed: int) -> tuple[Reports, np.ndarray]:
    """The logged reports as the model's :class:`~dispatch_sim.demand.Reports` for replication ``rep``
    (durations drawn from the scenario), and the order that maps them back to log rows."""
    sc = world.scenario
    ss = np.random.SeedSequence([int(seed), int(rep), 16])
    r_delay, r_turn, r_work = (np.random.default_rng(s) for s in ss.spawn(3))
    n = len(p.created)
    delay = sample_durations(sc.dispatch.dispatch_delay_min, r_delay, n)
    turn = sample_durations(sc.dispatch.turnout_min, r_turn, n)
    work = np.empty(n)
    for ci, c in enumerate(sc.demand.categories):
        sel = np.flatnonzero(cat == ci)
        work[sel] = sample_durations(c.work_min, r_work, len(sel))
    ready = p.created + delay
    order = np.lexsort((p.created, ready))
    cats = sc.demand.categories
    pr = np.array([c.priority for c in cats], dtype=np.int8)
    pm = np.array([c.promise for c in cats], dtype=bool)
    reps = Reports(created_min=p.created[order], ready_min=ready[order], turnout_min=turn[order],
                   node=p.node[order].astype(np.int64), snap_m=p.snap_m[order], category=cat[order].astype(np.int16),
                   priority=pr[cat[order]], promise=pm[cat[order]], work_min=work[order],
                   home_team=world.node_team[p.node[order]].astype(np.int16))
    return reps, order


def _ks(a, b) -> float:
    from scipy import stats

    return float(stats.ks_2samp(a, b).statistic) if len(a) and len(b) else float("nan")


def _area_outcomes(obs_resp, sim_resp, promise, target, label) -> dict:
    """Observed against simulated for one area. ``sim_resp``: replications × reports (minutes)."""
    from scipy import stats

    from .metrics import quantile_ci, wilson

    R = sim_resp.shape[0]
    ok = np.isfinite(obs_resp) & promise
    n = int(ok.sum())
    out = {"area": label, "observed_arrivals": n}
    if n == 0:
        out["status"] = "no_data"
        return out
    o = obs_resp[ok]
    s = sim_resp[:, ok]
    s_filled = np.where(np.isfinite(s), s, np.inf)  # not reached within the replay: late
    k_obs = int((o <= target + 1e-9).sum())
    k_sim = (s_filled <= target + 1e-9).sum(axis=1)
    m, sd = float(k_sim.mean()), float(k_sim.std(ddof=1)) if R > 1 else 0.0
    p_i = (s_filled <= target + 1e-9).mean(axis=0)
    sd_floor = math.sqrt(max(float(np.sum(p_i * (1 - p_i))), 0.25))
    sdp = max(sd, sd_floor) * math.sqrt(1 + 1 / R)
    z = (k_obs - m) / sdp
    p_rate = float(2 * stats.t.sf(abs(z), df=max(R - 1, 1)))  # predictive: sd estimated from R replications
    sim_rates = k_sim / n
    out.update(on_time_observed=k_obs / n, on_time_observed_ci95=list(wilson(k_obs, n)),
               on_time_simulated=m / n, on_time_simulated_pi95=[float(np.quantile(sim_rates, 0.025)),
                                                                float(np.quantile(sim_rates, 0.975))],
               on_time_z=z, p_on_time=p_rate)
    # quantiles
    for q, name in ((0.5, "p50"), (0.9, "p90")):
        e, lo, hi = quantile_ci(o, q)
        per = np.array([np.quantile(row, q) for row in s_filled])
        per = per[np.isfinite(per)]
        out[f"{name}_observed"] = e
        out[f"{name}_observed_ci95"] = [lo, hi]
        out[f"{name}_simulated"] = float(np.quantile(s_filled[np.isfinite(s_filled)],
                                                     q)) if np.isfinite(s_filled).any() else None
        out[f"{name}_simulated_pi95"] = [float(np.quantile(per, 0.025)),
                                         float(np.quantile(per, 0.975))] if len(per) else None
    # KS against the pool, calibrated on the replications
    pool = s[np.isfinite(s)]
    d_obs = _ks(o, pool)
    d_null = []
    for r in range(R):
        others = np.delete(s, r, axis=0)
        oth = others[np.isfinite(others)]
        row = s[r][np.isfinite(s[r])]
        d_null.append(_ks(row, oth))
    null = np.asarray([d for d in d_null if d == d and d > 0])
    if len(null) >= 3 and d_obs > 0:
        ld = np.log(null)
        zks = (math.log(d_obs) - ld.mean()) / max(ld.std(ddof=1), 1e-6) / math.sqrt(1 + 1 / len(ld))
        p_ks = float(stats.t.sf(zks, df=len(ld) - 1))
        rank_p = float((1 + np.sum(null >= d_obs)) / (len(null) + 1))
    else:
        p_ks, rank_p = 1.0, 1.0
    out.update(ks_D=d_obs, ks_D_null_median=float(np.median(d_null)) if len(d_null) else None, p_ks=p_ks,
               p_ks_rank=rank_p, status="tested" if n >= MIN_AREA else "too_few")
    return out


def backtest(world, log: ReportLog, *, replications: int = 20, seed: int | None = None) -> dict:
    """Replay ``log`` through ``world``'s scenario and compare (see the module docstring).

    Parameters
    ----------
    world
        The scenario's World.
    log
        A located report log.
    replications
        Replays (and demand draws); 20 gives predictive intervals good to about ±2 points.
    seed
        Default: the scenario's ``run.seed``.

    Returns
    -------
    dict
        JSON-ready: ``log`` counts, ``areas`` (district first), ``demand`` (per township), ``utilization``,
        ``disagreements`` (plain sentences), ``agrees`` (bool), ``tests`` (every p-value, raw and adjusted).
    """
    sc = world.scenario
    seed = sc.run.seed if seed is None else int(seed)
    if replications < 3:
        raise DispatchSimError("--replications: at least 3 are needed to judge chance")
    clook = category_lookup(sc)
    names = [c.name for c in sc.demand.categories]
    raw = log.records["category"].fillna("").astype(str).to_numpy()
    has_cat = (raw != "").any()
    cat = np.array([clook.get(c, clook.get(c.lower(), -1)) if c else (0 if not has_cat else -1) for c in raw],
                   dtype=int)
    if (cat < 0).any():
        bad = raw[cat < 0]
        log.drop(cat < 0, [f"category not in the scenario: {c[:40]!r} (scenario categories: {', '.join(names)[:120]})"
                           for c in np.where(cat < 0, raw, "")])
        cat = cat[cat >= 0]
        if not len(cat):
            raise DispatchSimError(f"--log: {log.path}: no report has a category of the scenario "
                                   f"({', '.join(names[:8])}); "
                                   f"the log has e.g. {bad[0][:40]!r}; map them with --mapping (categories: ...)")
    p = prepare(log, world)
    rw = _replay_world(world, p, f"--log: {log.path}")
    target = sc.run.target_min
    n = len(p.created)
    sim_resp = np.full((replications, n), np.nan)
    busy = np.zeros((replications, len(sc.teams)))
    duty = np.zeros((replications, len(sc.teams)))
    for r in range(replications):
        reps, order = replay_reports(rw, p, cat, r, seed)
        res = rw.simulate(r, reports=reps)
        resp = res.arrived_min - res.reports.created_min
        sim_resp[r, order] = resp
        for ci, t in enumerate(res.crew_team):
            busy[r, t] += res.crew_busy_min[ci]
            duty[r, t] += res.crew_duty_min[ci]
    obs_resp = p.arrived - p.created
    promise = np.array([sc.demand.categories[c].promise for c in cat], dtype=bool)
    areas = [_area_outcomes(obs_resp, sim_resp, promise, target, "district")]
    for i, t in enumerate(sc.teams):
        if t.backup:
            continue
        sel = p.home == i
        a = _area_outcomes(obs_resp[sel], sim_resp[:, sel], promise[sel], target, t.name)
        a["reports"] = int(sel.sum())
        areas.append(a)
    areas[0]["reports"] = n
    # demand: the scenario's expected reports per township over the log's days
    first_min = (pd.Timestamp(p.first_day) - pd.Timestamp(p.t0)).total_seconds() / 60.0
    lo_min, hi_min = first_min, first_min + p.days * 1440.0
    demand = None
    if not sc.demand.trace:
        from scipy import stats

        counts = np.zeros((replications, len(sc.teams)))
        for r in range(replications):
            g = rw.demand.generate(np.random.SeedSequence([seed, r, 61]), hi_min)
            inwin = g.created_min >= lo_min
            counts[r] = np.bincount(g.home_team[inwin].astype(int), minlength=len(sc.teams))
        exp = counts.mean(axis=0)
        obs = np.bincount(p.home, minlength=len(sc.teams))
        demand = {}
        for i, t in enumerate(sc.teams):
            if t.backup:
                continue
            e, k = float(exp[i]), int(obs[i])
            if e <= 0:
                pv = 0.0 if k > 0 else 1.0
            else:
                pv = float(min(1.0, 2 * min(stats.poisson.cdf(k, e), stats.poisson.sf(k - 1, e))))
            demand[t.name] = {"observed": k, "expected": e, "ratio": (k / e) if e > 0 else None,
                              "expected_pi95": [float(stats.poisson.ppf(0.025, e)), float(stats.poisson.ppf(0.975, e))]
                              if e > 0 else [0, 0], "p": pv}
        tot_e, tot_k = float(exp.sum()), int(obs.sum())
        demand["district"] = {"observed": tot_k, "expected": tot_e, "ratio": tot_k / tot_e if tot_e else None,
                              "p": float(min(1.0, 2 * min(stats.poisson.cdf(tot_k, tot_e),
                                                          stats.poisson.sf(tot_k - 1, tot_e))))
                              if tot_e > 0 else 1.0}
    # utilisation where the log allows
    team_idx = np.where(p.team >= 0, p.team, p.home)
    b_obs = p.closed - p.dispatched
    util = {}
    for i, t in enumerate(sc.teams):
        sel = (team_idx == i) & np.isfinite(b_obs)
        d = float(duty[:, i].mean())
        util[t.name] = {"observed": float(np.nansum(b_obs[sel]) / d) if d > 0 and sel.any() else None,
                        "simulated": float(busy[:, i].mean() / d) if d > 0 else None, "jobs_with_close": int(sel.sum())}
    # tests, adjusted together
    tests = []
    for a in areas:
        if a.get("status") != "tested":
            continue
        tests.append({"area": a["area"], "test": "on_time_rate", "p": a["p_on_time"]})
        tests.append({"area": a["area"], "test": "response_distribution", "p": a["p_ks"]})
    for name, dm in (demand or {}).items():
        tests.append({"area": name, "test": "report_count", "p": dm["p"]})
    adj = holm([t["p"] for t in tests])
    for t, q in zip(tests, adj):
        t["p_adjusted"] = q
        t["beyond_chance"] = q < ALPHA
    dis = []
    by_area = {a["area"]: a for a in areas}
    for t in tests:
        if not t["beyond_chance"]:
            continue
        a = by_area.get(t["area"], {})
        if t["test"] == "on_time_rate":
            dis.append({**t, "text": f"{t['area']}: on-time rate observed {a['on_time_observed']:.1%} against "
                                     "simulated "
                                     f"{a['on_time_simulated']:.1%} (predictive 95% "
                                     f"{a['on_time_simulated_pi95'][0]:.1%}–"
                                     f"{a['on_time_simulated_pi95'][1]:.1%}); adjusted p {t['p_adjusted']:.2g}"})
        elif t["test"] == "response_distribution":
            dis.append({**t, "text": f"{t['area']}: response times differ (p50 observed {a['p50_observed']:.1f} "
                                     "against "
                                     f"simulated {a['p50_simulated']:.1f} min, p90 {a['p90_observed']:.1f} against "
                                     f"{a['p90_simulated']:.1f} min; KS D {a['ks_D']:.3f}); adjusted p "
                                     f"{t['p_adjusted']:.2g}"})
        else:
            dm = demand[t["area"]]
            dis.append({**t, "text": f"{t['area']}: {dm['observed']} reports in the log against {dm['expected']:.1f} "
                                     f"expected by the scenario (×{dm['ratio']:.2f}); adjusted p "
                                     f"{t['p_adjusted']:.2g}"})
    flagged = sorted({d["area"] for d in dis}, key=lambda a: (a != "district", a))
    return {"scenario": sc.name, "log": log.counts(), "replications": replications, "seed": seed,
            "target_min": target, "start_monday": p.t0.strftime("%Y-%m-%d"), "days": p.days,
            "areas": areas, "demand": demand, "utilization": util, "tests": tests, "disagreements": dis,
            "flagged_areas": flagged, "agrees": not dis, "alpha_familywise": ALPHA,
            "replay": {"reports": n, "horizon_days": rw.scenario.run.horizon_days,
                       "open_at_end": int(np.isnan(sim_resp).sum())},
            "sim_response": _sim_summary(sim_resp, p, areas, sc), "obs_response": obs_resp.tolist(),
            "home": p.home.tolist(), "promise": promise.tolist()}


def _sim_summary(sim_resp, p, areas, sc):
    """Pooled simulated response times per area (for the overlay figure), thinned to 5,000 values."""
    out = {}
    for a in areas:
        name = a["area"]
        if name == "district":
            sel = np.ones(sim_resp.shape[1], dtype=bool)
        else:
            i = [t.name for t in sc.teams].index(name)
            sel = p.home == i
        v = sim_resp[:, sel].ravel()
        v = v[np.isfinite(v)]
        if len(v) > 5000:
            v = np.quantile(v, np.linspace(0, 1, 5000))
        out[name] = np.round(v, 3).tolist()
    return out


def summary_lines(bt: dict) -> list[str]:
    """What the console prints: the verdict sentence and each disagreement."""
    lines = []
    tested = [a for a in bt["areas"] if a.get("status") == "tested"]
    few = [a["area"] for a in bt["areas"] if a.get("status") in ("too_few", "no_data")]
    if bt["agrees"]:
        lines.append(f"model and record agree within chance in all {len(tested)} areas tested "
                     f"({bt['replications']} replays, family-wise 5%)")
    else:
        lines.append(f"model and record DISAGREE beyond chance in: {', '.join(bt['flagged_areas'])}")
        lines.extend("  " + d["text"] for d in bt["disagreements"])
    if few:
        lines.append(f"too few observed arrivals to test (< {MIN_AREA}): {', '.join(few)}")
    return lines
