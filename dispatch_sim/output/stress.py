"""``dispatch-sim stress``: stress.json, the cell maps at the loads that hold and fail, figures/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import plot
from ..i18n import catalog
from ..io import savefig_atomic, write_json_atomic
from .files import own_folder, write_geojson

if TYPE_CHECKING:
    from ..results import StressResult


def write_stress(res: StressResult, world, out_dir, cell_m: float, lang: str | None = None) -> list[str]:
    """``stress.json``, ``figures/stress.png`` and the cell maps at the last load that holds and
    the first that fails. Cell files of an earlier sweep in the same folder are removed first."""
    out = Path(out_dir)
    doc = res.to_json()
    own_folder(out, ("cells_load_*.geojson", "figures/cells_load_*.png"))
    write_json_atomic(out / "stress.json", doc)
    lang = lang or world.scenario.report.lang
    labels = {t.name: t.name_en or t.name for t in world.scenario.teams} if lang == "en" else None
    fig = plot.stress_figure(doc, labels, lang=lang)
    savefig_atomic(fig, out / "figures" / "stress.png")
    written = ["stress.json", "figures/stress.png"]
    for ld, fc in res.cells.items():
        write_geojson(out / f"cells_load_{ld:g}.geojson", fc)
        title = catalog(lang)("fig.cells_load_title", cell=f"{cell_m:g}", load=f"{ld:g}")
        fig = plot.cells_figure(world, fc, res.target_on_time_rate, title=title, lang=lang)
        savefig_atomic(fig, out / "figures" / f"cells_load_{ld:g}.png")
        written += [f"cells_load_{ld:g}.geojson", f"figures/cells_load_{ld:g}.png"]
    return written
