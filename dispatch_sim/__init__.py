"""dispatch_sim: does a 30-minute on-site response promise hold on real roads, under real load?

Public API (the CLI calls the same functions)::

    from dispatch_sim import load_scenario, World, run_scenario
    world = World(load_scenario("scenarios/nanhu_baseline.yaml"))
    result = run_scenario(world)
    result.summary["on_time"]
"""

from .errors import DispatchSimError, ScenarioError
from .experiments import RunResult, check_targets, compare, run_scenario, stress_sweep
from .model import World
from .roads import GraphSpec, fetch_osm, graph_info, import_osm_file, load_graph, prepare_graph, save_graph
from .routing import ReferenceRouter, Router
from .scenario import Scenario, load_scenario, scenario_from_dict



def _version() -> str:
    """The installed distribution's version (pyproject.toml), so ``--version`` never disagrees with pip."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dispatch_sim")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


__version__ = _version()

__all__ = [
    "DispatchSimError", "ScenarioError", "RunResult", "check_targets", "compare", "run_scenario", "stress_sweep",
    "World", "GraphSpec", "fetch_osm", "graph_info", "import_osm_file", "load_graph", "prepare_graph", "save_graph",
    "ReferenceRouter", "Router", "Scenario", "load_scenario", "scenario_from_dict", "__version__",
]
