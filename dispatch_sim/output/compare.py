"""``dispatch-sim compare``: compare.json and figures/compare.png."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import plot
from ..io import savefig_atomic, write_json_atomic

if TYPE_CHECKING:
    from ..results import Comparison


def write_compare(res: Comparison, out_dir, lang: str | None = None) -> list[str]:
    """``compare.json`` and ``figures/compare.png`` (levels of A and B per township with intervals)."""
    out = Path(out_dir)
    doc = res.to_json()
    write_json_atomic(out / "compare.json", doc)
    fig = plot.compare_figure(doc, lang=lang)
    savefig_atomic(fig, out / "figures" / "compare.png")
    return ["compare.json", "figures/compare.png"]
