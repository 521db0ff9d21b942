"""An interactive map inside ``report.html`` that works with no network at all.

Planners in district offices often cannot reach foreign CDNs or tile servers, and share the report
as one file. So the map is drawn from the scenario's own road graph as inline SVG (no tiles, no
library): layers for roads, township jurisdictions, on-time cells, late reports and bases, each
toggled by a checkbox; the mouse wheel or the +/− buttons zoom, dragging pans, and a click on a
late report or a cell shows what it is. The few lines of script are written here and embedded in
the page; nothing is fetched when it opens.

Coordinates are projected once to local metres (equirectangular around the graph's centre, the
same projection as :func:`dispatch_sim.roads.local_xy`) and written as integers in units of 5 m,
which keeps a 20k-edge district graph near half a megabyte per road layer.
"""

from __future__ import annotations

import html
import json

import numpy as np

from .geodesy import local_xy

UNIT_M = 5.0  #: SVG user unit in metres
TEAM_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]
MAX_LATE_POINTS = 4000  #: late reports drawn; beyond it a sample, and the map says so


def _rate_color(rate: float, goal: float) -> str:
    if rate >= goal:
        return "#2a9d8f"
    if rate >= goal - 0.1:
        return "#e9c46a"
    if rate >= goal - 0.3:
        return "#f4a261"
    return "#e63946"


class _Proj:
    def __init__(self, lon, lat):
        self.lat0 = float(np.mean(lat))
        x, y = local_xy(lon, lat, self.lat0)
        self.x0, self.y1 = float(np.min(x)), float(np.max(y))
        self.w = (float(np.max(x)) - self.x0) / UNIT_M
        self.h = (self.y1 - float(np.min(y))) / UNIT_M

    def __call__(self, lon, lat):
        x, y = local_xy(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), self.lat0)
        return np.rint((x - self.x0) / UNIT_M).astype(np.int64), np.rint((self.y1 - y) / UNIT_M).astype(np.int64)


def _segments_path(x, y, u, v) -> str:
    return "".join(f"M{a} {b}L{c} {d}" for a, b, c, d in zip(x[u], y[u], x[v], y[v]))


def interactive_map(world, incidents, cells: dict | None, summary: dict, labels: dict, lang: str = "en") -> str:
    """The HTML fragment (a ``<div>`` with inline SVG and script) of the report's interactive map.

    Parameters
    ----------
    world
        The run's :class:`~dispatch_sim.model.World` (graph, router, jurisdictions, bases).
    incidents
        The incident table (all replications); warm-up reports are left out.
    cells
        ``cells.geojson`` of the run (on-time rate per grid cell), or None.
    summary
        The run summary with its verdict (township statuses colour the legend).
    labels
        Translated labels: ``roads``, ``jurisdictions``, ``cells``, ``late``, ``bases``, ``reset``,
        ``hint``, ``sampled``, and the popup field names ``id``, ``time``, ``township``, ``crew``,
        ``response``, ``cause``, ``reports``, ``on_time``.
    """
    e = html.escape
    r = world.router
    sc = world.scenario
    proj = _Proj(r.lon, r.lat)
    x, y = proj(r.lon, r.lat)
    eu, ev, _ = r._edges
    keep = eu < ev  # one line per road, not per direction
    back = ~keep
    pairs = set(zip(eu[keep].tolist(), ev[keep].tolist()))
    one_way = np.array([(b, a) not in pairs for a, b in zip(eu[back].tolist(), ev[back].tolist())], dtype=bool)
    u = np.concatenate([eu[keep], ev[back][one_way]])
    v = np.concatenate([ev[keep], eu[back][one_way]])
    roads = _segments_path(x, y, u, v)
    team_of = world.node_team[u]
    juris = []
    for i, t in enumerate(sc.teams):
        sel = team_of == i
        if t.backup or not sel.any():
            continue
        juris.append(f'<path stroke="{TEAM_COLORS[i % len(TEAM_COLORS)]}" d="{_segments_path(x, y, u[sel], v[sel])}"/>')
    goal = sc.targets.on_time_rate_min if sc.targets.on_time_rate_min is not None else 0.9
    cell_svg = []
    if cells:
        for f in cells["features"]:
            p = f["properties"]
            ring = np.asarray(f["geometry"]["coordinates"][0])
            cx, cy = proj(ring[:, 0], ring[:, 1])
            info = json.dumps({labels["township"]: p.get("place") or p["home_team"], labels["reports"]: p["reports"],
                               labels["on_time"]: f"{p['rate'] * 100:.0f}% "
                                                  f"({p['ci95'][0] * 100:.0f}–{p['ci95'][1] * 100:.0f}%)"},
                              ensure_ascii=False)
            cell_svg.append(f'<rect x="{cx.min()}" y="{cy.min()}" width="{cx.max() - cx.min()}" '
                            f'height="{cy.max() - cy.min()}" fill="{_rate_color(p["rate"], goal)}" '
                            f'data-i="{e(info)}"/>')
    inc = incidents[~incidents["warmup"].astype(bool)]
    late = inc[inc["promise"].astype(bool) & (inc["on_time"] == False)]  # noqa: E712
    sampled = ""
    if len(late) > MAX_LATE_POINTS:
        sampled = labels["sampled"].format(shown=MAX_LATE_POINTS, total=len(late))
        late = late.sample(MAX_LATE_POINTS, random_state=0)
    lx, ly = proj(late["lon"].to_numpy(float), late["lat"].to_numpy(float))
    dots = []
    for (_, row), px, py in zip(late.iterrows(), lx, ly):
        resp = row["response_min"]
        info = json.dumps({labels["id"]: f"{int(row['replication'])}/{int(row['report_id'])}",
                           labels["time"]: row.get("created_at") or f"{row['created_min']:.0f} min",
                           labels["township"]: row["home_team"], labels["crew"]: row["crew"] or "–",
                           labels["response"]: "–" if resp != resp else f"{resp:.1f} min",
                           labels["cause"]: labels.get("cause_" + str(row["late_cause"]), str(row["late_cause"]))},
                          ensure_ascii=False)
        dots.append(f'<circle cx="{px}" cy="{py}" r="40" data-i="{e(info)}"/>')
    bx, by = proj(r.lon[world.base_idx], r.lat[world.base_idx])
    bases = []
    towns = (summary.get("verdict") or {}).get("townships", {})
    for i, t in enumerate(sc.teams):
        st = towns.get(t.name, {}).get("status")
        mark = {"missed": " ✗", "undecided": " ?", "met": " ✓"}.get(st, "")
        tip = f"{i + 1} {t.name}" + (f" ({labels['unverified']})" if t.unverified else "") + mark
        # numbered markers (the old-town bases are too close for names), named in the legend below
        bases.append(f'<g transform="translate({bx[i]},{by[i]})"><title>{e(tip)}</title>'
                     f'<rect x="-110" y="-110" width="220" height="220" rx="30" '
                     f'fill="{"#fff" if t.unverified else "#1d3557"}" stroke="#1d3557" stroke-width="24"/>'
                     f'<text text-anchor="middle" y="55" fill="{"#1d3557" if t.unverified else "#fff"}">{i + 1}</text>'
                     f'<text x="130" y="-90" font-size="150">{e(mark.strip())}</text></g>')
    legend = "".join(f'<span><i style="background:{TEAM_COLORS[i % len(TEAM_COLORS)]}"></i>{i + 1} {e(t.name)}'
                     f'{" (" + e(labels["unverified"]) + ")" if t.unverified else ""}</span>'
                     for i, t in enumerate(sc.teams))
    attribution = e(labels["attribution"])
    w_, h_ = int(proj.w) + 1, int(proj.h) + 1
    layer_boxes = "".join(
        f'<label><input type="checkbox" data-layer="{k}"{" checked" if on else ""}> {e(labels[k])}</label>'
        for k, on in (("roads", True), ("jurisdictions", False), ("cells", True), ("late", True), ("bases", True)))
    return f"""<div class="wmap" id="wmap">
<div class="wmap-bar">{layer_boxes}<button data-z="1.5">+</button><button data-z="0.667">−</button>
<button data-z="0">{e(labels['reset'])}</button><small>\
{e(labels['hint'])}{(' ' + e(sampled)) if sampled else ''}</small></div>
<svg viewBox="0 0 {w_} {h_}" preserveAspectRatio="xMidYMid meet">
<g data-layer="roads" fill="none" stroke="#b8b8b8" stroke-width="12"><path d="{roads}"/></g>
<g data-layer="jurisdictions" fill="none" stroke-width="22" style="display:none">{''.join(juris)}</g>
<g data-layer="cells" fill-opacity="0.55">{''.join(cell_svg)}</g>
<g data-layer="late" fill="#e63946" fill-opacity="0.85" stroke="#fff" stroke-width="8">{''.join(dots)}</g>
<g data-layer="bases" font-size="160" font-weight="bold" font-family="sans-serif">{''.join(bases)}</g>
</svg>
<div class="wmap-pop" hidden></div>
<div class="wmap-legend">{legend}<span>■ {e(labels['bases'])} □ {e(labels['unverified'])} ✓ \
{e(labels.get('status_met', 'meets'))} ✗ {e(labels.get('status_missed', 'misses'))} ? \
{e(labels.get('status_undecided', 'undecided'))}</span></div>
<div class="wmap-attr">{attribution}</div>
</div>
<script>
(function () {{
  var root = document.getElementById("wmap"), svg = root.querySelector("svg"), pop = root.querySelector(".wmap-pop");
  var full = [0, 0, {w_}, {h_}], vb = full.slice(), drag = null;
  function set() {{ svg.setAttribute("viewBox", vb.join(" ")); }}
  function zoom(f, cx, cy) {{
    if (f === 0) {{ vb = full.slice(); set(); return; }}
    if (cx === undefined) {{ cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }}
    var w = vb[2] / f, h = vb[3] / f;
    if (w > full[2] * 1.5 || w < 200) return;
    vb = [cx - (cx - vb[0]) / f, cy - (cy - vb[1]) / f, w, h]; set();
  }}
  function pt(ev) {{
    var b = svg.getBoundingClientRect(), s = Math.max(vb[2] / b.width, vb[3] / b.height);
    var ox = (b.width * s - vb[2]) / 2, oy = (b.height * s - vb[3]) / 2;
    return [vb[0] + (ev.clientX - b.left) * s - ox, vb[1] + (ev.clientY - b.top) * s - oy, s];
  }}
  svg.addEventListener("wheel", function (ev) {{ ev.preventDefault(); var p = pt(ev); zoom(ev.deltaY < 0 ? 1.25 : 0.8, \
p[0], p[1]); }}, {{passive: false}});
  svg.addEventListener("mousedown", function (ev) {{ drag = [ev.clientX, ev.clientY, vb[0], vb[1], pt(ev)[2]]; }});
  window.addEventListener("mousemove", function (ev) {{
    if (!drag) return;
    vb[0] = drag[2] - (ev.clientX - drag[0]) * drag[4]; vb[1] = drag[3] - (ev.clientY - drag[1]) * drag[4]; set();
  }});
  window.addEventListener("mouseup", function () {{ drag = null; }});
  root.querySelectorAll("button[data-z]").forEach(function (b) {{
    b.addEventListener("click", function () {{ zoom(parseFloat(b.getAttribute("data-z"))); }});
  }});
  root.querySelectorAll("input[data-layer]").forEach(function (c) {{
    c.addEventListener("change", function () {{
      svg.querySelector('g[data-layer="' + c.getAttribute("data-layer") + '"]').style.display = c.checked ? "" : "none";
    }});
  }});
  svg.addEventListener("click", function (ev) {{
    var t = ev.target.closest("[data-i]");
    if (!t) {{ pop.hidden = true; return; }}
    var d = JSON.parse(t.getAttribute("data-i")), rows = "";
    for (var k in d) {{ rows += "<tr><th>" + esc(k) + "</th><td>" + esc(String(d[k])) + "</td></tr>"; }}
    pop.innerHTML = "<table>" + rows + "</table>"; pop.hidden = false;
    var b = root.getBoundingClientRect();
    pop.style.left = (ev.clientX - b.left + 12) + "px"; pop.style.top = (ev.clientY - b.top + 12) + "px";
  }});
  function esc(s) {{ return s.replace(/[&<>"]/g, function (c) {{ return {{"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': \
"&quot;"}}[c]; }}); }}
}})();
</script>
"""


MAP_CSS = """.wmap{position:relative;border:1px solid #ccc;margin:1em 0;background:#fafafa}
.wmap svg{width:100%;height:620px;display:block;cursor:grab;user-select:none}
.wmap-bar{display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center;padding:.4em .6em;border-bottom:1px solid #ddd;\
font-size:.9em}
.wmap-bar button{min-width:2em}.wmap-legend{display:flex;flex-wrap:wrap;gap:.2em .8em;padding:.3em .6em;font-size:.8em}
.wmap-legend i{display:inline-block;width:.9em;height:.9em;margin-right:.25em;vertical-align:-.1em}
.wmap-attr{font-size:.75em;color:#555;padding:0 .6em .4em}
.wmap-pop{position:absolute;background:#fff;border:1px solid #888;box-shadow:0 2px 6px rgba(0,0,0,.2);padding:.3em;\
font-size:.85em;z-index:2}
.wmap-pop table{margin:0}.wmap-pop th,.wmap-pop td{border:none;padding:1px 6px;text-align:left}
@media print{.wmap-bar,.wmap-pop{display:none}.wmap svg{height:auto}}
"""
