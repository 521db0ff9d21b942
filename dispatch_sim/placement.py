"""Where to put posts: a maximal covering location model on road travel times, checked by simulation.

The model (Church & ReVelle's MCLP) chooses sites that maximise the demand weight reachable on site
within the promise. Reach is measured on the road graph from each candidate site (forward travel
times in one time band), with the expected dispatch delay and turnout taken off the budget, so a
site "covers" a place only if a crew leaving it can be there within the promised minutes. Two
questions are answered:

- ``mode="add"``: keep every base and add ``k`` new posts (each a new team with its own crews);
- ``mode="relocate"``: move township bases, each within its own jurisdiction, at most
  ``max_moves`` of them.

Static coverage ignores load and busy crews, so every proposal is then simulated against the
current layout with common random numbers (:func:`dispatch_sim.experiments.compare`).
Solved with PuLP and its bundled CBC solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from .coverage import demand_weights
from .errors import DispatchSimError
from .results import Comparison, PlacementProposal
from .scenario import Point, Scenario, Team


@dataclass
class Site:
    """A candidate site: an existing base, a listed point, or a sampled road node."""

    name: str
    kind: str  # "base", "listed" or "road node"
    node: int  # node index in the router
    lon: float
    lat: float
    team: int | None = None  # index of the team whose base this is (kind "base")


def candidate_sites(world, *, sample: int = 300, points=(), seed: int = 0) -> list[Site]:
    """Existing bases, listed points ``(name, lon, lat, crs[, label])`` snapped to the road graph,
    and a seeded sample of ``sample`` road nodes. ``label`` says where a point came from in errors."""
    r = world.router
    sites = [Site(t.name, "base", int(world.base_idx[i]), float(r.lon[world.base_idx[i]]),
                  float(r.lat[world.base_idx[i]]), team=i) for i, t in enumerate(world.scenario.teams)]
    for name, lon, lat, crs, *where in points:
        label = where[0] if where else f"candidate {name}"
        s = world.locator.snap(lon, lat, crs, label=label, warn=world.warn)
        i = r.index[s.node]
        sites.append(Site(str(name), "listed", i, float(r.lon[i]), float(r.lat[i])))
    if sample:
        rng = np.random.default_rng(seed)
        for i in rng.choice(r.n, size=min(sample, r.n), replace=False):
            sites.append(Site(f"road node {int(r.node_ids[i])}", "road node", int(i), float(r.lon[i]), float(r.lat[i])))
    return sites


def travel_budget_min(scenario: Scenario, minutes: float | None = None) -> float:
    """Minutes of driving left in the promise after the mean dispatch delay and turnout."""
    minutes = scenario.run.target_min if minutes is None else minutes
    d = scenario.dispatch
    return max(0.0, minutes - d.dispatch_delay_min.mean() - d.turnout_min.mean())


def coverage_matrix(world, sites: list[Site], budget_min: float, band: int = 0) -> np.ndarray:
    """Boolean ``(sites, nodes)``: node reachable from the site within ``budget_min`` in ``band``."""
    src = np.array([s.node for s in sites], dtype=np.int64)
    uniq, inv = np.unique(src, return_inverse=True)
    d = dijkstra(world.router.fwd[band], directed=True, indices=uniq, limit=budget_min * 60.0 + 1e-9)
    return (d <= budget_min * 60.0)[inv]


#: Weight of demand covered a second time, relative to first coverage: a tie-break that prefers
#: layouts where a second crew is in reach when the nearest one is busy (small enough that it never
#: trades away first coverage worth more than 0.1% of demand).
BACKUP_WEIGHT = 1e-3
#: Weight of demand within half the travel budget: the next tie-break, toward shorter drives.
FAST_WEIGHT = 1e-4
#: Penalty per moved base (a share of demand): a team stays put unless moving gains more.
MOVE_PENALTY = 1e-6


def solve_mclp(cover: np.ndarray, weight: np.ndarray, *, cover_fast: np.ndarray | None = None, fixed=(),
               choose: int | None = None,
               groups: list[list[int]] | None = None, stay=(), max_moves: int | None = None,
               time_limit_s: float = 120.0) -> dict:
    """Maximal covering: open sites so that the demand weight within reach is largest.

    Ties are broken toward demand covered twice (:data:`BACKUP_WEIGHT`), then toward demand within
    ``cover_fast`` (:data:`FAST_WEIGHT`), then toward fewer moves.

    Parameters
    ----------
    cover
        ``(sites, nodes)`` boolean coverage.
    cover_fast
        The same within a tighter budget (optional).
    weight
        Demand weight per node.
    fixed
        Sites that are always open (existing bases in ``add`` mode).
    choose
        Number of sites to open besides ``fixed``.
    groups
        For relocation: each list is the sites of one team, of which exactly one opens.
    stay, max_moves
        The sites where teams are now, and how many teams may leave theirs.
    """
    import pulp

    n_sites = cover.shape[0]
    fixed = sorted(set(int(j) for j in fixed))
    free = [j for j in range(n_sites) if j not in set(fixed)]
    live = weight > 0
    both = cover if cover_fast is None else np.vstack([cover, cover_fast])
    # demand nodes covered by exactly the same sites share one set of constraints
    sig = np.packbits(both[:, live].T, axis=1)
    keys, inv = np.unique(sig, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    gw = np.bincount(inv, weights=weight[live], minlength=len(keys))
    rows_all = np.unpackbits(keys, axis=1, count=both.shape[0]).astype(bool)
    rows, rows_fast = rows_all[:, :n_sites], rows_all[:, n_sites:]
    n_fixed = rows[:, fixed].sum(axis=1) if fixed else np.zeros(len(keys), dtype=int)
    useful = [g for g in range(len(keys)) if n_fixed[g] < 2 and rows[g, free].any()]
    fast = ([g for g in range(len(keys)) if not rows_fast[g, fixed].any() and rows_fast[g, free].any()]
            if cover_fast is not None else [])
    prob = pulp.LpProblem("maximal_covering", pulp.LpMaximize)
    var = prob.add_variable if hasattr(prob, "add_variable") else pulp.LpVariable  # PuLP >= 3.3 / older
    x = {j: var(f"x{j}", 0, 1, cat="Binary") for j in free}
    y = {g: var(f"y{g}", 0, 1) for g in useful if n_fixed[g] == 0}
    z = {g: var(f"z{g}", 0, 1) for g in useful}
    f = {g: var(f"f{g}", 0, 1) for g in fast}
    stay = set(stay)
    moves = [x[j] for j in free if j not in stay]
    prob += (pulp.lpSum(float(gw[g]) * v for g, v in y.items())
             + BACKUP_WEIGHT * pulp.lpSum(float(gw[g]) * v for g, v in z.items())
             + FAST_WEIGHT * pulp.lpSum(float(gw[g]) * v for g, v in f.items())
             - MOVE_PENALTY * pulp.lpSum(moves))
    for g in useful:
        reach = pulp.lpSum(x[j] for j in np.flatnonzero(rows[g]).tolist() if j in x)
        if g in y:
            prob += y[g] + z[g] <= reach
            prob += z[g] <= y[g]
        else:
            prob += z[g] <= reach
    for g in fast:
        prob += f[g] <= pulp.lpSum(x[j] for j in np.flatnonzero(rows_fast[g]).tolist() if j in x)
    if choose is not None:
        prob += pulp.lpSum(x.values()) == int(choose)
    for grp in groups or []:
        prob += pulp.lpSum(x[j] for j in grp if j in x) == 1
    if max_moves is not None:
        prob += pulp.lpSum(moves) <= int(max_moves)
    t = time.perf_counter()
    status = prob.solve(_solver(time_limit_s))
    secs = time.perf_counter() - t
    if pulp.LpStatus[status] != "Optimal":
        raise DispatchSimError(f"placement: the covering model has no solution ({pulp.LpStatus[status]}); "
                               "check k, max_moves and the candidate sites")
    opened = sorted(set(fixed) | {j for j in free if x[j].value() is not None and x[j].value() > 0.5})
    return {"open": opened, "status": pulp.LpStatus[status], "solve_s": secs, "demand_groups": len(useful),
            "variables": len(x) + len(y) + len(z) + len(f)}


def _solver(time_limit_s: float):
    """CBC as bundled with PuLP 2.x/3.x (its deprecation notice concerns PuLP 4, which is excluded)."""
    import warnings

    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)


def covered_shares(cover: np.ndarray, weight: np.ndarray, opened) -> tuple[float, float]:
    """Demand share within reach of at least one, and of at least two, of the ``opened`` sites."""
    n = cover[list(opened)].sum(axis=0)
    return float(weight[n >= 1].sum()), float(weight[n >= 2].sum())


def propose(world, *, mode: str = "add", k: int = 1, max_moves: int | None = None, minutes: float | None = None,
            band: int = 0, sample: int = 300, points=(), seed: int = 0, post_crews: int = 1) -> PlacementProposal:
    """Solve the covering model for the scenario's world and build the variant scenario.

    Returns a :class:`~dispatch_sim.results.PlacementProposal`: the proposal (JSON-ready) in
    ``proposal``, the variant :class:`~dispatch_sim.scenario.Scenario` in ``scenario``;
    :func:`finish` adds the simulation check and the recommendation.
    """
    sc = world.scenario
    if mode not in ("add", "relocate"):
        raise DispatchSimError(f"placement: mode must be 'add' or 'relocate', not {mode!r}")
    if mode == "add" and k < 1:
        raise DispatchSimError("placement: --add needs at least 1 new post")
    budget = travel_budget_min(sc, minutes)
    sites = candidate_sites(world, sample=sample, points=points, seed=seed)
    cover = coverage_matrix(world, sites, budget, band)
    cover_fast = coverage_matrix(world, sites, budget / 2, band)
    weight = demand_weights(world)
    bases = [j for j, s in enumerate(sites) if s.kind == "base"]
    if mode == "add":
        sol = solve_mclp(cover, weight, cover_fast=cover_fast, fixed=bases, choose=k)
    else:
        town = [i for i, t in enumerate(sc.teams) if not t.backup]
        groups = []
        for i in town:
            own = [j for j, s in enumerate(sites) if (s.kind == "base" and s.team == i)
                   or (s.kind != "base" and world.node_team[s.node] == i)]
            groups.append(own)
        fixed = [j for j in bases if sc.teams[sites[j].team].backup]
        stay = [j for j in bases if not sc.teams[sites[j].team].backup]
        sol = solve_mclp(cover, weight, cover_fast=cover_fast, fixed=fixed, groups=groups, stay=stay,
                         max_moves=max_moves)
    before, before2 = covered_shares(cover, weight, bases)
    after, after2 = covered_shares(cover, weight, sol["open"])
    fast_before = covered_shares(cover_fast, weight, bases)[0]
    fast_after = covered_shares(cover_fast, weight, sol["open"])[0]
    r = world.router
    names = [t.name for t in sc.teams]
    chosen, teams = [], [t.model_copy(deep=True) for t in sc.teams]
    if mode == "add":
        for n, j in enumerate([j for j in sol["open"] if sites[j].kind != "base"], start=1):
            s = sites[j]
            ht = sc.teams[int(world.node_team[s.node])]
            home, label = ht.name, ht.name_en or ht.name
            gain = float(weight[cover[j] & ~cover[bases].any(axis=0)].sum())
            chosen.append({"action": "add", "name": f"post {n} ({label})", "in_jurisdiction_of": home, "site": s.name,
                           "kind": s.kind, "lon": round(s.lon, 6), "lat": round(s.lat, 6), "crews": post_crews,
                           "demand_share_newly_covered": round(gain, 4)})
            teams.append(Team(name=f"post {n} ({label})", base=Point(lon=s.lon, lat=s.lat), crews=post_crews,
                              source=f"dispatch-sim place: maximal covering proposal ({s.name})",
                              confidence="proposal", unverified=True))
    else:
        opened = set(sol["open"])
        for i, grp in zip(town, groups):
            j = next(j for j in grp if j in opened)
            s = sites[j]
            if s.kind == "base":
                continue
            chosen.append({"action": "move", "team": names[i], "site": s.name, "kind": s.kind,
                           "from": {"lon": round(float(r.lon[world.base_idx[i]]), 6),
                                    "lat": round(float(r.lat[world.base_idx[i]]), 6)},
                           "lon": round(s.lon, 6), "lat": round(s.lat, 6)})
            teams[i] = teams[i].model_copy(update={
                "base": Point(lon=s.lon, lat=s.lat), "unverified": True, "confidence": "proposal",
                "source": f"dispatch-sim place: moved from {teams[i].source or 'the scenario base'}"})
    variant = sc.model_copy(update={"teams": teams, "name": f"{sc.name} + placement ({mode})",
                                    "staffing": None})  # its crews stand, also when a worker re-validates it
    counts: dict[str, int] = {}
    for s in sites:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    proposal = {
        "scenario": sc.name, "mode": mode, "k": k if mode == "add" else None, "max_moves": max_moves,
        "promise_min": sc.run.target_min if minutes is None else minutes, "travel_budget_min": round(budget, 2),
        "budget_note": "promise minus the mean dispatch delay and turnout",
        "band": world.bands.bands[band].name, "candidates": counts,
        "solver": {"name": "PuLP/CBC", "status": sol["status"], "seconds": round(sol["solve_s"], 3),
                   "demand_groups": sol["demand_groups"], "variables": sol["variables"]},
        "demand_share_covered": {"before": round(before, 4), "after": round(after, 4),
                                 "gain": round(after - before, 4)},
        "demand_share_covered_twice": {"before": round(before2, 4), "after": round(after2, 4),
                                       "gain": round(after2 - before2, 4)},
        "demand_share_within_half_budget": {"before": round(fast_before, 4), "after": round(fast_after, 4),
                                            "gain": round(fast_after - fast_before, 4)},
        "objective": ("maximal covering: demand within the travel budget; ties broken by demand covered twice, "
                      "then by demand within half the budget, then by fewer moves"),
        "changes": chosen,
        "jurisdiction_note": ("teams without a GeoJSON jurisdiction own the places whose fastest base is theirs, so "
                              "a new or moved base also redraws derived jurisdictions; give polygons to pin them"),
        "standin": world.standin,
    }
    return PlacementProposal(proposal=proposal, scenario=variant, sites=sites, cover=cover, weight=weight)


def verify(world, proposal: PlacementProposal, *, replications: int | None = None, load: float | None = None,
           workers: int | None = 1, scheduler: str | None = None, progress=None) -> Comparison:
    """Simulate the current layout and the proposal with common random numbers; paired differences."""
    from .experiments import compare
    from .model import World

    variant = proposal.scenario
    if load is not None:
        variant = variant.with_overrides(load=load)
        world = World(world.scenario.with_overrides(load=load), G=world.network, router=world.router)
    after = World(variant, G=world.network)
    return compare(world, after, replications=replications, workers=workers, scheduler=scheduler, progress=progress)



def finish(world, res: PlacementProposal, *, verify_by_simulation: bool = True, **run) -> PlacementProposal:
    """The proposal with its simulation check (when it changes anything and ``verify_by_simulation``)
    and its recommendation; ``run`` goes to :func:`verify` (replications, load, workers, ...)."""
    cmp = verify(world, res, **run) if verify_by_simulation and res.proposal["changes"] else None
    return replace(res, verification=cmp, recommendation=recommend(res.proposal, cmp))


def recommend(proposal: dict, verification: Comparison | None) -> dict:
    """Recommend the proposal only when simulation shows it helps: the district on-time gain's 95%
    interval lies above zero and no township gets significantly worse. Otherwise "no change
    recommended", still naming the best candidate found and why it is not recommended."""
    if not proposal["changes"]:
        return {"recommended": False, "text": "no change recommended: no candidate improves coverage of the "
                "travel budget over today's layout"}
    best = "; ".join((f"add {c['name']}" if c["action"] == "add" else f"move {c['team']}") + f" to {c['site']}"
                     for c in proposal["changes"])
    if verification is None:
        return {"recommended": False, "best_candidate": best,
                "text": f"not verified by simulation (--no-verify): best candidate {best}; no recommendation"}
    d = verification.difference_b_minus_a["on_time_rate"]
    worse = verification.decision.townships_worse
    lo, hi = d["ci95"]
    gain = f"{d['mean'] * 100:+.1f} points" + ("" if lo is None or lo != lo else f" (95% CI {lo * 100:+.1f} to "
                                                                                 f"{hi * 100:+.1f})")
    if d.get("replications_used", 2) < 2:
        return {"recommended": False, "best_candidate": best,
                "text": f"no change recommended: best candidate {best}; one replication cannot show a significant gain"}
    if d["significant"] and d["mean"] > 0 and not worse:
        return {"recommended": True, "best_candidate": best,
                "text": f"recommended: {best}: on-time rate {gain}, no township significantly worse"}
    if worse:
        why = f"{', '.join(worse)} would be significantly worse"
    elif d["significant"]:
        why = "the simulated on-time rate gets worse"
    else:
        why = "the simulated gain is not significant (its 95% interval covers zero)"
    return {"recommended": False, "best_candidate": best,
            "text": f"no change recommended: best candidate {best}: on-time rate {gain}; {why}"}


def read_candidates(path) -> list[tuple[str, float, float, str, str]]:
    """Candidate sites from a CSV with columns ``name, lon, lat`` and optionally ``crs`` (UTF-8 or
    GBK, Chinese headers 名称/经度/纬度 accepted).

    Raises :class:`~dispatch_sim.errors.DispatchSimError` naming the file, row and field on bad input.
    """
    from .readers import parse_float, read_csv

    label = "--candidates"
    _, rows = read_csv(path, label, required=["name", "lon", "lat"], optional=["crs"],
                       aliases={"名称": "name", "地点": "name", "经度": "lon", "纬度": "lat", "坐标系": "crs"},
                       what="CSV of candidate sites with columns name, lon, lat[, crs]")
    out = []
    for k, row in rows:
        crs = (row.get("crs") or "wgs84").strip().lower()
        if crs not in ("wgs84", "gcj02", "bd09"):
            raise DispatchSimError(f"{label}: {path}: row {k}: crs: {crs[:40]!r} is not one of wgs84, gcj02, bd09")
        try:
            lon, lat = parse_float(row["lon"], low=-180, high=180), parse_float(row["lat"], low=-90, high=90)
        except ValueError as exc:
            raise DispatchSimError(f"{label}: {path}: row {k}: lon/lat: {exc}") from None
        name = (row["name"] or "").strip()[:80] or f"row {k}"
        out.append((name, lon, lat, crs, f"{path}: row {k} ({name})"))
    if not out:
        raise DispatchSimError(f"{label}: {path}: no candidate sites in the file")
    return out


def variant_yaml(scenario: Scenario, variant: Scenario, out_dir, header: str | None = None) -> str:
    """YAML text of the variant: ``extends`` the original file and lists the new teams, so it runs
    with every other dispatch-sim command and stays reproducible."""
    import os
    from pathlib import Path

    import yaml

    teams = []
    for t in variant.teams:
        d = t.model_dump(mode="json", exclude_defaults=True)
        if d.get("jurisdiction") and os.path.isabs(d["jurisdiction"]):
            d["jurisdiction"] = os.path.relpath(d["jurisdiction"], Path(out_dir).resolve())
        teams.append(d)
    data: dict[str, Any] = {"name": variant.name, "teams": teams}
    if scenario.staffing is not None:  # the crews listed stand: the original's staff split is not applied again
        data["staffing"] = None
    head = header or ("# Proposed by `dispatch-sim place` (maximal covering model, then simulated).\n"
                      "# Sites marked unverified are proposals: check them on the ground before use.\n")
    if scenario.source_file:
        rel = os.path.relpath(Path(scenario.source_file).resolve(), Path(out_dir).resolve())
        data = {"extends": rel.replace(os.sep, "/"), **data}
    return head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
