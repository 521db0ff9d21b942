"""The output layer: one writer per command, ``write_<command>(result, out_dir, ...)``, one module each.

========== ====================================== ==========================================================
command    writer (module)                        files
========== ====================================== ==========================================================
run        ``write_run`` (``output/run.py``)       summary.json, incidents.csv, cells.geojson, report.html,
                                                  figures/*.png (data alone: ``write_run_data``)
check      ``write_check`` (``check.py``)          JUnit XML
stress     ``write_stress`` (``stress.py``)        stress.json, cells_load_*.geojson, figures/
coverage   ``write_coverage`` (``coverage.py``)    coverage.json, coverage_<band>.geojson, figures/coverage.png
compare    ``write_compare`` (``compare.py``)      compare.json, figures/compare.png
place      ``write_place`` (``place.py``)          placement.json, placement_variant.yaml, figures/placement.png
staff      ``write_staff`` (``staff.py``)          staffing.json, staffing_variant.yaml, figures/staffing.png
route      ``write_route`` (``route.py``)          the ``--geojson`` file
backtest   ``write_backtest`` (``backtest.py``)    backtest.json, the backtest page, quarantine.csv
========== ====================================== ==========================================================

Each takes the command's typed result (:mod:`dispatch_sim.results`), writes every file atomically
(:mod:`dispatch_sim.io`) and returns what it wrote; the CLI only parses arguments, calls the API,
calls the writer and prints. Figures come from :mod:`dispatch_sim.plot`, each drawn inside its own
style context, from the same JSON-shaped data the files hold. A new figure: a function in ``plot.py``
and one line in the writer of its command. Shared helpers (compact GeoJSON, one run per folder) are
in ``files.py``. ``calibrate`` writes its scenario and page with
:func:`dispatch_sim.calibrate.write_calibration` (a scenario file is its result).
"""

from __future__ import annotations

from .._lazy import lazy_names

#: Public names and the module of this package that defines each, imported when first used (PEP 562):
#: ``route`` and ``check`` stay light, ``run`` brings matplotlib and the report page.
_LAZY = {
    "write_check": "check", "write_run": "run", "write_run_data": "run", "crew_rows": "run",
    "CREW_COLUMNS": "run", "write_stress": "stress", "write_compare": "compare", "write_coverage": "coverage",
    "write_place": "place", "write_staff": "staff", "write_route": "route", "write_geojson": "files",
    "write_backtest": "backtest",
}


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY)


__all__ = sorted(_LAZY)
