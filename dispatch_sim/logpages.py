"""The calibration page and the backtest page: every fit against the data, offline, in Chinese or English.

Each page is one HTML file with its figures inlined as PNG (also kept in ``figures/``), the CJK glyphs
it uses embedded as a web font (:func:`dispatch_sim.fonts.web_font_css`), and no request to any server:
planners open it on machines that cannot reach foreign CDNs. Every word comes from the message
catalogue (:data:`dispatch_sim.i18n.MESSAGES`, ``cal.*``, ``bt.*`` and ``fig.cal_*``/``fig.bt_*`` keys).
Figures are drawn inside :func:`dispatch_sim.fonts.style` as :class:`~dispatch_sim.plot.DispatchFigure`
(no pyplot state); maps carry the OpenStreetMap attribution, or the stand-in label.

The trade-off is size: figures are PNG, not interactive; a page with a dozen categories stays under
about 1.5 MB, which still goes by message.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from . import fonts
from .i18n import catalog
from .io import savefig_atomic, write_text_atomic
from .plot import _figure, _lang, _roads, _t

_PAL = {"exponential": "#8d99ae", "lognormal": "#e76f51", "gamma": "#2a9d8f"}


def _dur_axes(ax, fit: dict, lang: str, title: str) -> None:
    from scipy import stats

    vals = np.asarray(fit.get("_values", []), dtype=float)
    if not len(vals):
        ax.text(0.5, 0.5, _t("cal_no_data", lang), ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return
    hi = float(np.quantile(vals, 0.99)) * 1.1
    ax.hist(vals, bins=30, range=(0, hi), density=True, color="#ddd", edgecolor="#bbb", label=_t("cal_observed", lang))
    xs = np.linspace(hi / 400, hi, 300)
    for fam, f in (fit.get("fits") or {}).items():
        p = f["params"]
        dist = (stats.expon(scale=p["mean"]) if fam == "exponential" else
                stats.lognorm(p["sigma"], scale=np.exp(p["mu"])) if fam == "lognormal" else
                stats.gamma(p["shape"], scale=p["scale"]))
        best = fam == fit.get("best")
        ax.plot(xs, dist.pdf(xs), color=_PAL[fam], lw=2.2 if best else 1.0, ls="-" if best else "--",
                label=f"{fam} ΔAIC {f['delta_aic']:.0f}" + (" ★" if best else ""))
    ax.set_title(title + "\n" + _t("cal_fit_sub", lang, n=fit["n"], best=fit.get("best", "–"),
                                   mean=fit.get("mean", float("nan")),
                                   ks=(fit.get("fits") or {}).get(fit.get("best"), {}).get("ks_D", float("nan"))),
                                   fontsize=8)
    ax.set_xlabel(_t("cal_minutes", lang))
    ax.legend(fontsize=7)


def calibration_figures(cal: dict, world, lang: str) -> dict:
    """The calibration figures: time profile, daily counts, work-time fits, delay fit, travel, places."""
    figs = {}
    dem = cal["demand"]
    with fonts.style():
        fig, (a1, a2) = _figure((10, 3.4), ncols=2)
        h = np.arange(24)
        lo = np.array([c[0] for c in dem["hourly_ci95"]])
        hi = np.array([c[1] for c in dem["hourly_ci95"]])
        a1.bar(h, dem["hourly_raw"], color="#ddd", label=_t("cal_observed", lang))
        a1.fill_between(h, lo, hi, color="#e76f51", alpha=0.25, label=_t("cal_band95", lang))
        a1.plot(h, dem["hourly"], color="#e76f51", lw=2, label=_t("cal_fitted", lang))
        a1.set_xlabel(_t("cal_hour", lang))
        a1.set_title(_t("cal_hourly_title", lang, bw=dem["bandwidth_h"]))
        a1.legend(fontsize=7)
        wk = np.arange(7)
        a2.bar(wk, dem["weekly"], color="#2a9d8f")
        for k, ci in enumerate(dem["weekly_ci95"]):
            if ci:
                a2.plot([k, k], ci, color="black", lw=1)
        a2.set_xticks(wk, _t("cal_weekdays", lang).split(","))
        a2.axhline(1, color="#999", lw=0.8)
        a2.set_title(_t("cal_weekly_title", lang))
        figs["profile.png"] = fig
        fig, ax = _figure((10, 2.8))
        d = np.asarray(dem["daily_counts"])
        ax.bar(np.arange(len(d)), d, color="#8d99ae")
        ax.axhline(dem["reports_per_day"], color="#e63946", lw=1.5)
        ax.axhspan(*dem["reports_per_day_ci95"], color="#e63946", alpha=0.15)
        ax.set_xlabel(_t("cal_day", lang))
        ax.set_title(_t("cal_daily_title", lang, rate=dem["reports_per_day"], lo=dem["reports_per_day_ci95"][0],
                        hi=dem["reports_per_day_ci95"][1], disp=dem["dispersion_index"]))
        figs["daily.png"] = fig
        work = cal["work"]
        names = list(work)
        k = len(names) + 1
        cols = min(3, k)
        rows = int(np.ceil(k / cols))
        fig = _figure((4 * cols, 3.2 * rows))[0]
        fig.clear()
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, name in zip(axes, names):
            _dur_axes(ax, work[name], lang, _t("cal_work_title", lang, cat=name))
        _dur_axes(axes[len(names)], cal["dispatch_delay"], lang, _t("cal_delay_title", lang))
        for ax in axes[k:]:
            ax.set_visible(False)
        figs["durations.png"] = fig
        tr = cal["travel"]
        if tr.get("points"):
            fig, (a1, a2) = _figure((10, 3.8), ncols=2)
            pts = tr["points"]
            routed, obs, band = (np.asarray(pts[k]) for k in ("routed_min", "observed_min", "band"))
            bnames = tr["band_names"]
            for b in np.unique(band):
                sel = band == b
                info = tr["bands"][bnames[b]]
                a1.scatter(routed[sel], obs[sel], s=6, alpha=0.5,
                           label=f"{bnames[b]} ×{info['speed_factor']:.2f} (n={sel.sum()})")
                xs = np.linspace(0, routed.max() * 1.05, 10)
                a1.plot(xs, tr["turnout_mean"] + xs / info["speed_factor"], lw=1.5)
            a1.set_xlabel(_t("cal_routed", lang))
            a1.set_ylabel(_t("cal_observed_drive", lang))
            a1.set_title(_t("cal_travel_title", lang, turnout=tr["turnout_mean"]))
            a1.legend(fontsize=7)
            a2.hist(pts["residual_min"], bins=40, color="#8d99ae")
            a2.set_xlabel(_t("cal_residual", lang))
            a2.set_title(_t("cal_residual_title", lang, sd=tr["residual_sd"], mad=tr["residual_mad"]))
            figs["travel.png"] = fig
        fig, ax = _figure((8.5, 7))
        _roads(ax, world, lang)
        ax.scatter(cal["points"]["lon"], cal["points"]["lat"], s=4, c="#e63946", alpha=0.5, zorder=3,
                   label=_t("cal_points", lang, n=len(cal["points"]["lon"])))
        ax.legend(loc="upper right", fontsize=8)
        ax.set_title(_t("cal_map_title", lang))
        figs["places.png"] = fig
    return figs


def _img(path: Path, alt: str) -> str:
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _page(title: str, body: str, lang: str) -> str:
    from .report import CSS

    page = (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")
    return page.replace("<style>", "<style>" + fonts.web_font_css(page), 1)


def _fmt(x, d=2):
    return "–" if x is None or (isinstance(x, float) and x != x) else f"{x:.{d}f}"


def _ci(c, d=2, pct=False):
    if not c:
        return "–"
    return f"{c[0] * 100:.1f}–{c[1] * 100:.1f}%" if pct else f"{c[0]:.{d}f}–{c[1]:.{d}f}"


def calibration_page(cal: dict, world, report_dir, *, lang: str | None = None, scenario_name: str = "",
                     values: dict | None = None) -> dict:
    """Write ``calibration.html`` and ``figures/*.png`` into ``report_dir``; returns name → path."""
    lang = _lang(world.scenario, lang)
    T = catalog(lang)
    e = html.escape
    out = Path(report_dir)
    paths = {}
    figs = calibration_figures(cal, world, lang)
    for name, figure in figs.items():
        paths[name] = savefig_atomic(figure, out / "figures" / name)
    lg = cal["log"]
    dem = cal["demand"]
    q = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in lg["quarantined_by_reason"].items())
    notes = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in lg["notes"].items())
    cats = "".join(f"<tr><td>{e(c)}</td><td>{v['reports'] if v['reports'] is not None else '–'}</td>"
                   f"<td>{_fmt(v['share'], 3)}</td><td>{_ci(v['ci95'], 3)}</td>"
                   f"<td>{e(cal['work'][c].get('best') or T('cal.kept'))}</td>"
                   f"<td>{_fmt(cal['work'][c].get('mean'), 1)}</td>"
                   f"<td>{_ci(cal['work'][c].get('mean_ci95'), 1)}</td><td>{cal['work'][c]['n']}</td></tr>"
                   for c, v in cal["categories"].items())
    towns = "".join(f"<tr><td>{e(t)}</td><td>{v['reports_by_place']}</td><td>{_fmt(v['share'], 3)}</td>"
                    f"<td>{_ci(v['ci95'], 3)}</td>"
                    f"<td>{'–' if v['reports_by_log_township'] is None else v['reports_by_log_township']}</td></tr>"
                    for t, v in cal["townships"].items())
    tr = cal["travel"]
    bands = "".join(f"<tr><td>{e(b)}</td><td>{v['n']}</td><td>{_fmt(v['speed_factor'], 3)}</td>"
                    f"<td>{_ci(v['ci95'], 3)}</td>"
                    f"<td>{e(T('cal.pooled') if v.get('pooled_with') else '')}</td></tr>"
                    for b, v in (tr.get("bands") or {}).items())
    dd = cal["dispatch_delay"]
    sc = world.scenario

    def fig(key, name):
        if name not in paths:
            return ""
        return f"<section class='fig'><h2>{e(T(key))}</h2>{_img(paths[name], T(key))}</section>"

    banner = f'<div class="banner red">{e(T("banner.standin"))}</div>' if world.standin else ""
    ind = dem.get("independence") or {}
    body = f"""<h1>{e(T('cal.title', name=scenario_name))}</h1>{banner}
<p>{e(T('cal.intro', base=sc.name))}</p>
<section><h2>{e(T('cal.h_log'))}</h2><p>{e(T('cal.log_line', rows=lg['rows'], used=lg['used'], q=lg['quarantined'],
    enc=lg['encoding'], crs=str(lg['crs']), how=lg['crs_how']))}</p>
<table><tr><th>{e(T('cal.th_reason'))}</th><th>{e(T('th.reports'))}</th></tr>\
{q or f"<tr><td colspan=2>{e(T('none'))}</td></tr>"}</table>
{f"<table><tr><th>{e(T('cal.th_note'))}</th><th>{e(T('th.reports'))}</th></tr>{notes}</table>" if notes else ""}
<p><small>{e(T('cal.quarantine_file'))}</small></p></section>
<section><h2>{e(T('cal.h_rate'))}</h2><p>\
{e(T('cal.rate_line', rate=f"{dem['reports_per_day']:.2f}", lo=f"{dem['reports_per_day_ci95'][0]:.2f}",
    hi=f"{dem['reports_per_day_ci95'][1]:.2f}", n=dem['reports'], days=dem['days'],
    disp=f"{dem['dispersion_index']:.2f}"))}</p>
<p>{e(T('cal.independence', g=_fmt(ind.get('G'), 1), p=_fmt(ind.get('p'), 3)))}</p></section>
{fig('cal.h_profile', 'profile.png')}{fig('cal.h_daily', 'daily.png')}
<section><h2>{e(T('cal.h_towns'))}</h2><table><tr><th>{e(T('th.team'))}</th><th>{e(T('th.reports'))}</th><th>\
{e(T('cal.th_share'))}</th>
<th>{e(T('th.ci'))}</th><th>{e(T('cal.th_log_town'))}</th></tr>{towns}</table>
<p><small>\
{e(T('cal.towns_note', agree=_fmt((cal['township_column'] or {}).get('agreement_with_jurisdictions'), 3)))}</small></p>\
</section>
<section><h2>{e(T('cal.h_cats'))}</h2><table><tr><th>{e(T('cal.th_cat'))}</th><th>{e(T('th.reports'))}</th><th>\
{e(T('cal.th_share'))}</th>
<th>{e(T('th.ci'))}</th><th>{e(T('cal.th_family'))}</th><th>{e(T('cal.th_mean'))}</th><th>{e(T('th.ci'))}</th><th>\
{e(T('cal.th_n'))}</th></tr>{cats}</table>
<p><small>{e(T('cal.fit_note'))}</small></p></section>
{fig('cal.h_durations', 'durations.png')}
<section><h2>{e(T('cal.h_delay'))}</h2><p>\
{e(T('cal.delay_line', n=dd.get('n', 0), all=dd.get('records_with_dispatch', 0),
    best=dd.get('best') or T('cal.kept'), mean=_fmt(dd.get('mean'), 2), ci=_ci(dd.get('mean_ci95'), 2)))}</p></section>
<section><h2>{e(T('cal.h_travel'))}</h2><p>\
{e(T('cal.travel_line', n=tr.get('n', 0), turnout=_fmt(tr.get('turnout_mean'), 2),
    ci=_ci(tr.get('turnout_ci95'), 2)))}</p>
<table><tr><th>{e(T('cal.th_band'))}</th><th>{e(T('cal.th_n'))}</th><th>{e(T('cal.th_factor'))}</th><th>\
{e(T('th.ci'))}</th><th></th></tr>{bands}</table>
<p><small>{e(T('cal.travel_note'))}</small></p></section>
{fig('cal.h_travel', 'travel.png')}{fig('cal.h_places', 'places.png')}
<section><h2>{e(T('cal.h_notes'))}</h2><ul>\
{''.join(f'<li>{e(n)}</li>' for n in cal['notes']) or f"<li>{e(T('none'))}</li>"}</ul></section>
<p><small>{e(T('cal.howto'))} {e(T('map.attr_standin') if world.standin else T('map.attr_osm'))}</small></p>"""
    paths["page"] = write_text_atomic(out / "calibration.html", _page(T("cal.title", name=scenario_name), body, lang))
    return paths


# ------------------------------------------------------------------------------------------ backtest

def backtest_figures(bt: dict, sc, lang: str) -> dict:
    figs = {}
    areas = [a for a in bt["areas"] if a.get("observed_arrivals")]
    obs = np.asarray(bt["obs_response"], dtype=float)
    home = np.asarray(bt["home"])
    promise = np.asarray(bt["promise"], dtype=bool)
    names = [t.name for t in sc.teams]
    flagged = set(bt["flagged_areas"])
    with fonts.style():
        if areas:  # no report with an arrival time (e.g. a log without 到场时间): no response figures
            fig, ax = _figure((9, 0.45 * len(areas) + 1.6))
            y = np.arange(len(areas))[::-1]
            for yi, a in zip(y, areas):
                if a.get("on_time_observed") is None:
                    continue
                ax.plot(a["on_time_simulated_pi95"], [yi + 0.12] * 2, color="#2a9d8f", lw=4, alpha=0.6)
                ax.plot(a["on_time_simulated"], yi + 0.12, "o", color="#2a9d8f")
                ax.plot(a["on_time_observed_ci95"], [yi - 0.12] * 2,
                        color="#e63946" if a["area"] in flagged else "#333", lw=1.5)
                ax.plot(a["on_time_observed"], yi - 0.12, "s", color="#e63946" if a["area"] in flagged else "#333")
            ax.set_yticks(y, [(_t("bt_district", lang) if a["area"] == "district" else a["area"])
                              + (" ⚠" if a["area"] in flagged else "") for a in areas])
            ax.plot([], [], "s", color="#333", label=_t("bt_observed", lang))
            ax.plot([], [], "o", color="#2a9d8f", label=_t("bt_simulated", lang))
            ax.legend(fontsize=8, loc="lower left")
            ax.set_xlabel(_t("bt_on_time_x", lang, target=bt["target_min"]))
            ax.set_title(_t("bt_on_time_title", lang))
            figs["on_time.png"] = fig
            k = len(areas)
            cols = min(4, k)
            rows = int(np.ceil(k / cols))
            fig = _figure((3.2 * cols, 2.8 * rows))[0]
            fig.clear()
            axes = fig.subplots(rows, cols, squeeze=False).ravel()
            for ax, a in zip(axes, areas):
                sel = promise & np.isfinite(obs) & (np.ones_like(home, bool) if a["area"] == "district"
                                                    else home == names.index(a["area"]))
                o = np.sort(obs[sel])
                s = np.sort(np.asarray(bt["sim_response"][a["area"]]))
                if len(s):
                    ax.plot(s, np.linspace(0, 1, len(s)), color="#2a9d8f", lw=2, label=_t("bt_simulated", lang))
                ax.step(o, np.arange(1, len(o) + 1) / len(o), where="post",
                        color="#e63946" if a["area"] in flagged else "#333",
                        lw=1.2, label=_t("bt_observed", lang))
                ax.axvline(bt["target_min"], color="#999", ls=":", lw=1)
                ax.set_xlim(0, max(bt["target_min"] * 2.5, float(np.quantile(o, 0.98)) if len(o) else 60))
                ax.set_title(((_t("bt_district", lang) if a["area"] == "district" else a["area"])
                              + (" ⚠" if a["area"] in flagged else ""))
                             + f"\nKS D {a.get('ks_D', float('nan')):.3f}", fontsize=8)
                ax.set_xlabel(_t("cal_minutes", lang))
            axes[0].legend(fontsize=7)
            for ax in axes[k:]:
                ax.set_visible(False)
            figs["response_cdf.png"] = fig
        if bt.get("demand"):
            dm = {t: v for t, v in bt["demand"].items() if t != "district"}
            fig, ax = _figure((9, 0.45 * len(dm) + 1.6))
            y = np.arange(len(dm))[::-1]
            for yi, (t, v) in zip(y, dm.items()):
                ax.plot(v["expected_pi95"], [yi, yi], color="#2a9d8f", lw=4, alpha=0.6)
                ax.plot(v["expected"], yi, "o", color="#2a9d8f")
                ax.plot(v["observed"], yi, "s", color="#e63946" if t in flagged else "#333")
            ax.set_yticks(y, [t + (" ⚠" if t in flagged else "") for t in dm])
            ax.set_xlabel(_t("bt_reports_x", lang, days=bt["days"]))
            ax.set_title(_t("bt_demand_title", lang))
            figs["demand.png"] = fig
    return figs


def backtest_page(bt: dict, sc, out_dir, *, lang: str | None = None, standin: bool = False) -> dict:
    """Write ``backtest.html`` and ``figures/*.png`` into ``out_dir``; returns name → path."""
    lang = _lang(sc, lang)
    T = catalog(lang)
    e = html.escape
    out = Path(out_dir)
    paths = {}
    for name, figure in backtest_figures(bt, sc, lang).items():
        paths[name] = savefig_atomic(figure, out / "figures" / name)
    flagged = set(bt["flagged_areas"])
    rows = []
    for a in bt["areas"]:
        name = T("area.district") if a["area"] == "district" else a["area"]
        st = ("bt.st_" + ("flag" if a["area"] in flagged else a.get("status", "no_data")))
        cls = "missed" if a["area"] in flagged else ("met" if a.get("status") == "tested" else "undecided")
        rows.append(f"<tr class='{cls}'><td>{e(name)}</td><td>{e(T(st))}</td><td>{a.get('reports', '–')}</td>"
                    f"<td>{a.get('observed_arrivals', 0)}</td>"
                    f"<td>{_fmt(a.get('on_time_observed'), 3)} ({_ci(a.get('on_time_observed_ci95'), pct=True)})</td>"
                    f"<td>{_fmt(a.get('on_time_simulated'), 3)} ({_ci(a.get('on_time_simulated_pi95'), pct=True)})</td>"
                    f"<td>{_fmt(a.get('p90_observed'), 1)} / {_fmt(a.get('p90_simulated'), 1)}</td>"
                    f"<td>{_fmt(a.get('ks_D'), 3)}</td></tr>")
    dem = "".join(f"<tr class='{'missed' if t in flagged else 'met'}'>"
                  f"<td>{e(T('area.district') if t == 'district' else t)}</td>"
                  f"<td>{v['observed']}</td><td>{v['expected']:.1f}</td><td>{_fmt(v.get('ratio'), 2)}</td>"
                  f"<td>{v['p']:.3g}</td></tr>"
                  for t, v in (bt.get("demand") or {}).items())
    util = "".join(f"<tr><td>{e(t)}</td><td>{v['jobs_with_close']}</td><td>{_fmt(v['observed'], 3)}</td>"
                   f"<td>{_fmt(v['simulated'], 3)}</td></tr>" for t, v in bt["utilization"].items())
    verdict = (T("bt.agrees", n=sum(1 for a in bt["areas"] if a.get("status") == "tested")) if bt["agrees"] else
               T("bt.disagrees",
                 areas=", ".join(T("area.district") if a == "district" else a for a in bt["flagged_areas"])))
    dis = "".join(f"<li>{e(d['text'])}</li>" for d in bt["disagreements"])
    lg = bt["log"]

    def fig(key, name):
        if name not in paths:
            return ""
        return f"<section class='fig'><h2>{e(T(key))}</h2>{_img(paths[name], T(key))}</section>"

    banner = f'<div class="banner red">{e(T("banner.standin"))}</div>' if standin else ""
    body = f"""<h1>{e(T('bt.title', name=bt['scenario']))}</h1>{banner}
<div class="verdict {'holds' if bt['agrees'] else 'broken'}">{e(verdict)}</div>{f'<ul>{dis}</ul>' if dis else ''}
<p>{e(T('bt.intro', reps=bt['replications'], seed=bt['seed'], days=f"{bt['days']:g}", monday=bt['start_monday']))}</p>
<p>{e(T('cal.log_line', rows=lg['rows'], used=lg['used'], q=lg['quarantined'], enc=lg['encoding'],
    crs=str(lg['crs']), how=lg['crs_how']))}</p>
<section><h2>{e(T('bt.h_areas'))}</h2><table><tr><th>{e(T('th.area'))}</th><th>{e(T('th.result'))}</th><th>\
{e(T('th.reports'))}</th>
<th>{e(T('bt.th_arrivals'))}</th><th>{e(T('bt.th_obs'))}</th><th>{e(T('bt.th_sim'))}</th><th>{e(T('bt.th_p90'))}</th>\
<th>KS D</th></tr>
{''.join(rows)}</table><p><small>{e(T('bt.method'))}</small></p></section>
{fig('bt.h_on_time', 'on_time.png')}{fig('bt.h_cdf', 'response_cdf.png')}
<section><h2>{e(T('bt.h_demand'))}</h2><table><tr><th>{e(T('th.area'))}</th><th>{e(T('bt.th_observed'))}</th><th>\
{e(T('bt.th_expected'))}</th>
<th>{e(T('bt.th_ratio'))}</th><th>p</th></tr>{dem or f"<tr><td colspan=5>{e(T('none'))}</td></tr>"}</table></section>
{fig('bt.h_demand', 'demand.png')}
<section><h2>{e(T('bt.h_util'))}</h2><table><tr><th>{e(T('th.team'))}</th><th>{e(T('bt.th_jobs'))}</th><th>\
{e(T('bt.th_obs'))}</th>
<th>{e(T('bt.th_sim'))}</th></tr>{util}</table><p><small>{e(T('bt.util_note'))}</small></p></section>
<p><small>{e(T('map.attr_standin') if standin else T('map.attr_osm'))}</small></p>"""
    paths["page"] = write_text_atomic(out / "backtest.html", _page(T("bt.title", name=bt["scenario"]), body, lang))
    return paths
