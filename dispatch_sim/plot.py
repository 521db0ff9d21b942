"""Figures for the report: map, response-time CDF, on-time by hour, utilization, load sweep.

Every map draws the road graph itself as the basemap (no tiles needed offline) and carries the OSM
attribution, or the stand-in label when the roads are generated.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from . import settings  # noqa: E402

plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "SimHei", "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False


def _team_label(sc, i) -> str:
    t = sc.teams[i]
    return t.name_en or t.name


def _roads(ax, world, color="#bbbbbb"):
    G = world.G
    r = world.router
    eu, ev, _ = r._edges
    segs = np.stack([np.column_stack([r.lon[eu], r.lat[eu]]), np.column_stack([r.lon[ev], r.lat[ev]])], axis=1)
    ax.add_collection(LineCollection(segs, colors=color, linewidths=0.4, zorder=1))
    ax.set_xlim(r.lon.min(), r.lon.max())
    ax.set_ylim(r.lat.min(), r.lat.max())
    ax.set_aspect(1 / np.cos(np.radians(r.lat.mean())))
    label = settings.standin_label if world.standin else settings.osm_attribution
    ax.text(0.01, 0.01, label, transform=ax.transAxes, fontsize=7, color="crimson" if world.standin else "#444",
            ha="left", va="bottom", bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
    del G


def map_figure(world, incidents=None, title="Bases, jurisdictions and reports"):
    sc = world.scenario
    r = world.router
    fig, ax = plt.subplots(figsize=(8.5, 8))
    _roads(ax, world)
    cmap = plt.get_cmap("tab20")
    ax.scatter(r.lon, r.lat, c=[cmap(t % 20) for t in world.node_team], s=1.5, alpha=0.35, zorder=2, linewidths=0)
    if incidents is not None and len(incidents):
        sub = incidents[incidents["on_time"].notna()]
        prom = sub["promise"].astype(bool)
        late = sub[prom & (sub["on_time"] == False)]  # noqa: E712
        ok = sub[prom & (sub["on_time"] == True)]  # noqa: E712
        late_np = sub[~prom & (sub["on_time"] == False)]  # noqa: E712
        ax.scatter(ok["lon"], ok["lat"], s=5, c="#2a9d8f", alpha=0.5, label=f"on time ({len(ok)})", zorder=3)
        ax.scatter(late["lon"], late["lat"], s=9, c="#e63946", alpha=0.8, label=f"late ({len(late)})", zorder=4)
        if len(late_np):
            ax.scatter(late_np["lon"], late_np["lat"], s=9, c="#8d99ae", marker="x", alpha=0.8, zorder=4,
                       label=f"late, no 30-min promise ({len(late_np)})")
    for i, t in enumerate(sc.teams):
        b = world.router.index[world.base_nodes[i]]
        ax.scatter([r.lon[b]], [r.lat[b]], marker="s" if not t.backup else "D", s=60,
                   c="white" if t.unverified else "black", edgecolors="black", zorder=5)
        ax.annotate(_team_label(sc, i) + (" (unverified)" if t.unverified else ""), (r.lon[b], r.lat[b]),
                    fontsize=7, xytext=(4, 4), textcoords="offset points", zorder=6)
    ax.set_title(title)
    if incidents is not None:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return fig


def cdf_figure(incidents, target_min):
    sub = incidents[~incidents["warmup"] & incidents["promise"]]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    reps = sorted(sub["replication"].unique())
    grid = np.linspace(0, max(60.0, target_min * 2), 241)
    curves = []
    for rep in reps:
        x = sub[sub["replication"] == rep]["response_min"].dropna().to_numpy()
        if len(x):
            curves.append(np.searchsorted(np.sort(x), grid, side="right") / len(x))
    if curves:
        c = np.array(curves)
        allx = np.sort(sub["response_min"].dropna().to_numpy())
        pooled = np.searchsorted(allx, grid, side="right") / max(1, len(allx))
        ax.plot(grid, pooled, color="#1d3557", lw=2, label="all replications")
        if len(curves) > 1:
            ax.fill_between(grid, np.percentile(c, 2.5, axis=0), np.percentile(c, 97.5, axis=0), color="#457b9d",
                            alpha=0.25, label="range across replications (2.5–97.5%)")
    ax.axvline(target_min, color="#e63946", ls="--", label=f"{target_min:g}-minute promise")
    ax.set_xlabel("minutes from report to crew on site")
    ax.set_ylabel("share of reports")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Response time distribution")
    return fig


def hourly_figure(summary):
    rows = summary["by_hour"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    hrs = [r["hour"] for r in rows]
    rate = [np.nan if r["rate"] is None else r["rate"] for r in rows]
    lo = [np.nan if not r["ci95"] else r["ci95"][0] for r in rows]
    hi = [np.nan if not r["ci95"] else r["ci95"][1] for r in rows]
    ax.bar(hrs, rate, color="#457b9d")
    ax.errorbar(hrs, rate, yerr=[np.clip(np.subtract(rate, lo), 0, None), np.clip(np.subtract(hi, rate), 0, None)], fmt="none", ecolor="black", lw=0.8)
    ax.set_xlabel("hour of day (report time)")
    ax.set_ylabel("on-time rate")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(range(0, 24, 2))
    ax.set_title("On-time rate by hour (95% Wilson intervals)")
    ax.grid(axis="y", alpha=0.3)
    return fig


def utilization_figure(summary, sc):
    names = [t.name_en or t.name for t in sc.teams]
    util = [summary["by_team"][t.name]["utilization"] or 0 for t in sc.teams]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.barh(names, util, color="#2a9d8f")
    ax.set_xlabel("crew utilization (busy time / on-duty time)")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title("Crew utilization by team")
    ax.grid(axis="x", alpha=0.3)
    return fig


def stress_figure(stress, team_labels: dict | None = None):
    """District on-time rate against load with its interval (left) and each team's own rate (right):
    which township breaks first."""
    rows = stress["sweep"]
    loads = [r["load"] for r in rows]
    fig, (ax, axt) = plt.subplots(1, 2, figsize=(12, 4.3), sharey=True)
    rate = [r["rate"] for r in rows]
    lo = [r["ci95"][0] for r in rows]
    hi = [r["ci95"][1] for r in rows]
    ax.plot(loads, rate, "o-", color="#1d3557", label="district on-time rate")
    ax.fill_between(loads, lo, hi, color="#457b9d", alpha=0.25, label="95% interval")
    goal = stress["target_on_time_rate"]
    bp = stress["breaking_point"]["max_load_meeting_target"]
    for a in (ax, axt):
        a.axhline(goal, color="#e63946", ls="--", label="target")
        if bp is not None:
            a.axvline(bp, color="#e9c46a", ls=":", label=f"promise breaks (first township) above ×{bp:g}")
        a.set_xlabel("load (× baseline reports per day)")
        a.grid(alpha=0.3)
    ax.set_ylabel("on-time rate")
    team_rates = [b.get("judged_value") or b["rate"] for row in rows for b in row["by_team"].values()
                  if (b.get("judged_value") or b["rate"]) is not None]
    low = min([x for x in lo if x is not None] + team_rates + [goal])
    ax.set_ylim(max(0.0, low - 0.05), 1.01)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("District (common random numbers)")
    cmap = plt.get_cmap("tab20")
    towns = stress.get("townships") or {t: {"max_load_met": b} for t, b in stress.get("team_max_load_meeting_target", {}).items()}
    judged_key = "judged_value" if rows and "judged_value" in next(iter(rows[0]["by_team"].values()), {}) else "rate"
    for i, team in enumerate(towns):
        r = [row["by_team"][team].get(judged_key) for row in rows]
        r = [np.nan if v is None else v for v in r]
        label = (team_labels or {}).get(team, team)
        b = towns[team]
        held = f"holds to ×{b['max_load_met']:g}" if b.get("max_load_met") is not None else "not shown"
        line, = axt.plot(loads, r, "-", color=cmap(i % 20), lw=1.3, label=f"{label}: {held}")
        miss = [ld for ld, row in zip(loads, rows) if row["by_team"][team].get("status") == "missed"]
        if miss:  # the first load where it misses, on the same curve
            j = loads.index(miss[0])
            axt.plot([loads[j]], [r[j]], "x", color=line.get_color(), ms=7, mew=2)
    axt.legend(fontsize=7, ncol=2, loc="lower left")
    axt.set_title("Each township: judged on-time rate (lower 95% bound); × = first miss"
                  if judged_key == "judged_value" else "Each township team's own reports")
    return fig


def coverage_figure(world, cells: dict, minutes):
    """Minutes from report to arrival (90% of cases, idle crew from the own base) per grid cell, on a
    gradient with the target marked on the colour bar; cells beyond the target outlined in red."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize

    r = world.router
    fig, ax = plt.subplots(figsize=(8.5, 8))
    _roads(ax, world, color="#dddddd")
    feats = [f for f in cells["features"] if f["properties"]["arrive90_min"] is not None]
    if feats:
        polys = [np.asarray(f["geometry"]["coordinates"][0]) for f in feats]
        val = np.array([f["properties"]["arrive90_min"] for f in feats], dtype=float)
        norm = Normalize(vmin=0, vmax=2 * minutes)
        cmap = plt.get_cmap("RdYlGn_r")
        beyond = val > minutes
        face = cmap(norm(np.minimum(val, 2 * minutes)))
        face[:, 3] = 0.8
        edge = np.zeros_like(face)
        edge[beyond] = (0.8, 0.05, 0.05, 1.0)
        ax.add_collection(PolyCollection(polys, facecolors=face, edgecolors=edge, linewidths=0.8, zorder=2))
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, shrink=0.7, extend="max", ticks=np.linspace(0, 2 * minutes, 7))
        cb.set_label(f"minutes from report to arrival, 90% of cases (target {minutes:g}: black line)")
        cb.ax.axhline(minutes, color="black", lw=2.5)
        share = float(beyond.mean())
        ax.text(0.01, 0.05, f"{share:.0%} of cells beyond {minutes:g} min (red outline)", transform=ax.transAxes,
                fontsize=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
    for i, t in enumerate(world.scenario.teams):
        b = r.index[world.base_nodes[i]]
        ax.scatter([r.lon[b]], [r.lat[b]], marker="s", s=50, c="white" if t.unverified else "black",
                   edgecolors="black", zorder=5)
        ax.annotate(t.name_en or t.name, (r.lon[b], r.lat[b]), fontsize=7, xytext=(4, 4), textcoords="offset points",
                    zorder=6)
    ax.set_title(f"Promise reach: report to arrival ({cells.get('band', 'off-peak')}; dispatch delay + turnout + drive)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return fig


def cells_figure(world, cells: dict, target_rate: float | None = None, title: str | None = None):
    """Grid cells coloured by their simulated on-time rate; faint where a cell has few reports."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import BoundaryNorm

    fig, ax = plt.subplots(figsize=(8.5, 8))
    _roads(ax, world, color="#cccccc")
    feats = cells["features"]
    if feats:
        polys = [np.asarray(f["geometry"]["coordinates"][0]) for f in feats]
        rate = np.array([f["properties"]["rate"] for f in feats])
        n = np.array([f["properties"]["reports"] for f in feats], dtype=float)
        bounds = [0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001]
        cmap = plt.get_cmap("RdYlGn")
        norm = BoundaryNorm(bounds, cmap.N)
        colors = cmap(norm(rate))
        colors[:, 3] = np.clip(0.25 + 0.75 * np.sqrt(n / max(n.max(), 1)), 0.25, 1.0)
        ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="none", zorder=2))
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = fig.colorbar(sm, ax=ax, shrink=0.7, ticks=bounds[:-1] + [1.0])
        cb.set_label("share of reports on site in time" + (f" (target {target_rate:.0%})" if target_rate else ""))
    sc = world.scenario
    r = world.router
    for i, t in enumerate(sc.teams):
        b = r.index[world.base_nodes[i]]
        ax.scatter([r.lon[b]], [r.lat[b]], marker="s", s=45, c="white" if t.unverified else "black",
                   edgecolors="black", zorder=5)
        ax.annotate(_team_label(sc, i), (r.lon[b], r.lat[b]), fontsize=7, xytext=(4, 4), textcoords="offset points",
                    zorder=6)
    ax.set_title(title or f"On-time rate per {cells.get('cell_m', 500):g} m cell (simulated; opacity = reports)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return fig


def placement_figure(world, proposal: dict, weight=None):
    """Current bases, proposed new posts and moved bases over the demand density."""
    sc = world.scenario
    r = world.router
    fig, ax = plt.subplots(figsize=(8.5, 8))
    _roads(ax, world, color="#d0d0d0")
    if weight is not None:
        w = np.asarray(weight)
        m = w > 0
        ax.scatter(r.lon[m], r.lat[m], s=2 + 400 * w[m] / max(w.max(), 1e-12), c="#f4a261", alpha=0.35,
                   linewidths=0, zorder=2, label="expected reports")
    for i, t in enumerate(sc.teams):
        b = r.index[world.base_nodes[i]]
        ax.scatter([r.lon[b]], [r.lat[b]], marker="s", s=45, c="black", zorder=5)
        ax.annotate(_team_label(sc, i), (r.lon[b], r.lat[b]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    for c in proposal["changes"]:
        if c["action"] == "move":
            ax.annotate("", xy=(c["lon"], c["lat"]), xytext=(c["from"]["lon"], c["from"]["lat"]), zorder=6,
                        arrowprops=dict(arrowstyle="->", color="#1d3557", lw=1.8))
        ax.scatter([c["lon"]], [c["lat"]], marker="*", s=220, c="#2a9d8f", edgecolors="black", zorder=7)
        en = {t.name: t.name_en or t.name for t in sc.teams}
        ax.annotate(c.get("name") or en.get(c.get("team"), c.get("team")), (c["lon"], c["lat"]), fontsize=8,
                    xytext=(6, -10), textcoords="offset points", color="#1d3557", zorder=8)
    cov, twice = proposal["demand_share_covered"], proposal["demand_share_covered_twice"]
    half = proposal["demand_share_within_half_budget"]
    ax.set_title(f"Proposal ({proposal['mode']}): demand within {proposal['travel_budget_min']:g} min drive of a base "
                 f"{cov['before']:.1%} → {cov['after']:.1%}\nof two bases {twice['before']:.1%} → {twice['after']:.1%}; "
                 f"within {proposal['travel_budget_min'] / 2:g} min {half['before']:.1%} → {half['after']:.1%}", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return fig


def compare_figure(cmp: dict):
    """Variant A and B per township: on-time rate with its 95% interval, the target, and whether
    the paired difference is significant (a filled marker)."""
    towns = list(cmp.get("by_township", {}))
    fig, ax = plt.subplots(figsize=(8, 0.42 * max(len(towns), 3) + 1.6))
    y = np.arange(len(towns))
    for k, (key, color, dy) in enumerate((("a", "#8d99ae", -0.15), ("b", "#1d3557", 0.15))):
        rates = [cmp["by_township"][t][key]["rate"] for t in towns]
        cis = [cmp["by_township"][t][key]["ci95"] or [np.nan, np.nan] for t in towns]
        r = np.array([np.nan if v is None else v for v in rates], dtype=float)
        lo = np.array([c[0] if c[0] is not None else np.nan for c in cis], dtype=float)
        hi = np.array([c[1] if c[1] is not None else np.nan for c in cis], dtype=float)
        ax.errorbar(r, y + dy, xerr=[np.clip(r - lo, 0, None), np.clip(hi - r, 0, None)], fmt="o", color=color,
                    ms=5, lw=1, label=f"{key.upper()}: {cmp[key]['scenario']}")
    for i, t in enumerate(towns):
        d = cmp["by_township"][t]["difference_b_minus_a"]
        if d["significant"]:
            ax.annotate(f"{d['mean'] * 100:+.1f}", (1.0, i), xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8,
                        color="#2a9d8f" if d["mean"] > 0 else "#e63946")
    goal = None
    for r in (cmp["a"].get("verdict") or {}).get("townships", {}).values():
        goal = (r.get("targets", {}).get("on_time_rate") or {}).get("required")
        break
    if goal:
        try:
            g = float(goal.split()[-1])
            ax.axvline(g, color="#e63946", ls="--", lw=1, label="target")
        except ValueError:
            pass
    ax.set_yticks(y)
    ax.set_yticklabels(towns)
    ax.invert_yaxis()
    ax.set_xlabel("on-time rate (95% interval); right margin: significant paired change B − A, points")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.09), ncol=1, frameon=False)
    d = cmp["difference_b_minus_a"]["on_time_rate"]
    ax.set_title(f"B − A district: {d['mean'] * 100:+.1f} points — {cmp['decision']['text']}", fontsize=9)
    if cmp.get("graph", {}).get("standin"):
        fig.text(0.01, 0.005, settings.standin_label, color="#e63946", fontsize=7)
    return fig


def staffing_figure(res: dict):
    """Crews per team and shift: today, the queueing lower bound and the proposal."""
    rows = res["table"]
    labels = [f"{r['team']} {r['shift']}" for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(len(rows), 4) + 1.6))
    ax.barh(y - 0.25, [r["today"] for r in rows], height=0.25, color="#8d99ae", label="today")
    ax.barh(y, [r["proposed"] for r in rows], height=0.25, color="#1d3557", label="proposed")
    ax.scatter([r["lower_bound"] for r in rows], y + 0.25, marker="|", s=60, color="#e63946",
               label="queueing lower bound")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("crews on duty")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ch = res["crew_hours_per_day"]
    ax.set_title(f"Fewest crews keeping every township on target at load ×{res['load']:g}: "
                 f"{ch['today']:.0f} → {ch['proposed']:.0f} crew-hours a day", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
