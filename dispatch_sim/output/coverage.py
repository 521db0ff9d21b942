"""``dispatch-sim coverage``: coverage.json, one grid per time band, figures/coverage.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import plot
from ..io import savefig_atomic, write_json_atomic
from .files import own_folder, write_geojson

if TYPE_CHECKING:
    from ..coverage import CoverageResult


def write_coverage(res: CoverageResult, world, out_dir, lang: str | None = None) -> list[str]:
    """``coverage.json``, one ``coverage_<band>.geojson`` grid per time band and
    ``figures/coverage.png`` (minutes to arrival in 90% of cases, in the band where fewest cells are
    reached). GeoJSON files of an earlier run in the same folder are removed first."""
    out = Path(out_dir)
    own_folder(out, ("coverage_*.geojson", "coverage.geojson"))
    write_json_atomic(out / "coverage.json", res.summary)
    written = ["coverage.json"]
    for band, fc in res.grids.items():
        write_geojson(out / f"coverage_{band}.geojson", fc)
        written.append(f"coverage_{band}.geojson")
    fig = plot.coverage_figure(world, res.grids[res.worst_band], res.minutes, lang=lang)
    savefig_atomic(fig, out / "figures" / "coverage.png")
    written.append("figures/coverage.png")
    return written
