"""``dispatch-sim run``: summary.json, incidents.csv, cells.geojson, report.html and figures/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import plot
from ..i18n import catalog
from ..io import savefig_atomic, write_csv_atomic, write_json_atomic, write_text_atomic
from ..metrics import INCIDENT_COLUMNS, LATE_CAUSES
from ..reliability import cell_reliability, worst_cells
from ..report import CLOCK_COLUMNS, clock_times, provenance, render_html
from ..verdict import judge, verdict_json
from ..webmap import interactive_map
from .files import write_geojson

if TYPE_CHECKING:
    from ..experiments import RunResult

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
    paths["cells"] = write_geojson(out / "cells.geojson", cells)
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
