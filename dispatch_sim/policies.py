"""Dispatch policies: who goes to a new report, and which waiting report a freed crew takes.

Write a new policy by subclassing :class:`Policy` and registering it in :data:`POLICIES` (runs
on the Python model; the built-in three also have a compiled twin that makes the same decisions):

- ``choose(sim, rid)`` returns ``(crew, eta_s)`` or ``(None, inf)`` to queue the report. Use
  ``sim.best_crew(rid, crews, limit_s)``: exact ETAs from base matrices for crews at base and one
  bounded reversed search for crews on the road.
- ``next_job(sim, crew)`` returns a waiting report id for a crew that just cleared, or None; pass
  ``sim.reachable_from(crew)`` to :func:`pop_best` so that, while a road closure is in force, a crew
  is not given a report it cannot reach (nor a joint check's place that its team does not owe).
  ``sim.open_queues(crew)`` are the queues a crew may help with (every township's; a district team
  that does not back up townships: only its own).

Waiting reports sit in one queue per serving team (the home team, or the district team a report
was referred to), ordered by priority, then time. Referred reports and joint checks are decided by
the dispatcher itself (only the owning teams' crews go), so a policy sees single-crew reports of
township teams only.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod

INF = math.inf


class Policy(ABC):
    """Interface of a dispatch policy (see the module docstring)."""

    name = "base"

    def __init__(self, config):
        self.cfg = config

    @abstractmethod
    def choose(self, sim, rid):
        """Return ``(crew, eta_s)`` for report ``rid``, or ``(None, inf)`` to queue it."""

    def next_job(self, sim, crew):
        ok = sim.reachable_from(crew)
        if crew.team.backup:
            return pop_best(sim, sim.open_queues(crew), ok)
        return pop_best(sim, (crew.team.idx,), ok)


def pop_best(sim, team_indices, reachable=None):
    """Pop the most urgent, oldest waiting report among the given teams' queues.

    ``reachable(rid, team)`` (``sim.reachable_from(crew)``: None when nothing restricts) skips reports
    the crew cannot take now from ``team``'s queue (a closure cuts it off, or a joint check owes its
    team nothing); they stay in their queues, in order."""
    team_indices = list(team_indices)
    held = []
    found = None
    while True:
        best_q = None
        best = None
        best_t = -1
        for t in team_indices:
            q = sim.queues[t]
            if q and (best is None or q[0] < best):
                best, best_q, best_t = q[0], q, t
        if best_q is None:
            break
        item = heapq.heappop(best_q)
        if reachable is None or reachable(item[2], best_t):
            found = item[2]
            break
        held.append((best_q, item))
    for q, item in held:
        heapq.heappush(q, item)
    return found


class HomeTeam(Policy):
    """Only the report's home team; district squads step in when it has no free crew."""

    name = "home_team"

    def choose(self, sim, rid):
        home = sim.teams[sim.r_home[rid]]
        crew, eta = sim.best_crew(rid, home.free.values(), INF)
        if crew is None and sim.backup_teams:
            crew, eta = sim.best_crew(rid, sim.free_backup(), INF)
        return crew, eta


class Nearest(Policy):
    """The free crew with the fastest ETA, whatever its team."""

    name = "nearest"

    def choose(self, sim, rid):
        return sim.best_crew(rid, sim.all_free(), INF)

    def next_job(self, sim, crew):
        return pop_best(sim, sim.open_queues(crew), sim.reachable_from(crew))


class HomeThenMutualAid(Policy):
    """Home team unless its ETA exceeds the threshold or it has no free crew; then the fastest
    other crew that arrives earlier and within ``mutual_aid_max_eta_min``."""

    name = "home_then_mutual_aid"

    def choose(self, sim, rid):
        home_idx = sim.r_home[rid]
        home = sim.teams[home_idx]
        crew, eta = sim.best_crew(rid, home.free.values(), INF)
        threshold = self.cfg.mutual_aid_threshold_min * 60.0
        if crew is not None and eta <= threshold:
            return crew, eta
        max_aid = self.cfg.mutual_aid_max_eta_min * 60.0
        others = (c for t in sim.helper_teams if t.idx != home_idx for c in t.free.values())
        aid, aid_eta = sim.best_crew(rid, others, min(eta, max_aid + 1e-9))
        if aid is not None and aid_eta < eta and aid_eta <= max_aid:
            return aid, aid_eta
        return crew, eta

    def next_job(self, sim, crew):
        ok = sim.reachable_from(crew)
        if self.cfg.queue == "fifo":  # one first-come queue for every team's waiting reports
            return pop_best(sim, sim.open_queues(crew), ok)
        own = () if crew.team.backup else (crew.team.idx,)
        job = pop_best(sim, own, ok) if own else None
        if job is None:  # help a neighbour whose reports wait (their crews are all busy)
            job = pop_best(sim, sim.open_queues(crew), ok)
        return job


POLICIES = {p.name: p for p in (HomeTeam, Nearest, HomeThenMutualAid)}
#: The policies the compiled dispatcher (:mod:`dispatch_sim.sim.compiled`) implements too; a class
#: registered in :data:`POLICIES` under one of these names runs on the Python model instead.
BUILT_IN = dict(POLICIES)
