"""``dispatch-sim run`` outputs: summary.json, incidents.csv, report.html (self-contained), figures/."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from . import plot, settings
from .experiments import RunResult
from .verdict import judge, verdict_json
from .io import savefig_atomic, write_csv_atomic, write_json_atomic, write_text_atomic
from .metrics import INCIDENT_COLUMNS, LATE_CAUSES


def write_outputs(run: RunResult, out_dir: str | Path, cell_m: float = 500.0) -> dict[str, Path]:
    """Write every output of a run into ``out_dir`` (atomically, file by file)."""
    from .reliability import cell_reliability, worst_cells

    out = Path(out_dir)
    figs = out / "figures"
    sc = run.world.scenario
    paths = {}
    summary = dict(run.summary)
    v = judge(summary, sc)
    summary["targets"] = [r.to_json() for r in v.rows]
    summary["verdict"] = verdict_json(v, summary)
    summary["warnings"] = list(run.world.warnings)
    cells = cell_reliability(run.incidents, run.world, cell_m)
    summary["worst_cells"] = worst_cells(cells, target=sc.targets.on_time_rate_min)
    paths["cells"] = write_json_atomic(out / "cells.geojson", cells)
    paths["summary"] = write_json_atomic(out / "summary.json", summary)
    paths["incidents"] = write_csv_atomic(out / "incidents.csv", run.incidents[INCIDENT_COLUMNS])
    import matplotlib.pyplot as plt

    figures = {
        "map.png": plot.map_figure(run.world, run.incidents[~run.incidents["warmup"]]),
        "response_cdf.png": plot.cdf_figure(run.incidents, sc.run.target_min),
        "on_time_by_hour.png": plot.hourly_figure(summary),
        "utilization.png": plot.utilization_figure(summary, sc),
        "cells.png": plot.cells_figure(run.world, cells, sc.targets.on_time_rate_min),
    }
    for name, fig in figures.items():
        paths[name] = savefig_atomic(fig, figs / name)
        plt.close(fig)
    paths["report"] = write_text_atomic(out / "report.html", render_html(summary, sc, {n: paths[n] for n in figures}))
    return paths


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _pct(x):
    return "–" if x is None else f"{x * 100:.1f}%"


def _num(x, d=1):
    return "–" if x is None or x != x else f"{x:.{d}f}"


def _met_line(v: dict) -> str:
    t = v.get("townships", {})
    n = len(t)
    counts = {s: sum(1 for x in t.values() if x["status"] == s) for s in ("met", "missed", "undecided")}
    return (f"{counts['met']} of {n} townships meet every target, {counts['missed']} miss, "
            f"{counts['undecided']} have too few reports to judge (fewer than {v.get('min_reports')}).")


def _rule_text(sc, v: dict) -> str:
    lb = sc.targets.judge == "lower_bound"
    return ("Rule: every target is judged for every township and for the district"
            + (" (scope: district: district-wide only)" if v.get("scope") == "district" else "")
            + f"; an area with fewer than {v.get('min_reports')} promise-bearing reports is undecided; "
            + ("the on-time rate is judged on the lower end of its 95% interval and response quantiles on the upper "
               "end, so a target is met only when the reports show it" if lb else "targets are judged on the estimates")
            + ". The promise HOLDS when no target is missed anywhere.")


def render_html(summary: dict, sc, figures: dict) -> str:
    e = html.escape
    g = summary["graph"]
    v = summary["verdict"]
    banners = []
    if g.get("standin"):
        banners.append(f'<div class="banner red">{e(settings.standin_label)}. Import or download the real Nanhu road '
                       f'graph (README: "Getting the Nanhu road graph") before drawing conclusions.</div>')
    unver = [b["team"] for b in g["bases"] if b["unverified"]]
    if unver:
        banners.append(f'<div class="banner amber">Base coordinates are UNVERIFIED estimates (±2 km) for: '
                       f'{e(", ".join(unver))}. Replace them before relying on these teams\' figures.</div>')
    for w in summary.get("warnings", [])[:10]:
        banners.append(f'<div class="banner grey">{e(w)}</div>')
    rows = []
    towns = v.get("townships", {})
    status_label = {"met": "meets", "missed": "MISSES", "undecided": "not enough reports", None: "–"}
    for t in sc.teams:
        b = summary["by_team"][t.name]
        ci = b["ci95"]
        tw = towns.get(t.name, {})
        st = tw.get("status")
        why = "; ".join(f"{k.replace('_', ' ')}: {x['status']}" + (f" ({x['reason']})" if x.get("reason") else "")
                        for k, x in tw.get("targets", {}).items())
        wt = b.get("wait_min") or {}
        rows.append(f"<tr class='{st or 'none'}'><td>{e(t.name)} {e(t.name_en or '')}{' (backup)' if t.backup else ''}</td>"
                    f"<td title='{e(why)}'>{e(status_label.get(st, st))}</td>"
                    f"<td>{b['known_outcome']}</td><td>{_pct(b['rate'])}</td>"
                    f"<td>{'–' if not ci else f'{ci[0]*100:.1f}–{ci[1]*100:.1f}%'}</td>"
                    f"<td>{_num(b['response_min']['p90'])}</td>"
                    f"<td>{_num(wt.get('p95'))}</td><td>{_num(wt.get('p99'))}</td><td>{_num(wt.get('max'))}</td>"
                    f"<td>{_pct(b['utilization'])}</td><td>{_pct(b.get('committed'))}</td>"
                    f"<td>{b['served_by_others']}</td><td>{b['helped_others']}</td></tr>")
    status_cls = {"met": "ok", "missed": "bad", "undecided": "und"}
    trow = "".join(f"<tr><td>{e(r['area'])}</td><td>{e(r['target'].replace('_', ' '))}</td><td>{e(r['required'])}</td>"
                   f"<td>{_num(r['estimate'], 3)}</td><td>{_num(r['value'], 3)}</td>"
                   f"<td class={status_cls[r['status']]}>{e(r['status'] if not r['reason'] else r['reason'])}</td></tr>"
                   for r in summary["targets"] if r["status"] != "met" or r["area"] == "district")
    causes = "".join(f"<tr><td>{e(k.replace('_', ' '))}</td><td>{n}</td></tr>" for k, n in summary["late_causes"].items())
    worst = "".join(f"<tr><td>{e(c.get('place') or c['cell'])}</td><td>{c['reports']}</td><td>{c['late']}</td>"
                    f"<td>{_pct(c['rate'])}</td><td>{c['ci95'][0] * 100:.0f}–{c['ci95'][1] * 100:.0f}%</td>"
                    f"<td>{c['p_below_target'] * 100:.0f}%</td><td>{_num(c['p90_response_min'])}</td>"
                    f"<td>{e(max(LATE_CAUSES, key=lambda k: c[k]).replace('_', ' ') if c['late'] else '–')}</td></tr>"
                    for c in summary.get("worst_cells", []))
    late_np = int(summary["reports"].get("late_without_promise", 0))
    aid = summary.get("mutual_aid") or {"pairs": []}
    aid_rows = "".join(f"<tr><td>{e(p['helper'])} → {e(p['home_team'])}</td><td>{p['reports']}</td>"
                       f"<td>{p['crew_hours']:.1f}</td><td>{p['crew_hours_per_day']:.2f}</td></tr>" for p in aid["pairs"][:15])
    rep = summary["reports"]
    assumptions = "".join(f"<li>{e(a)}</li>" for a in sc.assumptions) or "<li>none listed</li>"
    r = summary["response_min"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>dispatch_sim — {e(sc.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.banner{{padding:.6em 1em;margin:.5em 0;border-radius:4px}}
.red{{background:#fde2e4;border:1px solid #e63946}}.amber{{background:#fff3cd;border:1px solid #e9c46a}}
.grey{{background:#f1f1f1}}.verdict{{font-size:1.3em;font-weight:600;padding:.8em;border-radius:6px}}
.holds{{background:#d8f3dc}}.broken{{background:#fde2e4}}.undecided{{background:#fff3cd}}
.ok{{color:#2a9d8f}}.bad{{color:#e63946;font-weight:600}}.und{{color:#9a6700}}
tr.met td:nth-child(2){{background:#d8f3dc}}tr.missed td:nth-child(2){{background:#fde2e4;font-weight:600}}
tr.undecided td:nth-child(2){{background:#fff3cd}}
img{{max-width:100%}}small{{color:#666}}</style></head><body>
<h1>{e(sc.name)}</h1>
{''.join(banners)}
<div class="verdict {'holds' if v['holds'] else 'broken' if v['holds'] is False else 'undecided'}">{e(v['text'])}</div>
<p>{summary['replications']} replications × {sc.run.horizon_days:g} days (first {sc.run.warmup_days:g} day(s) warm-up),
seed {summary['seed']}, load ×{summary['load']:g}, policy <b>{e(summary['policy'])}</b>.
Response p50 {_num(r['p50'])} min, p90 {_num(r['p90'])} min (95% CI {_num(r['p90_ci95'][0])}–{_num(r['p90_ci95'][1])}),
p95 {_num(r['p95'])} min, max {_num(r['max'])} min.</p>
<h2>By township (home team of the report's place)</h2>
<p>The promise is made by each township to its own residents: every target is judged for every township.
{_met_line(v)}</p>
<table class="towns"><tr><th>township team</th><th>promise</th><th>reports</th><th>on time</th><th>95% CI</th><th>p90 min</th>
<th>wait p95 min</th><th>wait p99 min</th><th>wait max min</th><th>busy</th><th>committed</th><th>served by others</th><th>helped others</th></tr>{''.join(rows)}</table>
<p><small>Busy: share of on-duty time a crew is unavailable (driving to a report and on site). Committed: busy plus
driving back to base, when it can be sent on. Wait: from the platform's dispatch to a crew being sent.</small></p>
<h2>Targets</h2><p>District rows, and every township row that is not met.</p>
<table><tr><th>area</th><th>target</th><th>required</th><th>estimate</th><th>judged value</th><th>result</th></tr>{trow or '<tr><td colspan=6>no targets set</td></tr>'}</table>
<p><small>{e(_rule_text(sc, v))}</small></p>
<h2>Why reports were late</h2><table><tr><th>cause</th><th>reports</th></tr>{causes}</table>
<h2>Where</h2>{_img(figures['map.png'])}
<h2>Where the circle breaks</h2><p>Simulated on-time rate per grid cell (cells.geojson). The places with the strongest
evidence of missing the target, ranked by the probability that their true on-time rate is below it (so a rural cell
with 3 reports and 2 late shows, and a busy cell with one late report in 200 does not):</p>
<table><tr><th>place (township: nearest named road, or distance from its base)</th><th>reports</th><th>late</th><th>on time</th><th>95% CI</th>
<th>P(rate below target)</th><th>p90 min</th><th>main late cause</th></tr>{worst or '<tr><td colspan=8>no late report with the promise</td></tr>'}</table>
<p><small>Promise-bearing reports after the warm-up, as in every rate on this page; {late_np} late report(s) without the
promise are not counted here.</small></p>
{_img(figures['cells.png'])}
<h2>Help across township lines</h2><table><tr><th>helper → home team</th><th>reports</th><th>crew-hours</th><th>per day</th></tr>{aid_rows or '<tr><td colspan=4>none</td></tr>'}</table>
<p><small>Crew time from dispatch to clearing the scene; the drive back is not counted.</small></p>
<h2>How fast</h2>{_img(figures['response_cdf.png'])}
<h2>When</h2>{_img(figures['on_time_by_hour.png'])}
<h2>Crews</h2>{_img(figures['utilization.png'])}
<h2>Accounting</h2><p>{rep['total']} reports arrived = {rep['served']} served + {rep['open_at_horizon']} still open at the horizon.
{rep['warmup_excluded']} in the warm-up and {rep['without_promise']} without the promise are not in the rates;
{rep['censored_open_younger_than_target']} open reports younger than the target have no outcome yet.</p>
<h2>Road graph</h2><p>{e(g['kind'])}: {g['nodes']} nodes, {g['edges']} edges; {e(g['source'])}.
Dropped while cleaning: {g['dropped_nodes']} nodes outside the largest strongly connected component. <small>{e(g['attribution'])}</small></p>
<h2>Assumptions</h2><ul>{assumptions}</ul>
<p><small>Generated by dispatch_sim from {e(str(summary.get('scenario_file') or ''))}. {e(settings.osm_attribution)} where real roads are shown.
Team base coordinates: GeoNames (CC BY 4.0) where a geonameid is cited.</small></p>
</body></html>
"""
