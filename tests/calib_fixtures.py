"""One generated report log and one calibration for the whole session (tests/test_calibrate.py,
tests/test_backtest.py): a known scenario, its log made messy like a platform export (GBK, UTF-8, XLSX),
calibrated against a deliberately wrong base. Registered in conftest.py so every module shares the same
instances (fixtures imported into two test modules would be built twice)."""

from __future__ import annotations

import copy

import pytest

DAYS = 40
URBAN = {"motorway": 80, "trunk": 50, "primary": 40, "secondary": 35, "tertiary": 30, "unclassified": 25,
         "residential": 20, "living_street": 10, "service": 15, "road": 25}
RURAL = {"motorway": 100, "trunk": 70, "primary": 60, "secondary": 50, "tertiary": 40, "unclassified": 35,
         "residential": 30, "living_street": 10, "service": 20, "road": 30}


def truth_dict() -> dict:
    from .conftest import small_scenario  # here, not at import: conftest imports this module

    return small_scenario(
        speeds={"time_bands": [{"name": "peak", "start": "07:00", "end": "10:00", "factor": 0.6}]},
        dispatch={"policy": "home_team", "dispatch_delay_min": {"dist": "lognormal", "mean_min": 3, "sd_min": 1.5},
                  "turnout_min": {"dist": "uniform", "low_min": 1, "high_min": 4}},
        demand={"reports_per_day": 30, "categories": [
            {"name": "a", "share": 0.6, "work_min": {"dist": "lognormal", "mean_min": 30, "sd_min": 15}},
            {"name": "b", "share": 0.4, "work_min": {"dist": "gamma", "mean_min": 50, "sd_min": 20}}]})


def wrong_base_dict() -> dict:
    """The truth with everything the log should correct set wrong: speeds ×0.8, peak 0.9, rate, work, delay."""
    d = copy.deepcopy(truth_dict())
    d["speeds"] = {"urban_kph": {k: v * 0.8 for k, v in URBAN.items()}, "rural_kph": {k: v * 0.8 for k, v in RURAL.items()},
                   "maxspeed_factor": 0.64, "time_bands": [{"name": "peak", "start": "07:00", "end": "10:00", "factor": 0.9}]}
    d["demand"]["reports_per_day"] = 10
    d["demand"]["categories"][0]["work_min"] = {"dist": "exponential", "mean_min": 60}
    d["dispatch"]["dispatch_delay_min"] = {"dist": "fixed", "value_min": 8}
    return d


@pytest.fixture(scope="session")
def truth_world():
    from dispatch_sim import World, scenario_from_dict

    return World(scenario_from_dict(truth_dict()))


@pytest.fixture(scope="session")
def generated(truth_world):
    """``(clean log, per-row truth)``: what the platform records and what only the model knows (turnouts)."""
    from dispatch_sim.synthlog import simulate_log

    return simulate_log(truth_world.scenario, days=DAYS, seed=5, world=truth_world, with_truth=True)


@pytest.fixture(scope="session")
def clean_log(generated):
    return generated[0]


@pytest.fixture(scope="session")
def messy(clean_log, tmp_path_factory):
    from dispatch_sim.synthlog import make_messy, write_export

    table, injected = make_messy(clean_log, seed=1)
    d = tmp_path_factory.mktemp("logs")
    paths = {"gbk": write_export(table, d / "log_gbk.csv", encoding="gbk", title="南湖区事件清单（导出）"),
             "utf8": write_export(table, d / "log_utf8.csv", encoding="utf-8-sig"),
             "xlsx": write_export(table, d / "log.xlsx", title="南湖区事件清单")}
    return table, injected, paths


@pytest.fixture(scope="session")
def base_files(tmp_path_factory):
    import yaml

    d = tmp_path_factory.mktemp("base")
    (d / "base.yaml").write_text(yaml.safe_dump(wrong_base_dict(), allow_unicode=True), encoding="utf-8")
    (d / "truth.yaml").write_text(yaml.safe_dump(truth_dict(), allow_unicode=True), encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def base_world(base_files):
    from dispatch_sim import World, load_scenario

    return World(load_scenario(base_files / "base.yaml"))


def located_for(world, path):
    """A log read from ``path`` and located on ``world`` (coordinate system detected)."""
    from dispatch_sim.logs import read_log

    log = read_log(path)
    log.locate(None, extent=world.locator.extent, locator=world.locator)
    return log


@pytest.fixture(scope="session")
def located(messy, base_world):
    return located_for(base_world, messy[2]["gbk"])


@pytest.fixture(scope="session")
def cal(located, base_world):
    from dispatch_sim.calibrate import calibrate

    return calibrate(located, base_world, seed=0)


@pytest.fixture(scope="session")
def written(cal, located, base_world, base_files, tmp_path_factory):
    """The calibrated scenario and its page, written once (Chinese page)."""
    from dispatch_sim.calibrate import write_calibration

    out = tmp_path_factory.mktemp("cal") / "cal.yaml"
    return write_calibration(cal, located, base_world, base_files / "base.yaml", out, lang="zh")


@pytest.fixture(scope="session")
def recovered(written):
    from dispatch_sim import World, load_scenario

    return World(load_scenario(written["scenario"])), written["scenario"]
