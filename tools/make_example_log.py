"""Regenerate the shipped example report log and its ground truth (python tools/make_example_log.py).

Writes ``scenarios/examples/nanhu_synthetic_log_2022q3.csv``: 13 weeks (from Monday 4 July 2022) of the
Nanhu baseline's reports, simulated by dispatch_sim on the stand-in network, then damaged the way the
township platform's exports are (:func:`dispatch_sim.synthlog.make_messy`: Chinese headers, GCJ-02
coordinates, Excel/WPS timestamp forms, a title row, missing arrival times, impossible rows, duplicates,
placeholder and out-of-district coordinates) and saved as GBK. Beside it, ``...truth.json`` says what
generated it (the scenario's parameters in the terms ``dispatch-sim calibrate`` reports, the damage done,
the file's SHA-256), so a reader can check what calibration recovers.

The log is SYNTHETIC (the title row and the truth file say so): it tests the tool, not Nanhu.

``--check`` regenerates in memory and exits 1 if the shipped files differ (nothing is written).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatch_sim.io import write_bytes_atomic, write_json_atomic  # noqa: E402
from dispatch_sim.synthlog import EXAMPLE, csv_bytes, example_log  # noqa: E402

OUT = ROOT / "scenarios" / "examples" / "nanhu_synthetic_log_2022q3.csv"


def build() -> tuple[bytes, dict]:
    """The CSV's bytes and the truth (with the bytes' SHA-256), made in memory."""
    table, truth, _ = example_log(ROOT)
    data = csv_bytes(table, encoding=EXAMPLE["encoding"], title=EXAMPLE["title"])
    truth["file"] = {"name": OUT.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                     "encoding": EXAMPLE["encoding"], "title_row": True, "rows_below_header": truth["damage"]["rows"]}
    return data, truth


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the shipped files; write nothing")
    args = ap.parse_args(argv)
    data, truth = build()
    tpath = OUT.with_suffix(".truth.json")
    if args.check:
        same = OUT.exists() and OUT.read_bytes() == data
        shipped = json.loads(tpath.read_text(encoding="utf-8")) if tpath.exists() else None
        same_truth = shipped is not None and shipped["file"]["sha256"] == truth["file"]["sha256"]
        print(f"{OUT.name}: {'identical' if same else 'DIFFERS'}; {tpath.name}: {'matches' if same_truth else 'DIFFERS'}")
        return 0 if same and same_truth else 1
    write_bytes_atomic(OUT, data)
    write_json_atomic(tpath, truth)
    d = truth["damage"]
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data) / 1e3:.0f} kB, {d['rows']} rows, {d['quarantine']} of them for the "
          f"quarantine) and {tpath.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
