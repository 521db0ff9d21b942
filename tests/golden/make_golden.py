"""Golden files: byte-exact outputs of every shipped scenario, kept in the suite.

Each shipped scenario in ``scenarios/`` is run for 10 simulated days (the typhoon is on day 8) and 2 replications (its own seed)
and its ``summary.json`` and ``incidents.csv`` are written as ``dispatch-sim run`` writes them, minus
the provenance fields that name the machine, the date or the tool version. ``tests/test_golden.py``
holds every later version of the code to these bytes: a refactoring that changes one decision, one
rounding or one key order fails it.

When a change is *meant* to change results (a model fix, a new scenario default, a new bbox), rebuild
them and say why in the commit message::

    python tests/golden/make_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("nanhu_*.yaml"))
VOLATILE = ("version", "run_date", "scenario_file", "scenario_sha256")
DAYS, REPS = 10, 2


def golden_outputs(name: str) -> dict[str, bytes]:
    """The golden bytes of one shipped scenario: ``{"summary.json": ..., "incidents.csv": ...}``."""
    import tempfile

    from dispatch_sim import World, load_scenario
    from dispatch_sim.experiments import run_scenario
    from dispatch_sim.report import write_run_data

    sc = load_scenario(ROOT / "scenarios" / name).with_overrides(horizon_days=DAYS, replications=REPS)
    run = run_scenario(World(sc), workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_run_data(run, tmp)
        summary = json.loads((Path(tmp) / "summary.json").read_text(encoding="utf-8"))
        for k in VOLATILE:
            summary.pop(k, None)
        return {"summary.json": json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=False).encode(),
                "incidents.csv": (Path(tmp) / "incidents.csv").read_bytes()}


def main(names: list[str]) -> None:
    for name in names or SCENARIOS:
        for fname, data in golden_outputs(name).items():
            path = HERE / f"{Path(name).stem}.{fname}"
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
