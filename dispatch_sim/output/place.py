"""``dispatch-sim place``: placement.json, placement_variant.yaml, figures/placement.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import plot
from ..io import savefig_atomic, write_json_atomic, write_text_atomic
from ..placement import variant_yaml

if TYPE_CHECKING:
    from ..results import PlacementProposal


def write_place(res: PlacementProposal, world, out_dir) -> list[str]:
    """``placement.json`` (proposal, verification, recommendation), ``placement_variant.yaml``
    (extends the scenario) and ``figures/placement.png``."""
    out = Path(out_dir)
    write_text_atomic(out / "placement_variant.yaml", variant_yaml(world.scenario, res.scenario, out))
    doc = res.to_json()
    write_json_atomic(out / "placement.json", doc)
    savefig_atomic(plot.placement_figure(world, doc, res.weight), out / "figures" / "placement.png")
    return ["placement.json", "placement_variant.yaml", "figures/placement.png"]
