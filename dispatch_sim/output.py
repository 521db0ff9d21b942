"""Output writers for the commands other than ``run`` (whose writer is :mod:`dispatch_sim.report`).

One function per command: ``write_junit`` (``check``), ``write_stress``, ``write_compare``. Each takes
the command's result and a destination, writes every file atomically and returns what it wrote, so
the CLI only parses arguments, calls the API and prints.
"""

from __future__ import annotations

import logging
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from .io import savefig_atomic, write_json_atomic, write_text_atomic

log = logging.getLogger("dispatch_sim")


def write_junit(path, cases, standin_label: str) -> Path:
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


def write_stress(res: dict, world, out_dir, cell_m: float, lang: str | None = None) -> list[str]:
    """``stress.json``, ``figures/stress.png`` and the cell maps at the last load that holds and
    the first that fails. Cell files of an earlier sweep in the same folder are removed first."""
    from . import plot

    out = Path(out_dir)
    res = dict(res)
    cells = res.pop("cells")
    _own_folder(out, ("cells_load_*.geojson", "figures/cells_load_*.png"))
    write_json_atomic(out / "stress.json", res)
    lang = lang or world.scenario.report.lang
    labels = {t.name: t.name_en or t.name for t in world.scenario.teams} if lang == "en" else None
    fig = plot.stress_figure(res, labels, lang=lang)
    savefig_atomic(fig, out / "figures" / "stress.png")
    written = ["stress.json", "figures/stress.png"]
    for ld, fc in cells.items():
        write_json_atomic(out / f"cells_load_{ld:g}.geojson", fc)
        title = (f"On-time rate per {cell_m:g} m cell at load ×{ld:g}" if lang == "en"
                 else f"负荷 ×{ld:g} 时每 {cell_m:g} 米网格的按时到场率")
        fig = plot.cells_figure(world, fc, res["target_on_time_rate"], title=title, lang=lang)
        savefig_atomic(fig, out / "figures" / f"cells_load_{ld:g}.png")
        written += [f"cells_load_{ld:g}.geojson", f"figures/cells_load_{ld:g}.png"]
    return written


def write_compare(res: dict, out_dir, lang: str | None = None) -> list[str]:
    """``compare.json`` and ``figures/compare.png`` (levels of A and B per township with intervals)."""
    from . import plot

    out = Path(out_dir)
    write_json_atomic(out / "compare.json", res)
    written = ["compare.json"]
    fig = plot.compare_figure(res, lang=lang)
    savefig_atomic(fig, out / "figures" / "compare.png")
    written.append("figures/compare.png")
    return written


def write_coverage(world, minutes: float, out_dir, cell_m: float = 500.0, lang: str | None = None) -> tuple[dict, list[str]]:
    """``coverage.json``, one ``coverage_<band>.geojson`` grid per time band and
    ``figures/coverage.png`` (minutes to arrival in 90% of cases, in the band where fewest cells are
    reached). GeoJSON files of an
    earlier run in the same folder are removed first."""
    from . import plot
    from .coverage import coverage_summary, pre_drive_minutes, promise_cells_geojson

    out = Path(out_dir)
    summ = coverage_summary(world, minutes)
    summ["graph_kind"] = "stand-in" if world.standin else world.G.graph.get("kind")
    summ["standin"] = world.standin
    _own_folder(out, ("coverage_*.geojson", "coverage.geojson"))
    write_json_atomic(out / "coverage.json", summ)
    written = ["coverage.json"]
    pre = pre_drive_minutes(world)
    worst, worst_beyond = None, -1
    for b, band in enumerate(world.bands.bands):
        fc = promise_cells_geojson(world, minutes, b, cell_m, pre)
        beyond = sum(1 for f in fc["features"] if not f["properties"]["reach90"])
        if beyond > worst_beyond:
            worst, worst_beyond = fc, beyond
        write_geojson(out / f"coverage_{band.name}.geojson", fc)
        written.append(f"coverage_{band.name}.geojson")
    fig = plot.coverage_figure(world, worst, minutes, lang=lang)  # the band where the circle is smallest
    savefig_atomic(fig, out / "figures" / "coverage.png")
    written.append("figures/coverage.png")
    return summ, written


def write_staffing(res: dict, world, out_dir, lang: str | None = None) -> list[str]:
    """``staffing.json``, ``staffing_variant.yaml`` (extends the scenario) and ``figures/staffing.png``."""
    from . import plot
    from .staffing import variant_yaml

    out = Path(out_dir)
    res = dict(res)
    proposal = res.pop("scenario_obj")
    write_json_atomic(out / "staffing.json", res)
    write_text_atomic(out / "staffing_variant.yaml", variant_yaml(world.scenario, proposal, out, load=res["load"]))
    fig = plot.staffing_figure(res, lang=lang or world.scenario.report.lang)
    savefig_atomic(fig, out / "figures" / "staffing.png")
    return ["staffing.json", "staffing_variant.yaml", "figures/staffing.png"]
