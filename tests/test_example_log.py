"""The shipped example log (scenarios/examples/nanhu_synthetic_log_2022q3.csv) is what its truth file says:
the bytes it hashes, the damage it lists (every injected row lands in the quarantine with its reason), and
the parameters of the shipped baseline as it is now (regenerate with python tools/make_example_log.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "scenarios" / "examples" / "nanhu_synthetic_log_2022q3.csv"
TRUTH = LOG.with_suffix(".truth.json")


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads(TRUTH.read_text(encoding="utf-8"))


def test_the_file_is_the_one_the_truth_describes(truth):
    data = LOG.read_bytes()
    assert hashlib.sha256(data).hexdigest() == truth["file"]["sha256"]
    assert len(data) == truth["file"]["bytes"] < 1_000_000
    text = data.decode("gbk")  # GBK as the platform exports it; not valid UTF-8
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "SYNTHETIC" in text.splitlines()[0] and "非真实" in text.splitlines()[0]


def test_every_injected_problem_is_quarantined_with_its_reason(truth):
    from dispatch_sim.logs import read_log

    log = read_log(LOG)
    # GCJ-02 stated (detection needs a road graph; tests/test_calibrate.py covers it); screened against the bbox
    log.locate("gcj02", extent=tuple(truth["graph"]["bbox"]))
    c = log.counts()
    dmg = truth["damage"]
    assert c["rows"] == dmg["rows"] and c["used"] + c["quarantined"] == c["rows"]
    by = c["quarantined_by_reason"]
    assert (by["duplicate"], by["arrival before report"], by["no report time"], by["no usable coordinates"],
            by["outside the district"]) == (dmg["duplicates"], dmg["impossible"], dmg["no_time"], dmg["bad_coords"],
                                            dmg["outside"])
    assert c["quarantined"] == dmg["quarantine"]
    assert c["used"] == truth["clean_log"]["reports"] - (dmg["impossible"] + dmg["no_time"] + dmg["bad_coords"]
                                                         + dmg["outside"])
    missing_arrival = int(log.records["arrived_at"].isna().sum() - log.records["dispatched_at"].isna().sum())
    assert missing_arrival == dmg["missing_arrival"]


def test_the_truth_is_the_shipped_baseline_as_it_is_now(truth):
    from dispatch_sim.synthlog import example_scenario, truth_parameters

    sc = example_scenario(ROOT, truth["spec"])
    assert json.loads(json.dumps(truth_parameters(sc))) == truth["parameters"], \
        "the baseline changed: regenerate with python tools/make_example_log.py"
    assert list(sc.graph.bbox) == truth["graph"]["bbox"] and sc.graph.standin_seed == truth["graph"]["standin_seed"]
