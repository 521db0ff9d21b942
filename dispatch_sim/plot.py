"""Figures for the report and notebooks: map, response-time CDF, on-time by hour, utilization, load
sweep, coverage, cells, placement.

Every map draws the road graph itself as the basemap (no tiles needed offline) and carries the OSM
attribution, or the stand-in label when the roads are generated.

Design choices:

* **No global side effects.** Importing this module neither picks a backend nor changes
  ``rcParams``: a notebook keeps its inline backend and the user's own style. Each function draws
  inside :func:`dispatch_sim.fonts.style` (an ``rc_context``) and returns a
  :class:`DispatchFigure`, a plain ``matplotlib.figure.Figure`` that pyplot does not track (no
  leak when a sweep draws dozens, usable from threads, no GUI window), which shows itself as PNG in
  Jupyter when it is a cell's last value, and which saves in the package style.
* **Chinese names without tofu.** Fonts come from :mod:`dispatch_sim.fonts` (a packaged Noto Sans
  SC in the font fallback list); if no CJK font exists, labels fall back to ``name_en``.
* **Labels that never collide.** Old-town bases lie within 2 km of each other, so base names next
  to their markers overlap. Bases are drawn as numbered markers with a legend beside the map
  (number → name) instead: deterministic, no extra dependency, and legible at print size, unlike
  label-repelling (adjustText), whose leader lines tangle in a cluster of five and whose result
  depends on the iteration.
* **Language.** Figure text comes from the one catalogue, :data:`dispatch_sim.i18n.MESSAGES` (``fig.*`` keys), in the
  format of the message catalogue :mod:`dispatch_sim.i18n`, whose entries win for the same key. The
  language is the ``lang`` argument, else the scenario's ``report.lang`` if it has one, else
  :data:`DEFAULT_LANG`.
  Team names are shown as written in the scenario (``name``); English figures use ``name_en`` when
  given.
"""

from __future__ import annotations

import io as _io
import re

import numpy as np
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import PercentFormatter

from . import fonts
from .i18n import MESSAGES

#: Figure language when neither the call nor the scenario says.
DEFAULT_LANG = "zh"

#: Every text drawn in a figure: the ``fig.*`` keys of the one catalogue, :data:`dispatch_sim.i18n.MESSAGES`.
FIGURE_MESSAGES = {k: v for k, v in MESSAGES.items() if k.startswith("fig.")}


class DispatchFigure(Figure):
    """A matplotlib ``Figure`` that shows itself in Jupyter and saves in dispatch_sim's style.

    It is not registered with pyplot: keep a reference or save it; it is freed like any object.
    """

    def _repr_png_(self) -> bytes:  # Jupyter's inline formatter, when active, takes precedence
        buf = _io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()

    def savefig(self, *args, **kwargs):  # noqa: D102 - same as Figure.savefig, inside the style
        with fonts.style():
            return super().savefig(*args, **kwargs)

    def style(self):
        """The context every drawing of this figure happens in (fonts, sizes)."""
        return fonts.style()


def _lang(sc=None, lang: str | None = None) -> str:
    if lang:
        return lang
    report = getattr(sc, "report", None)
    return getattr(report, "lang", None) or DEFAULT_LANG


def _t(key: str, lang: str, **kw) -> str:
    """Figure text ``fig.<key>`` in ``lang``; English when the fonts cannot draw the Chinese."""
    from .i18n import MESSAGES

    en, zh = MESSAGES[f"fig.{key}"]
    text = (en if lang == "en" else zh).format(**kw)
    if lang != "en" and not fonts.can_render(text):
        text = en.format(**kw)
    return text


def _team_label(team, lang: str) -> str:
    return fonts.label(team.name, team.name_en, lang)


def _figure(figsize, ncols: int = 1, **kw):
    """A new figure and its axes, created inside the style context (fonts, sizes)."""
    fig = DispatchFigure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, ncols, **kw)
    return fig, axes


def _roads(ax, world, lang: str, color="#bbbbbb"):
    r = world.router
    eu, ev, _ = r._edges
    # every road segment as one path of move-to/line-to pairs: drawn in one call, where a LineCollection
    # builds and strokes a path object per segment (tens of thousands on a district graph)
    verts = np.empty((2 * len(eu), 2))
    verts[0::2, 0], verts[0::2, 1] = r.lon[eu], r.lat[eu]
    verts[1::2, 0], verts[1::2, 1] = r.lon[ev], r.lat[ev]
    codes = np.tile(np.array([MplPath.MOVETO, MplPath.LINETO], dtype=MplPath.code_type), len(eu))
    # add_artist, not add_patch: the limits are set below, and add_patch would walk every segment for them
    ax.add_artist(PathPatch(MplPath(verts, codes), fill=False, edgecolor=color, linewidth=0.4, zorder=1))
    ax.set_xlim(r.lon.min(), r.lon.max())
    ax.set_ylim(r.lat.min(), r.lat.max())
    ax.set_aspect(1 / np.cos(np.radians(r.lat.mean())))
    label = _t("standin" if world.standin else "osm", lang)
    ax.text(0.01, 0.01, label, transform=ax.transAxes, fontsize=7, color="crimson" if world.standin else "#444",
            ha="left", va="bottom", bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"), zorder=8)
    ax.set_xlabel(_t("lon", lang))
    ax.set_ylabel(_t("lat", lang))


def _bases(ax, world, lang: str, unverified_marked: bool = True, size: float = 120) -> None:
    """Numbered base markers and, beside the map, a legend number → team name.

    Marker numbers carry ``gid="base-number"`` (the tests check they never overlap).
    """
    sc = world.scenario
    r = world.router
    handles, labels = [], []
    for i, t in enumerate(sc.teams):
        b = r.index[world.base_nodes[i]]
        hollow = unverified_marked and t.unverified
        ax.scatter([r.lon[b]], [r.lat[b]], marker="D" if t.backup else "o", s=size,
                   c="white" if hollow else "black", edgecolors="black", linewidths=1.0, zorder=6)
        ax.text(r.lon[b], r.lat[b], str(i + 1), ha="center", va="center", fontsize=6.5,
                color="black" if hollow else "white", zorder=7, gid="base-number")
        handles.append(Line2D([], [], ls="none", marker=f"${i + 1}$", markersize=7 if i < 9 else 9, color="black"))
        labels.append(_team_label(t, lang) + (_t("unverified", lang) if unverified_marked and t.unverified else ""))
    leg = ax.legend(handles, labels, title=_t("bases", lang), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    frameon=False, fontsize=8, title_fontsize=8, handletextpad=0.6, borderaxespad=0.0)
    leg.set_gid("bases-legend")


def _inner_legend(ax, **kw) -> None:
    """A legend of the labelled artists, inside the axes, next to the bases legend (the axes' own)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.add_artist(Legend(ax, handles, labels, **kw))


def map_figure(world, incidents=None, title: str | None = None, lang: str | None = None) -> DispatchFigure:
    """Road graph, team jurisdictions (coloured nodes), reports (on time / late) and numbered bases.

    Parameters
    ----------
    world
        The simulated world (``dispatch_sim.World``).
    incidents
        Incident table with ``lon``, ``lat``, ``on_time``; None draws no reports.
    title
        Overrides the default title.
    lang
        ``"zh"`` or ``"en"``; default from the scenario's ``report.lang``, else :data:`DEFAULT_LANG`.
    """
    import matplotlib

    lang = _lang(world.scenario, lang)
    r = world.router
    with fonts.style():
        fig, ax = _figure((9.5, 7.6))
        _roads(ax, world, lang)
        cmap = matplotlib.colormaps["tab20"]
        ax.scatter(r.lon, r.lat, c=[cmap(t % 20) for t in world.node_team], s=1.5, alpha=0.35, zorder=2,
                   linewidths=0)
        if incidents is not None and len(incidents):
            sub = incidents[incidents["on_time"].notna()]
            prom = sub["promise"].astype(bool) if "promise" in sub else np.ones(len(sub), dtype=bool)
            late = sub[prom & (sub["on_time"] == False)]  # noqa: E712
            ok = sub[prom & (sub["on_time"] == True)]  # noqa: E712
            late_np = sub[~prom & (sub["on_time"] == False)]  # noqa: E712
            ax.scatter(ok["lon"], ok["lat"], s=5, c="#2a9d8f", alpha=0.5, label=_t("on_time_n", lang, n=len(ok)),
                       zorder=3)
            ax.scatter(late["lon"], late["lat"], s=9, c="#e63946", alpha=0.8, label=_t("late_n", lang, n=len(late)),
                       zorder=4)
            if len(late_np):
                ax.scatter(late_np["lon"], late_np["lat"], s=9, c="#8d99ae", marker="x", alpha=0.8, zorder=4,
                           label=_t("late_np_n", lang, n=len(late_np)))
        _bases(ax, world, lang)
        if incidents is not None:
            _inner_legend(ax, loc="upper right", fontsize=8)
        ax.set_title(title or _t("map_title", lang))
    return fig


def cdf_figure(incidents, target_min: float, lang: str | None = None) -> DispatchFigure:
    """Share of promised reports reached within x minutes, pooled and across replications."""
    lang = _lang(None, lang)
    sub = incidents[~incidents["warmup"] & incidents["promise"]]
    with fonts.style():
        fig, ax = _figure((7, 4.2))
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
            ax.plot(grid, pooled, color="#1d3557", lw=2, label=_t("cdf_all", lang))
            if len(curves) > 1:
                ax.fill_between(grid, np.percentile(c, 2.5, axis=0), np.percentile(c, 97.5, axis=0), color="#457b9d",
                                alpha=0.25, label=_t("cdf_range", lang))
        ax.axvline(target_min, color="#e63946", ls="--", label=_t("promise", lang, m=target_min))
        ax.set_xlabel(_t("cdf_x", lang))
        ax.set_ylabel(_t("share_reports", lang))
        ax.set_ylim(0, 1.01)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(_t("cdf_title", lang))
    return fig


def _doc(result) -> dict:
    """A typed result (:mod:`dispatch_sim.results`) as the JSON document its command writes; a dict
    (such a document read back from a file) as it is. Figures draw from the document's shape."""
    return result.to_json() if hasattr(result, "to_json") else result


def _target_from_summary(summary: dict) -> float | None:
    """The district on-time-rate target recorded in ``summary["targets"]``, if any."""
    for row in summary.get("targets") or []:
        if row.get("target") == "on_time_rate" and row.get("area", "district") == "district":
            if row.get("threshold") is not None:
                return float(row["threshold"])
            m = re.search(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", str(row.get("required", "")))
            if m:
                return float(m.group())
    return None


def hourly_figure(summary: dict, target_rate: float | None = None, lang: str | None = None) -> DispatchFigure:
    """On-time rate by hour of report with 95% intervals and the target line.

    Parameters
    ----------
    summary
        A run summary with ``by_hour``.
    target_rate
        The scenario's ``targets.on_time_rate_min``; default read from ``summary["targets"]``.
    lang
        ``"zh"`` or ``"en"``.
    """
    lang = _lang(None, lang)
    summary = _doc(summary)
    target_rate = target_rate if target_rate is not None else _target_from_summary(summary)
    rows = summary["by_hour"]
    hrs = [r["hour"] for r in rows]
    rate = [np.nan if r["rate"] is None else r["rate"] for r in rows]
    lo = [np.nan if not r["ci95"] else r["ci95"][0] for r in rows]
    hi = [np.nan if not r["ci95"] else r["ci95"][1] for r in rows]
    with fonts.style():
        fig, ax = _figure((7, 3.6))
        ax.bar(hrs, rate, color="#457b9d")
        ax.errorbar(hrs, rate, yerr=[np.clip(np.subtract(rate, lo), 0, None), np.clip(np.subtract(hi, rate), 0, None)],
                    fmt="none", ecolor="black", lw=0.8)
        if target_rate is not None:
            ax.axhline(target_rate, color="#e63946", ls="--", lw=1.2, zorder=5, gid="target-line",
                       label=_t("target_rate", lang, r=target_rate))
            ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        ax.set_xlabel(_t("hour_x", lang))
        ax.set_ylabel(_t("on_time_rate", lang))
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xticks(range(0, 24, 2))
        ax.set_title(_t("hour_title", lang))
        ax.grid(axis="y", alpha=0.3)
    return fig


def utilization_figure(summary: dict, sc, lang: str | None = None) -> DispatchFigure:
    """Busy share of on-duty time per team, and committed share (busy + drive back) when reported.

    The axis scales to the data (bars of 0.4–4% fill the width), labelled in percent, each bar with
    its value.
    """
    lang = _lang(sc, lang)
    names = [_team_label(t, lang) for t in sc.teams]
    stats = [_doc(summary)["by_team"].get(t.name, {}) for t in sc.teams]
    busy = np.array([s.get("utilization") or 0.0 for s in stats], dtype=float)
    has_committed = any(s.get("committed") is not None for s in stats)
    committed = np.array([s.get("committed") or 0.0 for s in stats], dtype=float) if has_committed else None
    top = float(max(busy.max(initial=0.0), committed.max(initial=0.0) if committed is not None else 0.0))
    xmax = min(1.0, top * 1.25) if top > 0 else 0.05
    y = np.arange(len(names))
    with fonts.style():
        fig, ax = _figure((7, 0.9 + 0.32 * max(len(names), 3)))
        if has_committed:
            ax.barh(y, committed, height=0.8, color="#a8dadc", label=_t("util_committed", lang), gid="committed")
            ax.barh(y, busy, height=0.45, color="#1d7874", label=_t("util_busy", lang), gid="busy")
        else:
            ax.barh(y, busy, height=0.7, color="#2a9d8f", label=_t("util_busy", lang), gid="busy")
        for k in range(len(names)):
            v = committed[k] if committed is not None else busy[k]
            text = f"{busy[k]:.1%}" + (f" / {committed[k]:.1%}" if committed is not None else "")
            ax.text(v + xmax * 0.01, k, text, va="center", ha="left", fontsize=7, color="#333")
        ax.set_yticks(y, names)
        ax.set_xlim(0, xmax * 1.12)  # room for the value labels
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_xlabel(_t("util_x", lang))
        ax.invert_yaxis()
        ax.set_title(_t("util_title", lang))
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def stress_figure(stress: dict, team_labels: dict | None = None, lang: str | None = None) -> DispatchFigure:
    """District on-time rate against load with its interval (left) and each township's judged rate
    (right; × marks its first miss): which township breaks first."""
    import matplotlib

    lang = _lang(None, lang)
    stress = _doc(stress)
    rows = stress["sweep"]
    loads = [r["load"] for r in rows]
    rate = [r["rate"] for r in rows]
    lo = [r["ci95"][0] for r in rows]
    hi = [r["ci95"][1] for r in rows]
    goal = stress["target_on_time_rate"]
    bp = stress["breaking_point"]["max_load_meeting_target"]
    towns = stress.get("townships") or {t: {"max_load_met": b}
                                        for t, b in stress.get("team_max_load_meeting_target", {}).items()}
    judged_key = "judged_value" if rows and "judged_value" in next(iter(rows[0]["by_team"].values()), {}) else "rate"
    with fonts.style():
        fig, (ax, axt) = _figure((12, 4.6), ncols=2, sharey=True)
        ax.plot(loads, rate, "o-", color="#1d3557", label=_t("stress_rate", lang))
        ax.fill_between(loads, lo, hi, color="#457b9d", alpha=0.25, label=_t("ci95", lang))
        for a in (ax, axt):
            a.axhline(goal, color="#e63946", ls="--", label=_t("target", lang))
            if bp is not None:
                a.axvline(bp, color="#e9c46a", ls=":", label=_t("breaking_point", lang, bp=bp))
            a.set_xlabel(_t("load_x", lang))
            a.grid(alpha=0.3)
        ax.set_ylabel(_t("on_time_rate", lang))
        team_rates = [b.get("judged_value") or b["rate"] for row in rows for b in row["by_team"].values()
                      if (b.get("judged_value") or b["rate"]) is not None]
        low = min([x for x in lo if x is not None] + team_rates + [goal])
        ax.set_ylim(max(0.0, low - 0.05), 1.01)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.legend(fontsize=8, loc="lower left")
        ax.set_title(_t("stress_district", lang))
        cmap = matplotlib.colormaps["tab20"]
        for i, team in enumerate(towns):
            r = [row["by_team"][team].get(judged_key) for row in rows]
            r = [np.nan if v is None else v for v in r]
            label = (team_labels or {}).get(team, team)
            if not fonts.can_render(label):
                label = f"#{i + 1}"
            b = towns[team].get("max_load_met")
            line, = axt.plot(loads, r, "-", color=cmap(i % 20), lw=1.3,
                             label=_t("stress_holds", lang, label=label, b=b) if b is not None
                             else _t("stress_none", lang, label=label))
            miss = [ld for ld, row in zip(loads, rows) if row["by_team"][team].get("status") == "missed"]
            if miss:  # the first load where it misses, on the same curve
                j = loads.index(miss[0])
                axt.plot([loads[j]], [r[j]], "x", color=line.get_color(), ms=7, mew=2, gid="first-miss")
        axt.legend(fontsize=7, ncol=2, loc="lower left")
        axt.set_title(_t("stress_judged" if judged_key == "judged_value" else "stress_teams", lang))
    return fig


def coverage_figure(world, cells: dict, minutes: float, lang: str | None = None) -> DispatchFigure:
    """Minutes from report to arrival (90% of cases, idle crew from the own base) per grid cell, on a
    gradient with the target marked on the colour bar; cells beyond the target outlined in red."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize

    lang = _lang(world.scenario, lang)
    with fonts.style():
        fig, ax = _figure((9.5, 8.2))
        _roads(ax, world, lang, color="#dddddd")
        feats = [f for f in cells["features"] if f["properties"]["arrive90_min"] is not None]
        if feats:
            polys = [np.asarray(f["geometry"]["coordinates"][0]) for f in feats]
            val = np.array([f["properties"]["arrive90_min"] for f in feats], dtype=float)
            norm = Normalize(vmin=0, vmax=2 * minutes)
            cmap = matplotlib.colormaps["RdYlGn_r"]
            beyond = val > minutes
            face = cmap(norm(np.minimum(val, 2 * minutes)))
            face[:, 3] = 0.8
            edge = np.zeros_like(face)
            edge[beyond] = (0.8, 0.05, 0.05, 1.0)
            ax.add_collection(PolyCollection(polys, facecolors=face, edgecolors=edge, linewidths=0.8, zorder=2))
            cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, extend="max",
                              ticks=np.linspace(0, 2 * minutes, 7), orientation="horizontal", location="bottom",
                              pad=0.02, aspect=40)
            cb.set_label(_t("reach_cb", lang, m=minutes))
            cb.ax.axvline(minutes, color="black", lw=2.5)
            ax.text(0.01, 0.05, _t("reach_beyond", lang, share=float(beyond.mean()), m=minutes),
                    transform=ax.transAxes, fontsize=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"),
                    zorder=8)
        _bases(ax, world, lang)
        ax.set_title(_t("reach_title", lang, band=cells.get("band", "off-peak")))
    return fig


def cells_figure(world, cells: dict, target_rate: float | None = None, title: str | None = None,
                 lang: str | None = None) -> DispatchFigure:
    """Grid cells coloured by their simulated on-time rate; faint where a cell has few reports."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import BoundaryNorm

    lang = _lang(world.scenario, lang)
    with fonts.style():
        fig, ax = _figure((9.5, 8.2))
        _roads(ax, world, lang, color="#cccccc")
        feats = cells["features"]
        if feats:
            polys = [np.asarray(f["geometry"]["coordinates"][0]) for f in feats]
            rate = np.array([f["properties"]["rate"] for f in feats])
            n = np.array([f["properties"]["reports"] for f in feats], dtype=float)
            bounds = [0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001]
            cmap = matplotlib.colormaps["RdYlGn"]
            norm = BoundaryNorm(bounds, cmap.N)
            colors = cmap(norm(rate))
            colors[:, 3] = np.clip(0.25 + 0.75 * np.sqrt(n / max(n.max(), 1)), 0.25, 1.0)
            ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="none", zorder=2))
            cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, ticks=bounds[:-1] + [1.0],
                              orientation="horizontal", location="bottom", pad=0.02, aspect=40)
            cb.ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            cb.set_label(_t("cells_cb", lang) + (_t("cells_target", lang, r=target_rate) if target_rate else ""))
        _bases(ax, world, lang)
        ax.set_title(title or _t("cells_title", lang, c=cells.get("cell_m", 500)))
    return fig


def placement_figure(world, proposal: dict, weight=None, lang: str | None = None) -> DispatchFigure:
    """Current bases, proposed new posts and moved bases over the demand density."""
    lang = _lang(world.scenario, lang)
    sc = world.scenario
    r = world.router
    teams = {t.name: t for t in sc.teams}
    with fonts.style():
        fig, ax = _figure((9.5, 7.8))
        _roads(ax, world, lang, color="#d0d0d0")
        if weight is not None:
            w = np.asarray(weight)
            m = w > 0
            ax.scatter(r.lon[m], r.lat[m], s=2 + 400 * w[m] / max(w.max(), 1e-12), c="#f4a261", alpha=0.35,
                       linewidths=0, zorder=2, label=_t("expected_reports", lang))
        _bases(ax, world, lang, unverified_marked=False)
        for c in proposal["changes"]:
            if c["action"] == "move":
                ax.annotate("", xy=(c["lon"], c["lat"]), xytext=(c["from"]["lon"], c["from"]["lat"]), zorder=6,
                            arrowprops=dict(arrowstyle="->", color="#1d3557", lw=1.8))
            ax.scatter([c["lon"]], [c["lat"]], marker="*", s=220, c="#2a9d8f", edgecolors="black", zorder=7)
            t = teams.get(c.get("team"))
            name = c.get("name") or (_team_label(t, lang) if t is not None else c.get("team"))
            ax.annotate(name, (c["lon"], c["lat"]), fontsize=8, xytext=(6, -10), textcoords="offset points",
                        color="#1d3557", zorder=8, bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1))
        _inner_legend(ax, loc="upper right", fontsize=8)
        cov, twice = proposal["demand_share_covered"], proposal["demand_share_covered_twice"]
        half = proposal["demand_share_within_half_budget"]
        ax.set_title(_t("placement_title", lang, mode=proposal["mode"], budget=proposal["travel_budget_min"],
                        c0=cov["before"], c1=cov["after"], t0=twice["before"], t1=twice["after"],
                        half=proposal["travel_budget_min"] / 2, h0=half["before"], h1=half["after"]), fontsize=10)
    return fig


def compare_figure(cmp: dict, team_labels: dict | None = None, lang: str | None = None) -> DispatchFigure:
    """Variant A and B per township: on-time rate with its 95% interval, the target, and the paired
    difference B − A in the right margin where it is significant.

    Parameters
    ----------
    cmp
        The result of :func:`dispatch_sim.compare` (or its ``compare.json``).
    team_labels
        Optional team name → label (e.g. ``name_en`` for English figures).
    lang
        ``"zh"`` or ``"en"``.
    """
    lang = _lang(None, lang)
    cmp = _doc(cmp)
    towns = list(cmp.get("by_township", {}))
    labels = [(team_labels or {}).get(t, t) for t in towns]
    labels = [lab if fonts.can_render(lab) else f"#{i + 1}" for i, lab in enumerate(labels)]
    goal = None
    for r in (cmp["a"].get("verdict") or {}).get("townships", {}).values():
        req = (r.get("targets", {}).get("on_time_rate") or {}).get("required")
        m = re.search(r"[-+]?\d*\.?\d+", str(req or ""))
        goal = float(m.group()) if m else None
        break
    d = cmp["difference_b_minus_a"]["on_time_rate"]
    with fonts.style():
        fig, ax = _figure((8, 0.42 * max(len(towns), 3) + 1.8))
        y = np.arange(len(towns))
        for key, color, dy in (("a", "#8d99ae", -0.15), ("b", "#1d3557", 0.15)):
            rates = [cmp["by_township"][t][key]["rate"] for t in towns]
            cis = [cmp["by_township"][t][key]["ci95"] or [np.nan, np.nan] for t in towns]
            r = np.array([np.nan if v is None else v for v in rates], dtype=float)
            lo = np.array([c[0] if c[0] is not None else np.nan for c in cis], dtype=float)
            hi = np.array([c[1] if c[1] is not None else np.nan for c in cis], dtype=float)
            ax.errorbar(r, y + dy, xerr=[np.clip(r - lo, 0, None), np.clip(hi - r, 0, None)], fmt="o", color=color,
                        ms=5, lw=1, label=f"{key.upper()}: {cmp[key]['scenario']}")
        for i, t in enumerate(towns):
            dt = cmp["by_township"][t]["difference_b_minus_a"]
            if dt["significant"]:
                ax.annotate(f"{dt['mean'] * 100:+.1f}", (1.0, i), xycoords=("axes fraction", "data"), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=8,
                            color="#2a9d8f" if dt["mean"] > 0 else "#e63946")
        if goal is not None:
            ax.axvline(goal, color="#e63946", ls="--", lw=1, label=_t("target", lang), gid="target-line")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(_t("compare_x", lang))
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.09), ncol=1, frameon=False)
        ax.set_title(_t("compare_title", lang, d=d["mean"] * 100, decision=cmp["decision"]["text"]), fontsize=9)
        if cmp.get("graph", {}).get("standin"):
            fig.supxlabel(_t("standin", lang), color="#e63946", fontsize=7, x=0.01,
                          ha="left")  # room kept by the layout
    return fig


def staffing_figure(res: dict, team_labels: dict | None = None, lang: str | None = None) -> DispatchFigure:
    """Crews per team and shift: today, the queueing lower bound and the proposal."""
    lang = _lang(None, lang)
    rows = res["table"]
    names = [(team_labels or {}).get(r["team"], r["team"]) for r in rows]
    labels = [f"{n} {r['shift']}" if fonts.can_render(n) else f"#{i + 1} {r['shift']}"
              for i, (n, r) in enumerate(zip(names, rows))]
    y = np.arange(len(rows))
    ch = res["crew_hours_per_day"]
    with fonts.style():
        fig, ax = _figure((8, 0.32 * max(len(rows), 4) + 1.6))
        ax.barh(y - 0.25, [r["today"] for r in rows], height=0.25, color="#8d99ae", label=_t("staff_today", lang))
        ax.barh(y, [r["proposed"] for r in rows], height=0.25, color="#1d3557", label=_t("staff_proposed", lang))
        ax.scatter([r["lower_bound"] for r in rows], y + 0.25, marker="|", s=60, color="#e63946",
                   label=_t("staff_bound", lang))
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(_t("staff_x", lang))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_t("staff_title", lang, load=res["load"], today=ch["today"], proposed=ch["proposed"]), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return fig
