"""dispatch_sim: does a 30-minute on-site response promise hold on real roads, under real load?

Public API (the CLI calls the same functions)::

    from dispatch_sim import load_scenario, World, run_scenario
    world = World(load_scenario("scenarios/nanhu_baseline.yaml"))
    result = run_scenario(world)
    result.summary.on_time["rate"]   # typed results: dispatch_sim.results
"""

from ._lazy import lazy_names
from .errors import DispatchSimError, ScenarioError

#: Public names and the module that defines each. They are imported when first used (PEP 562), so
#: ``import dispatch_sim`` (and every CLI command) does not pay for numba, pandas, networkx and scipy
#: until it needs them.
_LAZY = {
    "RunResult": "experiments", "check_targets": "experiments", "compare": "experiments",
    "run_scenario": "experiments", "stress_sweep": "experiments", "World": "model",
    "GraphSpec": "roads", "fetch_osm": "roads", "graph_info": "roads", "import_osm_file": "roads",
    "load_graph": "roads", "prepare_graph": "roads", "save_graph": "roads",
    "ReferenceRouter": "routing", "Router": "routing",
    "Scenario": "scenario", "load_scenario": "scenario", "scenario_from_dict": "scenario",
}


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY)



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
