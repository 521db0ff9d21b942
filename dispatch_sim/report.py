"""The report page of ``dispatch-sim run`` (its files are written by :func:`dispatch_sim.output.write_run`).

The report is one self-contained file a planner can send by message: figures inlined as PNG, an
interactive map drawn from the road graph as inline SVG (:mod:`dispatch_sim.webmap`), no request to
any server when it opens. Every word comes from the message catalogue (:mod:`dispatch_sim.i18n`) in
the scenario's language (``report.lang``, or ``--lang``). Print CSS keeps tables whole and headings
with their figures.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import os
from pathlib import Path

import pandas as pd

from . import fonts, settings
from .i18n import catalog
from .metrics import LATE_CAUSES
from .webmap import MAP_CSS

TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
CLOCK_COLUMNS = {"created_min": "created_at", "dispatched_min": "dispatched_at", "arrived_min": "arrived_at",
                 "cleared_min": "cleared_at"}


def tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("dispatch_sim")
    except Exception:  # running from a source tree that is not installed
        return "unknown"


def provenance(sc) -> dict:
    """Tool version, run date, the scenario file relative to the working folder and a hash of the
    resolved scenario (every field after ``extends`` and defaults), for ``summary.json`` and the report."""
    resolved = sc.model_dump_json().encode("utf-8")
    f = sc.source_file
    rel = None
    if f:
        try:
            rel = os.path.relpath(f)
        except ValueError:  # another drive on Windows
            rel = Path(f).name
    return {"tool": "dispatch_sim", "version": tool_version(),
            "run_date": dt.datetime.now(TZ).isoformat(timespec="seconds"),
            "scenario_file": rel, "scenario_sha256": hashlib.sha256(resolved).hexdigest()}


def clock_times(incidents: pd.DataFrame, start_date: str) -> pd.DataFrame:
    """The incident table with ISO 8601 clock times (Asia/Shanghai) next to the minutes."""
    t0 = pd.Timestamp(start_date).tz_localize(TZ)
    out = incidents.copy()
    for col, name in CLOCK_COLUMNS.items():
        ts = t0 + pd.to_timedelta(out[col], unit="min")
        out[name] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\+\d\d)(\d\d)$", r"\1:\2", regex=True)
    return out


def _img(path: Path, alt: str = "") -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt or path.name)}" src="data:image/png;base64,{data}">'


def _pct(x):
    return "–" if x is None else f"{x * 100:.1f}%"


def _num(x, d=1):
    return "–" if x is None or x != x else f"{x:.{d}f}"


def _met_line(v: dict, T) -> str:
    t = v.get("townships", {})
    counts = {s: sum(1 for x in t.values() if x["status"] == s) for s in ("met", "missed", "undecided")}
    return T("p.met_line", met=counts["met"], n=len(t), missed=counts["missed"], und=counts["undecided"],
             need=v.get("min_reports"))


def _rule_text(sc, v: dict, T) -> str:
    lb = sc.targets.judge == "lower_bound"
    return (T("rule.intro") + (T("rule.scope_district") if v.get("scope") == "district" else "")
            + T("rule.min", need=v.get("min_reports")) + (T("rule.lower") if lb else T("rule.point")) + T("rule.end"))


def _result_text(row: dict, T) -> str:
    """One target's result in the targets table: the status, or why it is not met."""
    from .verdict import NOT_SHOWN

    if row["reason"] == NOT_SHOWN:
        return T("status.not_shown")
    if row["status"] == "undecided":
        return f"{T('status.undecided')} ({row['reports']})"
    return T("status." + row["status"]) + (f" ({row['reason']})" if row["reason"] else "")


def _township_status(tw: dict, T) -> tuple[str, str]:
    """CSS class and label of a township row: met, missed (or not shown), undecided."""
    from .verdict import NOT_SHOWN

    st = tw.get("status")
    if st == "missed":
        shown = any(x["status"] == "missed" and x["reason"] != NOT_SHOWN for x in tw["targets"].values())
        return "missed", T("status.missed") if shown else T("status.not_shown")
    return (st or "none"), T(f"status.{st or 'none'}")


CSS = """body{font-family:"dispatch_sim CJK",system-ui,"Microsoft YaHei","PingFang SC","Noto Sans CJK SC",\
"Noto Sans SC",sans-serif;
max-width:1060px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.banner{padding:.6em 1em;margin:.5em 0;border-radius:4px}
.red{background:#fde2e4;border:1px solid #e63946}.amber{background:#fff3cd;border:1px solid #e9c46a}
.grey{background:#f1f1f1}.verdict{font-size:1.25em;font-weight:600;padding:.8em;border-radius:6px}
.holds{background:#d8f3dc}.broken{background:#fde2e4}.undecided{background:#fff3cd}
.ok{color:#2a9d8f}.bad{color:#e63946;font-weight:600}.und{color:#9a6700}
tr.met td:nth-child(2){background:#d8f3dc}tr.missed td:nth-child(2){background:#fde2e4;font-weight:600}
tr.undecided td:nth-child(2){background:#fff3cd}
img{max-width:100%}small{color:#666}section{margin-bottom:1.2em}button,input,svg text{font-family:inherit}
@media print{body{max-width:none;margin:0}h2,h3{break-after:avoid;page-break-after:avoid}
table,tr,img,figure{break-inside:avoid;page-break-inside:avoid}section.fig{break-inside:avoid;page-break-inside:avoid}
.banner,.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def render_html(summary: dict, sc, figures: dict, lang: str = "en", webmap: str = "") -> str:
    """The report page in ``lang`` from a finished summary (with its verdict) and the figure files."""
    e = html.escape
    T = catalog(lang)
    g = summary["graph"]
    v = summary["verdict"]
    banners = []
    if g.get("standin"):
        banners.append(f'<div class="banner red">{e(T("banner.standin"))}</div>')
    unver = [b["team"] for b in g["bases"] if b["unverified"]]
    if unver:
        banners.append(f'<div class="banner amber">{e(T("banner.unverified", names=", ".join(unver)))}</div>')
    for w in summary.get("warnings", [])[:10]:
        if "STAND-IN" in w:  # said once, in the red banner above
            continue
        banners.append(f'<div class="banner grey">{e(w)}</div>')
    rows = []
    towns = v.get("townships", {})
    for t in sc.teams:
        b = summary["by_team"][t.name]
        ci = b["ci95"]
        tw = towns.get(t.name, {})
        cls, label = _township_status(tw, T) if tw else ("none", T("status.none"))
        why = "; ".join(f"{T('target.' + k)}: {x['status']}" + (f" ({x['reason']})" if x.get("reason") else "")
                        for k, x in tw.get("targets", {}).items())
        wt = b.get("wait_min") or {}
        rows.append(f"<tr class='{cls}'><td>{e(t.name)} {e(t.name_en or '') if lang == 'en' else ''}"
                    f"{_team_tag(t, T)}</td><td title='{e(why)}'>{e(label)}</td>"
                    f"<td>{b['known_outcome']}</td><td>{_pct(b['rate'])}</td>"
                    f"<td>{'–' if not ci else f'{ci[0]*100:.1f}–{ci[1]*100:.1f}%'}</td>"
                    f"<td>{_num(b['response_min']['p90'])}</td>"
                    f"<td>{_num(wt.get('p95'))}</td><td>{_num(wt.get('p99'))}</td><td>{_num(wt.get('max'))}</td>"
                    f"<td>{_pct(b['utilization'])}</td><td>{_pct(b.get('committed'))}</td>"
                    f"<td>{b['served_by_others']}</td><td>{b['helped_others']}</td></tr>")
    status_cls = {"met": "ok", "missed": "bad", "undecided": "und"}
    trow = "".join(
        f"<tr><td>{e(T('area.district') if r['area'] == 'district' else r['area'])}</td>"
        f"<td>{e(T('target.' + r['target']))}</td><td>{e(r['required'])}</td>"
        f"<td>{_num(r['estimate'], 3)}</td><td>{_num(r['value'], 3)}</td>"
        f"<td class={status_cls[r['status']]}>{e(_result_text(r, T))}</td></tr>"
        for r in summary["targets"] if r["status"] != "met" or r["area"] == "district")
    causes = "".join(f"<tr><td>{e(T('cause.' + k))}</td><td>{n}</td></tr>" for k, n in summary["late_causes"].items())
    worst = "".join(f"<tr><td>{e(c.get('place') or c['cell'])}</td><td>{c['reports']}</td><td>{c['late']}</td>"
                    f"<td>{_pct(c['rate'])}</td><td>{c['ci95'][0] * 100:.0f}–{c['ci95'][1] * 100:.0f}%</td>"
                    f"<td>{c['p_below_target'] * 100:.0f}%</td><td>{_num(c['p90_response_min'])}</td>"
                    f"<td>{e(T('cause.' + max(LATE_CAUSES, key=lambda k: c[k])) if c['late'] else '–')}</td></tr>"
                    for c in summary.get("worst_cells", []))
    late_np = int(summary["reports"].get("late_without_promise", 0))
    aid = summary.get("mutual_aid") or {"pairs": []}
    aid_rows = "".join(f"<tr><td>{e(p['helper'])} → {e(p['home_team'])}</td><td>{p['reports']}</td>"
                       f"<td>{p['crew_hours']:.1f}</td><td>{p['crew_hours_per_day']:.2f}</td></tr>"
                       for p in aid["pairs"][:15])
    rep = summary["reports"]
    assumptions = "".join(f"<li>{e(a)}</li>" for a in sc.assumptions) or f"<li>{e(T('none_listed'))}</li>"
    r = summary["response_min"]
    vcls = "holds" if v["holds"] else "broken" if v["holds"] is False else "undecided"
    kind = T("graph." + g["kind"]) if ("graph." + g["kind"]) in _KINDS else g["kind"]

    def th(*keys):
        return "<tr>" + "".join(f"<th>{e(T(k))}</th>" for k in keys) + "</tr>"

    def fig(key, name):
        return f'<section class="fig"><h2>{e(T(key))}</h2>{_img(figures[name], T(key))}</section>'

    run_line = T("page.run_line", reps=summary["replications"], days=f"{sc.run.horizon_days:g}",
                 warm=f"{sc.run.warmup_days:g}", seed=summary["seed"], load=f"{summary['load']:g}",
                 policy=e(summary["policy"]), p50=_num(r["p50"]), p90=_num(r["p90"]), p90lo=_num(r["p90_ci95"][0]),
                 p90hi=_num(r["p90_ci95"][1]), p95=_num(r["p95"]), max=_num(r["max"]))
    prov = T("p.provenance", version=e(str(summary.get("version"))), date=e(str(summary.get("run_date"))),
             file=e(str(summary.get("scenario_file") or "–")), hash=e(str(summary.get("scenario_sha256", ""))[:12]))
    page = f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(T('page.title', name=sc.name))}</title>
<style>{CSS}{MAP_CSS}</style></head><body>
<h1>{e(sc.name)}</h1>
{''.join(banners)}
<div class="verdict {vcls}">{e(v['text'])}</div>
<p>{run_line}</p>
<section><h2>{e(T('h.townships'))}</h2>
<p>{e(T('p.townships'))} {e(_met_line(v, T))}</p>
<table class="towns">{th('th.team', 'th.promise', 'th.reports', 'th.on_time', 'th.ci', 'th.p90', 'th.wait95',
                      'th.wait99', 'th.waitmax', 'th.busy', 'th.committed', 'th.served_by_others',
                      'th.helped_others')}{''.join(rows)}</table>
<p><small>{e(T('p.busy_note'))}</small></p></section>
<section><h2>{e(T('h.map'))}</h2><p><small>{e(T('p.map'))}</small></p>{webmap}</section>
<section><h2>{e(T('h.targets'))}</h2><p>{e(T('p.targets'))}</p>
<table>{th('th.area', 'th.target', 'th.required', 'th.estimate', 'th.judged', 'th.result')}\
{trow or f'<tr><td colspan=6>{e(T("no_targets"))}</td></tr>'}</table>
<p><small>{e(_rule_text(sc, v, T))}</small></p></section>
<section><h2>{e(T('h.causes'))}</h2><table>{th('th.cause', 'th.reports')}{causes}</table></section>
<section><h2>{e(T('h.breaks'))}</h2><p>{e(T('p.breaks'))}</p>
<table>{th('th.place', 'th.reports', 'th.late', 'th.on_time', 'th.ci', 'th.p_below', 'th.p90', 'th.main_cause')}\
{worst or f'<tr><td colspan=8>{e(T("no_late"))}</td></tr>'}</table>
<p><small>{e(T('p.breaks_note', n=late_np))}</small></p></section>
{fig('h.breaks', 'cells.png')}
{fig('h.where', 'map.png')}
<section><h2>{e(T('h.aid'))}</h2><table>{th('th.helper', 'th.reports', 'th.crew_hours', 'th.per_day')}\
{aid_rows or f'<tr><td colspan=4>{e(T("none"))}</td></tr>'}</table>
<p><small>{e(T('p.aid_note'))}</small></p></section>
{system_section(summary, T)}
{fig('h.fast', 'response_cdf.png')}
{fig('h.when', 'on_time_by_hour.png')}
{fig('h.crews', 'utilization.png')}
<section><h2>{e(T('h.accounting'))}</h2><p>\
{e(T('p.accounting', total=rep['total'], served=rep['served'], open=rep['open_at_horizon'],
    warm=rep['warmup_excluded'], np=rep['without_promise'], cens=rep['censored_open_younger_than_target']))}</p>\
</section>
<section><h2>{e(T('h.graph'))}</h2><p>\
{e(T('p.graph', kind=kind, nodes=g['nodes'], edges=g['edges'], source=g['source'], dropped=g['dropped_nodes']))}
<small>{e(g['attribution'])}</small></p></section>
<section><h2>{e(T('h.assumptions'))}</h2><ul>{assumptions}</ul></section>
<p><small>{prov} {e(settings.osm_attribution)}. {e(T('p.sources'))}</small></p>
</body></html>
"""
    # the page carries the CJK glyphs it uses, so it reads on a machine without a Chinese font
    return page.replace("<style>", "<style>" + fonts.web_font_css(page), 1)


_KINDS = {"graph.stand-in", "graph.osm", "graph.file"}


def _team_tag(t, T) -> str:
    """The label after a team's name in the township table: backup squad, district team, own area."""
    if t.backup:
        return T("backup") if t.backs_up and not t.handles else T("district_team")
    return T("area_team") if t.jurisdiction else ""


def system_section(summary: dict, T) -> str:
    """The enforcement system's rows (issue 18): scenic-area and other polygon teams, the staff split,
    district teams, referred reports (apart, outside the promise), joint checks (first and last
    arrival) and planned inspections. Empty when the scenario uses none of it."""
    es = summary.get("enforcement")
    if not es:
        return ""
    e = html.escape
    sep = ", " if T.lang == "en" else "、"
    parts = [f"<section><h2>{e(T('h.system'))}</h2>"]
    if es.get("area_teams"):
        parts.append(f"<p>{e(T('p.area_teams', names=sep.join(es['area_teams'])))}</p>")
    stf = es.get("staffing")
    if stf:
        fixed = T("p.staffing_fixed", names=sep.join(stf["fixed_teams"])) if stf["fixed_teams"] else ""
        text = T('p.staffing', total=stf['total_crews'], share=_pct(stf['moved_down_share']),
                 town=stf['township_crews'], dist=stf['district_crews'], fixed=fixed)
        parts.append(f"<p>{e(text)}</p>")
    if es.get("district_teams"):
        head = "".join(f"<th>{e(T(k))}</th>" for k in ("th.district_team", "th.crews", "th.backs_up", "th.handles",
                                                       "th.busy", "th.referrals_served", "th.township_served",
                                                       "th.joint_crews"))
        rows = "".join(
            f"<tr><td>{e(d['team'])}{' ' + e(d['team_en']) if T.lang == 'en' and d.get('team_en') else ''}</td>"
            f"<td>{d['crews']}</td><td>{e(T('yes') if d['backs_up'] else T('no'))}</td>"
            f"<td>{e(sep.join(d['handles']) or '–')}</td><td>{_pct(d['utilization'])}</td>"
            f"<td>{d['referrals_served']}</td><td>{d['township_reports_served']}</td><td>{d['joint_check_crews']}</td></tr>"
            for d in es["district_teams"])
        parts.append(f"<h3>{e(T('h.district'))}</h3><table><tr>{head}</tr>{rows}</table>")
    ref = es.get("referred")
    if ref:
        by = sep.join(f"{k} {v}" for k, v in ref["by_team"].items()) or "–"
        r, a = ref["response_min"], ref["after_referral_min"]
        text = T('p.referred', n=ref['reports'], served=ref['served'], p50=_num(r['p50']), p90=_num(r['p90']),
                 a50=_num(a['p50']), a90=_num(a['p90']), by=by)
        parts.append(f"<h3>{e(T('h.referred'))}</h3><p>{e(text)}</p>")
    j = es.get("joint")
    if j:
        by = sep.join(f"{k} {v}" for k, v in j["crews_by_team"].items()) or "–"
        ci = f" ({j['ci95'][0] * 100:.1f}–{j['ci95'][1] * 100:.1f}%)" if j.get("ci95") else ""
        f, l_ = j["first_arrival_min"], j["last_arrival_min"]
        text = T('p.joint', n=j['reports'], on=j['on_site'], f50=_num(f['p50']), f90=_num(f['p90']),
                 l50=_num(l_['p50']), l90=_num(l_['p90']), rate=_pct(j['rate']), ci=ci, by=by)
        parts.append(f"<h3>{e(T('h.joint'))}</h3><p>{e(text)}</p>")
    pl = es.get("planned")
    if pl:
        by = sep.join(f"{k} {v:.1f}" for k, v in pl["by_team"].items()) or "–"
        text = T('p.planned', sessions=pl['sessions'], hours=format(pl['crew_hours'], '.1f'),
                 per_day=format(pl['crew_hours_per_day'], '.2f'), objects=pl['objects'],
                 recall=T('yes') if pl['recall'] else T('no'), recalls=pl['recalls'], by=by)
        parts.append(f"<h3>{e(T('h.planned'))}</h3><p>{e(text)}</p>")
    parts.append("</section>")
    return "".join(parts)
