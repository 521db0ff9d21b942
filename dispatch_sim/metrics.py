"""From incident tables to the figures a planner reads, with honest confidence intervals.

Accounting: every report created in the run is either *served* (a crew reached the scene before the
horizon) or *open at the horizon*. Statistics use reports created after the warm-up. The on-time rate
counts a report whose outcome is known: served, or still open but already older than the target
(certainly late). Open reports younger than the target are censored and reported as such.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .results import Metrics

LATE_CAUSES = ("waited_for_crew", "served_by_far_team", "long_travel", "slow_dispatch", "open_at_horizon")

INCIDENT_COLUMNS = ["replication", "report_id", "created_min", "dispatched_min", "arrived_min", "cleared_min", "team",
                    "crew", "home_team", "category", "priority", "on_time", "late_cause", "travel_min", "wait_min",
                    "snap_m", "lon", "lat", "promise", "response_min", "warmup"]


def incidents_frame(result, world) -> pd.DataFrame:
    """One row per report of one replication (DESIGN §6 columns plus location and flags)."""
    sc = world.scenario
    rep = result.reports
    target = sc.run.target_min
    names = np.array([t.name for t in sc.teams] + [""], dtype=object)
    cats = np.array([c.name for c in sc.demand.categories], dtype=object)
    created = rep.created_min
    arrived = result.arrived_min
    response = arrived - created
    served = ~np.isnan(arrived)
    age_at_end = result.horizon_min - created
    on_time = np.where(served, response <= target + 1e-9, np.where(age_at_end > target, False, np.nan))
    wait = np.where(np.isnan(result.dispatched_min), result.horizon_min, result.dispatched_min) - rep.ready_min
    team = result.team.astype(int)
    cause = np.full(len(created), "", dtype=object)
    late = served & (response > target + 1e-9)
    delay = rep.ready_min - created
    far = late & (team != rep.serving_team)  # a referred report's owner is its own team, not a far one
    waited = late & (wait > 1e-9)
    cause[late] = "long_travel"
    slow = late & ~waited & ~far & (result.travel_min <= target - delay - rep.turnout_min)
    cause[slow] = "slow_dispatch"
    cause[far] = "served_by_far_team"
    cause[waited] = "waited_for_crew"
    cause[~served & (age_at_end > target)] = "open_at_horizon"
    crew_names = np.array(result.crew_names + [""], dtype=object)
    df = pd.DataFrame({
        "replication": result.replication,
        "report_id": np.arange(len(created)),
        "created_min": created,
        "dispatched_min": result.dispatched_min,
        "arrived_min": arrived,
        "cleared_min": result.cleared_min,
        "team": names[np.where(team < 0, -1, team)],
        "crew": crew_names[np.where(result.crew < 0, -1, result.crew)],
        "home_team": names[rep.home_team.astype(int)],
        "category": cats[rep.category.astype(int)],
        "priority": rep.priority.astype(int),
        "on_time": pd.arrays.BooleanArray(on_time == 1.0, np.isnan(on_time)),
        "late_cause": cause,
        "travel_min": result.travel_min,
        "wait_min": np.where(np.isnan(result.dispatched_min), np.nan, wait),
        "snap_m": rep.snap_m,
        "lon": world.router.lon[rep.node],
        "lat": world.router.lat[rep.node],
        "promise": rep.promise,
        "response_min": response,
        "warmup": created < result.warmup_min,
    })
    # columns of the enforcement-system features, only in scenarios that use them (issue 18)
    if rep.own_team is not None:
        df["referred"] = rep.referred
        df["referral_min"] = rep.referral_min
    rows = result.extra.get("joint_crews")
    if rows is not None:
        first = result.arrived_min.copy()
        crews = np.where(np.isnan(result.dispatched_min), 0, 1).astype(float)
        if len(rows):
            rid = rows[:, 0].astype(np.int64)
            n = np.bincount(rid, minlength=len(created)).astype(float)
            joint = n > 0
            crews[joint] = n[joint]
            lo = np.full(len(created), np.inf)
            np.minimum.at(lo, rid, rows[:, 3])
            # the first crew on site (no arrival yet when the first crew is still driving at the horizon)
            first[joint] = np.where(lo[joint] <= result.horizon_min, lo[joint], np.nan)
        df["crews"] = crews.astype(np.int64)
        df["first_arrived_min"] = first
    return df


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def mean_ci(values, conf: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval across replications."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    if len(x) == 0:
        return (float("nan"),) * 3
    m = float(x.mean())
    if len(x) < 2:
        return (m, float("nan"), float("nan"))
    # Student-t quantile: scipy.special's stdtrit is what scipy.stats.t.ppf computes, without the
    # second that importing scipy.stats costs (imported here, not at module import)
    from scipy.special import stdtrit

    h = stdtrit(len(x) - 1, (1 + conf) / 2) * x.std(ddof=1) / math.sqrt(len(x))
    return (m, m - h, m + h)


def quantile_ci(x: np.ndarray, q: float, z: float = 1.959964) -> tuple[float, float, float]:
    """Quantile with a distribution-free (order statistic) 95% interval."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0:
        return (float("nan"),) * 3
    est = float(np.quantile(x, q))
    half = z * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half)))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return (est, float(x[lo]), float(x[hi]))


def _block(on_time: np.ndarray, rep_of: np.ndarray, response: np.ndarray, reports: int, reps: list[int]) -> dict:
    """On-time and response figures of a set of promise-bearing, post-warm-up reports: ``on_time``
    is 1/0/NaN (unknown: open, younger than the target), ``rep_of`` each report's replication and
    ``response`` its minutes to arrival (NaN when not served)."""
    known = ~np.isnan(on_time)
    ok = on_time[known] == 1.0
    k = int(ok.sum())
    n = int(known.sum())
    rep_of = rep_of[known]
    per_rep = []
    for r in reps:  # on-time share per replication (counts are exact, so the share is too)
        sel = rep_of == r
        m_r = int(sel.sum())
        per_rep.append(float(np.float64(ok[sel].sum()) / m_r) if m_r else float("nan"))
    resp = response[~np.isnan(response)]
    p50, p90, p95 = (quantile_ci(resp, q) for q in (0.5, 0.9, 0.95))
    m, lo, hi = mean_ci(per_rep)
    return {
        "reports": int(reports),
        "known_outcome": n,
        "on_time": k,
        "rate": (k / n) if n else None,
        "ci95": list(wilson(k, n)) if n else None,
        "ci95_between_replications": ([max(0.0, lo), min(1.0, hi)] if len(reps) > 1 and n and lo == lo and hi == hi
                                      else None),
        "response_min": {
            "mean": float(resp.mean()) if len(resp) else None,
            "p50": p50[0], "p50_ci95": [p50[1], p50[2]],
            "p90": p90[0], "p90_ci95": [p90[1], p90[2]],
            "p95": p95[0], "p95_ci95": [p95[1], p95[2]],
            "max": float(resp.max()) if len(resp) else None,
        },
    }


def mutual_aid(incidents: pd.DataFrame, horizon_min: float, warmup_min: float = 0.0) -> dict:
    """Who helped whom, and for how many crew-hours.

    A helper's time on a job runs from dispatch to clearing the scene (the drive back is not
    counted); a job still running at the horizon counts up to the horizon. ``per_day`` divides by
    the simulated post-warm-up days over all replications.
    """
    post = incidents[~incidents["warmup"]]
    if "referred" in post.columns:  # a referral is served by its owner: not help across township lines
        post = post[~post["referred"].astype(bool)]
    aid = post[(post["team"] != post["home_team"]) & (post["team"] != "")]
    busy_min = aid["cleared_min"].fillna(horizon_min) - aid["dispatched_min"]
    reps = max(1, incidents["replication"].nunique())
    days = reps * max(horizon_min - warmup_min, 1e-9) / 1440.0
    pairs = []
    for (helper, home), g in busy_min.groupby([aid["team"], aid["home_team"]]):
        pairs.append({"helper": helper, "home_team": home, "reports": int(len(g)),
                      "crew_hours": round(float(g.sum()) / 60.0, 2),
                      "crew_hours_per_day": round(float(g.sum()) / 60.0 / days, 3)})
    pairs.sort(key=lambda p: -p["crew_hours"])
    return {"reports": int(len(aid)), "crew_hours": round(float(busy_min.sum()) / 60.0, 2),
            "crew_hours_per_day": round(float(busy_min.sum()) / 60.0 / days, 3), "pairs": pairs,
            "note": "crew time from dispatch to clearing the scene, post-warm-up reports; return drives not counted"}


def _tail(x) -> dict:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return {"p95": None, "p99": None, "max": None, "mean": None}
    return {"p95": float(np.quantile(x, 0.95)), "p99": float(np.quantile(x, 0.99)), "max": float(x.max()),
            "mean": float(x.mean())}


def crew_time(results: list) -> dict:
    """Per crew (summed over replications): on-duty, busy and committed minutes.

    *Busy* is the time a crew is unavailable for dispatch: from being sent until it clears the
    scene (driving there and working on site). *Committed* adds the on-duty part of its drives back
    to base, during which it can be sent on. Both lie inside on-duty time, so both shares are <= 1;
    a crew whose shift ends while it is on a job stays on duty until it clears the scene, and its
    drive back after the shift is not counted.
    """
    out: dict[str, dict] = {}
    for res in results:
        ret = res.crew_return_min if res.crew_return_min is not None else np.zeros(len(res.crew_names))
        for name, t, b, r, d in zip(res.crew_names, res.crew_team, res.crew_busy_min, ret, res.crew_duty_min):
            acc = out.setdefault(name, {"team": int(t), "busy_min": 0.0, "committed_min": 0.0, "duty_min": 0.0})
            acc["busy_min"] += float(b)
            acc["committed_min"] += float(b) + float(r)
            acc["duty_min"] += float(d)
    return out


def _q(x) -> dict:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return {"p50": None, "p90": None, "max": None}
    return {"p50": float(np.quantile(x, 0.5)), "p90": float(np.quantile(x, 0.9)), "max": float(x.max())}


def enforcement_summary(incidents: pd.DataFrame, results: list, world) -> dict | None:
    """The enforcement system's own figures (issue 18), or None when the scenario uses none of it:
    area teams with a polygon (the scenic area), district teams, referred reports (apart: outside the
    township promise), joint checks (first and last arrival; the promise counts the last) and planned
    inspections (crew-hours taken out of reactive service, recalls)."""
    sc = world.scenario
    post = incidents[~incidents["warmup"].astype(bool)]
    district = [t for t in sc.teams if t.backup and (not t.backs_up or t.handles)]
    polygon = [t.name for t in sc.teams if t.jurisdiction and not t.backup]
    has_ref = "referred" in incidents.columns
    has_joint = "crews" in incidents.columns
    planned = any("planned_min" in r.extra for r in results)
    if not (district or polygon or has_ref or has_joint or planned or sc.staffing is not None):
        return None
    out: dict = {"area_teams": polygon}
    crews = crew_time(results)
    joined: dict[str, int] = {}
    for r in results:
        rows = r.extra.get("joint_crews")
        if rows is not None:
            for c in rows[:, 1].astype(int):
                t = sc.teams[int(r.crew_team[c])].name
                joined[t] = joined.get(t, 0) + 1
    teams = []
    for i, t in enumerate(sc.teams):
        if not t.backup:
            continue
        mine = [c for c in crews.values() if c["team"] == i]
        duty = sum(c["duty_min"] for c in mine)
        served = post[post["team"] == t.name]
        ref = served["referred"].astype(bool) if has_ref else pd.Series(False, index=served.index)
        teams.append({"team": t.name, "team_en": t.name_en, "crews": t.max_crews(), "backs_up": t.backs_up,
                      "handles": list(t.handles),
                      "utilization": (sum(c["busy_min"] for c in mine) / duty) if duty > 0 else None,
                      "referrals_served": int(ref.sum()),
                      "township_reports_served": int((~ref).sum()),
                      "joint_check_crews": int(joined.get(t.name, 0))})
    out["district_teams"] = teams
    if sc.staffing is not None:
        town = sum(t.max_crews() for t in sc.teams if not t.backup and t.name not in sc.staffing.fixed_teams)
        dist = sum(t.max_crews() for t in sc.teams if t.backup and t.name not in sc.staffing.fixed_teams)
        out["staffing"] = {"total_crews": sc.staffing.total_crews, "moved_down_share": sc.staffing.moved_down_share,
                           "township_crews": town, "district_crews": dist,
                           "fixed_teams": list(sc.staffing.fixed_teams)}
    if has_ref:
        ref = post[post["referred"].astype(bool)]
        served = ref["arrived_min"].notna()
        out["referred"] = {
            "reports": int(len(ref)), "served": int(served.sum()), "promise": False,
            "response_min": _q(ref["response_min"]),
            "after_referral_min": _q(ref["response_min"] - ref["referral_min"]),
            "by_team": {str(k): int(v) for k, v in ref.groupby("team").size().items() if k},
            "note": "referred matters (outside the 149 delegated to townships) go to the district team that owns "
                    "them after the referral delay; the township 30-minute promise does not apply to them",
        }
    if has_joint:
        j = post[post["crews"] > 1]
        prom = j[j["promise"].astype(bool)]
        known = prom[prom["on_time"].notna()]
        k, n = int(known["on_time"].sum()), int(len(known))
        out["joint"] = {
            "reports": int(len(j)), "on_site": int(j["arrived_min"].notna().sum()),
            "first_arrival_min": _q(j["first_arrived_min"] - j["created_min"]),
            "last_arrival_min": _q(j["arrived_min"] - j["created_min"]),
            "on_time": k, "known_outcome": n, "rate": (k / n) if n else None,
            "ci95": list(wilson(k, n)) if n else None,
            "crews_by_team": joined,
            "note": "a joint check is on site when the last required crew has arrived; the promise counts that arrival",
        }
    if planned:
        pm = np.zeros(len(sc.teams))
        for r in results:
            for c, m in enumerate(r.extra.get("planned_min", [])):
                pm[int(r.crew_team[c])] += float(m)
        reps = max(1, len(results))
        days = reps * max(results[0].horizon_min - 0.0, 1e-9) / 1440.0
        from .sim.engine import campaign_sessions

        h = results[0].horizon_min
        sessions = objects = 0
        for cp in sc.planned_inspections.campaigns:
            n_sess = len(campaign_sessions(cp, h)) * len(cp.teams)
            sessions += n_sess
            objects += n_sess * cp.objects
        out["planned"] = {
            "crew_hours": round(float(pm.sum()) / 60.0, 2),
            "crew_hours_per_day": round(float(pm.sum()) / 60.0 / days, 3),
            "by_team": {t.name: round(float(pm[i]) / 60.0, 2) for i, t in enumerate(sc.teams) if pm[i] > 0},
            "sessions": int(sessions), "objects": int(objects),
            "recall": bool(sc.planned_inspections.recall),
            "recalls": int(sum(int(r.extra.get("recalls", 0)) for r in results)),
            "note": "crew time on planned inspections over the whole run and all replications (out of reactive "
                    "service; not on-duty time in the utilization figures); sessions and objects per replication",
        }
    return out


def summarize(incidents: pd.DataFrame, results: list, world) -> Metrics:
    """The measured figures of a set of replications (``summary.json`` minus run metadata)."""
    sc = world.scenario
    target = sc.run.target_min
    reps = sorted(incidents["replication"].unique().tolist()) if len(incidents) else [r.replication for r in results]
    total = int(len(incidents))
    served = int(incidents["arrived_min"].notna().sum())
    open_h = total - served
    post = incidents[~incidents["warmup"].astype(bool)]
    prom = post[post["promise"].astype(bool)]
    # the columns every block reads, as arrays once (a pandas filter per team and hour costs more than
    # the simulation of a short run); teams as codes in scenario order, -1 for none
    names = [t.name for t in sc.teams]
    p_on = prom["on_time"].to_numpy(dtype=float, na_value=np.nan)
    p_rep = prom["replication"].to_numpy()
    p_resp = prom["response_min"].to_numpy(dtype=float)
    p_wait = prom["wait_min"].to_numpy(dtype=float)
    p_home = pd.Index(names).get_indexer(prom["home_team"])
    p_team = pd.Index(names).get_indexer(prom["team"])
    q_home = pd.Index(names).get_indexer(post["home_team"])
    q_team = pd.Index(names).get_indexer(post["team"])
    q_own = (~post["referred"].astype(bool)).to_numpy() if "referred" in post.columns else np.ones(len(post), bool)
    overall = _block(p_on, p_rep, p_resp, len(prom), reps)
    late = prom[prom["on_time"] == False]  # noqa: E712 (pandas boolean)
    causes = {c: int((late["late_cause"] == c).sum()) for c in LATE_CAUSES}
    # crews
    crews = crew_time(results)
    busy = np.zeros(len(sc.teams))
    committed = np.zeros(len(sc.teams))
    duty = np.zeros(len(sc.teams))
    for c in crews.values():
        busy[c["team"]] += c["busy_min"]
        committed[c["team"]] += c["committed_min"]
        duty[c["team"]] += c["duty_min"]
    by_team = {}
    for i, t in enumerate(sc.teams):
        m = p_home == i
        block = _block(p_on[m], p_rep[m], p_resp[m], int(m.sum()), reps)
        block["utilization"] = float(busy[i] / duty[i]) if duty[i] > 0 else None
        block["committed"] = float(committed[i] / duty[i]) if duty[i] > 0 else None
        block["wait_min"] = _tail(p_wait[m])
        block["served_by_others"] = int(((p_team[m] != i) & (p_team[m] >= 0)).sum())
        # serving its own referrals is not helping others
        block["helped_others"] = int(((q_team == i) & (q_home != i) & q_own).sum())
        block["backup"] = t.backup
        by_team[t.name] = block
    hours = (prom["created_min"].to_numpy(dtype=float) // 60 % 24).astype(int)
    p_known = ~np.isnan(p_on)
    reports_h = np.bincount(hours, minlength=24)
    known_h = np.bincount(hours[p_known], minlength=24)
    ok_h = np.bincount(hours[p_known & (p_on == 1.0)], minlength=24)
    by_hour = []
    for h in range(24):
        k, n = int(ok_h[h]), int(known_h[h])
        by_hour.append({"hour": h, "reports": int(reports_h[h]), "rate": (k / n) if n else None,
                        "ci95": list(wilson(k, n)) if n else None})
    return Metrics(
        reports={
            "total": total,
            "served": served,
            "open_at_horizon": open_h,
            "warmup_excluded": int(incidents["warmup"].sum()),
            "without_promise": int((~post["promise"].astype(bool)).sum()),
            "late_without_promise":
                int(((~post["promise"].astype(bool)) & (post["on_time"] == False)).sum()),  # noqa: E712 (pandas boolean)
            "censored_open_younger_than_target": int((prom["on_time"].isna()).sum()),
            "per_replication": {int(r): int((incidents["replication"] == r).sum()) for r in reps},
        },
        on_time={"target_min": target,
                 **{k: overall[k] for k in ("rate", "ci95", "ci95_between_replications", "known_outcome", "on_time")}},
        response_min=overall["response_min"],
        by_team=by_team,
        by_hour=by_hour,
        late_causes=causes,
        crew_utilization={n: (c["busy_min"] / c["duty_min"] if c["duty_min"] > 0 else None) for n, c in crews.items()},
        crew_committed={n: (c["committed_min"] / c["duty_min"] if c["duty_min"] > 0 else None)
                        for n, c in crews.items()},
        utilization_note=("utilization = busy / on duty (busy: sent until clear, unavailable for dispatch); "
                          "committed = (busy + on-duty drives back to base) / on duty"),
        wait_min=_tail(prom["wait_min"]),
        move_ups=(sum(int(r.extra.get("move_ups", 0)) for r in results)
                  if any("move_ups" in r.extra for r in results) else None),
        mutual_aid=mutual_aid(incidents, results[0].horizon_min, results[0].warmup_min) if results else None,
        # only in scenarios that use the enforcement system (older summaries stay as they were)
        enforcement=enforcement_summary(incidents, results, world),
    )
