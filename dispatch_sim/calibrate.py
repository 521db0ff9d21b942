"""Calibrate a scenario from a report log: demand, work times, delays and road speeds, with intervals.

:func:`calibrate` takes a report log (:class:`~dispatch_sim.logs.ReportLog`) and the World of a base
scenario and fits, each with the number of records behind it and a 95% interval:

* **demand**: reports per day (Poisson, widened by the observed over-dispersion of daily counts), the
  hour-of-day profile (circular kernel smoothing, bandwidth by leave-one-out Poisson likelihood;
  interval by resampling whole days), the weekday profile, township shares (Wilson intervals; the
  township column against the scenario's jurisdictions), the places (the observed points themselves)
  and the category mix;
* **on-scene work time per category** (``closed − arrived``): exponential, lognormal and gamma fitted
  by maximum likelihood (``scipy.stats``), chosen by AIC (BIC shown), with a Kolmogorov–Smirnov
  distance as goodness-of-fit figure;
* **dispatch delay** (``dispatched − reported``) from reports whose team had no other job open (so the
  gap is triage, not a queue), fitted the same way;
* **turnout and travel** from the same "team was free" reports: ``arrived − dispatched = turnout +
  routed time / speed factor``, fitted by robust (Huber) regression on the routed time from the
  team's base on the scenario's graph, one speed factor per time band; intervals by bootstrap.

:func:`write_calibration` writes the scenario YAML that ``extends`` the base (every value carries a
comment with its record count and interval), the observed points, ``calibration.json``, the quarantine
and the calibration page.

Trade-offs
----------
* **Places are the observed points**, not a fitted density: nothing is smoothed away, a planner can
  check every point, and a replay is exact; the price is that a place never reported cannot be drawn.
  Township shares are reported (and tested by ``backtest``), not imposed twice.
* **Separable time profile.** The scenario's rate is daily volume × hour profile × weekday profile; a
  G-test of hour block × weekday independence says when the log contradicts that form.
* **"Team was free"** is judged conservatively (no other job of the same team between its dispatch and
  its close plus the drive back), which keeps queueing and chained jobs out of the delay and travel
  fits at the cost of records at busy times; the count used is shown.
* **Speed factors are per time band, not per road class**: a log holds report-to-arrival times, not
  routes, so a per-class factor is not identified from it (left to GPS tracks).
* KS p-values with parameters estimated from the same data are optimistic (Lilliefors); the page shows
  the distance and the fit against the data, for a planner to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DispatchSimError
from .logs import ReportLog, category_lookup, match_team, team_lookup

#: Families fitted to durations (the scenario's Distribution supports them by mean and sd).
FAMILIES = ("exponential", "lognormal", "gamma")
#: Fewest positive durations to fit a family; fewer keep the base scenario's distribution.
MIN_FIT = 10
#: Fewest "team was free" records in a time band to fit its own speed factor (else pooled with off-peak).
MIN_BAND = 15
#: Bootstrap resamples for intervals.
BOOT = 300


def monday_of(t) -> datetime:
    """Monday 00:00 of the week containing ``t`` (a run's day 0)."""
    t = pd.Timestamp(t).to_pydatetime()
    d = datetime(t.year, t.month, t.day)
    return d - timedelta(days=d.weekday())


def _minutes(series: pd.Series, t0: datetime) -> np.ndarray:
    return ((series - pd.Timestamp(t0)).dt.total_seconds() / 60.0).to_numpy(dtype=float)


@dataclass
class Prepared:
    """A located log on a World: minutes from the Monday it starts, nodes, teams, bands."""

    t0: datetime
    created: np.ndarray
    dispatched: np.ndarray
    arrived: np.ndarray
    closed: np.ndarray
    node: np.ndarray  # router index
    snap_m: np.ndarray
    home: np.ndarray  # team index of the place (the scenario's jurisdictions)
    township: np.ndarray  # team index the log's township column names, -1 if none
    team: np.ndarray  # team index of the log's team column, -1 if none
    days: float
    first_day: datetime
    notes: list = field(default_factory=list)


def prepare(log: ReportLog, world) -> Prepared:
    """Snap a located log to the World's graph and express its times in minutes from day 0."""
    df = log.records
    if "lon_wgs" not in df:
        raise ValueError("locate() the log first")
    log.require_rows()
    t0 = monday_of(df["reported_at"].min())
    ids, snap, _, _ = world.locator.snap_many(df["lon_wgs"].to_numpy(), df["lat_wgs"].to_numpy(), strict=False)
    node = np.array([world.router.index.get(int(x), -1) for x in ids], dtype=np.int64)
    if (node < 0).any():  # locate() already quarantined points outside the extent; this is a safety net
        log.drop(node < 0, "outside the district: the point lies outside the road graph's extent")
        return prepare(log, world)
    lookup = team_lookup(world.scenario)
    first = pd.Timestamp(df["reported_at"].min()).normalize().to_pydatetime()
    last = pd.Timestamp(df["reported_at"].max()).normalize().to_pydatetime()
    return Prepared(
        t0=t0, created=_minutes(df["reported_at"], t0), dispatched=_minutes(df["dispatched_at"], t0),
        arrived=_minutes(df["arrived_at"], t0), closed=_minutes(df["closed_at"], t0), node=node,
        snap_m=np.asarray(snap, dtype=float), home=world.node_team[node].astype(int),
        township=np.array([match_team(x, lookup) for x in df["township"]], dtype=int),
        team=np.array([match_team(x, lookup) for x in df["team"]], dtype=int),
        days=float((last - first).days + 1), first_day=first)


# ------------------------------------------------------------------------------------- statistics

def wilson(k, n, z=1.959964):
    from .metrics import wilson as w

    return list(w(int(k), int(n), z)) if n else None


def poisson_rate_ci(n: int, days: float, dispersion: float = 1.0) -> tuple[float, float]:
    """95% interval of a daily rate: exact Poisson, widened by sqrt(dispersion) when counts are over-dispersed."""
    from scipy import stats

    lo = stats.chi2.ppf(0.025, 2 * n) / 2 if n > 0 else 0.0
    hi = stats.chi2.ppf(0.975, 2 * n + 2) / 2
    if dispersion > 1:
        c = math.sqrt(dispersion)
        lo, hi = n - c * (n - lo), n + c * (hi - n)
    return max(0.0, lo / days), hi / days


def fit_duration(x: np.ndarray, label: str = "") -> dict:
    """MLE fits of :data:`FAMILIES` to positive durations (minutes); the best by AIC.

    Returns a dict with ``n``, ``mean`` and its t-interval, ``sd``, ``fits`` (per family: params,
    loglik, aic, bic, ks), ``best``, and ``dist`` (scenario Distribution fields) — or ``dist: None``
    with ``reason`` when there are too few values.
    """
    from scipy import stats

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    zeros = int((x <= 0).sum())
    x = x[x > 0]
    n = len(x)
    out = {"label": label, "n": n, "zeros_dropped": zeros}
    if n < MIN_FIT:
        out.update(dist=None, reason=f"{n} positive values (at least {MIN_FIT} needed to fit)")
        if n:
            out.update(mean=float(x.mean()))
        return out
    m = float(x.mean())
    sd = float(x.std(ddof=1))
    h = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    out.update(mean=m, mean_ci95=[m - h, m + h], sd=sd, median=float(np.median(x)), _values=x.tolist())
    if sd <= 1e-9 * max(m, 1):
        out.update(best="fixed", dist={"dist": "fixed", "value_min": round(m, 4)}, fits={})
        return out
    fits: dict[str, dict[str, Any]] = {}
    for fam in FAMILIES:
        if fam == "exponential":
            scale = m
            dist = stats.expon(scale=scale)
            k = 1
            params = {"mean": scale}
            d = {"dist": "exponential", "mean_min": scale}
        elif fam == "lognormal":
            lx = np.log(x)
            mu, s = float(lx.mean()), float(lx.std(ddof=0))
            s = max(s, 1e-6)
            dist = stats.lognorm(s, scale=math.exp(mu))
            k = 2
            params = {"mu": mu, "sigma": s}
            d = {"dist": "lognormal", "mean_min": math.exp(mu + s * s / 2),
                 "sd_min": math.exp(mu + s * s / 2) * math.sqrt(math.expm1(s * s))}
        else:
            a, _, scale = stats.gamma.fit(x, floc=0)
            dist = stats.gamma(a, scale=scale)
            k = 2
            params = {"shape": float(a), "scale": float(scale)}
            d = {"dist": "gamma", "mean_min": a * scale, "sd_min": math.sqrt(a) * scale}
        ll = float(np.sum(dist.logpdf(x)))
        ks = stats.kstest(x, dist.cdf)
        fits[fam] = {"params": params, "loglik": ll, "aic": 2 * k - 2 * ll, "bic": k * math.log(n) - 2 * ll,
                     "ks_D": float(ks.statistic), "ks_p_approx": float(ks.pvalue),
                     "dist": {kk: (round(float(v), 4) if isinstance(v, float) else v) for kk, v in d.items()},
                     "fitted_mean": float(dist.mean())}
    best = min(fits, key=lambda f: fits[f]["aic"])
    aic_best = fits[best]["aic"]
    for f in fits:
        fits[f]["delta_aic"] = fits[f]["aic"] - aic_best
    dist = dict(fits[best]["dist"])
    if dist.get("sd_min") is not None:  # keep within what a scenario accepts
        dist["sd_min"] = float(min(max(dist["sd_min"], 0.001), 100 * dist["mean_min"]))
    dist["mean_min"] = float(max(dist["mean_min"], 0.001))
    out.update(fits=fits, best=best, dist=dist)
    return out


def _smooth_circular(counts: np.ndarray, bw: float) -> np.ndarray:
    if bw <= 0:
        return counts.astype(float)
    k = np.arange(-12, 12)
    w = np.exp(-0.5 * (k / bw) ** 2)
    w /= w.sum()
    n = len(counts)
    return np.array([np.sum(w * counts[(i + k) % n]) for i in range(n)])


def _loo_bandwidth(counts: np.ndarray, grid=(0.0, 0.5, 0.75, 1.0, 1.5, 2.0)) -> float:
    """Bandwidth (hours) maximising the leave-one-hour-out Poisson likelihood of the hourly counts."""
    from scipy import stats

    best, best_ll = 0.0, -np.inf
    tot = counts.sum()
    for bw in grid:
        if bw == 0:
            # an hour predicted from itself is not a prediction: use the mean of its neighbours
            pred = (np.roll(counts, 1) + np.roll(counts, -1)) / 2.0
        else:
            k = np.arange(-12, 12)
            w = np.exp(-0.5 * (k / bw) ** 2)
            w[k == 0] = 0.0
            w /= w.sum()
            pred = np.array([np.sum(w * counts[(i + k) % 24]) for i in range(24)])
        pred = np.maximum(pred, 1e-3) * tot / max(pred.sum(), 1e-9)
        ll = float(np.sum(stats.poisson.logpmf(counts.astype(int), pred)))
        if ll > best_ll:
            best, best_ll = bw, ll
    return best


def time_profile(created_min: np.ndarray, first_day_min: float, days: int, rng) -> dict:
    """Hour-of-day and weekday profiles (mean 1) with day-bootstrap intervals and an independence test."""
    from scipy import stats

    hour = (np.floor(created_min / 60.0) % 24).astype(int)
    wday = (np.floor(created_min / 1440.0) % 7).astype(int)
    day = np.floor((created_min - first_day_min) / 1440.0).astype(int)
    counts = np.bincount(hour, minlength=24).astype(float)
    bw = _loo_bandwidth(counts)
    prof = _smooth_circular(counts, bw)
    prof = prof / prof.mean()
    raw = counts / counts.mean()
    # bootstrap over days
    by_day = np.zeros((days, 24))
    np.add.at(by_day, (np.clip(day, 0, days - 1), hour), 1)
    samples = []
    for _ in range(BOOT):
        pick = rng.integers(0, days, days)
        c = by_day[pick].sum(axis=0)
        if c.sum() == 0:
            continue
        s = _smooth_circular(c, bw)
        samples.append(s / s.mean())
    boots = np.asarray(samples)
    lo, hi = np.quantile(boots, [0.025, 0.975], axis=0)
    # weekday: reports per day of each weekday present in the window
    first_wd = int(np.floor(first_day_min / 1440.0)) % 7
    n_wd = np.array([sum(1 for d in range(days) if (first_wd + d) % 7 == k) for k in range(7)], dtype=float)
    wcount = np.bincount(wday, minlength=7).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        wrate = np.where(n_wd > 0, wcount / np.maximum(n_wd, 1), np.nan)
    mean_rate = np.nanmean(wrate)
    wprof = wrate / mean_rate
    wci: list[list[float] | None] = []
    for k in range(7):
        if n_wd[k] == 0:
            wci.append(None)
            continue
        a = stats.chi2.ppf(0.025, 2 * wcount[k]) / 2 if wcount[k] > 0 else 0.0
        b = stats.chi2.ppf(0.975, 2 * wcount[k] + 2) / 2
        wci.append([a / n_wd[k] / mean_rate, b / n_wd[k] / mean_rate])
    wfill = np.where(np.isfinite(wprof), wprof, 1.0)
    # independence of hour block (4 h) and weekday: G-test
    tab = np.zeros((7, 6))
    np.add.at(tab, (wday, hour // 4), 1)
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    g = None
    if tab.shape[0] > 1 and tab.shape[1] > 1:
        chi = stats.chi2_contingency(tab, lambda_="log-likelihood")
        g = {"G": float(chi.statistic), "dof": int(chi.dof), "p": float(chi.pvalue)}
    return {"hourly": [round(float(v), 4) for v in prof], "hourly_ci95": [[float(a), float(b)] for a, b in zip(lo, hi)],
            "hourly_raw": [float(v) for v in raw], "hourly_counts": counts.astype(int).tolist(), "bandwidth_h": bw,
            "weekly": [round(float(v), 4) for v in wfill], "weekly_ci95": wci,
            "weekday_days": n_wd.astype(int).tolist(),
            "weekday_counts": wcount.astype(int).tolist(), "independence": g}


def quarantined_jobs(log: ReportLog, p: Prepared, scenario) -> list[tuple[int, float, float]]:
    """``(team, start, end)`` in minutes of the quarantined rows that still show a team at work.

    A quarantined row (an arrival typed before the report, no report time, a placeholder place) is no
    use for the fits, but the job it records happened: its team was busy. Without it, the team's next job
    looks "free" although its crew came straight from that scene, with no turnout and a shorter drive,
    which biases turnout low. Duplicates are left out (their job is in the log).
    """
    from .logs import _time_cell

    lookup = team_lookup(scenario)
    t0 = pd.Timestamp(p.t0)
    out = []
    for q in log.quarantine:
        if str(q.get("reason", "")).startswith("duplicate"):
            continue
        team = match_team(q.get("team") or q.get("township") or None, lookup)
        if team < 0:
            continue

        def t(f, q=q):  # called in this iteration only; q bound explicitly
            v = q.get(f)
            if not v:
                return None
            try:
                return (pd.Timestamp(_time_cell(v)) - t0).total_seconds() / 60.0
            except (ValueError, TypeError):
                return None

        start = next((x for x in (t("dispatched_at"), t("reported_at")) if x is not None), None)
        end = next((x for x in (t("closed_at"), t("arrived_at")) if x is not None), None)
        if start is None or end is None or not 0 <= end - start <= 1440.0:
            continue
        out.append((team, start, end))
    return out


def team_free(p: Prepared, world, team_idx: np.ndarray, others: list | None = None) -> np.ndarray:
    """Per record: the serving team had no other job open from the report until this dispatch (its
    crews were at or returning to base with nothing else to do); conservative, see the module notes.
    ``others``: ``(team, start, end)`` of jobs not in the records (:func:`quarantined_jobs`), each counted
    as open until its end plus the team's longest drive back to base."""
    n = len(p.created)
    free = np.zeros(n, dtype=bool)
    r = world.router
    end = np.where(np.isfinite(p.closed), p.closed, np.where(np.isfinite(p.arrived), p.arrived, p.dispatched))
    back = np.zeros(n)
    ok_team = team_idx >= 0
    idx = np.flatnonzero(ok_team & np.isfinite(p.dispatched))
    if len(idx):
        # the slowest band's drive back: a crew still on its way home is sent without turnout, from the road
        tb = r.to_base[:, team_idx[idx], p.node[idx]]
        back[idx] = np.max(np.where(np.isfinite(tb), tb, 0.0), axis=0) / 60.0
    busy_to = end + np.where(np.isfinite(back), back, 0.0)
    for t in np.unique(team_idx[ok_team]):
        sel = np.flatnonzero((team_idx == t) & np.isfinite(p.dispatched))
        if not len(sel):
            continue
        order = sel[np.argsort(p.dispatched[sel], kind="stable")]
        d = p.dispatched[order]
        b = busy_to[order]
        # the latest end of any earlier-dispatched job of the team, before each job
        prev_end = np.maximum.accumulate(np.r_[-np.inf, b[:-1]])
        free[order] = prev_end <= p.created[order]
        # a later-dispatched job reported earlier that was still waiting is also a conflict: handled by
        # requiring the job to be dispatched in report order within the team
        rep_prev = np.maximum.accumulate(np.r_[-np.inf, p.created[order][:-1]])
        free[order] &= rep_prev <= p.created[order]
        free[order] &= np.isfinite(d)
    for t, a, b in others or ():
        tb = r.to_base[:, t, :]
        longest = float(np.max(tb[np.isfinite(tb)])) / 60.0 if np.isfinite(tb).any() else 0.0
        free &= ~((team_idx == t) & (p.dispatched >= a) & (p.created <= b + longest))
    return free


def fit_travel(p: Prepared, world, free: np.ndarray, team_idx: np.ndarray, rng) -> dict:
    """Turnout (intercept) and a speed factor per time band from ``arrived − dispatched`` of free records."""
    r = world.router
    sel = np.flatnonzero(free & np.isfinite(p.arrived) & np.isfinite(p.dispatched) & (team_idx >= 0))
    names = r.bands.names
    out = {"n": int(len(sel)), "bands": {}, "band_names": names}
    if len(sel) < MIN_BAND:
        out["reason"] = f"{len(sel)} records with a free team and an arrival time (at least {MIN_BAND} needed)"
        return out
    obs = p.arrived[sel] - p.dispatched[sel]
    band = np.array([r.band_at(t) for t in p.dispatched[sel]], dtype=int)
    routed = r.from_base[band, team_idx[sel], p.node[sel]] / 60.0
    fin = np.isfinite(routed)
    sel, obs, band, routed = sel[fin], obs[fin], band[fin], routed[fin]
    counts = {b: int((band == b).sum()) for b in range(len(names))}
    groups = [b for b in range(len(names)) if counts[b] >= MIN_BAND]
    if 0 not in groups:
        groups = [0] + groups
    gid = np.array([groups.index(b) if b in groups else 0 for b in band])
    X = np.zeros((len(obs), 1 + len(groups)))
    X[:, 0] = 1.0
    X[np.arange(len(obs)), 1 + gid] = routed

    def huber(Xm, y, iters=20):
        beta = np.linalg.lstsq(Xm, y, rcond=None)[0]
        for _ in range(iters):
            res = y - Xm @ beta
            s = 1.4826 * np.median(np.abs(res - np.median(res))) or 1e-6
            c = 1.345 * s
            w = np.where(np.abs(res) <= c, 1.0, c / np.maximum(np.abs(res), 1e-12))
            sw = np.sqrt(w)
            nb = np.linalg.lstsq(Xm * sw[:, None], y * sw, rcond=None)[0]
            if np.allclose(nb, beta, atol=1e-7):
                beta = nb
                break
            beta = nb
        return beta

    beta = huber(X, obs)
    samples = []
    for _ in range(BOOT):
        i = rng.integers(0, len(obs), len(obs))
        try:
            samples.append(huber(X[i], obs[i], iters=8))
        except np.linalg.LinAlgError:
            continue
    boots = np.asarray(samples)
    res = obs - X @ beta
    out.update(turnout_mean=float(beta[0]), turnout_ci95=[float(v) for v in np.quantile(boots[:, 0], [0.025, 0.975])],
               residual_sd=float(np.std(res, ddof=X.shape[1])), residual_mad=float(1.4826 * np.median(np.abs(res))),
               points={"routed_min": routed.tolist(), "observed_min": obs.tolist(), "band": band.tolist(),
                       "residual_min": res.tolist()})
    for j, b in enumerate(groups):
        slope = beta[1 + j]
        bs = boots[:, 1 + j]
        with np.errstate(divide="ignore"):
            fac = 1.0 / slope if slope > 0 else float("nan")
            fb = np.where(bs > 0, 1.0 / bs, np.nan)
        out["bands"][names[b]] = {"n": counts[b], "speed_factor": float(fac),
                                  "ci95": [float(v) for v in np.nanquantile(fb, [0.025, 0.975])]}
    for b in range(len(names)):
        if names[b] not in out["bands"]:
            out["bands"][names[b]] = {"n": counts.get(b, 0), "pooled_with": names[0],
                                      "speed_factor": out["bands"][names[0]]["speed_factor"],
                                      "ci95": out["bands"][names[0]]["ci95"]}
    return out


# ------------------------------------------------------------------------------------- calibrate

def calibrate(log: ReportLog, world, *, seed: int = 0) -> dict:
    """Fit every part of the scenario the log informs (see the module docstring).

    Parameters
    ----------
    log
        A located :class:`~dispatch_sim.logs.ReportLog` (:meth:`~dispatch_sim.logs.ReportLog.locate`).
    world
        The base scenario's World (graph, router, jurisdictions, time bands).
    seed
        Seed of the bootstrap (results are reproducible from log, base scenario and seed).

    Returns
    -------
    dict
        JSON-ready results: ``log`` (counts), ``demand``, ``work``, ``dispatch_delay``, ``travel``,
        ``townships``, ``categories``, ``notes``.
    """
    sc = world.scenario
    rng = np.random.default_rng([int(seed), 16])
    p = prepare(log, world)
    df = log.records
    n = len(p.created)
    notes = []
    days = int(p.days)
    first_min = (pd.Timestamp(p.first_day) - pd.Timestamp(p.t0)).total_seconds() / 60.0
    # ---- rate
    day = np.floor((p.created - first_min) / 1440.0).astype(int)
    daily = np.bincount(np.clip(day, 0, days - 1), minlength=days)
    disp = float(daily.var(ddof=1) / daily.mean()) if days > 1 and daily.mean() > 0 else 1.0
    lo, hi = poisson_rate_ci(n, days, max(1.0, disp))
    demand = {"reports": n, "days": days, "first_day": str(p.first_day.date()),
              "last_day": str((p.first_day + timedelta(days=days - 1)).date()),
              "reports_per_day": n / days, "reports_per_day_ci95": [lo, hi], "dispersion_index": disp,
              "daily_counts": daily.tolist()}
    if disp > 1.5:
        notes.append(f"daily counts are over-dispersed (variance/mean {disp:.2f}): the rate's interval is widened; the "
                     "scenario's Poisson arrivals understate day-to-day variation")
    demand.update(time_profile(p.created, first_min, days, rng))
    ind = demand.get("independence")
    if ind and ind["p"] < 0.01:
        notes.append(f"hour-of-day and weekday are not independent in the log (G-test p={ind['p']:.2g}): the "
                     "scenario's "
                     "hour profile × weekday profile is an approximation")
    # ---- townships
    names = [t.name for t in sc.teams]
    k_home = np.bincount(p.home, minlength=len(names))
    has_town = (p.township >= 0).any()
    town = {}
    for i, t in enumerate(sc.teams):
        if t.backup:
            continue
        k_log = int((p.township == i).sum()) if has_town else None
        town[t.name] = {"reports_by_place": int(k_home[i]), "share": float(k_home[i] / n), "ci95": wilson(k_home[i], n),
                        "reports_by_log_township": k_log}
    unmatched = int(((p.township < 0) & df["township"].notna().to_numpy()).sum())
    agree = float(np.mean(p.township[p.township >= 0] == p.home[p.township >= 0])) if has_town else None
    if has_town and agree is not None and agree < 0.9:
        notes.append(f"the log's township column agrees with the scenario's jurisdictions for {agree:.0%} of reports: "
                     "give township polygons (boundaries.townships) for real jurisdictions")
    # ---- categories
    clook = category_lookup(sc)
    base_cats = [c.name for c in sc.demand.categories]
    catnames = df["category"].fillna("").astype(str).to_numpy()
    cats = {}
    work = {}
    if not (catnames != "").any():
        # no category column: the base's mix is kept; one work-time fit applies to every category
        pooled = fit_duration((p.closed - p.arrived)[np.isfinite(p.closed - p.arrived)], "all")
        for c in sc.demand.categories:
            cats[c.name] = {"reports": None, "share": c.share, "ci95": None, "in_base": True, "from_base": True}
            work[c.name] = pooled
        notes.append("the log has no category column: the base's category mix is kept; one work-time fit for all")
    else:
        def mapcat(c):
            if not c:
                return "unspecified"
            i = clook.get(c, clook.get(c.lower()))
            return base_cats[i] if i is not None else c

        mapped = np.array([mapcat(c) for c in catnames], dtype=object)
        order = [c for c in base_cats if (mapped == c).any()] + sorted(set(mapped) - set(base_cats))
        for c in order:
            sel = mapped == c
            k = int(sel.sum())
            cats[c] = {"reports": k, "share": k / n, "ci95": wilson(k, n), "in_base": c in base_cats}
            w_min = p.closed[sel] - p.arrived[sel]
            work[c] = fit_duration(w_min[np.isfinite(w_min)], c)
    missing = [c for c in base_cats if c not in cats]
    if missing:
        notes.append(f"categories of the base scenario absent from the log (share 0, dropped): {', '.join(missing)}")
    new = [c for c in cats if not cats[c]["in_base"]]
    if new:
        notes.append(f"categories not in the base scenario (added with priority 2 and the 30-minute promise; edit if "
                     f"wrong): {', '.join(new[:10])}")
    # ---- dispatch delay and travel
    team_idx = np.where(p.team >= 0, p.team, np.where(p.township >= 0, p.township, p.home))
    if not (p.team >= 0).any():
        notes.append("the log has no team column: the township's own team is taken as the team that went")
    free = team_free(p, world, team_idx, quarantined_jobs(log, p, sc))
    delay = p.dispatched - p.created
    delay_fit = fit_duration(delay[free & np.isfinite(delay)], "dispatch_delay")
    delay_fit["records_team_free"] = int((free & np.isfinite(delay)).sum())
    delay_fit["records_with_dispatch"] = int(np.isfinite(delay).sum())
    travel = fit_travel(p, world, free, team_idx, rng)
    # ---- utilisation where the log allows
    busy = p.closed - p.dispatched
    util = {}
    for i, t in enumerate(sc.teams):
        sel = (team_idx == i) & np.isfinite(busy)
        util[t.name] = {"jobs": int(sel.sum()), "busy_hours": float(np.nansum(busy[sel]) / 60.0)}
    return {
        "log": log.counts(), "start_monday": p.t0.strftime("%Y-%m-%d"), "demand": demand, "townships": town,
        "township_column": {"present": bool(has_town), "agreement_with_jurisdictions": agree, "unmatched": unmatched},
        "categories": cats, "work": work, "dispatch_delay": delay_fit, "travel": travel, "team_busy": util,
        "snap_m": {"median": float(np.median(p.snap_m)), "p95": float(np.quantile(p.snap_m, 0.95))},
        "points": {"lon": df["lon_wgs"].round(6).tolist(), "lat": df["lat_wgs"].round(6).tolist()},
        "notes": notes, "seed": int(seed),
    }


# ------------------------------------------------------------------------------------- scenario YAML

def _speed_section(sc, travel: dict) -> tuple[dict | None, list[str]]:
    """New ``speeds`` values from the fitted factors (relative to the base's speeds in each band)."""
    from .speeds import RURAL_KPH, URBAN_KPH

    bands = travel.get("bands") or {}
    if not bands or "off_peak" not in bands or not math.isfinite(bands["off_peak"]["speed_factor"]):
        return None, []
    f0 = float(bands["off_peak"]["speed_factor"])
    f0c = min(max(f0, 0.05), 3.0)
    sp = sc.speeds
    urban = {k: round(min(150.0, v * f0c), 2) for k, v in {**URBAN_KPH, **sp.urban_kph}.items()}
    rural = {k: round(min(150.0, v * f0c), 2) for k, v in {**RURAL_KPH, **sp.rural_kph}.items()}
    mf = min(1.5, sp.maxspeed_factor * f0c)
    notes = []
    if sp.maxspeed_factor * f0c > 1.5:
        notes.append("maxspeed_factor capped at 1.5")
    tb = []
    for b in sp.time_bands:
        f = bands.get(b.name, {}).get("speed_factor", f0)
        rel = (f / f0) if math.isfinite(f) and f0 > 0 else 1.0
        old = {"default": b.factor} if isinstance(b.factor, (int, float)) else dict(b.factor)
        newf = {k: round(min(3.0, max(0.05, v * rel)), 4) for k, v in old.items()}
        tb.append({"name": b.name, "start": b.start, "end": b.end, "factor": newf, "weekdays_only": b.weekdays_only})
    return {"urban_kph": urban, "rural_kph": rural, "use_maxspeed": sp.use_maxspeed, "maxspeed_factor": round(mf, 4),
            "time_bands": tb}, notes


def _scaled_like(base_dist, mean: float) -> dict:
    """The base distribution's shape with a new mean (turnout: only its mean is identified)."""
    d = base_dist.model_dump(exclude_none=True)
    m0 = base_dist.mean()
    if m0 is None or m0 <= 0:
        return {"dist": "fixed", "value_min": round(mean, 4)}
    k = mean / m0
    for key in ("value_min", "mean_min", "sd_min", "low_min", "high_min"):
        if key in d:
            d[key] = round(float(d[key]) * k, 4)
    if "values_min" in d:
        d["values_min"] = [round(float(v) * k, 4) for v in d["values_min"]]
    return d


def scenario_values(cal: dict, sc) -> tuple[dict, dict]:
    """The values the calibrated scenario sets, and a comment for each (records and interval)."""
    dem = cal["demand"]
    vals: dict = {}
    com: dict = {}
    vals["demand.reports_per_day"] = round(dem["reports_per_day"], 4)
    lo, hi = dem["reports_per_day_ci95"]
    com["demand.reports_per_day"] = f"{dem['reports']} reports over {dem['days']} days; 95% CI {lo:.3g}-{hi:.3g}"
    vals["demand.hourly_profile"] = [max(0.0, v) for v in dem["hourly"]]
    com["demand.hourly_profile"] = (f"hour 0-23, mean 1, kernel bandwidth {dem['bandwidth_h']:g} h; 95% bands (day "
                                    "bootstrap) in calibration.json")
    vals["demand.weekly_profile"] = dem["weekly"]
    com["demand.weekly_profile"] = "Mon-Sun, mean 1; days of each weekday: " + ",".join(map(str, dem["weekday_days"]))
    base_cats = {c.name: c for c in sc.demand.categories}
    cats = []
    for name, c in cal["categories"].items():
        b = base_cats.get(name)
        w = cal["work"][name]
        entry = {"name": name, "share": round(c["share"], 5), "priority": b.priority if b else 2,
                 "promise": b.promise if b else True}
        if w.get("dist"):
            entry["work_min"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in w["dist"].items()}
            wc = (f"work: {w['best']} by AIC over {', '.join(FAMILIES)} on {w['n']} jobs, mean {w['mean']:.3g} "
                  f"(95% CI {w['mean_ci95'][0]:.3g}-{w['mean_ci95'][1]:.3g}) min")
            if w.get("fits"):
                wc += f", KS D {w['fits'][w['best']]['ks_D']:.3f}"
        else:
            entry["work_min"] = (b.work_min.model_dump(exclude_none=True) if b else
                                 {"dist": "lognormal", "mean_min": 40, "sd_min": 20})
            wc = f"work: kept from the base ({w.get('reason')})"
        ci = c["ci95"]
        head = (f"{c['reports']} reports, share 95% CI {ci[0]:.3f}-{ci[1]:.3f}" if ci else "share kept from the base")
        cats.append((entry, f"{head}; {wc}"))
    vals["demand.categories"] = cats
    d = cal["dispatch_delay"]
    if d.get("dist"):
        vals["dispatch.dispatch_delay_min"] = d["dist"]
        com["dispatch.dispatch_delay_min"] = (f"{d['best']} by AIC on {d['n']} reports whose team was free; mean "
                                              f"{d['mean']:.3g} (95% CI "
                                              f"{d['mean_ci95'][0]:.3g}-{d['mean_ci95'][1]:.3g}) min")
    tr = cal["travel"]
    if tr.get("turnout_mean") is not None and tr["turnout_mean"] > 0.05:
        vals["dispatch.turnout_min"] = _scaled_like(sc.dispatch.turnout_min, tr["turnout_mean"])
        a, b = tr["turnout_ci95"]
        com["dispatch.turnout_min"] = (f"mean {tr['turnout_mean']:.3g} min (95% CI {a:.3g}-{b:.3g}) from {tr['n']} "
                                       "dispatch-to-arrival times; shape kept from the base")
    speeds, notes = _speed_section(sc, tr)
    if speeds:
        vals["speeds"] = speeds
        com["speeds"] = "; ".join(f"{k} ×{v['speed_factor']:.3f} (95% CI {v['ci95'][0]:.3f}-{v['ci95'][1]:.3f}, "
                                  f"n={v['n']}"
                                  + (", pooled" if v.get("pooled_with") else "") + ")"
                                  for k, v in tr["bands"].items()) + " against the base's speeds" + (
            "; " + "; ".join(notes) if notes else "")
    return vals, com


def render_yaml(cal: dict, sc, base_path: Path, out_path: Path, points_name: str, log_name: str) -> str:
    """The calibrated scenario as YAML text: ``extends`` the base, each value with a comment."""
    import json

    vals, com = scenario_values(cal, sc)

    def dump(v):  # JSON is YAML flow style: one line, quoted strings, never a document marker
        return json.dumps(v, ensure_ascii=False)

    try:
        rel = Path(_relpath(base_path, out_path.parent))
    except ValueError:
        rel = base_path
    lg = cal["log"]
    lines = [f"# Calibrated by dispatch-sim calibrate from {log_name}: {lg['rows']} rows, {lg['used']} used, "
             f"{lg['quarantined']} quarantined (see the calibration page).",
             f"# Log {cal['demand']['first_day']} to {cal['demand']['last_day']}; coordinates {lg['crs']} "
             f"({lg['crs_how']}).",
             "# Every value below carries, in its comment, the records behind it and its 95% interval.",
             f"extends: {dump(str(rel).replace(chr(92), '/'))}",
             f"name: {dump(sc.name + ' — calibrated on ' + log_name)}",
             "dispatch:"]
    for key in ("dispatch_delay_min", "turnout_min"):
        k = f"dispatch.{key}"
        if k in vals:
            lines.append(f"  {key}: {dump(vals[k])}  # {com[k]}")
    if lines[-1] == "dispatch:":
        lines.pop()
    lines.append("demand:")
    for key in ("reports_per_day", "hourly_profile", "weekly_profile"):
        k = f"demand.{key}"
        lines.append(f"  {key}: {dump(vals[k])}  # {com[k]}")
    lines.append("  surges: []  # the log's own days are in the rate; the base's surges are not carried over")
    lines.append(f"  where:  # the {cal['demand']['reports']} observed places (WGS-84), each drawn with equal weight")
    lines.append(f"    - {dump({'kind': 'points', 'path': points_name})}")
    lines.append("  categories:")
    for entry, c in vals["demand.categories"]:
        lines.append(f"    - {dump(entry)}  # {c}")
    if "speeds" in vals:
        lines.append(f"speeds:  # {com['speeds']}")
        for k, v in vals["speeds"].items():
            if k == "time_bands":
                lines.append("  time_bands:")
                for b in v:
                    lines.append(f"    - {dump(b)}")
            else:
                lines.append(f"  {k}: {dump(v)}")
    notes = [f"Calibrated on {log_name} ({cal['demand']['reports']} reports, {cal['demand']['first_day']} to "
             f"{cal['demand']['last_day']})."] + list(cal["notes"])
    lines.append("assumptions:")
    for a in notes + list(sc.assumptions):
        lines.append(f"  - {dump(a)}")
    return "\n".join(lines) + "\n"


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(Path(target).resolve(), Path(start).resolve())


def _strip_private(o):
    """Drop ``_``-keys (raw values kept for the figures) from the JSON."""
    if isinstance(o, dict):
        return {k: _strip_private(v) for k, v in o.items() if not str(k).startswith("_")}
    if isinstance(o, list):
        return [_strip_private(v) for v in o]
    return o


def points_frame(cal: dict) -> pd.DataFrame:
    return pd.DataFrame({"lon": cal["points"]["lon"], "lat": cal["points"]["lat"], "crs": "wgs84", "weight": 1.0})


def write_calibration(cal: dict, log: ReportLog, world, base_path, out_yaml, *, report_dir=None,
                      lang: str = "zh") -> dict[str, Path]:
    """Write the calibrated scenario, its points, ``calibration.json``, the quarantine and the page.

    Parameters
    ----------
    out_yaml
        The new scenario file; ``<stem>.points.csv`` is written beside it.
    report_dir
        Folder for ``calibration.html``, ``calibration.json``, ``quarantine.csv`` and ``figures/``
        (default: ``<stem>_calibration`` beside the YAML).

    Returns
    -------
    dict
        Name → path of every file written (each written atomically).
    """
    from .io import write_csv_atomic, write_json_atomic, write_text_atomic
    from .logs import write_quarantine
    from .scenario import load_scenario

    out_yaml = Path(out_yaml)
    base_path = Path(base_path)
    report_dir = Path(report_dir) if report_dir else out_yaml.with_name(out_yaml.stem + "_calibration")
    points = out_yaml.with_name(out_yaml.stem + ".points.csv")
    paths = {"points": write_csv_atomic(points, points_frame(cal))}
    text = render_yaml(cal, world.scenario, base_path, out_yaml, points.name, Path(log.path).name)
    tmp = out_yaml.with_name("." + out_yaml.name + ".check.yaml")
    try:  # the new scenario must load before it replaces anything
        write_text_atomic(tmp, text)
        load_scenario(tmp)
    except DispatchSimError as exc:
        raise AssertionError(f"calibrated scenario does not validate: {exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    paths["scenario"] = write_text_atomic(out_yaml, text)
    slim = _strip_private({k: v for k, v in cal.items() if k != "points"})
    slim["scenario_file"] = out_yaml.name
    slim["base_scenario"] = str(base_path)
    paths["json"] = write_json_atomic(report_dir / "calibration.json", slim)
    paths["quarantine"] = write_quarantine(log, report_dir / "quarantine.csv")
    from .logpages import calibration_page

    paths.update(calibration_page(cal, world, report_dir, lang=lang, scenario_name=out_yaml.name))
    return paths
