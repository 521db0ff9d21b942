"""The compiled dispatcher: the built-in policies on array state, one numba call per SimPy event.

Same decisions as :class:`~dispatch_sim.sim.readable.ReadableDispatcher`, about three times
faster (``benchmarks/bench_sim.py`` measures both on the same year). :func:`dispatch_sim.sim.can_compile`
says when it can run.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from . import kernels as K
from .engine import Dispatcher, Outcome, Roster, Woken, has_closures
from .layout import CrewF, CrewI, CrewState, Meta, PolicyCode, QueueCode, RepF, TeamCol, TeamLevel, joint_tables


def _entry_point(kernel, *example_args):
    """The compiled entry point of ``kernel`` for the types of ``example_args`` (compiled or loaded
    from numba's disk cache once). Calling it skips the dispatcher's per-call type resolution, so
    every later call must pass arguments of exactly these types."""
    from numba import typeof

    return kernel.compile(tuple(typeof(a) for a in example_args))


class CompiledDispatcher(Dispatcher):
    """One replication on array state; decisions in :mod:`dispatch_sim.sim.kernels`."""

    def __init__(self, world, reports, roster: Roster, out: Outcome):
        super().__init__(world, reports, roster, out)
        sc = world.scenario
        n = len(reports)
        nteams = len(sc.teams)
        teams = np.zeros((nteams, len(TeamCol)), dtype=np.int64)
        joint = joint_tables(sc, reports)
        cap = joint[-1]  # queue room per team: its reports, and the joint checks that may owe it a crew
        teams[:, TeamCol.QSTART] = np.concatenate([[0], np.cumsum(cap)[:-1]])
        for i, t in enumerate(sc.teams):
            teams[i, TeamCol.BACKUP] = int(t.backup and t.backs_up)  # helps township teams
            teams[i, TeamCol.LEVEL] = TeamLevel.DISTRICT if t.backup else TeamLevel.TOWNSHIP
            teams[i, TeamCol.CREW0] = int(np.searchsorted(roster.team, i))
            teams[i, TeamCol.NCREW] = t.max_crews()
        nc = len(roster)
        crew_i = np.zeros((nc, len(CrewI)), dtype=np.int64)
        crew_i[:, CrewI.BASE] = roster.team
        crew_i[:, CrewI.TEAM] = roster.team
        crew_i[:, CrewI.NODE] = world.base_idx[roster.team]
        crew_i[:, CrewI.RET_BAND] = -1
        crew_i[:, CrewI.RET_CUR] = -1
        crew_i[:, CrewI.STATE] = CrewState.OFF
        crew_i[:, CrewI.JOB] = -1
        crew_i[:, CrewI.K] = roster.k
        self.crew_i = crew_i
        self.meta = meta = np.zeros(len(Meta), dtype=np.int64)
        meta[Meta.POLICY] = PolicyCode.of(sc.dispatch.policy)
        meta[Meta.QUEUE] = QueueCode.of(sc.dispatch.queue)
        meta[Meta.CLOSED] = int(has_closures(world))
        pi = sc.planned_inspections
        self.planned = bool(pi and pi.campaigns)
        meta[Meta.RECALL] = int(bool(pi and pi.recall))
        meta[Meta.RECALL_PRIO] = pi.recall_priority if pi else 0
        params = np.array([sc.dispatch.mutual_aid_threshold_min * 60.0, sc.dispatch.mutual_aid_max_eta_min * 60.0,
                           (pi.recall_delay_min * 60.0) if pi else 0.0])
        self.woken = np.zeros(max(nc, 1), dtype=np.int64)
        self.waits = np.zeros(max(nc, 1))
        meta[Meta.JOINT] = int(bool(joint[2].any()))
        self.joint = bool(meta[Meta.JOINT])
        self.jrows = joint[7]
        self.jwoken = np.zeros(max(nc, 1), dtype=np.int64)
        self.jwaits = np.zeros(max(nc, 1))
        self.state = st = K.DispatchState(*world.router.dispatch_arrays(), teams, crew_i, out.crew_f, out.rep_i,
                                          out.rep_f, np.zeros(max(int(cap.sum()), n, 1), dtype=np.int64), meta,
                                          params, self.woken, self.waits, np.zeros(max(nc, 1), dtype=np.int64),
                                          *joint[:8], self.jwoken, self.jwaits)
        # the per-event entry points, bound to the state: one argument for numba to unbox, and the
        # compiled function for these exact types (numba's dispatcher would resolve them per call)
        self.dispatch = partial(_entry_point(K.dispatch, st, 0, 0.0), st)  # type: ignore[method-assign]
        self.clear = partial(_entry_point(K.clear, st, 0, 0.0), st)  # type: ignore[method-assign]

    def dispatch(self, rid: int, now: float) -> tuple[int, float]:  # replaced by the bound kernel
        return K.dispatch(self.state, rid, now)

    def clear(self, crew: int, now: float) -> float:  # replaced by the bound kernel
        return K.clear(self.state, crew, now)

    def _woken(self, n: int) -> Woken:
        out = [(int(self.woken[j]), float(self.waits[j])) for j in range(n)]
        return out + self.drain_woken() if self.joint else out

    def drain_woken(self) -> Woken:
        n = int(self.meta[Meta.NJW])
        if not n:
            return []
        self.meta[Meta.NJW] = 0
        return [(int(self.jwoken[j]), float(self.jwaits[j])) for j in range(n)]

    def shift_change(self, team: int, count: int, now: float) -> Woken:
        return self._woken(K.shift_change(self.state, team, count, float(now)))

    def plan_change(self, team: int, count: int, planned: int, now: float) -> Woken:
        return self._woken(K.plan_change(self.state, team, count, planned, float(now)))

    def retry_idle(self, now: float) -> Woken:
        return self._woken(K.retry_idle(self.state, float(now)))

    def close_books(self, now: float) -> None:
        ci, cf, out_f = self.crew_i, self.out.crew_f, self.out.rep_f
        for c in range(len(ci)):
            job = ci[c, CrewI.JOB]
            if job >= 0 and out_f[job, RepF.ARRIVE_AT] < now:
                out_f[job, RepF.ARRIVED] = out_f[job, RepF.ARRIVE_AT]  # on scene, still working
            if ci[c, CrewI.STATE] == CrewState.PLANNED:
                K.end_plan(c, now, cf)
            if ci[c, CrewI.STATE] == CrewState.BUSY:
                cf[c, CrewF.BUSY_TOTAL] += now - cf[c, CrewF.BUSY_START]
            elif ci[c, CrewI.RET_BAND] >= 0:
                K.book_return(c, now, cf)
            if not np.isnan(cf[c, CrewF.DUTY_SINCE]):
                cf[c, CrewF.DUTY_MIN] += now - cf[c, CrewF.DUTY_SINCE]
        self.world.router.stats["label_queries"] += int(self.meta[Meta.LOOKUPS])
        if self.joint:
            rows = self.jrows[: int(self.meta[Meta.JROWS])]
            self.extra["joint_crews"] = rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows.copy()
        if self.planned:
            self.extra["planned_min"] = cf[:, CrewF.PLAN_TOTAL].copy()
            self.extra["recalls"] = int(self.meta[Meta.RECALLS])
