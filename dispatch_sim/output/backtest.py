"""``dispatch-sim backtest``: backtest.json, the backtest page (HTML and figures) and quarantine.csv."""

from __future__ import annotations

from pathlib import Path

from ..io import write_json_atomic
from ..logpages import backtest_page
from ..logs import ReportLog, write_quarantine

#: Per-report arrays of a backtest result: for its figures, not for the JSON document.
ARRAYS = ("sim_response", "obs_response", "home", "promise")


def write_backtest(bt: dict, log: ReportLog, world, out_dir, lang: str | None = None) -> dict[str, Path]:
    """Every file of a backtest, atomically; returns their paths (``json``, ``page``, ``quarantine``)."""
    out = Path(out_dir)
    paths = {"quarantine": out / "quarantine.csv", "json": out / "backtest.json"}
    write_quarantine(log, paths["quarantine"])
    write_json_atomic(paths["json"], {k: v for k, v in bt.items() if k not in ARRAYS})
    page = backtest_page(bt, world.scenario, out, lang=lang or world.scenario.report.lang, standin=world.standin)
    paths["page"] = Path(page["page"])
    return paths
