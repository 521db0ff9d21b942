"""``dispatch-sim staff``: staffing.json, staffing_variant.yaml, figures/staffing.png."""

from __future__ import annotations

from pathlib import Path

from .. import plot
from ..io import savefig_atomic, write_json_atomic, write_text_atomic
from ..staffing import variant_yaml


def write_staff(res: dict, world, out_dir, lang: str | None = None) -> list[str]:
    """``staffing.json``, ``staffing_variant.yaml`` (extends the scenario) and ``figures/staffing.png``."""
    out = Path(out_dir)
    res = dict(res)
    proposal = res.pop("scenario_obj")
    write_json_atomic(out / "staffing.json", res)
    write_text_atomic(out / "staffing_variant.yaml", variant_yaml(world.scenario, proposal, out, load=res["load"]))
    fig = plot.staffing_figure(res, lang=lang or world.scenario.report.lang)
    savefig_atomic(fig, out / "figures" / "staffing.png")
    return ["staffing.json", "staffing_variant.yaml", "figures/staffing.png"]
