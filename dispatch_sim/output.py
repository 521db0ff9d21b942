"""The output layer: one writer per command, ``write_<command>(result, out_dir, ...)``.

========== =========================== =====================================================
command    writer                      files
========== =========================== =====================================================
run        :func:`write_run`            summary.json, incidents.csv, cells.geojson, report.html,
                                        figures/*.png (data alone: :func:`write_run_data`)
check      :func:`write_check`          JUnit XML
stress     :func:`write_stress`         stress.json, cells_load_*.geojson, figures/
coverage   :func:`write_coverage`       coverage.json, coverage_<band>.geojson, figures/coverage.png
compare    :func:`write_compare`        compare.json, figures/compare.png
place      :func:`write_place`          placement.json, placement_variant.yaml, figures/placement.png
staff      :func:`write_staff`          staffing.json, staffing_variant.yaml, figures/staffing.png
========== =========================== =====================================================

Each takes the command's typed result (:mod:`dispatch_sim.results`), writes every file atomically
(:mod:`dispatch_sim.io`) and returns what it wrote; the CLI only parses arguments, calls the API,
calls the writer and prints. Figures come from :mod:`dispatch_sim.plot`, each drawn inside its own
style context, from the same JSON-shaped data the files hold. A new figure: a function in ``plot.py``
and one line in the writer of its command.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from . import plot
from .i18n import catalog
from .io import savefig_atomic, write_csv_atomic, write_json_atomic, write_text_atomic
from .metrics import INCIDENT_COLUMNS, LATE_CAUSES
from .reliability import cell_reliability, worst_cells
from .report import CLOCK_COLUMNS, clock_times, provenance, render_html
from .verdict import judge, verdict_json
from .webmap import interactive_map

if TYPE_CHECKING:
    from .coverage import CoverageResult
    from .experiments import RunResult
    from .results import Comparison, PlacementProposal, StressResult

log = logging.getLogger("dispatch_sim")


def write_check(path, cases, standin_label: str) -> Path:
    """JUnit XML for ``check``: one test case per scenario × area (district, each township) × target.

    ``cases`` holds ``(scenario name, scenario path, TargetResult, on stand-in)``. A missed target is a
    ``<failure>``; an undecided one (too few reports) is ``<skipped>``, shown by CI as not passed.
    """
    fails = sum(c[2].status == "missed" for c in cases)
    skipped = sum(c[2].status == "undecided" for c in cases)
    xml = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuite name="dispatch-sim check" tests="{len(cases)}" failures="{fails}" skipped="{skipped}">']
    for _name, spath, row, standin in cases:
        xml.append(f"  <testcase classname={quoteattr(spath)} name={quoteattr(row.name)}>")
        if row.status == "missed":
            msg = f"required {row.required}, judged {row.value}, estimate {row.estimate}"
            xml.append(f"    <failure message={quoteattr(msg)}/>")
        elif row.status == "undecided":
            xml.append(f"    <skipped message={quoteattr(row.reason or 'undecided')}/>")
        if standin:
            xml.append(f"    <system-out>{escape(standin_label)}</system-out>")
        xml.append("  </testcase>")
    xml.append("</testsuite>\n")
    return write_text_atomic(path, "\n".join(xml))


# ------------------------------------------------------------------------------------ run

#: Columns of a joint check's crews in incidents.csv (scenarios with joint checks: one row per crew)
CREW_COLUMNS = ["crews", "crew_dispatched_min", "crew_arrived_min", "crew_travel_min", "first_arrived_min"]


def crew_rows(incidents: pd.DataFrame, res_list, world) -> pd.DataFrame:
    """The incident table with one row per report and crew (joint checks: every crew with its own
    dispatch, arrival and drive; a report keeps its own figures on each of its rows). Only for
    scenarios with joint checks; the summary's counts stay one per report."""
    parts = []
    for res in res_list:
        rows = res.extra.get("joint_crews")
        if rows is None or not len(rows):
            continue
        parts.append(pd.DataFrame({"replication": res.replication, "report_id": rows[:, 0].astype(np.int64),
                                   "crew_name": np.asarray(res.crew_names, dtype=object)[rows[:, 1].astype(np.int64)],
                                   "crew_dispatched_min": rows[:, 2], "crew_arrived_min": rows[:, 3],
                                   "crew_travel_min": rows[:, 4]}))
    joint = pd.concat(parts, ignore_index=True) if parts else None
    out = incidents.copy()
    out["crew_dispatched_min"] = out["dispatched_min"]
    out["crew_arrived_min"] = out["arrived_min"]
    out["crew_travel_min"] = out["travel_min"]
    if joint is None:
        return out
    key = ["replication", "report_id"]
    multi = out.merge(joint, on=key, how="inner")
    multi["crew"] = multi.pop("crew_name")
    multi = multi.drop(columns=["crew_dispatched_min_x", "crew_arrived_min_x", "crew_travel_min_x"]).rename(
        columns=lambda c: c[:-2] if c.endswith("_y") else c)
    horizon = max(r.horizon_min for r in res_list)
    multi.loc[multi["crew_arrived_min"] > horizon, "crew_arrived_min"] = np.nan  # still driving at the horizon
    single = out.set_index(key).index.difference(multi.set_index(key).index)
    keep = out.set_index(key).loc[single].reset_index()
    return pd.concat([keep, multi[out.columns]], ignore_index=True).sort_values(key + ["crew"], kind="stable") \
        .reset_index(drop=True)


def write_run_data(run: RunResult, out_dir: str | Path, cell_m: float = 500.0, lang: str | None = None) -> dict:
    """Write a run's data files (``summary.json``, ``incidents.csv``, ``cells.geojson``) into ``out_dir``.

    Returns ``{"summary", "incidents", "cells", "paths"}``: the written summary dict, the incident table
    with clock times, the cell collection and the paths, for the figures and the page that follow.
    """
    out = Path(out_dir)
    sc = run.world.scenario
    lang = lang or sc.report.lang
    paths = {}
    summary = run.summary.to_json()
    summary["scenario_file"] = None
    summary.update(provenance(sc))
    v = judge(run.summary, sc)
    summary["targets"] = [r.to_json() for r in v.rows]
    summary["verdict"] = verdict_json(v, run.summary, lang)
    summary["warnings"] = list(run.world.warnings)
    cells = cell_reliability(run.incidents, run.world, cell_m)
    summary["worst_cells"] = worst_cells(cells, target=sc.targets.on_time_rate_min)
    incidents = clock_times(run.incidents, sc.run.start_date)
    paths["cells"] = write_json_atomic(out / "cells.geojson", cells)
    paths["summary"] = write_json_atomic(out / "summary.json", summary)
    columns = INCIDENT_COLUMNS + list(CLOCK_COLUMNS.values())
    extra = [c for c in ("referred", "referral_min") if c in incidents.columns]
    table = incidents
    if "crews" in incidents.columns:  # joint checks: one row per report and crew (docs/enforcement_system.md)
        table = crew_rows(incidents, run.results, run.world)
        extra += CREW_COLUMNS
    paths["incidents"] = write_csv_atomic(out / "incidents.csv", table[columns + extra])
    return {"summary": summary, "incidents": incidents, "cells": cells, "paths": paths}


def write_run(run: RunResult, out_dir: str | Path, cell_m: float = 500.0, lang: str | None = None) -> dict[str, Path]:
    """Write every output of a run into ``out_dir`` (atomically, file by file)."""
    out = Path(out_dir)
    figs = out / "figures"
    sc = run.world.scenario
    lang = lang or sc.report.lang
    data = write_run_data(run, out, cell_m, lang)
    summary, incidents, cells, paths = data["summary"], data["incidents"], data["cells"], data["paths"]
    figures = {
        "map.png": plot.map_figure(run.world, run.incidents[~run.incidents["warmup"]], lang=lang),
        "response_cdf.png": plot.cdf_figure(run.incidents, sc.run.target_min, lang=lang),
        "on_time_by_hour.png": plot.hourly_figure(summary, sc.targets.on_time_rate_min, lang=lang),
        "utilization.png": plot.utilization_figure(summary, sc, lang=lang),
        "cells.png": plot.cells_figure(run.world, cells, sc.targets.on_time_rate_min, lang=lang),
    }
    for name, fig in figures.items():
        paths[name] = savefig_atomic(fig, figs / name)
    T = catalog(lang)
    labels = {k[4:]: T(k) for k in
              ("map.roads", "map.jurisdictions", "map.cells", "map.late", "map.bases", "map.reset", "map.hint",
               "map.sampled", "map.id", "map.time", "map.township", "map.crew", "map.response", "map.cause",
               "map.reports", "map.on_time", "map.unverified")}
    labels.update({f"cause_{c}": T(f"cause.{c}") for c in LATE_CAUSES})
    labels.update({f"status_{k}": T(f"status.{k}") for k in ("met", "missed", "undecided")})
    labels["attribution"] = T("map.attr_standin") if run.world.standin else T("map.attr_osm")
    webmap = interactive_map(run.world, incidents, cells, summary, labels, lang)
    paths["report"] = write_text_atomic(out / "report.html",
                                        render_html(summary, sc, {n: paths[n] for n in figures}, lang, webmap))
    return paths



def write_geojson(path, fc: dict) -> Path:
    """GeoJSON without indentation (a third of the size; GIS tools do not need it pretty)."""
    import json

    return write_text_atomic(path, json.dumps(fc, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n")


def _own_folder(out_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Remove files an earlier run of the same command left in ``out_dir`` (by name pattern), so
    the folder shows one run only. Returns what was removed."""
    removed = []
    for pat in patterns:
        for f in sorted(out_dir.glob(pat)):
            if f.is_file():
                f.unlink()
                removed.append(f)
    if removed:
        log.info("removed %d file(s) of an earlier run from %s", len(removed), out_dir)
    return removed


# ------------------------------------------------------------------------------------ the other commands

def write_stress(res: StressResult, world, out_dir, cell_m: float, lang: str | None = None) -> list[str]:
    """``stress.json``, ``figures/stress.png`` and the cell maps at the last load that holds and
    the first that fails. Cell files of an earlier sweep in the same folder are removed first."""
    out = Path(out_dir)
    doc = res.to_json()
    _own_folder(out, ("cells_load_*.geojson", "figures/cells_load_*.png"))
    write_json_atomic(out / "stress.json", doc)
    lang = lang or world.scenario.report.lang
    labels = {t.name: t.name_en or t.name for t in world.scenario.teams} if lang == "en" else None
    fig = plot.stress_figure(doc, labels, lang=lang)
    savefig_atomic(fig, out / "figures" / "stress.png")
    written = ["stress.json", "figures/stress.png"]
    for ld, fc in res.cells.items():
        write_json_atomic(out / f"cells_load_{ld:g}.geojson", fc)
        title = catalog(lang)("fig.cells_load_title", cell=f"{cell_m:g}", load=f"{ld:g}")
        fig = plot.cells_figure(world, fc, res.target_on_time_rate, title=title, lang=lang)
        savefig_atomic(fig, out / "figures" / f"cells_load_{ld:g}.png")
        written += [f"cells_load_{ld:g}.geojson", f"figures/cells_load_{ld:g}.png"]
    return written


def write_compare(res: Comparison, out_dir, lang: str | None = None) -> list[str]:
    """``compare.json`` and ``figures/compare.png`` (levels of A and B per township with intervals)."""
    out = Path(out_dir)
    doc = res.to_json()
    write_json_atomic(out / "compare.json", doc)
    fig = plot.compare_figure(doc, lang=lang)
    savefig_atomic(fig, out / "figures" / "compare.png")
    return ["compare.json", "figures/compare.png"]


def write_coverage(res: CoverageResult, world, out_dir, lang: str | None = None) -> list[str]:
    """``coverage.json``, one ``coverage_<band>.geojson`` grid per time band and
    ``figures/coverage.png`` (minutes to arrival in 90% of cases, in the band where fewest cells are
    reached). GeoJSON files of an earlier run in the same folder are removed first."""
    out = Path(out_dir)
    _own_folder(out, ("coverage_*.geojson", "coverage.geojson"))
    write_json_atomic(out / "coverage.json", res.summary)
    written = ["coverage.json"]
    for band, fc in res.grids.items():
        write_geojson(out / f"coverage_{band}.geojson", fc)
        written.append(f"coverage_{band}.geojson")
    fig = plot.coverage_figure(world, res.grids[res.worst_band], res.minutes, lang=lang)
    savefig_atomic(fig, out / "figures" / "coverage.png")
    written.append("figures/coverage.png")
    return written


def write_place(res: PlacementProposal, world, out_dir) -> list[str]:
    """``placement.json`` (proposal, verification, recommendation), ``placement_variant.yaml``
    (extends the scenario) and ``figures/placement.png``."""
    from .placement import variant_yaml

    out = Path(out_dir)
    write_text_atomic(out / "placement_variant.yaml", variant_yaml(world.scenario, res.scenario, out))
    doc = res.to_json()
    write_json_atomic(out / "placement.json", doc)
    savefig_atomic(plot.placement_figure(world, doc, res.weight), out / "figures" / "placement.png")
    return ["placement.json", "placement_variant.yaml", "figures/placement.png"]


def write_staff(res: dict, world, out_dir, lang: str | None = None) -> list[str]:
    """``staffing.json``, ``staffing_variant.yaml`` (extends the scenario) and ``figures/staffing.png``."""
    from .staffing import variant_yaml

    out = Path(out_dir)
    res = dict(res)
    proposal = res.pop("scenario_obj")
    write_json_atomic(out / "staffing.json", res)
    write_text_atomic(out / "staffing_variant.yaml", variant_yaml(world.scenario, proposal, out, load=res["load"]))
    fig = plot.staffing_figure(res, lang=lang or world.scenario.report.lang)
    savefig_atomic(fig, out / "figures" / "staffing.png")
    return ["staffing.json", "staffing_variant.yaml", "figures/staffing.png"]
