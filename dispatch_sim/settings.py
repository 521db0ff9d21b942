"""Package-wide settings, in one place (the OSMnx way) instead of globals scattered around.

Change them at run time, e.g. ``dispatch_sim.settings.cache_folder = "/data/cache"``; the
environment variable ``DISPATCH_SIM_CACHE`` sets the default cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

#: Folder for downloaded graphs (GraphML) and router matrices. ``DISPATCH_SIM_CACHE`` overrides.
cache_folder: Path = Path(os.environ.get("DISPATCH_SIM_CACHE") or platformdirs.user_cache_dir("dispatch_sim"))

#: A snapped point farther than this from the road graph gets a warning (metres).
snap_warn_m: float = 500.0

#: A point farther than this outside the graph's bounding box is an error (metres).
outside_extent_m: float = 2000.0

#: Shortest travel time on any edge (seconds); keeps zero-length OSM edges routable and exact.
min_edge_travel_time_s: float = 0.01

#: Attribution printed on every map and in every report that shows OSM-derived data.
osm_attribution: str = "Road data © OpenStreetMap contributors (ODbL)"

#: Label used wherever a result was computed on the generated stand-in network.
standin_label: str = "STAND-IN road network (generated, not real roads): results are not planning results"

#: Landmarks for goal-directed searches of crews on the road (ALT): nodes spread to the edge of the
#: graph by farthest-point sampling. More give tighter bounds but cost more per settled node.
router_landmarks: int = 12

#: Hub labels (exact node-to-node times by lookup) are built for graphs up to this many nodes; they
#: take about 2 × 90 entries of 12 bytes per node and band on a district graph (19k nodes: 120 MB for
#: three bands) and grow with size (106k-node prefecture stand-in: 2 × 185 entries, 1.4 GB for three
#: bands, built once in 2–4 minutes with a peak of about 3.7 GB, then memory-mapped from the cache).
#: They are what lets the compiled dispatcher run; larger graphs use goal-directed searches (ALT) and
#: the readable dispatcher instead, exact too but several times slower per report.
router_label_max_nodes: int = 150_000

#: Run the built-in dispatch policies through the compiled dispatcher (same results as the Python
#: model, several times faster) whenever the graph has hub labels. False always runs the Python model.
compiled_dispatch: bool = True

#: Resolution of the PNG figures written to disk (``figures/*.png``, embedded in ``report.html``);
#: print needs at least 150.
figure_dpi: int = 150
